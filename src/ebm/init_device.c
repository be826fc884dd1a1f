/* Fresh chains drawn into a compute device's memory (init_device.h). */
#include "ebm/init_device.h"

#include <string.h>

jp_status jp_init_device_open(jp_init_device *d, const jp_device *dev, const jp_gauss_stats *gauss, int dim,
                              int max_rows, jp_error *err)
{
    memset(d, 0, sizeof *d);
    d->dev = dev;
    d->gauss = gauss;
    d->dim = dim;
    d->max_rows = max_rows;
    size_t D = (size_t)dim, blk = (size_t)JP_GAUSS_SAMPLE_ROWS * D * sizeof(float);
    d->host_rows = jp_alloc(blk);
    if (!d->host_rows) return jp_fail(err, JP_ERR_NOMEM, "fresh chains: %zu bytes", blk);
    if (!gauss) return JP_OK;
    size_t K = (size_t)gauss->n_classes, mean = K * D * sizeof(float), chol = K * D * D * sizeof(float);
    d->mean = jp_dev_alloc(dev, mean);
    d->chol = jp_dev_alloc(dev, chol);
    d->z = jp_dev_alloc(dev, blk);
    d->lz = jp_dev_alloc(dev, blk);
    d->d_order = jp_dev_alloc(dev, (size_t)max_rows * sizeof(int));
    d->cls = jp_alloc((size_t)max_rows * sizeof(int));
    d->order = jp_alloc((size_t)max_rows * sizeof(int));
    if (!d->mean || !d->chol || !d->z || !d->lz || !d->d_order || !d->cls || !d->order) {
        jp_init_device_close(d);
        return jp_fail(err, JP_ERR_NOMEM, "the class Gaussians (%zu MB) on %s", (mean + chol) >> 20,
                       dev->ops->name);
    }
    jp_dev_upload(dev, d->mean, gauss->mean, mean);
    jp_dev_upload(dev, d->chol, gauss->chol, chol);
    return JP_OK;
}

void jp_init_device_close(jp_init_device *d)
{
    float *dev_arrays[] = {d->mean, d->chol, d->z, d->lz, (float *)d->d_order};
    for (size_t i = 0; i < sizeof dev_arrays / sizeof *dev_arrays; i++)
        if (dev_arrays[i]) jp_dev_release(d->dev, dev_arrays[i]);
    jp_free(d->host_rows);
    jp_free(d->cls);
    jp_free(d->order);
    memset(d, 0, sizeof *d);
}

void jp_init_on_device(void *ctx, float *x, int n, int fixed_class, jp_rng *rng)
{
    jp_init_device *d = ctx;
    JP_CHECK(n >= 0 && n <= d->max_rows);
    const jp_device_ops *o = d->dev->ops;
    void *st = d->dev->state;
    const size_t D = (size_t)d->dim;
    const int R = JP_GAUSS_SAMPLE_ROWS;
    if (!d->gauss) { /* jp_init_uniform's draws, a block at a time */
        for (int r0 = 0; r0 < n; r0 += R) {
            int rows = n - r0 < R ? n - r0 : R;
            jp_rng_fill_uniform(rng, d->host_rows, (size_t)rows * D, -1.0f, 1.0f);
            jp_dev_upload(d->dev, x + (size_t)r0 * D, d->host_rows, (size_t)rows * D * sizeof(float));
        }
        return;
    }
    /* jp_gauss_stats_sample's draws and formula: class by class, blocks of its images */
    jp_gauss_stats_classes(d->gauss, d->cls, n, fixed_class, rng);
    for (int k = 0; k < d->gauss->n_classes; k++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (d->cls[i] == k) d->order[m++] = i;
        if (m == 0) continue;
        jp_dev_upload(d->dev, d->d_order, d->order, (size_t)m * sizeof(int));
        const float *L = d->chol + (size_t)k * D * D, *mu = d->mean + (size_t)k * D;
        for (int b0 = 0; b0 < m; b0 += R) {
            int rows = m - b0 < R ? m - b0 : R;
            o->normal(st, d->z, (size_t)rows * D, 0.0f, 1.0f, rng);
            o->trmm_lower_t(st, d->lz, d->z, L, rows, d->dim);
            o->bias_forward(st, d->lz, mu, rows, d->dim);
            o->clamp(st, d->lz, -1.0f, 1.0f, (size_t)rows * D);
            o->scatter_rows(st, x, d->lz, d->d_order + b0, rows, D);
        }
    }
}
