/* The seam between the models and the kernels that run their layers: a context (the
 * device, the activations' layout and one shared scratchpad), and plans for convolution
 * and batch norm + LeakyReLU, each running one implementation chosen among peers
 * (jp_conv_impl_id, jp_bnact_impl_id). What an implementation keeps is its own (the
 * plan's `state`); oneDNN's API is used only under src/ops/onednn/. Everything else a
 * model runs (pooling, the heads' products, losses, element-wise updates, memory) is an
 * operation of the context's device (ops/device.h).
 *
 * Activations between layers stay in a blocked layout (nChw16c on AVX-512, nChw8c
 * otherwise) and are reordered only at the edges of the network. Weights are kept by
 * the model in PyTorch's plain layouts (OIHW) and prepared into the layout each
 * implementation prefers once per weight update. Plans are made once per shape;
 * executing a plan allocates nothing (the shared scratchpad).
 *
 * Adding an implementation: one file defining a jp_conv_impl (or jp_bnact_impl), its
 * id in include/jempp/ops.h and a line in conv_impls.c (bnact.c); tests/
 * test_conformance.c checks it against the reference kernels. docs/design.md.
 *
 * Internal header: the public model API is in include/jempp/wrn.h. */
#ifndef JEMPP_OPS_BACKEND_H
#define JEMPP_OPS_BACKEND_H

#include <stddef.h>

#include "jempp/core.h"
#include "jempp/ops.h"
#include "ops/device.h"

typedef struct jp_onednn jp_onednn; /* oneDNN's engine and stream (ops/onednn/onednn.h) */
typedef struct jp_conv_impl jp_conv_impl;
typedef struct jp_bnact_impl jp_bnact_impl;

/* The device, the activations' layout and one scratchpad (device memory) shared by all
 * plans of a context (they run one at a time). */
typedef struct {
    const jp_device *dev; /* where the activations live and everything but the plans runs */
    int act_block;  /* channel block of the activations: 16 or 8 on the CPU, 1 (NCHW) on others */
    jp_onednn *dnnl;  /* the CPU's */
    /* a device other than the CPU: the implementations of its plans (every shape) */
    const jp_conv_impl *dev_conv;
    const jp_bnact_impl *dev_bnact;
    void *scratch;
    size_t scratch_size, scratch_need;
} jp_ctx;

/* vector_width: the activations' channel block, 0 for the CPU's own (16 where oneDNN
 * and jempp both run AVX-512 kernels, else 8), or 8 / 16 (tests, --vector_width). */
jp_status jp_ctx_init(jp_ctx *ctx, int vector_width, jp_error *err);
/* A context on a device other than the CPU: plain NCHW activations, and every plan
 * runs the device's implementations (dev->conv, dev->bnact; src/cuda: cuDNN's). */
jp_status jp_ctx_init_device(jp_ctx *ctx, const jp_device *dev, jp_error *err);
/* Allocates the shared scratchpad (call after creating plans; may be called again
 * after creating more plans: grows when needed). */
jp_status jp_ctx_finalize(jp_ctx *ctx, jp_error *err);
void jp_ctx_free(jp_ctx *ctx);
/* Bytes of an (N,C,H,W) activation in the context's blocked layout (channels padded up
 * to the block). */
size_t jp_act_bytes(const jp_ctx *ctx, int n, int c, int h, int w);
/* Plain NCHW <-> blocked copies (edges of the network and tests). Not for hot loops.
 * On a plain context (block 1) a device copy. */
void jp_act_to_blocked(const jp_ctx *ctx, float *dst, const float *src, int n, int c, int h, int w);
void jp_act_from_blocked(const jp_ctx *ctx, float *dst, const float *src, int n, int c, int h, int w);
/* Whether a kernel name is one of oneDNN's reference (naive loop) kernels, 10-1000x
 * slower than its JIT ones. */
int jp_kernel_is_reference(const char *kernel);

/* ---- convolution plan: forward, backward-data, backward-weights ---------------- */

