/* Batch norm + LeakyReLU fused into few passes over nChw8c activations, with AVX2 + FMA:
 * what ops/dnnl_bnact.c runs when the activations are nChw8c (machines without AVX-512)
 * and C is a multiple of 8, in place of oneDNN's batch-norm and eltwise primitives. The
 * math is dnnl_bnact.c's; see bnact8.c for the passes. Internal header. */
#ifndef JEMPP_BNACT8_H
#define JEMPP_BNACT8_H

#include <stddef.h>

#include "jempp/ops.h"

typedef struct {
    jp_bn_shape s;
    float slope;
    int has_bn;      /* 0: only the activation (scale 1, shift 0) */
    double *partial; /* per (channel block, chunk of images) sums: jp_bnact8_partial_doubles */
} jp_bnact8;

/* Whether this build can run it for C channels on a layout of block B. */
int jp_bnact8_supported(int c, int block);
/* Doubles of the `partial` scratch for C channels. */
size_t jp_bnact8_partial_doubles(int c);

/* dst = lrelu(bn(src)): train normalises with the batch statistics and writes them to
 * mean / var (biased), eval uses mean / var as given (the running ones). */
void jp_bnact8_forward(const jp_bnact8 *b, int train, float *dst, float *mean, float *var, const float *src,
                       const float *gamma, const float *beta);
/* dsrc from ddst (kept); dgamma / dbeta written (not added) when not NULL. mean / var:
 * the ones the forward normalised with. */
void jp_bnact8_backward(const jp_bnact8 *b, int train, float *dsrc, const float *ddst, float *dgamma,
                        float *dbeta, const float *src, const float *mean, const float *var,
                        const float *gamma, const float *beta);

#endif
