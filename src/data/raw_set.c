/* Raw sets: 8-bit NCHW pixels and labels as read from files, before the split and
 * the conversion to floats in [-1, 1]. */
#include <stdlib.h>
#include <string.h>

#include "data/readers.h"

jp_status jp_raw_alloc(jp_raw_set *r, int n, int c, int h, int w, int n_classes,
                       jp_error *err)
{
    memset(r, 0, sizeof *r);
    if (n < 0 || c < 1 || h < 1 || w < 1)
        return jp_fail(err, JP_ERR_ARG, "bad raw set shape n=%d c=%d h=%d w=%d", n, c, h, w);
    size_t bytes = (size_t)n * (size_t)c * (size_t)h * (size_t)w;
    r->pix = malloc(bytes ? bytes : 1);
    r->y = malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!r->pix || !r->y) {
        free(r->pix);
        free(r->y);
        memset(r, 0, sizeof *r);
        return jp_fail(err, JP_ERR_NOMEM, "cannot allocate %zu bytes for %d images", bytes, n);
    }
    r->n = n;
    r->c = c;
    r->h = h;
    r->w = w;
    r->n_classes = n_classes;
    return JP_OK;
}

void jp_raw_free(jp_raw_set *r)
{
    if (!r) return;
    free(r->pix);
    free(r->y);
    if (r->class_names) {
        for (int k = 0; k < r->n_classes; k++) free(r->class_names[k]);
        free(r->class_names);
    }
    memset(r, 0, sizeof *r);
}

jp_status jp_raw_set_names(jp_raw_set *r, const char *const *names, int n, jp_error *err)
{
    if (r->class_names) {
        for (int k = 0; k < r->n_classes; k++) free(r->class_names[k]);
        free(r->class_names);
        r->class_names = NULL;
    }
    if (!names) return JP_OK;
    JP_CHECK(n == r->n_classes);
    r->class_names = calloc((size_t)n, sizeof(char *));
    if (!r->class_names) return jp_fail(err, JP_ERR_NOMEM, "cannot allocate class names");
    for (int k = 0; k < n; k++) {
        r->class_names[k] = strdup(names[k] ? names[k] : "");
        if (!r->class_names[k]) return jp_fail(err, JP_ERR_NOMEM, "cannot allocate class names");
    }
    return JP_OK;
}

jp_status jp_raw_concat(jp_raw_set *a, const jp_raw_set *b, const char *what, jp_error *err)
{
    if (b->n == 0) return JP_OK;
    if (a->c != b->c || a->h != b->h || a->w != b->w || a->n_classes != b->n_classes)
        return jp_fail(err, JP_ERR_SHAPE,
                       "%s: images are %dx%dx%d with %d classes, expected %dx%dx%d with %d "
                       "classes as the files before it", what, b->c, b->h, b->w, b->n_classes,
                       a->c, a->h, a->w, a->n_classes);
    size_t img = (size_t)a->c * a->h * a->w;
    size_t n = (size_t)a->n + (size_t)b->n;
    if (n > (size_t)INT32_MAX) return jp_fail(err, JP_ERR_ARG, "%s: too many images", what);
    unsigned char *p = realloc(a->pix, n * img);
    if (!p) return jp_fail(err, JP_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, n * img);
    a->pix = p;
    int *y = realloc(a->y, n * sizeof(int));
    if (!y) return jp_fail(err, JP_ERR_NOMEM, "%s: cannot allocate labels", what);
    a->y = y;
    memcpy(a->pix + (size_t)a->n * img, b->pix, (size_t)b->n * img);
    memcpy(a->y + a->n, b->y, (size_t)b->n * sizeof(int));
    a->n = (int)n;
    return JP_OK;
}

jp_status jp_raw_check_labels(const jp_raw_set *r, const char *name, jp_error *err)
{
    for (int i = 0; i < r->n; i++)
        if (r->y[i] < 0 || r->y[i] >= r->n_classes)
            return jp_fail(err, JP_ERR_FORMAT,
                           "%s: label %d of image %d is out of range: expected 0..%d",
                           name, r->y[i], i, r->n_classes - 1);
    return JP_OK;
}

jp_status jp_raw_to_dataset(jp_dataset *out, const jp_raw_set *r, const int *idx, int n,
                            const char *name, jp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!idx) n = r->n;
    snprintf(out->name, sizeof out->name, "%s", name);
    out->n = n;
    out->c = r->c;
    out->h = r->h;
    out->w = r->w;
    out->n_classes = r->n_classes;
    size_t dim = (size_t)r->c * r->h * r->w;
    if (n > 0) {
        out->x = jp_alloc((size_t)n * dim * sizeof(float));
        out->y = jp_alloc((size_t)n * sizeof(int));
        if (!out->x || !out->y) {
            jp_dataset_free(out);
            return jp_fail(err, JP_ERR_NOMEM, "%s: cannot allocate %zu bytes for %d images",
                           name, (size_t)n * dim * sizeof(float), n);
        }
    }
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - 0.5f) / 0.5f;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        int src = idx ? idx[i] : i;
        JP_CHECK(src >= 0 && src < r->n);
        const unsigned char *p = r->pix + (size_t)src * dim;
        float *q = out->x + (size_t)i * dim;
        for (size_t k = 0; k < dim; k++) q[k] = lut[p[k]];
        out->y[i] = r->y[src];
    }
    if (r->class_names) {
        out->class_names = calloc((size_t)r->n_classes, sizeof(char *));
        if (!out->class_names) {
            jp_dataset_free(out);
            return jp_fail(err, JP_ERR_NOMEM, "cannot allocate class names");
        }
        for (int k = 0; k < r->n_classes; k++) {
            out->class_names[k] = strdup(r->class_names[k]);
            if (!out->class_names[k]) {
                jp_dataset_free(out);
                return jp_fail(err, JP_ERR_NOMEM, "cannot allocate class names");
            }
        }
    }
    return JP_OK;
}
