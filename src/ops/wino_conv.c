/* The convolution implementation "jempp-winograd": jempp's Winograd F(4x4,3x3) and its
 * stride-2 form (ops/winograd.h) for all three passes of a 3x3 pad-1 convolution of
 * stride 1 or 2 on the blocked layout; the weights are its transformed kernels and its
 * scratch is the context's shared scratchpad. With 7x7 tiles (stride 2, winograd.h) its
 * backward-weights runs slower than oneDNN's direct one (bench_winograd, 64->64 28x28 s2:
 * 251-274 against 347-350 GFLOP/s, blocks of 32 to 128 tiles, one dU or one per thread),
 * so such a plan holds an onednn-direct plan for that pass. */
#include <stdlib.h>

#include "ops/backend.h"
#include "ops/cpu_isa.h"
#include "ops/winograd.h"

typedef struct {
    jp_wino_plan wp;
    jp_conv_plan wgrad; /* onednn-direct: backward-weights of a 7x7-tile plan; else unused */
} wino_state;

static jp_status init(jp_conv_plan *p, jp_error *err)
{
    const jp_conv_shape *s = &p->s;
    int vw = p->ctx->act_block;
    if (p->src_plain || !jp_wino_supported(s->cin, s->cout, s->kh, s->kw, s->sh == s->sw ? s->sh : 0,
                                           s->ph == s->pw ? s->ph : -1, vw))
        return jp_fail(err, JP_ERR_SHAPE, "jempp-winograd: only 3x3 pad-1 convolutions of stride 1 or 2 on blocked "
                       "activations with channels in multiples of %d", vw);
    if (!jp_cpu_has_width(vw))
        return jp_fail(err, JP_ERR_BACKEND, "jempp-winograd on %d-channel blocks needs %s, which this CPU or "
                       "build lacks", vw, jp_cpu_width_isa(vw));
    wino_state *ws = calloc(1, sizeof *ws);
    p->state = ws;
    if (!ws) return jp_fail(err, JP_ERR_NOMEM, "Winograd plan");
    int direct_wgrad = p->backward && s->sh == 2 && jp_wino_s2_tile(s->cin, s->cout, s->oh, s->ow) == 7;
    jp_status st = jp_wino_plan_init(&ws->wp, s->n, s->cin, s->cout, s->h, s->w, s->sh, p->backward && !direct_wgrad,
                                     vw, err);
    if (st) return st;
    p->w_bytes = jp_wino_weight_floats(&ws->wp) * sizeof(float);
    p->wd_bytes = p->backward ? p->w_bytes : 0;
    if (ws->wp.scratch_bytes > p->ctx->scratch_need) p->ctx->scratch_need = ws->wp.scratch_bytes;
    if (direct_wgrad) {
        jp_conv_opts o = {.need_backward = 1, .impl = JP_CONV_ONEDNN_DIRECT};
        st = jp_conv_plan_init(&ws->wgrad, p->ctx, s, &o, err);
        p->dw_bytes = ws->wgrad.dw_bytes;
    }
    return st;
}

static void release(jp_conv_plan *p)
{
    wino_state *ws = p->state;
    if (ws && ws->wgrad.impl) jp_conv_plan_free(&ws->wgrad);
    free(ws);
    p->state = NULL;
}

static const char *kernel(const jp_conv_plan *p, int pass)
{
    const wino_state *ws = p->state;
    return pass == 2 && ws->wgrad.impl ? jp_conv_kernel(&ws->wgrad, 2) : jp_wino_kernel_name(&ws->wp);
}

static void prepare_weights(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw)
{
    const wino_state *ws = p->state;
    jp_wino_weights_forward(&ws->wp, wfwd, w_oihw);
    if (p->wd_bytes) {
        JP_CHECK(wbwd != NULL);
        jp_wino_weights_backward_data(&ws->wp, wbwd, w_oihw);
    }
}

static void forward(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd, const float *b)
{
    jp_wino_forward(&((const wino_state *)p->state)->wp, dst, src, wfwd, b, p->residual, p->relu, p->ctx->scratch);
}

static void backward_data(const jp_conv_plan *p, float *dsrc, const float *ddst, const float *wbwd)
{
    jp_wino_backward_data(&((const wino_state *)p->state)->wp, dsrc, ddst, wbwd, p->ctx->scratch);
}

static void backward_weights(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                             const float *src, float *dw_scratch, float *db_scratch)
{
    const wino_state *ws = p->state;
    if (ws->wgrad.impl) jp_conv_backward_weights(&ws->wgrad, dw_oihw, db, ddst, src, dw_scratch, db_scratch);
    else jp_wino_backward_weights(&ws->wp, dw_oihw, db, ddst, src, p->ctx->scratch);
}

const jp_conv_impl jp_conv_jempp_winograd = {JP_CONV_JEMPP_WINOGRAD, init, release, kernel, prepare_weights,
                                             forward, backward_data, backward_weights};
