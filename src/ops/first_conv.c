/* The convolution implementation "jempp-first": a network's first layer, 3x3, stride 1,
 * pad 1, on plain NCHW images of at most JP_FIRST_MAX_CIN channels, planned with its
 * backward (training). Its backward-data (the input gradient every PYLD / SGLD step
 * takes) and backward-weights are jempp's (first_conv_kern.h): oneDNN's direct kernels
 * write a plain source of one to three channels at 19-69 GFLOP/s against 100-330 for
 * their forward, and on AVX2 take a 1-channel weight gradient at 10 GFLOP/s (bench_wrn
 * --layers, Zen 5, 2 threads, batch 64; docs/results.md). The forward runs a
 * forward-only onednn-direct plan of the same shape. Forward-only, residual and ReLU
 * plans are not of its kind (onednn-direct takes them). Backward-weights sums each
 * image into dw_scratch, then the images in order: the same bits on any thread count. */
#include <stdlib.h>

#include "ops/backend.h"
#include "ops/cpu_isa.h"
#include "ops/first_conv.h"

typedef struct {
    jp_conv_plan direct; /* onednn-direct, forward only */
} first_state;

static jp_status init(jp_conv_plan *p, jp_error *err)
{
    const jp_conv_shape *s = &p->s;
    int vw = p->ctx->act_block;
    if (!p->src_plain || !p->backward || p->residual || p->relu || s->kh != 3 || s->kw != 3 || s->sh != 1 ||
        s->sw != 1 || s->ph != 1 || s->pw != 1 || s->cin > JP_FIRST_MAX_CIN || (vw != 8 && vw != 16) ||
        s->cout % vw)
        return jp_fail(err, JP_ERR_SHAPE, "jempp-first: only a first layer's 3x3 stride-1 pad-1 convolution of at "
                       "most %d plain input channels, with its backward, and output channels in multiples of %d",
                       JP_FIRST_MAX_CIN, vw);
    if (!jp_cpu_has_width(vw))
        return jp_fail(err, JP_ERR_BACKEND, "jempp-first on %d-channel blocks needs %s, which this CPU or build "
                       "lacks", vw, jp_cpu_width_isa(vw));
    first_state *fs = calloc(1, sizeof *fs);
    p->state = fs;
    if (!fs) return jp_fail(err, JP_ERR_NOMEM, "first-layer plan");
    jp_conv_opts o = {.src_plain = 1, .impl = JP_CONV_ONEDNN_DIRECT};
    jp_status st = jp_conv_plan_init(&fs->direct, p->ctx, s, &o, err);
    if (st) return st;
    p->w_bytes = fs->direct.w_bytes;
    p->wd_bytes = (size_t)s->cin * 9 * s->cout * sizeof(float);
    p->dw_bytes = jp_first_wgrad_floats(s) * sizeof(float);
    return JP_OK;
}

static void release(jp_conv_plan *p)
{
    first_state *fs = p->state;
    if (fs) jp_conv_plan_free(&fs->direct); /* a no-op on a plan never made */
    free(fs);
    p->state = NULL;
}

static const char *kernel(const jp_conv_plan *p, int pass)
{
    const first_state *fs = p->state;
    if (pass == 0) return jp_conv_kernel(&fs->direct, 0);
    if (pass == 1) return p->ctx->act_block == 16 ? "jempp:first_layer_bwd_data:avx512" : "jempp:first_layer_bwd_data:avx2";
    return p->ctx->act_block == 16 ? "jempp:first_layer_bwd_weights:avx512" : "jempp:first_layer_bwd_weights:avx2";
}

/* wt[ci][kh][kw][co] = w[co][ci][kh][kw] */
static void prepare_weights(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw)
{
    const first_state *fs = p->state;
    const jp_conv_shape *s = &p->s;
    jp_conv_prepare_weights(&fs->direct, wfwd, NULL, w_oihw);
    for (int co = 0; co < s->cout; co++)
        for (int k = 0; k < s->cin * 9; k++) wbwd[(size_t)k * s->cout + co] = w_oihw[(size_t)co * s->cin * 9 + k];
}

static void forward(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd, const float *b)
{
    jp_conv_forward(&((const first_state *)p->state)->direct, dst, src, wfwd, b);
}

#if !defined(JEMPP_X86_KERNELS) /* jp_cpu_has_width() is 0: no plan can be made */
#define jp_first_backward_data_v8(...) JP_CHECK(!"no vector kernels in this build")
#define jp_first_backward_data_v16(...) JP_CHECK(!"no vector kernels in this build")
#define jp_first_backward_weights_v8(...) JP_CHECK(!"no vector kernels in this build")
#define jp_first_backward_weights_v16(...) JP_CHECK(!"no vector kernels in this build")
#endif

static void backward_data(const jp_conv_plan *p, float *dsrc, const float *ddst, const float *wbwd)
{
    if (p->ctx->act_block == 16) jp_first_backward_data_v16(&p->s, dsrc, ddst, wbwd);
    else jp_first_backward_data_v8(&p->s, dsrc, ddst, wbwd);
}

/* Sum k of one output channel over the images, in image order: pc at image 0's, the
 * images `stride` floats apart, the sums vw apart. */
static float image_sum(const float *pc, int k, int n, size_t stride, int vw)
{
    double sum = 0;
    for (int img = 0; img < n; img++) sum += pc[(size_t)img * stride + (size_t)k * vw];
    return (float)sum;
}

/* dw_oihw[co][ci][k] += the images' sums of tap k, db[co] += theirs of dy */
static void backward_weights(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                             const float *src, float *dw_scratch, float *db_scratch)
{
    (void)db_scratch;
    const jp_conv_shape *s = &p->s;
    int vw = p->ctx->act_block, ntap = s->cin * 9, nsum = ntap + 1;
    size_t stride = (size_t)s->cout * nsum; /* one image's sums */
    if (vw == 16) jp_first_backward_weights_v16(s, dw_scratch, ddst, src);
    else jp_first_backward_weights_v8(s, dw_scratch, ddst, src);
#pragma omp parallel for schedule(static)
    for (int co = 0; co < s->cout; co++) {
        const float *pc = dw_scratch + (size_t)(co / vw) * nsum * vw + co % vw;
        if (dw_oihw)
            for (int k = 0; k < ntap; k++) dw_oihw[(size_t)co * ntap + k] += image_sum(pc, k, s->n, stride, vw);
        if (db) db[co] += image_sum(pc, ntap, s->n, stride, vw);
    }
}

const jp_conv_impl jp_conv_jempp_first = {JP_CONV_JEMPP_FIRST, init, release, kernel, prepare_weights,
                                          forward, backward_data, backward_weights};
