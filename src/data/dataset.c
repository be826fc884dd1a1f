/* Float data sets: accessors, subsets, class counts, channel statistics, hashing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "jempp/data.h"

size_t jp_dataset_dim(const jp_dataset *ds) { return (size_t)ds->c * ds->h * ds->w; }

const float *jp_dataset_image(const jp_dataset *ds, int i)
{
    JP_CHECK(i >= 0 && i < ds->n);
    return ds->x + (size_t)i * jp_dataset_dim(ds);
}

void jp_dataset_free(jp_dataset *ds)
{
    if (!ds) return;
    jp_free(ds->x);
    jp_free(ds->y);
    if (ds->class_names) {
        for (int k = 0; k < ds->n_classes; k++) free(ds->class_names[k]);
        free(ds->class_names);
    }
    memset(ds, 0, sizeof *ds);
}

jp_status jp_dataset_subset(jp_dataset *out, const jp_dataset *src, const int *idx, int n,
                            const char *name, jp_error *err)
{
    memset(out, 0, sizeof *out);
    if (n < 0) return jp_fail(err, JP_ERR_ARG, "subset of %s: negative count %d", src->name, n);
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= src->n)
            return jp_fail(err, JP_ERR_ARG, "subset of %s: index %d at %d outside 0..%d",
                           src->name, idx[i], i, src->n - 1);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->n = n;
    out->c = src->c;
    out->h = src->h;
    out->w = src->w;
    out->n_classes = src->n_classes;
    size_t dim = jp_dataset_dim(src);
    if (n > 0) {
        out->x = jp_alloc((size_t)n * dim * sizeof(float));
        out->y = jp_alloc((size_t)n * sizeof(int));
        if (!out->x || !out->y) {
            jp_dataset_free(out);
            return jp_fail(err, JP_ERR_NOMEM, "subset of %s: cannot allocate %d images",
                           src->name, n);
        }
        for (int i = 0; i < n; i++) {
            memcpy(out->x + (size_t)i * dim, src->x + (size_t)idx[i] * dim, dim * sizeof(float));
            out->y[i] = src->y[idx[i]];
        }
    }
    if (src->class_names) {
        out->class_names = calloc((size_t)src->n_classes, sizeof(char *));
        if (!out->class_names) {
            jp_dataset_free(out);
            return jp_fail(err, JP_ERR_NOMEM, "cannot allocate class names");
        }
        for (int k = 0; k < src->n_classes; k++) {
            out->class_names[k] = strdup(src->class_names[k]);
            if (!out->class_names[k]) {
                jp_dataset_free(out);
                return jp_fail(err, JP_ERR_NOMEM, "cannot allocate class names");
            }
        }
    }
    return JP_OK;
}

void jp_dataset_class_counts(const jp_dataset *ds, int *counts)
{
    for (int k = 0; k < ds->n_classes; k++) counts[k] = 0;
    for (int i = 0; i < ds->n; i++) {
        JP_CHECK(ds->y[i] >= 0 && ds->y[i] < ds->n_classes);
        counts[ds->y[i]]++;
    }
}

void jp_dataset_channel_stats(const jp_dataset *ds, double *mean, double *std)
{
    size_t hw = (size_t)ds->h * ds->w;
    for (int ch = 0; ch < ds->c; ch++) {
        double s = 0, s2 = 0;
#pragma omp parallel for reduction(+ : s, s2) schedule(static)
        for (int i = 0; i < ds->n; i++) {
            const float *p = ds->x + ((size_t)i * ds->c + ch) * hw;
            double a = 0, a2 = 0;
            for (size_t k = 0; k < hw; k++) {
                a += p[k];
                a2 += (double)p[k] * p[k];
            }
            s += a;
            s2 += a2;
        }
        double cnt = (double)ds->n * (double)hw;
        double m = cnt > 0 ? s / cnt : 0;
        double v = cnt > 0 ? s2 / cnt - m * m : 0;
        mean[ch] = m;
        std[ch] = sqrt(v > 0 ? v : 0);
    }
}


uint64_t jp_dataset_hash(const jp_dataset *ds)
{
    int64_t shape[5] = {ds->n, ds->c, ds->h, ds->w, ds->n_classes};
    uint64_t h = jp_hash_bytes(0x6a656d7070ull, shape, sizeof shape);
    if (ds->n > 0) {
        h = jp_hash_bytes(h, ds->y, (size_t)ds->n * sizeof(int));
        /* The image bytes in independent blocks, hashed in parallel, then combined in
         * order, so the result does not depend on the thread count. */
        size_t bytes = (size_t)ds->n * jp_dataset_dim(ds) * sizeof(float);
        const size_t block = (size_t)8 << 20;
        int nblk = (int)((bytes + block - 1) / block);
        uint64_t *hs = malloc((size_t)nblk * sizeof(uint64_t));
        JP_CHECK(hs != NULL);
        const unsigned char *base = (const unsigned char *)ds->x;
#pragma omp parallel for schedule(static)
        for (int b = 0; b < nblk; b++) {
            size_t at = (size_t)b * block;
            size_t len = bytes - at < block ? bytes - at : block;
            hs[b] = jp_hash_bytes((uint64_t)b, base + at, len);
        }
        h = jp_hash_bytes(h, hs, (size_t)nblk * sizeof(uint64_t));
        free(hs);
    }
    return h;
}
