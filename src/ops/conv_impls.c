/* The convolution implementations as peers: which one a plan runs, and the calls
 * that go to it. Each implementation (onednn-direct, onednn-winograd in
 * onednn/onednn_conv.c; onednn-bf16 in onednn/onednn_conv_bf16.c;
 * jempp-winograd in wino_conv.c; jempp-first in first_conv.c) plans all three passes of a
 * shape itself.
 *
 * The automatic choice for a layer (JP_CONV_AUTO), in order of preference, the first
 * that can run the shape on this CPU:
 *   3x3 stride 1 on plain input (a first layer), trained:
 *                                     jempp-first, onednn-direct
 *   3x3 stride 1 (Winograd allowed): jempp-winograd, onednn-winograd, onednn-direct
 *   3x3 strided, bfloat16 allowed (--bf16 1), not a plain first layer:
 *                                     onednn-bf16, onednn-direct
 *   3x3 stride 2 (Winograd allowed), output sides multiples of 4, or of 7 with at most
 *   16 MB of transformed kernel (jp_wino_s2_tile):
 *                                     jempp-winograd, onednn-direct
 *   every other shape:                onednn-direct
 * By bench_winograd (2 threads, batch 64, AMD EPYC Zen 5 with AVX-512, docs/results.md),
 * jempp-winograd's GFLOP/s-equivalent over oneDNN's Winograd, forward / backward-data /
 * backward-weights, one run: 1.6-3.7x / 1.6-2.3x / 1.3-2.6x up to 128 channels,
 * 160->320 32x32 1.43 / 1.43 / 1.60, 256->256 16x16 1.19 / 1.23 / 1.08, 320->320 16x16
 * 1.27 / 1.29 / 1.24, 320->640 16x16 1.20 / 1.30 / 1.22, 512->512 8x8 1.14 / 1.16 / 0.97,
 * 640->640 8x8 1.30 / 1.32 / 1.22 (from 8 MB of transformed kernel with the threads
 * sharing each block of tiles, winograd.c). On AVX2 oneDNN has no Winograd.
 * jempp-winograd's stride-2 form against onednn-direct (bench_winograd --stride 2, same
 * CPU, forward / backward-data / backward-weights): 1.1-1.6x / 1.2-2.1x / 0.9-1.6x where
 * its 4x4 tiles cover the output exactly (64->64 32x32, 128->128 16x16, 320->320 32x32,
 * 640->640 16x16); with 7x7 tiles, whose backward-weights is onednn-direct's, 64->64
 * 28x28 1.45x / 1.30x and 128->128 14x14 (7x7 output) 1.10x / 1.42x. */
#include <string.h>

#include "ops/backend.h"
#include "ops/winograd.h"

static const jp_conv_impl *const impls[JP_CONV_N_IMPL] = {
    [JP_CONV_ONEDNN_DIRECT] = &jp_conv_onednn_direct,
    [JP_CONV_ONEDNN_WINOGRAD] = &jp_conv_onednn_winograd,
    [JP_CONV_JEMPP_WINOGRAD] = &jp_conv_jempp_winograd,
    [JP_CONV_ONEDNN_BF16] = &jp_conv_onednn_bf16,
    [JP_CONV_JEMPP_FIRST] = &jp_conv_jempp_first,
};

static const char *const conv_words[JP_CONV_N_IMPL] = {"auto",        "onednn-direct", "onednn-winograd",
                                                       "jempp-winograd", "cudnn",      "onednn-bf16",
                                                       "jempp-first"};
static const char *const bnact_words[JP_BNACT_N_IMPL] = {"auto", "onednn", "jempp-fused", "cudnn"};

const char *jp_conv_impl_word(jp_conv_impl_id id)
{
    return (int)id >= 0 && id < JP_CONV_N_IMPL ? conv_words[id] : NULL;
}

const char *jp_bnact_impl_word(jp_bnact_impl_id id)
{
    return (int)id >= 0 && id < JP_BNACT_N_IMPL ? bnact_words[id] : NULL;
}

static void reset(jp_conv_plan *p, jp_ctx *ctx, const jp_conv_shape *s, const jp_conv_opts *o)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->s = *s;
    p->src_plain = o->src_plain;
    p->residual = o->residual;
    p->relu = o->relu;
    p->backward = o->need_backward;
    p->winograd = o->winograd;
}

jp_status jp_conv_plan_init(jp_conv_plan *p, jp_ctx *ctx, const jp_conv_shape *s, const jp_conv_opts *o,
                            jp_error *err)
{
    const jp_conv_impl *order[3];
    int n = 0, forced = o->impl != JP_CONV_AUTO;
    if ((int)o->impl < 0 || o->impl >= JP_CONV_N_IMPL)
        return jp_fail(err, JP_ERR_ARG, "no convolution implementation %d", (int)o->impl);
    if (ctx->dev_conv) { /* a device's own: every shape, whatever was asked of the CPU's */
        order[n++] = ctx->dev_conv;
    } else if (forced) {
        if (!impls[o->impl])
            return jp_fail(err, JP_ERR_BACKEND, "convolution implementation %s runs on a GPU (--device cuda), not "
                           "on the CPU", conv_words[o->impl]);
        order[n++] = impls[o->impl];
    } else if (o->src_plain && o->need_backward && s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1) {
        order[n++] = &jp_conv_jempp_first;
    } else if (o->winograd && s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1) {
        order[n++] = &jp_conv_jempp_winograd;
        order[n++] = &jp_conv_onednn_winograd;
    } else if (o->bf16 && s->kh == 3 && s->kw == 3 && (s->sh != 1 || s->sw != 1)) {
        order[n++] = &jp_conv_onednn_bf16;
    } else if (o->winograd && s->kh == 3 && s->kw == 3 && s->sh == 2 && s->sw == 2 &&
               jp_wino_s2_tile(s->cin, s->cout, s->oh, s->ow)) {
        order[n++] = &jp_conv_jempp_winograd;
    }
    if (!ctx->dev_conv && (!n || order[n - 1] != &jp_conv_onednn_direct)) order[n++] = &jp_conv_onednn_direct;
    jp_status st = JP_OK;
    for (int i = 0; i < n; i++) {
        reset(p, ctx, s, o);
        st = order[i]->init(p, err);
        if (st == JP_OK) {
            p->impl = order[i];
            return JP_OK;
        }
        order[i]->release(p);
        /* the next one: a shape not of this kind, or (automatic choice) a kernel this CPU lacks */
        if (st == JP_ERR_SHAPE || (st == JP_ERR_BACKEND && !forced)) continue;
        break;
    }
    memset(p, 0, sizeof *p);
    return st;
}

void jp_conv_plan_free(jp_conv_plan *p)
{
    if (p->impl) p->impl->release(p);
    memset(p, 0, sizeof *p);
}

const char *jp_conv_kernel(const jp_conv_plan *p, int pass)
{
    if (pass > 0 && !p->backward) return NULL;
    return p->impl->kernel(p, pass);
}

void jp_conv_prepare_weights(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw)
{
    p->impl->prepare_weights(p, wfwd, wbwd, w_oihw);
}

void jp_conv_forward(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd, const float *b)
{
    p->impl->forward(p, dst, src, wfwd, b);
}

void jp_conv_backward_data(const jp_conv_plan *p, float *dsrc, const float *ddst, const float *wbwd)
{
    p->impl->backward_data(p, dsrc, ddst, wbwd);
}

void jp_conv_backward_weights(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                              const float *src, float *dw_scratch, float *db_scratch)
{
    p->impl->backward_weights(p, dw_oihw, db, ddst, src, dw_scratch, db_scratch);
}
