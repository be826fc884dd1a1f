/* The convolution implementation "jempp-winograd": jempp's Winograd F(4x4,3x3) and its
 * stride-2 form (ops/winograd.h) for all three passes of a 3x3 pad-1 convolution of
 * stride 1 or 2 on the blocked layout, with no oneDNN primitive, memory object or
 * reorder; the weights are its transformed kernels and its scratch is the context's
 * shared scratchpad. */
#include <stdlib.h>

#include "ops/backend.h"
#include "ops/cpu_isa.h"
#include "ops/winograd.h"

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
    jp_wino_plan *wp = malloc(sizeof *wp);
    p->state = wp;
    if (!wp) return jp_fail(err, JP_ERR_NOMEM, "Winograd plan");
    jp_status st = jp_wino_plan_init(wp, s->n, s->cin, s->cout, s->h, s->w, s->sh, p->backward, vw, err);
    if (st) return st;
    p->w_bytes = jp_wino_weight_floats(wp) * sizeof(float);
    p->wd_bytes = p->backward ? p->w_bytes : 0;
    if (wp->scratch_bytes > p->ctx->scratch_need) p->ctx->scratch_need = wp->scratch_bytes;
    return JP_OK;
}

static void release(jp_conv_plan *p)
{
    free(p->state);
    p->state = NULL;
}

static const char *kernel(const jp_conv_plan *p, int pass)
{
    (void)pass;
    return jp_wino_kernel_name(p->state);
}

static void prepare_weights(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw)
{
    jp_wino_weights_forward(p->state, wfwd, w_oihw);
    if (p->wd_bytes) {
        JP_CHECK(wbwd != NULL);
        jp_wino_weights_backward_data(p->state, wbwd, w_oihw);
    }
}

static void forward(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd, const float *b)
{
    jp_wino_forward(p->state, dst, src, wfwd, b, p->residual, p->relu, p->ctx->scratch);
}

static void backward_data(const jp_conv_plan *p, float *dsrc, const float *ddst, const float *wbwd)
{
    jp_wino_backward_data(p->state, dsrc, ddst, wbwd, p->ctx->scratch);
}

static void backward_weights(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                             const float *src, float *dw_scratch, float *db_scratch)
{
    (void)dw_scratch, (void)db_scratch;
    jp_wino_backward_weights(p->state, dw_oihw, db, ddst, src, p->ctx->scratch);
}

const jp_conv_impl jp_conv_jempp_winograd = {JP_CONV_JEMPP_WINOGRAD, init, release, kernel, prepare_weights,
                                             forward, backward_data, backward_weights};
