/* safetensors files: 8-byte little-endian header length, a JSON header
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string value", ...}}, then the raw little-endian data.
 * Used for checkpoints (tensor names are the PyTorch reference's state_dict keys),
 * for Gaussian statistics caches, and for the PyTorch reference files of the tests.
 * Writes are atomic: a temporary file in the same folder, fsync, then rename. */
#ifndef JEMPP_SAFETENSORS_H
#define JEMPP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"

typedef enum { JP_F32, JP_F64, JP_I64, JP_I32, JP_U8, JP_U64, JP_BOOL } jp_dtype;
size_t jp_dtype_size(jp_dtype t);
const char *jp_dtype_name(jp_dtype t); /* "F32", "F64", "I64", "I32", "U8", "U64", "BOOL" */

#define JP_ST_MAX_DIMS 8
#define JP_ST_MAX_NAME 256

typedef struct {
    char name[JP_ST_MAX_NAME];
    jp_dtype dtype;
    int ndim;
    int64_t shape[JP_ST_MAX_DIMS];
    size_t begin, end; /* byte offsets into the data section */
} jp_st_entry;

typedef struct {
    char path[512];
    jp_st_entry *entries;
    int count;
    unsigned char *data; /* the data section (read whole into memory) */
    size_t data_size;
    char **meta_keys, **meta_vals; /* __metadata__, string to string */
    int meta_count;
    void *storage; /* owns the file's bytes (one allocation); data points into it */
} jp_st_file;

/* Reads and validates the whole file: header length within the file, JSON well
 * formed, known dtypes, offsets inside the data and matching dtype*shape, no
 * overlaps, no duplicate names. Errors name the file and what was wrong. A file saved
 * in parts (jp_st_writer_save_parts) is read with its parts, as one. */
jp_status jp_st_read(jp_st_file *f, const char *path, jp_error *err);
/* The same checks on a file image already in memory (copied; `label` names it in
 * messages and f->path). jp_st_read is this after reading the file. On failure f is
 * left empty (jp_st_close is safe either way). Errors: JP_ERR_IO (cannot read),
 * JP_ERR_FORMAT (bad contents), JP_ERR_NOMEM. */
jp_status jp_st_read_memory(jp_st_file *f, const void *bytes, size_t size, const char *label,
                            jp_error *err);
void jp_st_close(jp_st_file *f);
const jp_st_entry *jp_st_find(const jp_st_file *f, const char *name);
const char *jp_st_meta(const jp_st_file *f, const char *key); /* NULL if absent */
/* Copies tensor `name` into dst after checking that it exists, has dtype `dtype`
 * and exactly the given shape; the error names the tensor, the file, and the
 * expected vs found dtype/shape. Missing tensor or wrong dtype: JP_ERR_FORMAT; wrong
 * shape: JP_ERR_SHAPE. dst may be NULL to only check. */
jp_status jp_st_get(const jp_st_file *f, const char *name, jp_dtype dtype, int ndim,
                    const int64_t *shape, void *dst, jp_error *err);
/* Pointer to the tensor's data (little-endian, may be unaligned for non-F32 use). */
const void *jp_st_data(const jp_st_file *f, const jp_st_entry *e);

/* Writer: tensors are referenced, not copied, until jp_st_writer_save. */
typedef struct {
    jp_st_entry *entries;
    const void **ptrs;
    int count, cap;
    char **meta_keys, **meta_vals;
    int meta_count, meta_cap;
    int nomem; /* an allocation in add/meta failed: save reports JP_ERR_NOMEM */
} jp_st_writer;

void jp_st_writer_init(jp_st_writer *w);
void jp_st_writer_add(jp_st_writer *w, const char *name, jp_dtype dtype, int ndim,
                      const int64_t *shape, const void *data);
/* Sets a metadata string (a second call with the same key replaces the value). */
void jp_st_writer_meta(jp_st_writer *w, const char *key, const char *value);
/* add: name shorter than JP_ST_MAX_NAME and not "__metadata__", 0 <= ndim <=
 * JP_ST_MAX_DIMS, dims >= 0, data non-NULL unless empty (checked, abort otherwise).
 * Duplicate names are reported by save/to_memory as JP_ERR_ARG. Tensor data is laid out
 * largest element size first, so every tensor starts at a multiple of its element size
 * in the file (the data section starts at a multiple of 8).
 *
 * save: writes path atomically (path.tmp.PID, fsync, rename, fsync of the folder). On any
 * failure the existing file at path is untouched and the temporary is removed. */
jp_status jp_st_writer_save(const jp_st_writer *w, const char *path, jp_error *err);
/* save, with no file larger than max_bytes (0: no limit): when the file would be
 * larger, its tensors go into parts PATH-STEM.ID.part-K-of-N.safetensors beside it (a
 * tensor that does not fit is split along its first dimension; one row must fit), and
 * the file at path holds the metadata and the parts' names. The parts are written
 * before path, the parts of earlier saves of path removed after it: an interrupted save
 * leaves the earlier one whole. jp_st_read reads the parts back as one file. Each
 * part is itself a valid safetensors file. */
jp_status jp_st_writer_save_parts(const jp_st_writer *w, const char *path, size_t max_bytes, jp_error *err);
/* The same file image in memory: *out (malloc'd, caller frees) of *size bytes. */
jp_status jp_st_writer_to_memory(const jp_st_writer *w, unsigned char **out, size_t *size,
                                 jp_error *err);
void jp_st_writer_free(jp_st_writer *w);

#endif
