/* SVHN cropped digits (train_32x32.mat, test_32x32.mat, extra_32x32.mat): MATLAB v5
 * files holding X, uint8 (32, 32, 3, N) in column-major order, and y, (N, 1) labels
 * 1..10 where 10 stands for the digit 0. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/readers.h"

static void shape_str(const jp_mat_var *v, char *buf, size_t len)
{
    size_t at = 0;
    at += (size_t)snprintf(buf + at, len - at, "(");
    for (int k = 0; k < v->ndim && at < len; k++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", k ? ", " : "",
                               (long long)v->dims[k]);
    if (at < len) snprintf(buf + at, len - at, ")");
}

static void var_list(const jp_mat_file *m, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < m->count && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", m->vars[i].name);
    if (m->count == 0) snprintf(buf, len, "none");
}

jp_status jp_svhn_from_mat(jp_raw_set *r, const jp_mat_file *m, const char *name, jp_error *err)
{
    memset(r, 0, sizeof *r);
    char shp[128], vars[256];
    const jp_mat_var *X = jp_mat_find(m, "X"), *y = jp_mat_find(m, "y");
    if (!X || !y) {
        var_list(m, vars, sizeof vars);
        return jp_fail(err, JP_ERR_FORMAT, "%s: no variable '%s' (variables found: %s); an SVHN "
                       "file holds X (32, 32, 3, N) uint8 and y (N, 1)", name, X ? "y" : "X",
                       vars);
    }
    if (X->mx_class != JP_MX_UINT8 || X->is_complex || X->data_type != JP_MI_UINT8)
        return jp_fail(err, JP_ERR_FORMAT, "%s: variable X is %s%s (stored as type %d), "
                       "expected uint8", name, X->is_complex ? "complex " : "",
                       jp_mat_class_name(X->mx_class), X->data_type);
    shape_str(X, shp, sizeof shp);
    if (X->ndim != 4 || X->dims[0] != 32 || X->dims[1] != 32 || X->dims[2] != 3 ||
        X->dims[3] < 1)
        return jp_fail(err, JP_ERR_SHAPE, "%s: variable X has shape %s, expected (32, 32, 3, N) "
                       "with N >= 1", name, shp);
    int64_t n = X->dims[3];
    if (n > INT32_MAX) return jp_fail(err, JP_ERR_SHAPE, "%s: too many images", name);
    if (y->mx_class < JP_MX_DOUBLE || y->is_complex || !y->data)
        return jp_fail(err, JP_ERR_FORMAT, "%s: variable y is %s%s, expected a real numeric "
                       "array", name, y->is_complex ? "complex " : "",
                       jp_mat_class_name(y->mx_class));
    shape_str(y, shp, sizeof shp);
    if (y->ndim != 2 || y->numel != n || (y->dims[0] != n && y->dims[1] != n))
        return jp_fail(err, JP_ERR_SHAPE, "%s: variable y has shape %s, expected (%lld, 1) to "
                       "match X's %lld images", name, shp, (long long)n, (long long)n);
    jp_status s = jp_raw_alloc(r, (int)n, 3, 32, 32, 10, err);
    if (s != JP_OK) return s;
    for (int64_t i = 0; i < n; i++) {
        double v = jp_mat_value(m, y, i);
        if (!(v >= 1 && v <= 10) || v != floor(v)) {
            jp_raw_free(r);
            return jp_fail(err, JP_ERR_FORMAT, "%s: y[%lld] = %g is not an SVHN label: expected "
                           "an integer 1..10 (10 = digit 0)", name, (long long)i, v);
        }
        r->y[i] = (int)v % 10;
    }
    /* X[row, col, ch, i] sits at row + 32 col + 1024 ch + 3072 i; NCHW wants
     * (i, ch, row, col) at 3072 i + 1024 ch + 32 row + col: a 32x32 transpose per plane. */
    const unsigned char *src = X->data;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int ch = 0; ch < 3; ch++) {
            const unsigned char *p = src + (size_t)i * 3072 + (size_t)ch * 1024;
            unsigned char *q = r->pix + (size_t)i * 3072 + (size_t)ch * 1024;
            for (int row = 0; row < 32; row++)
                for (int col = 0; col < 32; col++) q[row * 32 + col] = p[col * 32 + row];
        }
    static const char *const names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    s = jp_raw_set_names(r, names, 10, err);
    if (s != JP_OK) jp_raw_free(r);
    return s;
}
