/* The training transform of the reference (torchvision RandomCrop(padding=pad,
 * padding_mode="reflect"), RandomHorizontalFlip, then + sigma * N(0, 1)), done in one
 * pass: every output value reads its source pixel through the reflection. */
#include "jempp/data.h"

/* Reflect-padding index (the edge is not repeated): -1 -> 1, n -> n-2. */
static inline int reflect(int i, int n)
{
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

void jp_augment_image(float *out, const float *in, int c, int h, int w, int pad, int flip,
                      float sigma, jp_rng *rng)
{
    JP_CHECK(pad >= 0 && pad < h && pad < w);
    int top = 0, left = 0, mirror = 0;
    if (pad > 0) {
        top = (int)jp_rng_below(rng, (uint64_t)(2 * pad + 1));
        left = (int)jp_rng_below(rng, (uint64_t)(2 * pad + 1));
    }
    if (flip) mirror = jp_rng_uniform(rng) < 0.5;
    /* out[r][x] = padded[r + top][x' + left] with x' = mirror ? w-1-x : x, and
     * padded[i][j] = in[reflect(i - pad)][reflect(j - pad)]. */
    int col[4096 + 1];
    int use_table = w <= 4096;
    if (use_table)
        for (int x = 0; x < w; x++) col[x] = reflect((mirror ? w - 1 - x : x) + left - pad, w);
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (size_t)ch * h * w;
        float *dst = out + (size_t)ch * h * w;
        for (int r = 0; r < h; r++) {
            const float *row = src + (size_t)reflect(r + top - pad, h) * w;
            float *o = dst + (size_t)r * w;
            if (use_table)
                for (int x = 0; x < w; x++) o[x] = row[col[x]];
            else
                for (int x = 0; x < w; x++)
                    o[x] = row[reflect((mirror ? w - 1 - x : x) + left - pad, w)];
        }
    }
    if (sigma > 0) jp_rng_add_normal(rng, out, (size_t)c * h * w, sigma);
}
