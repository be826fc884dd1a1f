/* Inception helpers: bilinear resize (as F.interpolate, align_corners=False), 3x3
 * pooling, channel concatenation and global average pooling on the blocked layout. */
#include "nn/inception_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* PyTorch 1.13's weights for output i (compute_source_index_and_lambda, align_corners
 * False): scale = (float)in/out; s = scale * (i + 0.5) - 0.5 in double, clamped at 0;
 * i0 = floor(s); lambda1 = (float)(s - i0), lambda0 = 1 - lambda1. These reproduce its
 * weights bit for bit. The second neighbour is i0 + 1 unless i0 is the last pixel. */
static void axis_weights(int *i0, int *i1, float *l1, int in, int out)
{
    float scale = (float)in / (float)out;
    for (int i = 0; i < out; i++) {
        double s = (double)scale * ((double)i + 0.5) - 0.5;
        if (s < 0.0) s = 0.0;
        int a = (int)s;
        if (a > in - 1) a = in - 1;
        i0[i] = a;
        i1[i] = a < in - 1 ? a + 1 : a;
        l1[i] = in == out ? 0.0f : (float)(s - (double)a);
    }
}

void jp_inc_resize(float *dst, const float *src, int n, int c, int h, int w, int oh, int ow, int *idx,
                   float *lam)
{
    int *y0 = idx, *y1 = y0 + oh, *x0 = y1 + oh, *x1 = x0 + ow;
    float *ly = lam, *lx = ly + oh;
    axis_weights(y0, y1, ly, h, oh);
    axis_weights(x0, x1, lx, w, ow);
    int planes = n * c;
#pragma omp parallel for
    for (int p = 0; p < planes; p++) {
        const float *s = src + (size_t)p * h * w;
        float *d = dst + (size_t)p * oh * ow;
        for (int y = 0; y < oh; y++) {
            const float *r0 = s + (size_t)y0[y] * w, *r1 = s + (size_t)y1[y] * w;
            float b = ly[y], a = 1.0f - b;
            for (int x = 0; x < ow; x++) {
                float q = lx[x], pq = 1.0f - q;
                d[(size_t)y * ow + x] = a * (pq * r0[x0[x]] + q * r0[x1[x]]) +
                                        b * (pq * r1[x0[x]] + q * r1[x1[x]]);
            }
        }
    }
}

void jp_resize_bilinear(float *dst, const float *src, int n, int c, int h, int w, int oh, int ow)
{
    JP_CHECK(n >= 0 && c >= 1 && h >= 1 && w >= 1 && oh >= 1 && ow >= 1);
    int *idx = malloc(sizeof(int) * (size_t)(2 * oh + 2 * ow));
    float *lam = malloc(sizeof(float) * (size_t)(oh + ow));
    JP_CHECK(idx != NULL && lam != NULL);
    jp_inc_resize(dst, src, n, c, h, w, oh, ow, idx, lam);
    free(idx);
    free(lam);
}

/* One (h, w, B) plane; B is a constant at each call site so that the lane loops
 * vectorise. */
static inline __attribute__((always_inline)) void pool_plane(float *d, const float *s, int h, int w, int oh,
                                                             int ow, int stride, int pad, int is_max,
                                                             const int B)
{
    for (int y = 0; y < oh; y++) {
        int ya = y * stride - pad, yb = ya + 3;
        if (ya < 0) ya = 0;
        if (yb > h) yb = h;
        for (int x = 0; x < ow; x++) {
            int xa = x * stride - pad, xb = xa + 3;
            if (xa < 0) xa = 0;
            if (xb > w) xb = w;
            float acc[16];
            for (int k = 0; k < B; k++) acc[k] = is_max ? -FLT_MAX : 0.0f;
            for (int yy = ya; yy < yb; yy++)
                for (int xx = xa; xx < xb; xx++) {
                    const float *v = s + ((size_t)yy * w + xx) * B;
                    if (is_max)
                        for (int k = 0; k < B; k++) acc[k] = v[k] > acc[k] ? v[k] : acc[k];
                    else
                        for (int k = 0; k < B; k++) acc[k] += v[k];
                }
            float *o = d + ((size_t)y * ow + x) * B;
            float scale = is_max ? 1.0f : 1.0f / (float)((yb - ya) * (xb - xa));
            for (int k = 0; k < B; k++) o[k] = acc[k] * scale;
        }
    }
}

