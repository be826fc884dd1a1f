/* The fused batch norm + LeakyReLU kernels for one vector width: included by
 * bnact_fused_avx2.c (JP_VW 8, nChw8c) and bnact_fused_avx512.c (JP_VW 16, nChw16c),
 * each compiled with its instruction set. The math and the passes are in
 * bnact_fused.c. */
#include <math.h>
#include <string.h>

#include "core/steal.h"
#include "ops/bnact_fused.h"
#include "ops/simd.h"

/* NCHUNK: chunks of images per channel block (work items: C / JP_VW * NCHUNK, each
 * with its own sums, so that the threads may take each other's: JP_STEAL_FOR); NSUM:
 * doubles an item sums (two sums of JP_VW channels). */
enum { NCHUNK = JP_BNFUSED_NCHUNK, NSUM = 2 * JP_VW };

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
    return t + ((size_t)img * (s->c / JP_VW) + cb) * s->h * s->w * JP_VW;
}

/* The JP_VW channels of block cb: y = (x - mean) * scale + beta, rstd. */
typedef struct {
    vf mean, scale, beta;
    double rstd[JP_VW];
} chanv;

static chanv chan_at(const jp_bnfused *b, int cb, const float *mean, const float *var, const float *gamma,
                     const float *beta)
{
    float m[JP_VW], sc[JP_VW], be[JP_VW];
    chanv k;
    for (int l = 0; l < JP_VW; l++) {
        int c = cb * JP_VW + l;
        k.rstd[l] = b->has_bn ? 1.0 / sqrt((double)var[c] + b->s.eps) : 1.0;
        m[l] = b->has_bn ? mean[c] : 0.0f;
        sc[l] = b->has_bn ? (float)(gamma[c] * k.rstd[l]) : 1.0f;
        be[l] = b->has_bn ? beta[c] : 0.0f;
    }
    k.mean = vf_load(m), k.scale = vf_load(sc), k.beta = vf_load(be);
    return k;
}

static inline vf bn_y(const chanv *k, vf x)
{
    return vf_fmadd(vf_sub(x, k->mean), k->scale, k->beta);
}

/* v where mask (y > 0), slope * v elsewhere. */
static inline vf by_sign(vf v, vf y, vf slope)
{
    return vf_if_pos(y, v, vf_mul(v, slope));
}

/* acc[0..1] += the JP_VW floats of v in double (low and high halves). */
static inline void add_pd(vd acc[2], vf v)
{
    acc[0] = vd_add(acc[0], vf_lo_pd(v));
    acc[1] = vd_add(acc[1], vf_hi_pd(v));
}

static inline void store_sums(double *out, const vd s[2], const vd q[2])
{
    vd_store(out, s[0]), vd_store(out + JP_VW / 2, s[1]);
    vd_store(out + JP_VW, q[0]), vd_store(out + 3 * JP_VW / 2, q[1]);
}

/* The items' sums of channel c, in chunk order: *s (first JP_VW) and *q (second JP_VW). */
static void chunk_sums(const jp_bnfused *b, int c, double *s, double *q)
{
    const double *p = b->partial + (size_t)(c / JP_VW) * NCHUNK * NSUM + c % JP_VW;
    *s = *q = 0;
    for (int k = 0; k < NCHUNK; k++) *s += p[k * NSUM], *q += p[k * NSUM + JP_VW];
}

static void batch_stats(const jp_bnfused *b, float *mean, float *var, const float *src)
{
    const jp_bn_shape *s = &b->s;
    size_t hw = (size_t)s->h * s->w;
    double M = (double)s->n * (double)hw;
    JP_STEAL_FOR(it, s->c / JP_VW * NCHUNK) {
        int n0, n1, cb = item_at(s, it, &n0, &n1);
        vf k = vf_load(plane_of(s, src, 0, cb));
        vd sum[2] = {vd_zero(), vd_zero()}, sq[2] = {sum[0], sum[1]};
        for (int img = n0; img < n1; img++) {
            const float *x = plane_of(s, src, img, cb);
            for (size_t i = 0; i < hw; i++) {
                vf d = vf_sub(vf_load(x + i * JP_VW), k);
                vd lo = vf_lo_pd(d), hi = vf_hi_pd(d);
                sum[0] = vd_add(sum[0], lo), sum[1] = vd_add(sum[1], hi);
                sq[0] = vd_fmadd(lo, lo, sq[0]), sq[1] = vd_fmadd(hi, hi, sq[1]);
            }
        }
        store_sums(b->partial + (size_t)it * NSUM, sum, sq);
    }
    for (int c = 0; c < s->c; c++) {
        double S, Q;
        chunk_sums(b, c, &S, &Q);
        double m = S / M, v = Q / M - m * m;
        mean[c] = (float)(src[(size_t)(c / JP_VW) * hw * JP_VW + c % JP_VW] + m);
        var[c] = (float)(v > 0 ? v : 0);
    }
}

