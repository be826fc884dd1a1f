/* Batch norm + LeakyReLU fused into few passes over blocked activations (see
 * bnact_fused.h); the kernels, one source for both vector widths, are in
 * bnact_fused_kern.h.
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
 * the results do not depend on the number of threads.
 *
 * Synchronised over R processes (jp_bnact_plan_sync), each with M values per channel: the
 * forward's mean and variance are the whole batch's (jp_bnfused_sync_stats), and the
 * backward's Sdy and Sdyt are summed over the processes with R M in place of M, so each
 * process's dx is that of the whole batch's loss; dgamma and dbeta stay its own share. */
#include "ops/bnact_fused.h"

#include <stdlib.h>

#include "ops/backend.h"
#include "ops/cpu_isa.h"

int jp_bnfused_supported(int c, int block) { return jp_cpu_has_width(block) && c > 0 && c % block == 0; }

size_t jp_bnfused_partial_doubles(int c) { return (size_t)c * 2 * JP_BNFUSED_NCHUNK; }

const char *jp_bnfused_kernel_name(const jp_bnfused *b)
{
    return b->vw == 16 ? "jempp:bn_lrelu_fused:avx512" : "jempp:bn_lrelu_fused:avx2";
}

/* The width's kernels (bnact_fused_avx2.c, bnact_fused_avx512.c). */
#define JP_BNFUSED_DECLARE(sfx)                                                                          \
    void jp_bnfused_forward_##sfx(const jp_bnfused *b, int train, float *dst, float *mean, float *var,  \
                                  const float *src, const float *gamma, const float *beta);            \
    void jp_bnfused_backward_##sfx(const jp_bnfused *b, int train, float *dsrc, const float *ddst,      \
                                   float *dgamma, float *dbeta, const float *src, const float *mean,   \
                                   const float *var, const float *gamma, const float *beta);
JP_BNFUSED_DECLARE(v8)
JP_BNFUSED_DECLARE(v16)

#if !defined(JEMPP_X86_KERNELS) /* jp_cpu_has_width() is 0: never called */
#define JP_NO_KERNELS(...) JP_CHECK(!"no vector kernels in this build")
#define jp_bnfused_forward_v8 JP_NO_KERNELS
#define jp_bnfused_forward_v16 JP_NO_KERNELS
#define jp_bnfused_backward_v8 JP_NO_KERNELS
#define jp_bnfused_backward_v16 JP_NO_KERNELS
#endif

void jp_bnfused_forward(const jp_bnfused *b, int train, float *dst, float *mean, float *var, const float *src,
                        const float *gamma, const float *beta)
{
    if (b->vw == 16) jp_bnfused_forward_v16(b, train, dst, mean, var, src, gamma, beta);
    else jp_bnfused_forward_v8(b, train, dst, mean, var, src, gamma, beta);
}

void jp_bnfused_backward(const jp_bnfused *b, int train, float *dsrc, const float *ddst, float *dgamma,
                         float *dbeta, const float *src, const float *mean, const float *var,
                         const float *gamma, const float *beta)
{
    if (b->vw == 16) jp_bnfused_backward_v16(b, train, dsrc, ddst, dgamma, dbeta, src, mean, var, gamma, beta);
    else jp_bnfused_backward_v8(b, train, dsrc, ddst, dgamma, dbeta, src, mean, var, gamma, beta);
}

/* ---- the implementation "jempp-fused" of ops/backend.h ---- */

void jp_bnfused_sync_stats(const jp_bnfused *b, float *mean, float *var)
{
    const jp_bn_sync *s = *b->sync;
    int C = b->s.c;
    double *w = b->sums, R = s->ranks;
    for (int c = 0; c < C; c++) w[c] = mean[c];
    s->sum(s->ctx, w, (size_t)C);
    for (int c = 0; c < C; c++) {
        w[c] /= R;
        double d = mean[c] - w[c];
        w[C + c] = var[c] + d * d;
    }
    s->sum(s->ctx, w + C, (size_t)C);
    for (int c = 0; c < C; c++) mean[c] = (float)w[c], var[c] = (float)(w[C + c] / R);
}

static jp_status init(jp_bnact_plan *p, jp_error *err)
{
    jp_bnfused *b = malloc(sizeof *b);
    p->state = b;
    if (!b) return jp_fail(err, JP_ERR_NOMEM, "batch-norm plan");
    *b = (jp_bnfused){p->ctx->act_block, p->s, p->slope, p->has_bn,
                      jp_alloc(jp_bnfused_partial_doubles(p->s.c) * sizeof(double)),
                      jp_alloc((size_t)2 * p->s.c * sizeof(double)), &p->sync};
    return b->partial && b->sums ? JP_OK : jp_fail(err, JP_ERR_NOMEM, "out of memory for batch norm sums");
}

static void release(jp_bnact_plan *p)
{
    jp_bnfused *b = p->state;
    if (b) jp_free(b->partial), jp_free(b->sums);
    free(b);
    p->state = NULL;
}

static const char *kernel(const jp_bnact_plan *p, int k)
{
    return k < 4 ? jp_bnfused_kernel_name(p->state) : NULL; /* the activation runs inside */
}

static void forward(const jp_bnact_plan *p, int train, float *dst, float *mean, float *var, const float *src,
                    const float *gamma, const float *beta)
{
    jp_bnfused_forward(p->state, train, dst, mean, var, src, gamma, beta);
}

static void backward(const jp_bnact_plan *p, int train, float *dsrc, float *ddst, float *dgamma, float *dbeta,
                     const float *dst, const float *src, const float *mean, const float *var, const float *gamma,
                     const float *beta)
{
    (void)dst;
    jp_bnfused_backward(p->state, train, dsrc, ddst, dgamma, dbeta, src, mean, var, gamma, beta);
}

const jp_bnact_impl jp_bnact_jempp_fused = {JP_BNACT_JEMPP_FUSED, init, release, kernel, forward, backward};
