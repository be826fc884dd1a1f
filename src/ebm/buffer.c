/* The replay buffer of persistent chains, as the reference keeps it. */
#include "jempp/data.h"
#include "jempp/ebm.h"

#include <string.h>

jp_status jp_buffer_init(jp_replay_buffer *b, int size, int dim, int n_classes, jp_error *err)
{
    memset(b, 0, sizeof *b);
    if (size < 1 || dim < 1 || n_classes < 1)
        return jp_fail(err, JP_ERR_ARG, "--buffer_size %d: must be at least 1", size);
    if (size < n_classes)
        return jp_fail(err, JP_ERR_ARG, "--buffer_size %d: must hold at least one chain per class (%d)",
                       size, n_classes);
    b->size = size;
    b->dim = dim;
    b->n_classes = n_classes;
    b->x = jp_alloc((size_t)size * dim * sizeof(float));
    if (!b->x) return jp_fail(err, JP_ERR_NOMEM, "replay buffer of %d x %d floats", size, dim);
    return JP_OK;
}

void jp_buffer_fill(jp_replay_buffer *b, jp_init_fn init, void *init_ctx, int per_class, jp_rng *rng)
{
    if (!per_class) {
        init(init_ctx, b->x, b->size, -1, rng);
        return;
    }
    int seg = b->size / b->n_classes;
    for (int k = 0; k < b->n_classes; k++) {
        int lo = k * seg, hi = k == b->n_classes - 1 ? b->size : lo + seg;
        init(init_ctx, b->x + (size_t)lo * b->dim, hi - lo, k, rng);
    }
}

void jp_buffer_draw_slots(const jp_replay_buffer *b, int *idx, int n, const int *y, jp_rng *rng)
{
    int seg = b->size / b->n_classes;
    for (int i = 0; i < n; i++)
        idx[i] = y ? y[i] * seg + (int)jp_rng_below(rng, (uint64_t)seg) : (int)jp_rng_below(rng, (uint64_t)b->size);
}

void jp_buffer_reinit(const jp_replay_buffer *b, float *x, int n, const int *y, float reinit_freq,
                      jp_init_fn init, void *init_ctx, jp_rng *rng, int *fresh)
{
    size_t d = (size_t)b->dim;
    for (int i = 0; i < n; i++) {
        int f = jp_rng_uniform(rng) < reinit_freq;
        if (f) init(init_ctx, x + i * d, 1, y ? y[i] : -1, rng);
        if (fresh) fresh[i] = f;
    }
}

void jp_buffer_sample(const jp_replay_buffer *b, float *x, int *idx, int n, const int *y,
                      float reinit_freq, jp_init_fn init, void *init_ctx, jp_rng *rng)
{
    size_t d = (size_t)b->dim;
    jp_buffer_draw_slots(b, idx, n, y, rng);
    for (int i = 0; i < n; i++) memcpy(x + i * d, b->x + (size_t)idx[i] * d, d * sizeof(float));
    jp_buffer_reinit(b, x, n, y, reinit_freq, init, init_ctx, rng, NULL);
}

void jp_buffer_put(jp_replay_buffer *b, const float *x, const int *idx, int n)
{
    size_t d = (size_t)b->dim;
    for (int i = 0; i < n; i++) memcpy(b->x + (size_t)idx[i] * d, x + i * d, d * sizeof(float));
}

void jp_buffer_free(jp_replay_buffer *b)
{
    jp_free(b->x);
    memset(b, 0, sizeof *b);
}

void jp_init_uniform(void *ctx, float *x, int n, int fixed_class, jp_rng *rng)
{
    (void)fixed_class;
    int dim = *(const int *)ctx;
    jp_rng_fill_uniform(rng, x, (size_t)n * dim, -1.0f, 1.0f);
}

void jp_init_gauss(void *ctx, float *x, int n, int fixed_class, jp_rng *rng)
{
    jp_gauss_stats_sample((const jp_gauss_stats *)ctx, x, NULL, n, fixed_class, rng);
}
