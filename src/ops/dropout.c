/* Inverted dropout, as torch: kept values are scaled by 1/(1-p) in training so the
 * expectation is unchanged. The mask is drawn sequentially from the caller's RNG,
 * so a seed reproduces it whatever the number of threads. */
#include "jempp/ops.h"

/* mask[i] = (u_i >= p) / (1 - p) with u_i ~ U[0,1);  out = in * mask.
 * p = 0 keeps everything (the RNG is not touched; it may be NULL); p = 1 drops
 * everything, as torch does. out may alias in. */
void jp_dropout_forward(float *out, float *mask, const float *in, size_t count, float p,
                        jp_rng *rng)
{
    JP_CHECK(out && mask && in);
    JP_CHECK(p >= 0.0f && p <= 1.0f);
    if (p == 0.0f) {
        for (size_t i = 0; i < count; i++) mask[i] = 1.0f, out[i] = in[i];
        return;
    }
    if (p == 1.0f) {
        for (size_t i = 0; i < count; i++) mask[i] = 0.0f, out[i] = 0.0f;
        return;
    }
    JP_CHECK(rng != NULL);
    const float scale = (float)(1.0 / (1.0 - (double)p));
    for (size_t i = 0; i < count; i++) {
        mask[i] = jp_rng_uniform(rng) >= (double)p ? scale : 0.0f;
        out[i] = in[i] * mask[i];
    }
}

/* out = in * mask, so din = dout * mask                 (written) */
void jp_dropout_backward(float *din, const float *dout, const float *mask, size_t count)
{
    if (!din) return;
    JP_CHECK(dout && mask);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++) din[i] = dout[i] * mask[i];
}
