/* The backward-data and backward-weights kernels of "jempp-first" (first_conv.c) for one
 * vector width: included by first_conv_avx2.c (JP_VW 8) and first_conv_avx512.c (JP_VW
 * 16), each compiled with its instruction set.
 *
 * Backward-data: dx[n][ci][y][x] = sum over co, kh, kw of w[co][ci][kh][kw] dy[n][co][y + 1 - kh][x + 1 - kw]
 * (a 3x3 kernel, pad 1, stride 1; dy zero outside the map), dy blocked (nC/JP_VW hw JP_VW),
 * dx plain NCHW. The sum over co runs in the lanes of a vector (JP_VW output channels of
 * dy at one pixel against the same channels of wt), one accumulator per kernel row, then
 * across the lanes. */
#include "ops/first_conv.h"
#include "ops/simd.h"

/* dx at one pixel for input channel ci from the kernel taps kh in [kh0, kh1), kw in
 * [kw0, kw1) (those that stay inside dy): d points at dy's pixel (y + 1, x + 1) of
 * channel block 0, wk at wt[ci][0][0][0]. One accumulator per kernel row. (Each vector
 * of dy loaded once for all input channels instead: 3->16 32x32 1.10 ms against 0.83 on
 * the Zen 5 EPYC, AVX-512, 2 threads.) */
static inline __attribute__((always_inline)) float pixel(const float *d, const float *wk, int ncb, size_t row,
                                                         size_t plane, int cout, int kh0, int kh1, int kw0,
                                                         int kw1)
{
    vf acc[3] = {vf_zero(), vf_zero(), vf_zero()};
#pragma GCC unroll 3
    for (int kh = kh0; kh < kh1; kh++)
#pragma GCC unroll 3
        for (int kw = kw0; kw < kw1; kw++)
            for (int cb = 0; cb < ncb; cb++)
                acc[kh] = vf_fmadd(vf_load(wk + (size_t)(kh * 3 + kw) * cout + cb * JP_VW),
                                   vf_load(d - kh * row - kw * JP_VW + cb * plane), acc[kh]);
    return vf_hsum(vf_add(vf_add(acc[0], acc[1]), acc[2]));
}

void JP_VNAME(jp_first_backward_data)(const jp_conv_shape *s, float *dx, const float *dy, const float *wt)
{
    const int cin = s->cin, cout = s->cout, h = s->h, w = s->w, ncb = cout / JP_VW;
    const size_t row = (size_t)w * JP_VW, plane = (size_t)h * row;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < s->n * h; r++) {
        int img = r / h, y = r % h;
        int kh0 = y + 2 - h > 0 ? y + 2 - h : 0, kh1 = y + 2 < 3 ? y + 2 : 3; /* 0 <= y + 1 - kh < h */
        /* dy's pixel (y + 1, x + 1) of image img, channel block 0 (outside the map: only
         * the offsets of the taps that are read come back inside) */
        const float *d = dy + (size_t)img * ncb * plane + (size_t)(y + 1) * row + JP_VW;
        float *o = dx + (size_t)img * cin * h * w + (size_t)y * w;
        for (int ci = 0; ci < cin; ci++) {
            const float *wk = wt + (size_t)ci * 9 * cout;
            float *oc = o + (size_t)ci * h * w;
            oc[0] = pixel(d, wk, ncb, row, plane, cout, kh0, kh1, w > 1 ? 0 : 1, 2); /* 0 <= 1 - kw < w */
            if (kh0 == 0 && kh1 == 3)
                for (int x = 1; x < w - 1; x++)
                    oc[x] = pixel(d + (size_t)x * JP_VW, wk, ncb, row, plane, cout, 0, 3, 0, 3);
            else
                for (int x = 1; x < w - 1; x++)
                    oc[x] = pixel(d + (size_t)x * JP_VW, wk, ncb, row, plane, cout, kh0, kh1, 0, 3);
            if (w > 1) oc[w - 1] = pixel(d + (size_t)(w - 1) * JP_VW, wk, ncb, row, plane, cout, kh0, kh1, 1, 3);
        }
    }
}

/* Backward-weights, per image n (the images' sums are added in image order, first_conv.c):
 *   dw[co][ci][kh][kw] = sum over y, x of dy[n][co][y][x] x[n][ci][y + kh - 1][x + kw - 1],
 *   db[co] = sum over y, x of dy[n][co][y][x],
 * JP_VW output channels in the lanes, one accumulator per tap (x zero outside the map).
 * One pixel (y, x) of dy's block, dv, into acc[kh * 3 + kw] (xi: the image's input
 * channel, plain; interior: every tap inside the map). */
static inline __attribute__((always_inline)) void wgrad_pixel(vf acc[10], vf dv, const float *xi, int h, int w,
                                                              int y, int x, int interior)
{
#pragma GCC unroll 3
    for (int kh = 0; kh < 3; kh++)
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; kw++) {
            /* a zero outside the map rather than a skipped tap: the accumulators' indices
             * stay constants, so they stay in registers */
            int yy = y + kh - 1, xx = x + kw - 1;
            float v = interior || (yy >= 0 && yy < h && xx >= 0 && xx < w) ? xi[(size_t)yy * w + xx] : 0.0f;
            acc[kh * 3 + kw] = vf_fmadd(dv, vf_set1(v), acc[kh * 3 + kw]);
        }
}

void JP_VNAME(jp_first_backward_weights)(const jp_conv_shape *s, float *partial, const float *dy, const float *x)
{
    const int cin = s->cin, h = s->h, w = s->w, ncb = s->cout / JP_VW, nsum = cin * 9 + 1;
    const size_t hw = (size_t)h * w;
#pragma omp parallel for schedule(static)
    for (int img = 0; img < s->n; img++)
        for (int cb = 0; cb < ncb; cb++)
            for (int ci = 0; ci < cin; ci++) {
                const float *xi = x + ((size_t)img * cin + ci) * hw;
                const float *d = dy + ((size_t)img * ncb + cb) * hw * JP_VW;
                vf acc[10];
                for (int k = 0; k < 10; k++) acc[k] = vf_zero();
                for (int y = 0; y < h; y++) {
                    const float *dr = d + (size_t)y * w * JP_VW;
                    for (int xx = 0; xx < w; xx++) {
                        vf dv = vf_load(dr + (size_t)xx * JP_VW);
                        if (ci == 0) acc[9] = vf_add(acc[9], dv);
                        if (xx > 0 && xx < w - 1 && y > 0 && y < h - 1) wgrad_pixel(acc, dv, xi, h, w, y, xx, 1);
                        else wgrad_pixel(acc, dv, xi, h, w, y, xx, 0);
                    }
                }
                float *p = partial + (((size_t)img * ncb + cb) * nsum + (size_t)ci * 9) * JP_VW;
                for (int k = 0; k < 9; k++) vf_store(p + (size_t)k * JP_VW, acc[k]);
                if (ci == 0) vf_store(partial + (((size_t)img * ncb + cb) * nsum + (size_t)cin * 9) * JP_VW, acc[9]);
            }
}
