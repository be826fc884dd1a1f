/* The fast CPU path: oneDNN primitives and jempp's own kernels on blocked activation
 * layouts.
 *
 * Activations between layers stay in a blocked layout (nChw16c on AVX-512, nChw8c
 * otherwise) and are reordered only at the edges of the network. Weights are
 * kept by the model in PyTorch's plain layouts (OIHW) and reordered into the
 * layout each convolution prefers once per weight update. Every primitive is created
 * once, when a plan is built; executing a plan allocates nothing (user scratchpad).
 *
 * Internal header: the public model API is in include/jempp/wrn.h. */
#ifndef JEMPP_DNNL_OPS_H
#define JEMPP_DNNL_OPS_H

#include <oneapi/dnnl/dnnl.h>

#include "jempp/core.h"
#include "jempp/ops.h"
#include "ops/bnact_fused.h"
#include "ops/winograd.h"

/* Engine, stream, the blocked activation tag, and one scratchpad shared by all
 * primitives of a context (they run one at a time on one stream). */
typedef struct {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_format_tag_t act_tag; /* blocked layout for activations */
    int act_block;             /* its channel block: 16 or 8 */
    void *scratch;
    size_t scratch_size, scratch_need;
} jp_dnnl;

/* vector_width: the activations' channel block, 0 for the CPU's own (16 where oneDNN
 * and jempp both run AVX-512 kernels, else 8), or 8 / 16 (tests, --vector_width). */
jp_status jp_dnnl_init(jp_dnnl *ctx, int vector_width, jp_error *err);
/* Allocates the shared scratchpad (call after creating plans; may be called again
 * after creating more plans: grows when needed). */
jp_status jp_dnnl_finalize(jp_dnnl *ctx, jp_error *err);
void jp_dnnl_free(jp_dnnl *ctx);

/* Memory description of an (N,C,H,W) activation in the context's blocked layout, and
 * its size in bytes (channels padded up to the block). */
void jp_dnnl_act_md(const jp_dnnl *ctx, dnnl_memory_desc_t *md, int n, int c, int h, int w);
size_t jp_dnnl_act_bytes(const jp_dnnl *ctx, int n, int c, int h, int w);
/* Plain NCHW <-> blocked copies (edges of the network and tests). Not for hot loops. */
void jp_dnnl_to_blocked(const jp_dnnl *ctx, float *dst, const float *src, int n, int c, int h, int w);
void jp_dnnl_from_blocked(const jp_dnnl *ctx, float *dst, const float *src, int n, int c, int h, int w);

/* Aborts with the oneDNN status name and the call, at file:line: a failure here is a
 * programming error (shapes are validated before plans are built). */