typedef struct {
    jp_ctx *ctx;
    const jp_conv_impl *impl; /* the implementation that runs all three passes */
    jp_conv_shape s;
    int src_plain;      /* source (and diff source) in plain NCHW (first layer: C = 1 or 3) */
    int residual;       /* forward adds into dst (dst += conv(src) + b): the residual sum */
    int relu;           /* forward ends with a ReLU */
    int backward;       /* planned with backward-data and backward-weights */
    int winograd;       /* a Winograd implementation was allowed (jp_conv_opts.winograd) */
    size_t w_bytes;     /* weights in the forward's layout */
    size_t wd_bytes;    /* weights in the backward-data layout; 0 when it is the forward one */
    size_t dw_bytes;    /* scratch of backward-weights' diff weights (0: none needed) */
    void *state;        /* the implementation's own */
} jp_conv_plan;

/* What a convolution plan is for. */
typedef struct {
    int src_plain;          /* source (and diff source) in plain NCHW (a first layer) */
    int residual;           /* forward adds into dst: dst += conv(src) + b */
    int relu;               /* forward applies a ReLU to its result (inference only) */
    int need_backward;      /* plan backward-data and backward-weights too (training) */
    int winograd;           /* JP_CONV_AUTO may choose a Winograd implementation */
    int bf16;               /* JP_CONV_AUTO may choose onednn-bf16 for 3x3 strided layers */
    jp_conv_impl_id impl;   /* JP_CONV_AUTO or the implementation asked for: it runs the
                             * shape when it can, onednn-direct otherwise */
} jp_conv_opts;

/* One implementation: init plans p (ctx, s and the flags are set; it sets the byte
 * counts and state) and returns JP_OK, JP_ERR_SHAPE when the shape is not of its kind
 * (a Winograd one for a 1x1 layer) or JP_ERR_BACKEND when this CPU or library cannot
 * run it, both with a message; release frees the state (also a failed init's). */
struct jp_conv_impl {
    jp_conv_impl_id id;
    jp_status (*init)(jp_conv_plan *p, jp_error *err);
    void (*release)(jp_conv_plan *p);
    /* the kernel of pass 0 (forward), 1 (backward-data), 2 (backward-weights) */
    const char *(*kernel)(const jp_conv_plan *p, int pass);
    void (*prepare_weights)(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw);
    void (*forward)(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd, const float *b);
    void (*backward_data)(const jp_conv_plan *p, float *dsrc, const float *ddst, const float *wbwd);
    void (*backward_weights)(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                             const float *src, float *dw_scratch, float *db_scratch);
};
/* The peers: onednn-direct and onednn-winograd (onednn/onednn_conv.c), onednn-bf16
 * (onednn/onednn_conv_bf16.c), jempp-winograd (wino_conv.c), jempp-first (first_conv.c). */
extern const jp_conv_impl jp_conv_onednn_direct, jp_conv_onednn_winograd, jp_conv_onednn_bf16,
    jp_conv_jempp_winograd, jp_conv_jempp_first;

/* Plans a convolution on this context for the given shape with the implementation
 * opts ask for, or the automatic choice (conv_impls.c). A named implementation that
 * cannot run on this CPU is an error (JP_ERR_BACKEND); one that does not fit the shape
 * leaves it to onednn-direct. Without backward the forward is an inference one. */
jp_status jp_conv_plan_init(jp_conv_plan *p, jp_ctx *ctx, const jp_conv_shape *s, const jp_conv_opts *o,
                            jp_error *err);
void jp_conv_plan_free(jp_conv_plan *p);
/* Name of the kernel that runs pass 0 (forward), 1 (backward-data) or 2
 * (backward-weights): oneDNN's implementation name or jempp's; NULL for a backward
 * pass of a forward-only plan. */
const char *jp_conv_kernel(const jp_conv_plan *p, int pass);
/* Prepares plain OIHW weights into wfwd (w_bytes) and, when the backward-data layout
 * differs (wd_bytes > 0), into wbwd. */
void jp_conv_prepare_weights(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw);
/* dst (blocked) = conv(src) + b   (residual: dst += conv(src) + b). */
void jp_conv_forward(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd,
                     const float *b);
/* dsrc = conv^T(ddst): the transposed convolution (written). */
void jp_conv_backward_data(const jp_conv_plan *p, float *dsrc, const float *ddst,
                           const float *wbwd);
/* dw_oihw += dL/dw, db += sum ddst (either may be NULL); dw_scratch (dw_bytes) holds
 * the diff weights in the implementation's layout, db_scratch has Cout floats. */
void jp_conv_backward_weights(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                              const float *src, float *dw_scratch, float *db_scratch);

