/* The FID Inception-v3 (include/jempp/inception.h): internal structures.
 *
 * The network is a stem (5 convolutions, 2 max pools) and 11 mixed blocks. A mixed
 * block is a list of branches that all read the block input x; a branch is an optional
 * pool of x, a sequence of convolutions, and either nothing more (its result is the
 * branch output) or a set of "tail" convolutions that all read that result (Inception E
 * splits 3x3 into 1x3 and 3x1). Outputs and tails are concatenated along channels in
 * branch order. Every convolution is torchvision's BasicConv2d (conv, BN eps 1e-3,
 * ReLU) with BN folded into the weights and a bias at load time.
 *
 * Activations are in oneDNN's blocked layout (nChw16c or nChw8c, channels padded to the
 * block with zeros); the resized input is plain NCHW. Channel counts come from the
 * weight shapes, so the same code runs the real network and the scaled test networks. */
#ifndef JEMPP_INCEPTION_INTERNAL_H
#define JEMPP_INCEPTION_INTERNAL_H

#include "jempp/inception.h"
#include "jempp/safetensors.h"
#include "ops/backend.h"

#define JP_INC_SIZE 299      /* input resolution */
#define JP_INC_MAX_CONVS 128 /* the FID network has 94 */
#define JP_INC_MAX_PLANS 96
#define JP_INC_MAX_BRANCH 4
#define JP_INC_MAX_CHAIN 5
#define JP_INC_MAX_TAILS 2

typedef struct {
    char name[64]; /* state_dict prefix, e.g. "Mixed_5b.branch5x5_2" */
    int cin, cout, kh, kw, sh, sw, ph, pw;
    /* the plan's channel counts: cin and cout rounded up to the activation block (zero
     * weights and bias there), the same memory as the padded blocked tensors, so that
     * oneDNN uses its JIT kernels for any channel count; the plain first layer keeps 3 */
    int cin_p, cout_p;
    int h, w, oh, ow; /* input and output resolution */
    const jp_conv_plan *plan; /* forward-only, fused ReLU: dst = relu(conv(src) + b) */
    float *wfwd, *bias; /* folded weights in the plan's layout, folded bias (cout_p) */
} jp_inc_conv;

typedef enum { JP_POOL_NONE = 0, JP_POOL_AVG3_S1 /* count_include_pad=False */, JP_POOL_MAX3_S1,
               JP_POOL_MAX3_S2 } jp_pool_kind;

typedef struct {
    jp_pool_kind pool;
    int n_chain, n_tails;
    int chain[JP_INC_MAX_CHAIN], tails[JP_INC_MAX_TAILS]; /* conv indices */
} jp_inc_branch;

typedef struct {
    char name[16];
    int cin, cout, h, w, oh, ow;
    int n_branch;
    jp_inc_branch br[JP_INC_MAX_BRANCH];
} jp_inc_block;

struct jp_inception {
    int batch;
    int feat_dim, n_classes; /* n_classes = 0: no fc layer in the weights file */
    int final_h, final_w;    /* Mixed_7c's resolution (8x8) */
    jp_ctx ctx;
    jp_inc_conv convs[JP_INC_MAX_CONVS];
    int n_convs;
    jp_conv_plan plans[JP_INC_MAX_PLANS];
    int n_plans;
    int stem[5]; /* conv indices: 1a, 2a, 2b, 3b, 4a */
    jp_inc_block blocks[11];
    int n_blocks;
    float *fc_w, *fc_b; /* (K, F), (K) */
    /* memory: one arena for weights, one for activations, sized at load */
    jp_arena weight_arena, act_arena;
    float *x299;   /* (batch, 3, 299, 299) plain: the resized input (inside big[1]) */
    float *big[2]; /* stem activations and block inputs/outputs, alternating */
    float *tmp[4]; /* inside a block: pooled x, two chain buffers, a tail output */
    size_t big_bytes[2], tmp_bytes[4]; /* their sizes (every write is checked against them) */
    float *feats, *logits, *probs; /* (batch, F), (batch, K), (batch, K) */
    int last_n;
    int resize_idx[4 * JP_INC_SIZE];   /* jp_inc_resize's arrays for outputs of 299x299 */
    float resize_lam[2 * JP_INC_SIZE];
    /* tests: when set, the forward copies the stem output (after the second max pool) and
     * Mixed_6e's output there as plain (n, C, H, W) */
    float *debug_stem, *debug_6e;
};

/* ---- kernels (inception_ops.c) ----------------------------------------------- */
/* jp_resize_bilinear with caller-provided index (2*oh + 2*ow ints) and weight (oh + ow
 * floats) arrays: allocates nothing. */
void jp_inc_resize(float *dst, const float *src, int n, int c, int h, int w, int oh, int ow, int *idx,
                   float *lam);
/* 3x3 pooling of (n, c, h, w) blocked, block B; stride 1 with padding 1 or stride 2
 * without. Average pools exclude the padding from the count (count_include_pad=False);
 * max pools pad with -inf. Padded channel lanes stay 0. */
void jp_inc_pool(float *dst, const float *src, jp_pool_kind kind, int n, int c, int h, int w,
                 int B);
/* Copies src (n, cs, h, w) blocked into channels [off, off + cs) of dst (n, cd, h, w)
 * blocked. Copies must be made in increasing `off` order: an aligned copy (off % B == 0)
 * writes whole blocks, so it may write zeros into the lanes of the next branch. The
 * piece that ends at cd leaves dst's padded lanes 0. */
void jp_inc_concat(float *dst, int cd, int off, const float *src, int cs, int n, int h, int w,
                   int B);
/* feats (n, c) plain = mean over h, w of src (n, c, h, w) blocked. */
void jp_inc_global_avgpool(float *feats, const float *src, int n, int c, int h, int w, int B);

#endif
