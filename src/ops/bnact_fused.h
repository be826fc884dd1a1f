/* Batch norm + LeakyReLU fused into few passes over blocked activations: nChw8c with
 * AVX2 + FMA, nChw16c with AVX-512F (one source, bnact_fused_kern.h), for C a multiple
 * of the block; in place of oneDNN's batch-norm and eltwise primitives. The math is
 * ops/bnact.c's; see bnact_fused.c for the passes. Internal header. */
#ifndef JEMPP_BNACT_FUSED_H
#define JEMPP_BNACT_FUSED_H

#include <stddef.h>

#include "jempp/ops.h"
#include "ops/backend.h"

/* NCHUNK: chunks of images per channel block, fixed so that sums do not depend on the
 * thread count. */
enum { JP_BNFUSED_NCHUNK = 8 };

typedef struct {
    int vw;          /* vector width = channel block of the layout: 8 or 16 */
    jp_bn_shape s;
    float slope;
    int has_bn;      /* 0: only the activation (scale 1, shift 0) */
    double *partial; /* per (channel block, chunk of images) sums: jp_bnfused_partial_doubles */
    double *sums;    /* (2 C) the backward's per-channel sums, over the processes when synchronised */
    const jp_bn_sync *const *sync; /* the plan's synchronisation (*sync NULL: none) */
} jp_bnfused;

/* Synchronised batch norm, forward: this process's batch mean and variance (C each)
 * become the whole batch's (equal shares): mu = mean_r mu_r, var = mean_r (var_r +
 * (mu_r - mu)^2). */
void jp_bnfused_sync_stats(const jp_bnfused *b, float *mean, float *var);

/* Whether this build and CPU can run it for C channels on a layout of block B (8 or 16). */
int jp_bnfused_supported(int c, int block);
/* "jempp:bn_lrelu_fused:avx2" or ":avx512". */
const char *jp_bnfused_kernel_name(const jp_bnfused *b);
/* Doubles of the `partial` scratch for C channels. */
size_t jp_bnfused_partial_doubles(int c);

/* dst = lrelu(bn(src)): train normalises with the batch statistics and writes them to
 * mean / var (biased), eval uses mean / var as given (the running ones). */
void jp_bnfused_forward(const jp_bnfused *b, int train, float *dst, float *mean, float *var, const float *src,
                        const float *gamma, const float *beta);
/* dsrc from ddst (kept); dgamma / dbeta written (not added) when not NULL. mean / var:
 * the ones the forward normalised with. */
void jp_bnfused_backward(const jp_bnfused *b, int train, float *dsrc, const float *ddst, float *dgamma,
                        float *dbeta, const float *src, const float *mean, const float *var,
                        const float *gamma, const float *beta);

#endif
