/* The Wide-ResNet's internal state, shared by wrn.c (building, parameters) and
 * wrn_pass.c (forward and backward). Samplers in src/ebm may use it to work on the
 * blocked activations directly. */
#ifndef JEMPP_WRN_INTERNAL_H
#define JEMPP_WRN_INTERNAL_H

#include "jempp/wrn.h"
#include "ops/backend.h"

/* One convolution layer: a (possibly shared) plan, its parameters' offsets in the
 * params array, and its weights in oneDNN's layouts. */
typedef struct {
    const jp_conv_plan *plan;
    size_t w_off, b_off;
    float *wfwd, *wbwd; /* wbwd == wfwd when the layouts agree */
} jp_wrn_conv;

/* One BN (or identity) + LeakyReLU. */
typedef struct {
    const jp_bnact_plan *plan;
    size_t g_off, b_off;   /* params */
    size_t rm_off, rv_off; /* buffers */
    int counter;           /* index in counters, -1 without BN */
    float *mean, *var;     /* statistics used by the last forward (C each) */
} jp_wrn_bnact;

typedef struct {
    int cin, cout, stride, h, w, oh, ow;
    jp_wrn_bnact bn1, bn2;
    jp_wrn_conv conv1, conv2, shortcut;
    int has_shortcut;
    float *x;   /* block input (aliases the previous block's out or z0) */
    float *a1;  /* lrelu(bn1(x))          (N,cin,h,w)   */
    float *h1;  /* dropout(conv1(a1))     (N,cout,h,w)  */
    float *a2;  /* lrelu(bn2(h1))         (N,cout,h,w)  */
    float *out; /* conv2(a2) + sc(x)      (N,cout,oh,ow)*/
    float *mask;/* dropout mask (blocked like h1), NULL without dropout */
} jp_wrn_block;

#define JP_WRN_MAX_PLANS 64

/* Testing hook: fills the dropout mask of block `block` (0-based over all blocks in
 * order) for its conv1 output of shape (n, c, h, w), plain NCHW, each value
 * keep / (1 - p) or 0. */
typedef void (*jp_wrn_dropout_fill)(void *ctx, int block, float *mask_nchw, int n, int c, int h, int w);

struct jp_wrn {
    jp_wrn_config cfg;
    int batch, n_blocks, last_c, last_hw;
    jp_ctx ctx;
    jp_conv_plan conv_plans[JP_WRN_MAX_PLANS];
    int n_conv_plans;
    jp_bnact_plan bn_plans[JP_WRN_MAX_PLANS];
    int n_bn_plans;
    jp_bn_sync bn_sync; /* jp_wrn_sync_batch_norm's: the plans point at it */

    jp_tensor_info *tensors;
    int n_tensors;
    float *params, *grads, *buffers;
    int64_t *counters;                 /* on the host */
    float *host_params, *host_buffers; /* a device model's host mirror (jp_wrn_host_view) */
    size_t n_params, n_buffers, n_counters;
    jp_arena param_arena, weight_arena, act_arena;

    jp_wrn_conv conv1;
    jp_wrn_block *blocks;
    jp_wrn_bnact head_bn;
    size_t fc_w, fc_b, en_w, en_b; /* class_output and energy_output offsets */

    float *x_in;    /* (N,Cin,H,W) plain copy of the input */
    float *z0;      /* (N,16,H,W) blocked */
    float *af;      /* (N,64k,h,w) blocked: lrelu(bn(out)) */
    float *feat;    /* (N,64k) */
    float *g[4];    /* gradient buffers, blocked, max activation size each */
    float *dlog_scratch, *den_scratch; /* (N, C) and (N): jp_wrn_backward_log_px */
    float *dfeat;   /* (N,64k) */
    float *dw_scratch, *db_scratch, *dparam_scratch, *plain_tmp;
    int last_train, last_n;
    const float *dz0_last; /* blocked: the gradient at z0 of the last backward (one of g[]) */
    jp_wrn_dropout_fill dropout_fill; /* NULL: masks from rng (jp_wrn_set_dropout_source) */
    void *dropout_ctx;
    unsigned long weights_version, prepared_version;
    jp_rng rng;
};

/* The model's device: its tensors live there (samplers and the trainer allocate theirs
 * on it and run their updates through it). */
static inline const jp_device *jp_wrn_dev(const jp_wrn *m) { return m->ctx.dev; }

/* Testing hook (tests/test_wrn_wide.c gives PyTorch the same masks): when fill is not
 * NULL, every train-mode forward takes each block's dropout mask from fill instead of
 * drawing it from the model's RNG (which is then left alone); NULL restores the draws.
 * Only for a model built with cfg.dropout > 0: without dropout there are no masks. */
void jp_wrn_set_dropout_source(jp_wrn *m, jp_wrn_dropout_fill fill, void *ctx);

/* dz0 (n, 16, H, W), plain: the gradient at the first convolution's output z0 of the
 * last backward (the PYLD slack p; tests/test_wrn_torch.c compares it with PyTorch's
 * z0.grad). Call right after that backward, before anything else runs the model. */
void jp_wrn_slack(const jp_wrn *m, float *dz0);

#endif
