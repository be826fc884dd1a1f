/* Format readers of the data pipeline (internal to the library, also used by the
 * tests and the fuzz harnesses). Each parser works on bytes in memory, trusts
 * nothing in them, and answers bad input with a jp_error naming the file (`name`),
 * the offset or field, and what was expected vs found. Readers produce raw sets:
 * 8-bit pixels NCHW plus labels, converted to floats only after the split. */
#ifndef JEMPP_DATA_READERS_H
#define JEMPP_DATA_READERS_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"
#include "jempp/data.h"

/* ---- raw sets ---------------------------------------------------------- */
typedef struct {
    unsigned char *pix; /* (n, c, h, w) */
    int *y;             /* (n) */
    int n, c, h, w;
    int n_classes;
    char **class_names; /* (n_classes) or NULL */
} jp_raw_set;

jp_status jp_raw_alloc(jp_raw_set *r, int n, int c, int h, int w, int n_classes,
                       jp_error *err);
void jp_raw_free(jp_raw_set *r);
/* Appends b to a (shapes and class counts must agree; b is left untouched). */
jp_status jp_raw_concat(jp_raw_set *a, const jp_raw_set *b, const char *what, jp_error *err);
/* Copies n = r->n_classes names into r->class_names (names NULL: clears them). */
jp_status jp_raw_set_names(jp_raw_set *r, const char *const *names, int n, jp_error *err);
/* Converts images idx[0..n) of r (idx NULL: all) to a float data set in [-1, 1]. */
jp_status jp_raw_to_dataset(jp_dataset *out, const jp_raw_set *r, const int *idx, int n,
                            const char *name, jp_error *err);
/* Fails unless every label is in [0, n_classes). */
jp_status jp_raw_check_labels(const jp_raw_set *r, const char *name, jp_error *err);

/* ---- whole files ------------------------------------------------------- */
typedef struct {
    unsigned char *data;
    size_t len;
} jp_buf;

int jp_file_exists(const char *path);
int jp_dir_exists(const char *path);
/* Reads a whole file; the error names the file and the system's reason. */
jp_status jp_file_read_all(jp_buf *b, const char *path, jp_error *err);
/* Inflates gzip (gzip = 1) or zlib (gzip = 0) data of unknown size, growing the
 * output as data actually arrives (never trusting a declared size) up to max_out
 * bytes; truncated or corrupt streams are errors. */
jp_status jp_inflate(jp_buf *out, const unsigned char *in, size_t len, int gzip,
                     size_t max_out, const char *name, jp_error *err);
/* Reads a file and, when it starts with the gzip magic 1f 8b, gunzips it. */
jp_status jp_file_read_maybe_gz(jp_buf *b, const char *path, jp_error *err);
void jp_buf_free(jp_buf *b);

/* ---- IDX (MNIST, Fashion-MNIST) --------------------------------------- */
typedef struct {
    int ndim;
    uint32_t dims[4];
    const unsigned char *data; /* points into the parsed buffer */
    size_t count;              /* product of dims */
} jp_idx;

/* Parses an unsigned-byte IDX file with `want_ndim` dimensions (3: images, 1: labels):
 * magic 00 00 08 <ndim>, big-endian dims, then exactly prod(dims) bytes. */
jp_status jp_idx_parse(jp_idx *out, const unsigned char *buf, size_t len, const char *name,
                       int want_ndim, jp_error *err);
/* Images (n, h, w) + labels (n) into a 1-channel raw set: counts must agree, labels
 * must be < n_classes. */
jp_status jp_idx_to_raw(jp_raw_set *r, const jp_idx *img, const char *img_name,
                        const jp_idx *lab, const char *lab_name, int n_classes,
                        jp_error *err);
/* Reads both files (gzip or raw) and converts them. */
jp_status jp_idx_read_pair(jp_raw_set *r, const char *img_path, const char *lab_path,
                           int n_classes, jp_error *err);

/* ---- CIFAR binary ---------------------------------------------------------- */
/* Records of label_bytes label bytes then 3072 pixel bytes (3x32x32, channel-major).
 * CIFAR-10: label_bytes 1, label_index 0, n_classes 10. CIFAR-100: label_bytes 2,
 * label_index 0 (coarse, 20) or 1 (fine, 100). The size must be a positive multiple of
 * the record size and every label < n_classes. */
jp_status jp_cifar_parse(jp_raw_set *r, const unsigned char *buf, size_t len, const char *name,
                         int label_bytes, int label_index, int n_classes, jp_error *err);

