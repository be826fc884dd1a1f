/* Layer shapes, the choice of implementations, and the small layer kernels on plain
 * contiguous NCHW float32 (dropout, log-sum-exp, cross-entropy), forward and backward.
 *
 * Conventions (one place, for every op):
 *  - Arguments: outputs first, then saved state, then inputs, parameters, shape.
 *  - A NULL gradient pointer skips that gradient (samplers need only the input
 *    gradient; the classifier step may skip the input gradient).
 *  - Parameter gradients ACCUMULATE (+=); activation gradients are WRITTEN (=).
 *  - The plain reference kernels (the test oracle) are declared in src/ops/ref.h; the
 *    fast path (blocked layouts; oneDNN's kernels and jempp's own) lives in src/ops/
 *    behind src/ops/backend.h and is checked against them by tests/test_conformance.c.
 */
#ifndef JEMPP_OPS_H
#define JEMPP_OPS_H

#include <stddef.h>

#include "jempp/core.h"

/* ---- which implementation runs (the fast path's peers) ---- */
/* A convolution's implementations. JP_CONV_AUTO: per layer shape the rule of
 * docs/design.md ("Implementations"); a named one runs every layer it can
 * (jempp-winograd and onednn-winograd: the 3x3 stride-1 layers; jempp-first: the first
 * layer when trained), onednn-direct the rest. */
typedef enum {
    JP_CONV_AUTO = 0,
    JP_CONV_ONEDNN_DIRECT,   /* "onednn-direct" */
    JP_CONV_ONEDNN_WINOGRAD, /* "onednn-winograd": oneDNN's F(4x4,3x3), AVX-512 only */
    JP_CONV_JEMPP_WINOGRAD,  /* "jempp-winograd": jempp's F(4x4,3x3), AVX2 or AVX-512 */
    JP_CONV_CUDNN,           /* "cudnn": cuDNN's, on a CUDA device (every shape there) */
    JP_CONV_ONEDNN_BF16,     /* "onednn-bf16": oneDNN's direct, products in bfloat16 (forward,
                              * backward-data), AVX-512 BF16 only */
    JP_CONV_JEMPP_FIRST,     /* "jempp-first": the trained first layer (3x3 on 1-4 plain channels),
                              * its backward passes jempp's, AVX2 or AVX-512 */
    JP_CONV_N_IMPL
} jp_conv_impl_id;
#define JP_CONV_IMPL_WORDS "auto|onednn-direct|onednn-winograd|jempp-winograd|cudnn|onednn-bf16|jempp-first"

/* Batch norm + LeakyReLU's implementations. */
typedef enum {
    JP_BNACT_AUTO = 0,     /* jempp-fused where it runs, onednn elsewhere */
    JP_BNACT_ONEDNN,       /* "onednn": batch-norm primitive, then eltwise LeakyReLU */
    JP_BNACT_JEMPP_FUSED,  /* "jempp-fused": both in two passes, AVX2 or AVX-512 */
    JP_BNACT_CUDNN,        /* "cudnn": cuDNN's batch norm and a LeakyReLU kernel, on a CUDA device */
    JP_BNACT_N_IMPL
} jp_bnact_impl_id;
#define JP_BNACT_IMPL_WORDS "auto|onednn|jempp-fused|cudnn"

/* What a model runs: the activations' layout and the implementations. */
typedef struct {
    int vector_width;        /* channel block of the activations: 0 auto (16 on AVX-512
                              * CPUs, 8 otherwise), 8 (nChw8c) or 16 (nChw16c) */
    jp_conv_impl_id conv;    /* JP_CONV_AUTO by default */
    jp_bnact_impl_id bnact;  /* JP_BNACT_AUTO by default */
    const jp_device *device; /* where the model lives and runs: NULL for the CPU, or a
                              * GPU backend's device (src/cuda: jp_cuda_device_open); a
                              * device without plans of its own runs the CPU's plans on
                              * its memory (which must then be host-addressable) */
    int bf16;                /* 1: the automatic choice runs the 3x3 strided layers with
                              * bfloat16 products (onednn-bf16) where the CPU has AVX-512
                              * BF16; 0 (default): float32 everywhere */
} jp_kernel_choice;

/* The word of an implementation ("auto" for 0), NULL for an id out of range. */
const char *jp_conv_impl_word(jp_conv_impl_id id);
const char *jp_bnact_impl_word(jp_bnact_impl_id id);

/* ---- 2-D convolution (cross-correlation, as torch.nn.Conv2d, groups=1) ---- */
typedef struct {
    int n, cin, h, w;       /* input (N, Cin, H, W) */
    int cout, kh, kw;       /* weight (Cout, Cin, KH, KW) */
    int sh, sw, ph, pw;     /* stride and zero padding */
    int oh, ow;             /* output (N, Cout, OH, OW), filled by jp_conv_shape_init */
} jp_conv_shape;

/* Fills *s and computes oh = (h + 2ph - kh)/sh + 1 (and ow). Returns JP_ERR_SHAPE
 * (with a message) when the output would be empty or an argument is not positive. */
jp_status jp_conv_shape_init(jp_conv_shape *s, int n, int cin, int h, int w, int cout,
                             int kh, int kw, int sh, int sw, int ph, int pw, jp_error *err);

/* ---- batch normalisation (torch.nn.BatchNorm2d, affine) ---- */
typedef struct {
    int n, c, h, w;
    float eps;      /* 1e-5 in PyTorch */
    float momentum; /* running = (1 - m) * running + m * batch; the reference uses 0.9 */
} jp_bn_shape;

/* ---- dropout (inverted, as torch): mask holds 0 or 1/(1-p) ---- */
void jp_dropout_forward(float *out, float *mask, const float *in, size_t count, float p,
                        jp_rng *rng);
/* din = dout * mask */
void jp_dropout_backward(float *din, const float *dout, const float *mask, size_t count);

/* ---- logsumexp over classes: out (N) = log sum_c exp(in (N,C)) ---- */
void jp_logsumexp_forward(float *out, const float *in, int n, int c);
/* din[n,c] = dout[n] * softmax(in)[n,c] */
void jp_logsumexp_backward(float *din, const float *dout, const float *in, int n, int c);

/* ---- softmax cross-entropy, mean reduction (F.cross_entropy) ---- */
/* Returns mean_n (LSE(logits_n) - logits_n[y_n]). Labels must be in [0, C). */
double jp_cross_entropy_forward(const float *logits, const int *y, int n, int c);
/* dlogits[n,c] = dloss * (softmax[n,c] - [c == y_n]) / N  (written) */
void jp_cross_entropy_backward(float *dlogits, float dloss, const float *logits, const int *y,
                               int n, int c);

#endif