void JP_VNAME(jp_bnfused_forward)(const jp_bnfused *b, int train, float *dst, float *mean, float *var, const float *src,
                       const float *gamma, const float *beta)
{
    const jp_bn_shape *s = &b->s;
    if (b->has_bn && train) {
        batch_stats(b, mean, var, src);
        if (*b->sync) jp_bnfused_sync_stats(b, mean, var);
    }
    size_t hw = (size_t)s->h * s->w;
    vf slope = vf_set1(b->slope);
    JP_STEAL_FOR(it, s->c / JP_VW * NCHUNK) {
        int n0, n1, cb = item_at(s, it, &n0, &n1);
        chanv k = chan_at(b, cb, mean, var, gamma, beta);
        for (int img = n0; img < n1; img++) {
            const float *x = plane_of(s, src, img, cb);
            float *a = (float *)plane_of(s, dst, img, cb);
            for (size_t i = 0; i < hw; i++) {
                vf y = bn_y(&k, vf_load(x + i * JP_VW));
                vf_store(a + i * JP_VW, by_sign(y, y, slope));
            }
        }
    }
}

/* Pass 1 of the backward: per item, sum dy and sum dy (x - mean). */
static void grad_sums(const jp_bnfused *b, const float *ddst, const float *src, const float *mean,
                      const float *var, const float *gamma, const float *beta)
{
    const jp_bn_shape *s = &b->s;
    size_t hw = (size_t)s->h * s->w;
    vf slope = vf_set1(b->slope);
    JP_STEAL_FOR(it, s->c / JP_VW * NCHUNK) {
        int n0, n1, cb = item_at(s, it, &n0, &n1);
        chanv k = chan_at(b, cb, mean, var, gamma, beta);
        vd sdy[2] = {vd_zero(), vd_zero()}, sdyt[2] = {sdy[0], sdy[1]};
        for (int img = n0; img < n1; img++) {
            const float *x = plane_of(s, src, img, cb), *da = plane_of(s, ddst, img, cb);
            for (size_t i = 0; i < hw; i++) {
                vf xv = vf_load(x + i * JP_VW);
                vf dy = by_sign(vf_load(da + i * JP_VW), bn_y(&k, xv), slope);
                add_pd(sdy, dy);
                add_pd(sdyt, vf_mul(dy, vf_sub(xv, k.mean)));
            }
        }
        store_sums(b->partial + (size_t)it * NSUM, sdy, sdyt);
    }
}

void JP_VNAME(jp_bnfused_backward)(const jp_bnfused *b, int train, float *dsrc, const float *ddst, float *dgamma,
                        float *dbeta, const float *src, const float *mean, const float *var,
                        const float *gamma, const float *beta)
{
    const jp_bn_shape *s = &b->s;
    size_t hw = (size_t)s->h * s->w;
    double M = (double)s->n * (double)hw;
    int sums = b->has_bn && (train || dgamma || dbeta);
    double *Sdy = b->sums, *Sdyt = b->sums + s->c; /* per channel */
    if (sums) {
        grad_sums(b, ddst, src, mean, var, gamma, beta);
        for (int c = 0; c < s->c; c++) {
            chunk_sums(b, c, &Sdy[c], &Sdyt[c]);
            double rstd = 1.0 / sqrt((double)var[c] + s->eps);
            if (dgamma) dgamma[c] = (float)(rstd * Sdyt[c]);
            if (dbeta) dbeta[c] = (float)Sdy[c];
        }
        if (train && *b->sync) { /* the whole batch's sums and count */
            (*b->sync)->sum((*b->sync)->ctx, b->sums, (size_t)2 * s->c);
            M *= (*b->sync)->ranks;
        }
    }
    vf slope = vf_set1(b->slope);
    JP_STEAL_FOR(it, s->c / JP_VW * NCHUNK) {
        int n0, n1, cb = item_at(s, it, &n0, &n1);
        chanv k = chan_at(b, cb, mean, var, gamma, beta);
        /* dx = scale dy + (kt t + kc): kt, kc zero but in train mode */
        float kt[JP_VW] = {0}, kc[JP_VW] = {0};
        if (b->has_bn && train)
            for (int l = 0; l < JP_VW; l++) {
                int c = cb * JP_VW + l;
                double sc = gamma[c] * k.rstd[l];
                kc[l] = (float)(-sc * Sdy[c] / M);
                kt[l] = (float)(-sc * k.rstd[l] * k.rstd[l] * Sdyt[c] / M);
            }
        vf vkt = vf_load(kt), vkc = vf_load(kc);
        for (int img = n0; img < n1; img++) {
            const float *x = plane_of(s, src, img, cb), *da = plane_of(s, ddst, img, cb);
            float *dx = (float *)plane_of(s, dsrc, img, cb);
            for (size_t i = 0; i < hw; i++) {
                vf xv = vf_load(x + i * JP_VW);
                vf dy = by_sign(vf_load(da + i * JP_VW), bn_y(&k, xv), slope);
                vf rest = vf_fmadd(vkt, vf_sub(xv, k.mean), vkc);
                vf_store(dx + i * JP_VW, vf_fmadd(k.scale, dy, rest));
            }
        }
    }
}