/* ---- MATLAB v5 .mat -------------------------------------------------------- */
enum {
    JP_MI_INT8 = 1, JP_MI_UINT8 = 2, JP_MI_INT16 = 3, JP_MI_UINT16 = 4, JP_MI_INT32 = 5,
    JP_MI_UINT32 = 6, JP_MI_SINGLE = 7, JP_MI_DOUBLE = 9, JP_MI_INT64 = 12,
    JP_MI_UINT64 = 13, JP_MI_MATRIX = 14, JP_MI_COMPRESSED = 15, JP_MI_UTF8 = 16,
    JP_MI_UTF16 = 17, JP_MI_UTF32 = 18
};
enum {
    JP_MX_CELL = 1, JP_MX_STRUCT = 2, JP_MX_OBJECT = 3, JP_MX_CHAR = 4, JP_MX_SPARSE = 5,
    JP_MX_DOUBLE = 6, JP_MX_SINGLE = 7, JP_MX_INT8 = 8, JP_MX_UINT8 = 9, JP_MX_INT16 = 10,
    JP_MX_UINT16 = 11, JP_MX_INT32 = 12, JP_MX_UINT32 = 13, JP_MX_INT64 = 14,
    JP_MX_UINT64 = 15
};
#define JP_MAT_MAX_DIMS 8

typedef struct {
    char name[64];
    int mx_class;   /* JP_MX_* */
    int is_complex, is_logical;
    int ndim;
    int64_t dims[JP_MAT_MAX_DIMS]; /* MATLAB order: column-major */
    int64_t numel;
    int data_type;  /* JP_MI_* of the real part (numeric classes only, else 0) */
    const unsigned char *data; /* real part, numel elements of data_type */
    size_t nbytes;
} jp_mat_var;

typedef struct {
    jp_mat_var *vars;
    int count, cap;
    unsigned char **owned; /* inflated miCOMPRESSED payloads */
    int n_owned, cap_owned;
    int swap;              /* file is big-endian */
} jp_mat_file;

/* Parses a MATLAB level-5 file (little- or big-endian; uncompressed miMATRIX and
 * zlib miCOMPRESSED elements). Numeric variables point at their data; other
 * classes (cell, struct, char, sparse...) are listed with their class and no data.
 * v7.3 (HDF5) files are refused here with a message saying so (jp_mat73_read reads them
 * from a file), v4 files too. */
jp_status jp_mat_parse(jp_mat_file *m, const unsigned char *buf, size_t len, const char *name,
                       jp_error *err);
/* Whether a file's first bytes are a MATLAB v7.3 (HDF5) header. */
int jp_mat_is_v73(const unsigned char *head, size_t len);
/* Reads a MATLAB v7.3 MAT-file through libmatio (mat73.c) into m, as jp_mat_parse does
 * for level-5 files: numeric real variables with their data, others listed. */
jp_status jp_mat73_read(jp_mat_file *m, const char *path, jp_error *err);
const jp_mat_var *jp_mat_find(const jp_mat_file *m, const char *var);
/* The readers' bookkeeping: appends v to m's variables; keeps p in m's owned buffers
 * (freed by jp_mat_free). 0 when out of memory. */
int jp_mat_add_var(jp_mat_file *m, const jp_mat_var *v);
int jp_mat_own(jp_mat_file *m, unsigned char *p);
/* Element i of a numeric variable as a double. */
double jp_mat_value(const jp_mat_file *m, const jp_mat_var *v, int64_t i);
const char *jp_mat_class_name(int mx_class);
void jp_mat_free(jp_mat_file *m);
/* SVHN: X uint8 (32, 32, 3, N) column-major, y (N, 1) or (1, N) numeric with integer
 * values 1..10 (10 = digit 0) into a 3x32x32 raw set with labels 0..9. */
jp_status jp_svhn_from_mat(jp_raw_set *r, const jp_mat_file *m, const char *name,
                           jp_error *err);

/* ---- image folder ---------------------------------------------------------- */
/* dir/<class>/(files).png, classes = sorted subfolder names; `classes` (may be NULL) fixes
 * the class list (a test folder must have the training classes). All images must
 * share size and channel count (alpha is dropped: 1 gray or 3 RGB). */
jp_status jp_folder_read(jp_raw_set *r, const char *dir, const jp_raw_set *classes,
                         jp_error *err);

/* ---- per-data-set loaders (readers + file names + defaults) ------------------ */
jp_status jp_mnist_load(jp_raw_set *train, jp_raw_set *test, const char *root, int fashion,
                        jp_error *err);
jp_status jp_cifar_load(jp_raw_set *train, jp_raw_set *test, const char *root, int cifar100,
                        int coarse, jp_error *err);
jp_status jp_svhn_load(jp_raw_set *train, jp_raw_set *test, const char *root, int extra,
                       jp_error *err);
/* root/train (+ root/test) when root/train exists, else root itself as training set. */
jp_status jp_folder_load(jp_raw_set *train, jp_raw_set *test, const char *root,
                         jp_error *err);

#endif