void jp_inc_pool(float *dst, const float *src, jp_pool_kind kind, int n, int c, int h, int w, int B)
{
    int stride = kind == JP_POOL_MAX3_S2 ? 2 : 1, pad = stride == 1 ? 1 : 0;
    int oh = (h + 2 * pad - 3) / stride + 1, ow = (w + 2 * pad - 3) / stride + 1;
    int planes = n * ((c + B - 1) / B), is_max = kind != JP_POOL_AVG3_S1;
    JP_CHECK(kind != JP_POOL_NONE && (B == 8 || B == 16));
#pragma omp parallel for
    for (int p = 0; p < planes; p++) {
        const float *s = src + (size_t)p * h * w * B;
        float *d = dst + (size_t)p * oh * ow * B;
        if (B == 16) pool_plane(d, s, h, w, oh, ow, stride, pad, is_max, 16);
        else pool_plane(d, s, h, w, oh, ow, stride, pad, is_max, 8);
    }
}

void jp_inc_concat(float *dst, int cd, int off, const float *src, int cs, int n, int h, int w, int B)
{
    JP_CHECK(off >= 0 && off + cs <= cd);
    size_t hw = (size_t)h * w;
    int nbd = (cd + B - 1) / B, nbs = (cs + B - 1) / B;
    if (off % B == 0) {
        /* whole blocks (the source's padded lanes are 0) */
#pragma omp parallel for collapse(2)
        for (int i = 0; i < n; i++)
            for (int b = 0; b < nbs; b++)
                memcpy(dst + (((size_t)i * nbd + off / B + b) * hw) * B,
                       src + (((size_t)i * nbs + b) * hw) * B, hw * B * sizeof(float));
        return;
    }
    /* channel by channel: source channel k goes to lane (off + k) % B of block (off + k) / B */
#pragma omp parallel for collapse(2)
    for (int i = 0; i < n; i++)
        for (int b = 0; b < nbs; b++) {
            const float *s = src + (((size_t)i * nbs + b) * hw) * B;
            int k0 = b * B, k1 = k0 + B < cs ? k0 + B : cs;
            for (int k = k0; k < k1; k++) {
                int ch = off + k;
                float *d = dst + (((size_t)i * nbd + ch / B) * hw) * B + ch % B;
                const float *sk = s + (k - k0);
                for (size_t q = 0; q < hw; q++) d[q * B] = sk[q * B];
            }
        }
    /* the last piece: keep dst's padded lanes 0 (the blocked layout's invariant) */
    if (off + cs == cd && cd % B)
        for (int i = 0; i < n; i++) {
            float *d = dst + (((size_t)i * nbd + nbd - 1) * hw) * B;
            for (size_t q = 0; q < hw; q++)
                for (int k = cd % B; k < B; k++) d[q * B + k] = 0.0f;
        }
}

void jp_inc_global_avgpool(float *feats, const float *src, int n, int c, int h, int w, int B)
{
    int nb = (c + B - 1) / B;
    size_t hw = (size_t)h * w;
    float inv = 1.0f / (float)hw;
#pragma omp parallel for collapse(2)
    for (int i = 0; i < n; i++)
        for (int b = 0; b < nb; b++) {
            const float *s = src + (((size_t)i * nb + b) * hw) * B;
            double acc[16] = {0};
            for (size_t q = 0; q < hw; q++)
                for (int k = 0; k < B; k++) acc[k] += s[q * B + k];
            for (int k = 0; k < B && b * B + k < c; k++)
                feats[(size_t)i * c + b * B + k] = (float)acc[k] * inv;
        }
}
