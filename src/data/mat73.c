/* MATLAB v7.3 MAT-files (HDF5 inside) through libmatio: read into the same jp_mat_file
 * as the hand-written level-5 parser (mat5.c), so the data-set readers see one form.
 * Level-5 files stay on mat5.c: it is fuzzed (fuzz/fuzz_mat.c) and names the byte offset
 * and the element at fault; libmatio reports its errors on stderr through its own log.
 * libmatio is loaded for each such file (dlopen by the SONAME CMake found,
 * JEMPP_MATIO_SONAME): linked, it and HDF5 with HDF5's network and TLS libraries would be
 * mapped at every start of a program that uses jempp. */
#include <dlfcn.h>
#include <matio.h>
#include <stdlib.h>
#include <string.h>

#include "data/readers.h"

/* The libmatio functions this reader calls. */
typedef struct {
    void *lib;
    mat_t *(*open)(const char *name, int mode);
    int (*close)(mat_t *mat);
    matvar_t *(*next_info)(mat_t *mat);
    matvar_t *(*read)(mat_t *mat, const char *name);
    void (*var_free)(matvar_t *var);
} matio_fns;

static jp_status load_matio(matio_fns *f, const char *path, jp_error *err)
{
    memset(f, 0, sizeof *f);
    f->lib = dlopen(JEMPP_MATIO_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!f->lib)
        return jp_fail(err, JP_ERR_BACKEND, "%s: a MATLAB v7.3 (HDF5) MAT-file needs libmatio (%s), which cannot "
                       "be loaded: %s", path, JEMPP_MATIO_SONAME, dlerror());
    f->open = (mat_t * (*)(const char *, int)) dlsym(f->lib, "Mat_Open");
    f->close = (int (*)(mat_t *))dlsym(f->lib, "Mat_Close");
    f->next_info = (matvar_t * (*)(mat_t *)) dlsym(f->lib, "Mat_VarReadNextInfo");
    f->read = (matvar_t * (*)(mat_t *, const char *)) dlsym(f->lib, "Mat_VarRead");
    f->var_free = (void (*)(matvar_t *))dlsym(f->lib, "Mat_VarFree");
    if (f->open && f->close && f->next_info && f->read && f->var_free) return JP_OK;
    dlclose(f->lib);
    return jp_fail(err, JP_ERR_BACKEND, "%s: %s lacks the functions jempp reads MAT-files with", path,
                   JEMPP_MATIO_SONAME);
}

int jp_mat_is_v73(const unsigned char *head, size_t len)
{
    return len >= 19 && memcmp(head, "MATLAB 7.3 MAT-file", 19) == 0;
}

jp_status jp_mat73_read(jp_mat_file *m, const char *path, jp_error *err)
{
    memset(m, 0, sizeof *m);
    matio_fns f;
    jp_status st = load_matio(&f, path, err);
    if (st) return st;
    mat_t *mat = f.open(path, MAT_ACC_RDONLY);
    if (!mat) {
        dlclose(f.lib);
        return jp_fail(err, JP_ERR_FORMAT, "%s: libmatio cannot open it as a MATLAB v7.3 (HDF5) MAT-file", path);
    }
    matvar_t *info;
    while (!st && (info = f.next_info(mat)) != NULL) {
        jp_mat_var v;
        memset(&v, 0, sizeof v);
        snprintf(v.name, sizeof v.name, "%s", info->name ? info->name : "");
        v.mx_class = (int)info->class_type; /* matio's classes and types are MATLAB's codes */
        v.is_complex = info->isComplex != 0, v.is_logical = info->isLogical != 0;
        if (info->rank > JP_MAT_MAX_DIMS) {
            st = jp_fail(err, JP_ERR_FORMAT, "%s: variable %s has %d dimensions (at most %d read)", path, v.name,
                         info->rank, JP_MAT_MAX_DIMS);
        } else {
            v.ndim = info->rank;
            v.numel = 1;
            for (int k = 0; k < v.ndim; k++) v.dims[k] = (int64_t)info->dims[k], v.numel *= v.dims[k];
        }
        int numeric = info->class_type >= MAT_C_DOUBLE && info->class_type <= MAT_C_UINT64 && !info->isComplex;
        if (!st && numeric) {
            matvar_t *full = f.read(mat, info->name);
            if (!full || !full->data) {
                st = jp_fail(err, JP_ERR_FORMAT, "%s: libmatio cannot read variable %s", path, v.name);
            } else {
                size_t nbytes = (size_t)v.numel * (size_t)full->data_size;
                unsigned char *copy = malloc(nbytes ? nbytes : 1);
                if (!copy || !jp_mat_own(m, copy)) {
                    free(copy);
                    st = jp_fail(err, JP_ERR_NOMEM, "%s: variable %s (%zu bytes)", path, v.name, nbytes);
                } else {
                    memcpy(copy, full->data, nbytes);
                    v.data_type = (int)full->data_type;
                    v.data = copy, v.nbytes = nbytes;
                }
            }
            if (full) f.var_free(full);
        }
        if (!st && !jp_mat_add_var(m, &v)) st = jp_fail(err, JP_ERR_NOMEM, "%s: variable list", path);
        f.var_free(info);
    }
    f.close(mat);
    dlclose(f.lib);
    if (st) jp_mat_free(m);
    return st;
}
