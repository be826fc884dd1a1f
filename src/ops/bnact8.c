/* Batch norm + LeakyReLU fused on nChw8c with AVX2 + FMA (see bnact8.h).
 *
 * Per channel, M = N*H*W values, y = (x - mean) * scale + beta, scale = gamma / sqrt(var +
 * eps), a = y > 0 ? y : slope * y (without batch norm: mean 0, scale 1, beta 0, so y = x).
 *
 * Forward, train: pass 1 sums x - k and (x - k)^2 in double, k the channel's first value
 *   (shifted, so that the variance does not cancel when |mean| >> std): mean = k + S/M,
 *   var = Q/M - (S/M)^2 (biased, as PyTorch normalises); pass 2 writes a.
 *   Eval: pass 2 alone, with the running statistics.
 * Backward: the activation's mask from y recomputed with the same instructions as the
 *   forward (so the same sign as the a it produced): dy = da * (y > 0 ? 1 : slope);
 *   with t = x - mean, rstd = 1 / sqrt(var + eps):
 *   train: pass 1 sums Sdy = sum dy, Sdyt = sum dy t (double); pass 2
 *          dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat))
 *             = scale dy - scale Sdy / M - scale rstd^2 Sdyt / M * t,
 *   eval:  dx = scale dy (statistics are constants);
 *   both:  dgamma = rstd Sdyt, dbeta = Sdy.
 * oneDNN's primitives need two more passes over memory in the forward (the separate
 * eltwise) and three in the backward (eltwise backward writes dy, BN backward reads it).
 *
 * Sums run per (channel block, fixed chunk of images) and are added in chunk order, so
 * the results do not depend on the number of threads. */
#include "ops/bnact8.h"

#include <math.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define JP_BNACT8_SIMD 1
#else
#define JP_BNACT8_SIMD 0
#endif

/* NCHUNK: chunks of images per channel block (work items: C/8 * NCHUNK); NSUM: doubles
 * an item sums (two sums of 8 channels). */
enum { NCHUNK = 8, NSUM = 16 };

int jp_bnact8_supported(int c, int block) { return JP_BNACT8_SIMD && block == 8 && c > 0 && c % 8 == 0; }

size_t jp_bnact8_partial_doubles(int c) { return (size_t)(c / 8) * NCHUNK * NSUM; }

#if JP_BNACT8_SIMD

/* Work item `it` -> channel block and images [n0, n1). */
static inline int item_at(const jp_bn_shape *s, int it, int *n0, int *n1)
{
    int k = it % NCHUNK;
    *n0 = (int)((long)k * s->n / NCHUNK);
    *n1 = (int)((long)(k + 1) * s->n / NCHUNK);
    return it / NCHUNK;
}

static inline const float *plane_of(const jp_bn_shape *s, const float *t, int img, int cb)
{
    return t + ((size_t)img * (s->c / 8) + cb) * s->h * s->w * 8;
}

/* The 8 channels of block cb: y = (x - mean) * scale + beta, rstd. */
typedef struct {
    __m256 mean, scale, beta;
    double rstd[8];
} chan8;

static chan8 chan_at(const jp_bnact8 *b, int cb, const float *mean, const float *var, const float *gamma,
                     const float *beta)
{
    float m[8], sc[8], be[8];
    chan8 k;
    for (int l = 0; l < 8; l++) {
        int c = cb * 8 + l;
        k.rstd[l] = b->has_bn ? 1.0 / sqrt((double)var[c] + b->s.eps) : 1.0;
        m[l] = b->has_bn ? mean[c] : 0.0f;
        sc[l] = b->has_bn ? (float)(gamma[c] * k.rstd[l]) : 1.0f;
        be[l] = b->has_bn ? beta[c] : 0.0f;
    }
    k.mean = _mm256_loadu_ps(m), k.scale = _mm256_loadu_ps(sc), k.beta = _mm256_loadu_ps(be);
    return k;
}

static inline __m256 bn_y(const chan8 *k, __m256 x)
{
    return _mm256_fmadd_ps(_mm256_sub_ps(x, k->mean), k->scale, k->beta);
}

/* v where mask (y > 0), slope * v elsewhere. */
static inline __m256 by_sign(__m256 v, __m256 y, __m256 slope)
{
    __m256 pos = _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ);
    return _mm256_blendv_ps(_mm256_mul_ps(v, slope), v, pos);
}