/* ---- batch norm + LeakyReLU plan (train: batch stats; eval: running stats) -------- */

/* Batch statistics over several processes (synchronised batch norm): `sum` adds v (n) over
 * the `ranks` processes in place, each holding an equal share of the batch. */
typedef struct {
    void *ctx;
    int ranks;
    void (*sum)(void *ctx, double *v, size_t n);
} jp_bn_sync;

typedef struct {
    jp_ctx *ctx;
    const jp_bnact_impl *impl;
    jp_bn_shape s;
    float slope;
    int has_bn;  /* 0: norm "none", only the activation */
    const jp_bn_sync *sync; /* NULL: this process's batch (jp_bnact_plan_sync) */
    void *state; /* the implementation's own */
} jp_bnact_plan;

/* One implementation (as jp_conv_impl). forward: dst = lrelu(bn(src)), train with the
 * batch statistics written to mean / var (biased), eval with mean / var as given (the
 * running ones); backward: dsrc from ddst (which it may overwrite), dgamma / dbeta
 * WRITTEN when not NULL, mean / var those the forward normalised with. */
struct jp_bnact_impl {
    jp_bnact_impl_id id;
    jp_status (*init)(jp_bnact_plan *p, jp_error *err);
    void (*release)(jp_bnact_plan *p);
    /* the kernel of pass k: 0 forward train, 1 forward eval, 2 backward train, 3 backward
     * eval, 4 the activation forward, 5 its backward (NULL where nothing separate runs) */
    const char *(*kernel)(const jp_bnact_plan *p, int k);
    void (*forward)(const jp_bnact_plan *p, int train, float *dst, float *mean, float *var, const float *src,
                    const float *gamma, const float *beta);
    void (*backward)(const jp_bnact_plan *p, int train, float *dsrc, float *ddst, float *dgamma, float *dbeta,
                     const float *dst, const float *src, const float *mean, const float *var,
                     const float *gamma, const float *beta);
};
/* The peers: onednn (onednn/onednn_bnact.c), jempp-fused (bnact_fused.c). */
extern const jp_bnact_impl jp_bnact_onednn, jp_bnact_jempp_fused;

/* impl: JP_BNACT_AUTO (jempp-fused where it runs: C a multiple of the layout's block
 * and the CPU's vector width; onednn otherwise) or a named one (an error when it
 * cannot run this shape here). */
jp_status jp_bnact_plan_init(jp_bnact_plan *p, jp_ctx *ctx, const jp_bn_shape *s, int has_bn,
                             float slope, jp_bnact_impl_id impl, jp_error *err);
void jp_bnact_plan_free(jp_bnact_plan *p);
/* Train-mode statistics over the processes of sync (NULL: back to this process's): the
 * batch mean and variance of the whole batch, the backward's sums over it; dgamma and
 * dbeta stay this process's share (the gradient averaging adds them). Only jempp-fused
 * implements it: JP_ERR_BACKEND otherwise. */
jp_status jp_bnact_plan_sync(jp_bnact_plan *p, const jp_bn_sync *sync, jp_error *err);
/* The kernel of pass k (see jp_bnact_impl.kernel). */
const char *jp_bnact_kernel(const jp_bnact_plan *p, int k);
/* dst = lrelu(bn(src)). Train: normalise with batch mean/biased variance, store them
 * in mean/var (C each) and update running_mean/var (unbiased, momentum) when given.
 * Eval: normalise with running_mean/var. */
void jp_bnact_forward(const jp_bnact_plan *p, int train, float *dst, float *mean, float *var,
                      float *running_mean, float *running_var, const float *src,
                      const float *gamma, const float *beta);
/* From d(dst) to d(src) (written; ddst is used as scratch and destroyed).
 * dgamma/dbeta += when not NULL (dparam_scratch: 2*C floats). The activation's
 * backward uses dst: d(bn_out) = ddst * (dst > 0 ? 1 : slope). Then BN backward:
 * train mode through the batch statistics, eval mode with the running ones. */
void jp_bnact_backward(const jp_bnact_plan *p, int train, float *dsrc, float *ddst,
                       float *dgamma, float *dbeta, const float *dst, const float *src,
                       const float *mean, const float *var, const float *gamma,
                       const float *beta, float *dparam_scratch);

#endif