#define JP_DNNL(call)                                                                  \
    do {                                                                               \
        dnnl_status_t st_ = (call);                                                    \
        if (st_ != dnnl_success) jp_dnnl_failed(__FILE__, __LINE__, #call, st_);        \
    } while (0)
_Noreturn void jp_dnnl_failed(const char *file, int line, const char *call, dnnl_status_t st);

/* A memory object with no data handle yet; handles are set right before execution. */
dnnl_memory_t jp_dnnl_mem(const jp_dnnl *ctx, const dnnl_memory_desc_t *md);
/* Sets the handles and executes, then waits for the stream. Each arg's memory gets
 * its pointer from ptrs[i]; a NULL ptr means "the context scratchpad"; a NULL memory
 * (a primitive that needs no scratchpad) is skipped. */
void jp_dnnl_exec(const jp_dnnl *ctx, dnnl_primitive_t prim, int nargs, const int *arg_ids,
                  dnnl_memory_t *mems, void *const *ptrs);
/* Creates the primitive of pd, records its scratchpad size, and returns the memory
 * object for that scratchpad through *scratch_mem (NULL when it needs none). With
 * scratch_mem NULL the primitive must need no scratchpad (checked). */
dnnl_primitive_t jp_dnnl_primitive(jp_dnnl *ctx, dnnl_primitive_desc_t pd,
                                   dnnl_memory_t *scratch_mem);
/* An attribute with user scratchpad; post-ops: when sum != 0, dst += result; when
 * relu != 0, then dst = max(dst, 0). */
dnnl_primitive_attr_t jp_dnnl_attr(int sum, int relu);
/* Name of the implementation oneDNN chose (for benchmarks and logs). */
const char *jp_dnnl_impl(dnnl_primitive_t prim);
/* Whether an implementation name is one of oneDNN's reference (naive loop) kernels,
 * 10-1000x slower than its JIT ones. */
int jp_dnnl_is_reference(const char *impl);

/* ---- convolution plan: forward, backward-data, backward-weights ----------------
 * A plan is made once per layer shape and runs one implementation (jp_conv_impl_id),
 * chosen by jp_conv_plan_init among the peers of conv_impls.c. */
typedef struct jp_conv_impl jp_conv_impl;

typedef struct {
    jp_dnnl *ctx;
    const jp_conv_impl *impl; /* the implementation that runs all three passes */
    jp_conv_shape s;
    int src_plain;      /* source (and diff source) in plain NCHW (first layer: C = 1 or 3) */
    int residual;       /* forward adds into dst (dst += conv(src) + b): the residual sum */
    int relu;           /* forward ends with a ReLU */
    int backward;       /* planned with backward-data and backward-weights */
    size_t w_bytes;     /* weights in the forward's layout */
    size_t wd_bytes;    /* weights in the backward-data layout; 0 when it is the forward one */
    size_t dw_bytes;    /* diff weights in the backward-weights layout (0: none needed) */
    /* onednn-*: primitives and memory objects (handles set at execution) */
    dnnl_memory_desc_t w_md, wd_md, dw_md; /* fwd weights, bwd-data weights, diff weights */
    dnnl_primitive_t fwd, bwd_data, bwd_w;
    dnnl_primitive_t w_reorder, wd_reorder, dw_acc; /* plain->fwd, plain->bwd-data, diff->plain (+=) */
    dnnl_memory_t m_src, m_dst, m_w, m_b, m_wd, m_dsrc, m_ddst, m_dw, m_db, m_wsrc;
    dnnl_memory_t m_w_plain, m_dw_plain;
    dnnl_memory_t m_scr_fwd, m_scr_bd, m_scr_bw, m_scr_wr, m_scr_wdr, m_scr_acc;
    int wsrc_blocked;    /* src_plain: backward-weights reads a blocked copy of the source */
    float *blocked;      /* src_plain: the blocked layout of the source's shape, scratch for
                          * backward-data's output and backward-weights' source copy */
    /* jempp-winograd: the plan of ops/winograd.h; the weights are its transformed kernels */
    jp_wino_plan wp;
} jp_conv_plan;

/* What a convolution plan is for. */
typedef struct {
    int src_plain;          /* source (and diff source) in plain NCHW (a first layer) */
    int residual;           /* forward adds into dst: dst += conv(src) + b */
    int relu;               /* forward applies a ReLU to its result (inference only) */
    int need_backward;      /* plan backward-data and backward-weights too (training) */
    int winograd;           /* JP_CONV_AUTO may choose a Winograd implementation */
    jp_conv_impl_id impl;   /* JP_CONV_AUTO or the implementation asked for: it runs the
                             * shape when it can, onednn-direct otherwise */
} jp_conv_opts;

/* One implementation: init plans p (ctx, s and the flags are set) and returns JP_OK,
 * JP_ERR_SHAPE when the shape is not of its kind (a Winograd one for a 1x1 layer) or
 * JP_ERR_BACKEND when this CPU or library cannot run it; both with a message. */
struct jp_conv_impl {
    jp_conv_impl_id id;
    jp_status (*init)(jp_conv_plan *p, jp_error *err);
    /* the kernel of pass 0 (forward), 1 (backward-data), 2 (backward-weights) */
    const char *(*kernel)(const jp_conv_plan *p, int pass);
    void (*prepare_weights)(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw);
    void (*forward)(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd, const float *b);
    void (*backward_data)(const jp_conv_plan *p, float *dsrc, const float *ddst, const float *wbwd);
    void (*backward_weights)(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                             const float *src, float *dw_scratch, float *db_scratch);
};
/* The peers (conv_impls.c: onednn-direct and onednn-winograd in dnnl_conv.c,
 * jempp-winograd in wino_conv.c). */
extern const jp_conv_impl jp_conv_onednn_direct, jp_conv_onednn_winograd, jp_conv_jempp_winograd;

/* Plans a convolution on this context for the given shape with the implementation
 * opts ask for, or the automatic choice (docs/design.md, "Implementations"). A named
 * implementation that cannot run on this CPU is an error (JP_ERR_BACKEND); one that
 * does not fit the shape leaves it to onednn-direct. Without backward the forward is
 * an inference primitive. */
jp_status jp_conv_plan_init(jp_conv_plan *p, jp_dnnl *ctx, const jp_conv_shape *s, const jp_conv_opts *o,
                            jp_error *err);
void jp_conv_plan_free(jp_conv_plan *p);
/* Name of the kernel that runs pass 0 (forward), 1 (backward-data) or 2
 * (backward-weights): oneDNN's implementation name or jempp's; NULL for a backward
 * pass of a forward-only plan. */
const char *jp_conv_kernel(const jp_conv_plan *p, int pass);
/* Reorders plain OIHW weights into wfwd (w_bytes) and, when the backward-data
 * layout differs (wd_bytes > 0), into wbwd. */
void jp_conv_prepare_weights(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw);
/* dst (blocked) = conv(src) + b   (residual: dst += conv(src) + b). */
void jp_conv_forward(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd,
                     const float *b);
/* dsrc = conv^T(ddst): the transposed convolution (written). */
void jp_conv_backward_data(const jp_conv_plan *p, float *dsrc, const float *ddst,
                           const float *wbwd);
/* dw_oihw += dL/dw, db += sum ddst (either may be NULL); dw_scratch (dw_bytes) holds
 * the diff weights in the primitive's layout, db_scratch has Cout floats. */
void jp_conv_backward_weights(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                              const float *src, float *dw_scratch, float *db_scratch);

/* ---- batch norm + LeakyReLU plan (train: batch stats; eval: running stats) -------- */
typedef struct {
    jp_dnnl *ctx;
    jp_bn_shape s;
    float slope;
    int has_bn; /* 0: norm "none", only the activation */
    jp_bnact_impl_id impl; /* JP_BNACT_ONEDNN or JP_BNACT_JEMPP_FUSED: what runs */
    jp_bnfused fused; /* jempp-fused: its state (no primitive is made) */
    dnnl_primitive_t fwd_train, fwd_eval, bwd_train, bwd_eval, act_fwd, act_bwd;
    dnnl_memory_t m_src, m_dst, m_scale, m_shift, m_mean, m_var, m_dsrc, m_ddst, m_dscale, m_dshift;
    dnnl_memory_t m_scr[6];
} jp_bnact_plan;

/* impl: JP_BNACT_AUTO (jempp-fused where it runs: C a multiple of the layout's block
 * and the CPU's vector width; onednn otherwise) or a named one (an error when it
 * cannot run this shape here). */
jp_status jp_bnact_plan_init(jp_bnact_plan *p, jp_dnnl *ctx, const jp_bn_shape *s, int has_bn,
                             float slope, jp_bnact_impl_id impl, jp_error *err);
/* The kernel of pass k: 0 forward train, 1 forward eval, 2 backward train, 3 backward
 * eval, 4 the activation forward, 5 its backward (NULL where nothing separate runs). */
const char *jp_bnact_kernel(const jp_bnact_plan *p, int k);
void jp_bnact_plan_free(jp_bnact_plan *p);
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