/* acc[0..1] += the 8 floats of v in double (low and high halves). */
static inline void add_pd(__m256d acc[2], __m256 v)
{
    acc[0] = _mm256_add_pd(acc[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    acc[1] = _mm256_add_pd(acc[1], _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

static inline void store_sums(double *out, const __m256d s[2], const __m256d q[2])
{
    _mm256_storeu_pd(out, s[0]), _mm256_storeu_pd(out + 4, s[1]);
    _mm256_storeu_pd(out + 8, q[0]), _mm256_storeu_pd(out + 12, q[1]);
}

/* The items' sums of channel c, in chunk order: *s (first 8) and *q (second 8). */
static void chunk_sums(const jp_bnact8 *b, int c, double *s, double *q)
{
    const double *p = b->partial + (size_t)(c / 8) * NCHUNK * NSUM + c % 8;
    *s = *q = 0;
    for (int k = 0; k < NCHUNK; k++) *s += p[k * NSUM], *q += p[k * NSUM + 8];
}

static void batch_stats(const jp_bnact8 *b, float *mean, float *var, const float *src)
{
    const jp_bn_shape *s = &b->s;
    size_t hw = (size_t)s->h * s->w;
    double M = (double)s->n * (double)hw;
#pragma omp parallel for schedule(static)
    for (int it = 0; it < s->c / 8 * NCHUNK; it++) {
        int n0, n1, cb = item_at(s, it, &n0, &n1);
        __m256 k = _mm256_loadu_ps(plane_of(s, src, 0, cb));
        __m256d sum[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()}, sq[2] = {sum[0], sum[1]};
        for (int img = n0; img < n1; img++) {
            const float *x = plane_of(s, src, img, cb);
            for (size_t i = 0; i < hw; i++) {
                __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i * 8), k);
                __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(d)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
                sum[0] = _mm256_add_pd(sum[0], lo), sum[1] = _mm256_add_pd(sum[1], hi);
                sq[0] = _mm256_fmadd_pd(lo, lo, sq[0]), sq[1] = _mm256_fmadd_pd(hi, hi, sq[1]);
            }
        }
        store_sums(b->partial + (size_t)it * NSUM, sum, sq);
    }
    for (int c = 0; c < s->c; c++) {
        double S, Q;
        chunk_sums(b, c, &S, &Q);
        double m = S / M, v = Q / M - m * m;
        mean[c] = (float)(src[(size_t)(c / 8) * hw * 8 + c % 8] + m);
        var[c] = (float)(v > 0 ? v : 0);
    }
}

void jp_bnact8_forward(const jp_bnact8 *b, int train, float *dst, float *mean, float *var, const float *src,
                       const float *gamma, const float *beta)
{
    const jp_bn_shape *s = &b->s;
    if (b->has_bn && train) batch_stats(b, mean, var, src);
    size_t hw = (size_t)s->h * s->w;
    __m256 slope = _mm256_set1_ps(b->slope);
#pragma omp parallel for schedule(static)
    for (int it = 0; it < s->c / 8 * NCHUNK; it++) {
        int n0, n1, cb = item_at(s, it, &n0, &n1);
        chan8 k = chan_at(b, cb, mean, var, gamma, beta);
        for (int img = n0; img < n1; img++) {
            const float *x = plane_of(s, src, img, cb);
            float *a = (float *)plane_of(s, dst, img, cb);
            for (size_t i = 0; i < hw; i++) {
                __m256 y = bn_y(&k, _mm256_loadu_ps(x + i * 8));
                _mm256_storeu_ps(a + i * 8, by_sign(y, y, slope));
            }
        }
    }
}

/* Pass 1 of the backward: per item, sum dy and sum dy (x - mean). */
static void grad_sums(const jp_bnact8 *b, const float *ddst, const float *src, const float *mean,
                      const float *var, const float *gamma, const float *beta)
{
    const jp_bn_shape *s = &b->s;
    size_t hw = (size_t)s->h * s->w;
    __m256 slope = _mm256_set1_ps(b->slope);
#pragma omp parallel for schedule(static)
    for (int it = 0; it < s->c / 8 * NCHUNK; it++) {
        int n0, n1, cb = item_at(s, it, &n0, &n1);
        chan8 k = chan_at(b, cb, mean, var, gamma, beta);
        __m256d sdy[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()}, sdyt[2] = {sdy[0], sdy[1]};
        for (int img = n0; img < n1; img++) {
            const float *x = plane_of(s, src, img, cb), *da = plane_of(s, ddst, img, cb);
            for (size_t i = 0; i < hw; i++) {
                __m256 xv = _mm256_loadu_ps(x + i * 8);
                __m256 dy = by_sign(_mm256_loadu_ps(da + i * 8), bn_y(&k, xv), slope);
                add_pd(sdy, dy);
                add_pd(sdyt, _mm256_mul_ps(dy, _mm256_sub_ps(xv, k.mean)));
            }
        }
        store_sums(b->partial + (size_t)it * NSUM, sdy, sdyt);
    }
}

void jp_bnact8_backward(const jp_bnact8 *b, int train, float *dsrc, const float *ddst, float *dgamma,
                        float *dbeta, const float *src, const float *mean, const float *var,
                        const float *gamma, const float *beta)
{
    const jp_bn_shape *s = &b->s;
    size_t hw = (size_t)s->h * s->w;
    double M = (double)s->n * (double)hw;
    int sums = b->has_bn && (train || dgamma || dbeta);
    if (sums) {
        grad_sums(b, ddst, src, mean, var, gamma, beta);
        for (int c = 0; c < s->c; c++) {
            double Sdy, Sdyt;
            chunk_sums(b, c, &Sdy, &Sdyt);
            double rstd = 1.0 / sqrt((double)var[c] + s->eps);
            if (dgamma) dgamma[c] = (float)(rstd * Sdyt);
            if (dbeta) dbeta[c] = (float)Sdy;
        }
    }
    __m256 slope = _mm256_set1_ps(b->slope);
#pragma omp parallel for schedule(static)
    for (int it = 0; it < s->c / 8 * NCHUNK; it++) {
        int n0, n1, cb = item_at(s, it, &n0, &n1);
        chan8 k = chan_at(b, cb, mean, var, gamma, beta);
        /* dx = scale dy + (kt t + kc): kt, kc zero but in train mode */
        float kt[8] = {0}, kc[8] = {0};
        if (b->has_bn && train)
            for (int l = 0; l < 8; l++) {
                int c = cb * 8 + l;
                double Sdy, Sdyt, sc = gamma[c] * k.rstd[l];
                chunk_sums(b, c, &Sdy, &Sdyt);
                kc[l] = (float)(-sc * Sdy / M);
                kt[l] = (float)(-sc * k.rstd[l] * k.rstd[l] * Sdyt / M);
            }
        __m256 vkt = _mm256_loadu_ps(kt), vkc = _mm256_loadu_ps(kc);
        for (int img = n0; img < n1; img++) {
            const float *x = plane_of(s, src, img, cb), *da = plane_of(s, ddst, img, cb);
            float *dx = (float *)plane_of(s, dsrc, img, cb);
            for (size_t i = 0; i < hw; i++) {
                __m256 xv = _mm256_loadu_ps(x + i * 8);
                __m256 dy = by_sign(_mm256_loadu_ps(da + i * 8), bn_y(&k, xv), slope);
                __m256 rest = _mm256_fmadd_ps(vkt, _mm256_sub_ps(xv, k.mean), vkc);
                _mm256_storeu_ps(dx + i * 8, _mm256_fmadd_ps(k.scale, dy, rest));
            }
        }
    }
}

#else /* no AVX2/FMA: jp_bnact8_supported() is 0 and dnnl_bnact.c never calls these */

void jp_bnact8_forward(const jp_bnact8 *b, int train, float *dst, float *mean, float *var, const float *src,
                       const float *gamma, const float *beta)
{
    (void)b, (void)train, (void)dst, (void)mean, (void)var, (void)src, (void)gamma, (void)beta;
    JP_CHECK(!"bnact8 without AVX2");
}

void jp_bnact8_backward(const jp_bnact8 *b, int train, float *dsrc, const float *ddst, float *dgamma,
                        float *dbeta, const float *src, const float *mean, const float *var,
                        const float *gamma, const float *beta)
{
    (void)b, (void)train, (void)dsrc, (void)ddst, (void)dgamma, (void)dbeta, (void)src, (void)mean, (void)var,
        (void)gamma, (void)beta;
    JP_CHECK(!"bnact8 without AVX2");
}

#endif
