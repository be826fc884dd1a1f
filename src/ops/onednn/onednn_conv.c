/* The convolution implementations "onednn-direct" and "onednn-winograd": oneDNN's
 * primitives, created once per plan.
 *
 * Forward:          dst = W * src + b                  (cross-correlation)
 * Backward data:    dsrc = W^T * ddst                  (transposed convolution)
 * Backward weights: dW = ddst (x) src, db = sum ddst   (written by oneDNN into a
 *                   scratch in its layout, then reordered and ADDED into the plain
 *                   OIHW gradient: a reorder with a sum post-op, so gradients accumulate) */
#include "ops/onednn/onednn.h"

#include <stdlib.h>

#include <string.h>

/* A primitive descriptor for op desc `d`, or NULL when oneDNN has no implementation
 * (the callers then try the next algorithm). */
static dnnl_primitive_desc_t make_pd(const jp_ctx *ctx, const void *d, dnnl_primitive_attr_t attr,
                                     const_dnnl_primitive_desc_t hint)
{
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_desc_create(&pd, d, attr, ctx->dnnl->eng, hint) != dnnl_success) return NULL;
    return pd;
}

/* What a oneDNN convolution plan keeps (jp_conv_plan.state). */
typedef struct {
    dnnl_memory_desc_t w_md, wd_md, dw_md; /* fwd weights, bwd-data weights, diff weights */
    dnnl_primitive_t fwd, bwd_data, bwd_w;
    dnnl_primitive_t w_reorder, wd_reorder, dw_acc; /* plain->fwd, plain->bwd-data, diff->plain (+=) */
    dnnl_memory_t m_src, m_dst, m_w, m_b, m_wd, m_dsrc, m_ddst, m_dw, m_db, m_wsrc;
    dnnl_memory_t m_w_plain, m_dw_plain;
    dnnl_memory_t m_scr_fwd, m_scr_bd, m_scr_bw, m_scr_wr, m_scr_wdr, m_scr_acc;
    int wsrc_blocked; /* src_plain: backward-weights reads a blocked copy of the source */
    float *blocked;   /* src_plain: the blocked layout of the source's shape, scratch for
                       * backward-data's output and backward-weights' source copy */
} conv_state;

/* Whether oneDNN fell back to its reference (naive loop) implementation. */
static int is_reference(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success) return 0;
    return jp_kernel_is_reference(impl);
}

/* Plans the oneDNN primitives with algorithm algo for the forward (and the backward
 * passes, each falling back to direct where algo has none). */
static jp_status dnnl_init(jp_conv_plan *p, dnnl_alg_kind_t algo, jp_error *err)
{
    jp_ctx *ctx = p->ctx;
    conv_state *c = calloc(1, sizeof *c);
    p->state = c;
    if (!c) return jp_fail(err, JP_ERR_NOMEM, "convolution plan");
    const jp_conv_shape *s = &p->s;
    int src_plain = p->src_plain, need_backward = p->backward;
    JP_CHECK(!(p->relu && need_backward)); /* the backward primitives know no fused ReLU */
    /* oneDNN 2.6's Winograd (jit_avx512_core_f32_wino_conv_4x3) takes blocked activations
     * (nChw16c) with channels in multiples of 16 */
    if (algo == dnnl_convolution_winograd && (ctx->act_block != 16 || s->kh != 3 || s->kw != 3 || s->sh != 1 ||
                                              s->sw != 1 || src_plain || s->cin % 16 || s->cout % 16))
        return jp_fail(err, JP_ERR_SHAPE, "onednn-winograd: only 3x3 stride-1 convolutions on nChw16c "
                       "with channels in multiples of 16");

    dnnl_memory_desc_t src_md, dst_md, w_any, w_plain, b_md;
    if (src_plain) {
        dnnl_dims_t d = {s->n, s->cin, s->h, s->w};
        JP_DNNL(dnnl_memory_desc_init_by_tag(&src_md, 4, d, dnnl_f32, dnnl_nchw));
    } else {
        jp_dnnl_act_md(ctx, &src_md, dnnl_f32, s->n, s->cin, s->h, s->w);
    }
    jp_dnnl_act_md(ctx, &dst_md, dnnl_f32, s->n, s->cout, s->oh, s->ow);
    dnnl_dims_t wd = {s->cout, s->cin, s->kh, s->kw}, bd = {s->cout};
    JP_DNNL(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
    JP_DNNL(dnnl_memory_desc_init_by_tag(&w_plain, 4, wd, dnnl_f32, dnnl_oihw));
    JP_DNNL(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x));
    dnnl_dims_t strides = {s->sh, s->sw}, pad = {s->ph, s->pw};

    dnnl_primitive_desc_t fpd = NULL;
    dnnl_primitive_attr_t attr = jp_dnnl_attr(p->residual, p->relu);
    dnnl_prop_kind_t prop = need_backward ? dnnl_forward_training : dnnl_forward_inference;
    dnnl_convolution_desc_t fcd;
    if (dnnl_convolution_forward_desc_init(&fcd, prop, algo, &src_md, &w_any, &b_md, &dst_md, strides, pad,
                                           pad) == dnnl_success)
        fpd = make_pd(ctx, &fcd, attr, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (!fpd)
        return jp_fail(err, JP_ERR_BACKEND,
                       "oneDNN has no %s convolution on this CPU for %dx%dx%dx%d -> %d channels, kernel "
                       "%dx%d, stride %dx%d, padding %dx%d",
                       algo == dnnl_convolution_winograd ? "Winograd" : "direct", s->n, s->cin, s->h, s->w,
                       s->cout, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw);
    c->w_md = *dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    p->w_bytes = dnnl_memory_desc_get_size(&c->w_md);
    c->fwd = jp_dnnl_primitive(ctx, fpd, &c->m_scr_fwd);
    c->m_src = jp_dnnl_mem(ctx, &src_md);
    c->m_dst = jp_dnnl_mem(ctx, &dst_md);
    c->m_w = jp_dnnl_mem(ctx, &c->w_md);
    c->m_b = jp_dnnl_mem(ctx, &b_md);
    c->m_w_plain = jp_dnnl_mem(ctx, &w_plain);
    c->w_reorder = jp_dnnl_reorder(ctx, &w_plain, &c->w_md, 0, &c->m_scr_wr);

    if (need_backward) {
        dnnl_primitive_attr_t battr = jp_dnnl_attr(0, 0);
        dnnl_convolution_desc_t cd;
        dnnl_primitive_desc_t bpd = NULL, wpd = NULL;
        dnnl_alg_kind_t balgs[2] = {algo, dnnl_convolution_direct};
        /* oneDNN has only its reference kernel for backward-data into a plain NCHW
         * source with few channels (1000x slower): write the blocked layout instead
         * and reorder at the edge. */
        dnnl_memory_desc_t dsrc_md = src_md;
        if (src_plain) jp_dnnl_act_md(ctx, &dsrc_md, dnnl_f32, s->n, s->cin, s->h, s->w);
        for (int i = 0; i < 2 && !bpd; i++)
            if (dnnl_convolution_backward_data_desc_init(&cd, balgs[i], &dsrc_md, &w_any, &dst_md,
                                                         strides, pad, pad) == dnnl_success)
                bpd = make_pd(ctx, &cd, battr, fpd);
        for (int i = 0; i < 2 && !wpd; i++)
            if (dnnl_convolution_backward_weights_desc_init(&cd, balgs[i], &src_md, &w_any, &b_md,
                                                            &dst_md, strides, pad, pad) == dnnl_success)
                wpd = make_pd(ctx, &cd, battr, fpd);
        /* Likewise backward-weights from a plain 1-channel source gets only the reference
         * kernel (650 ms instead of ~1 ms for 64x1x28x28 -> 16 channels, one thread):
         * when oneDNN offers nothing better, read a blocked copy of the source. */
        dnnl_memory_desc_t wsrc_md = src_md;
        if (src_plain && wpd && is_reference(wpd)) {
            dnnl_primitive_desc_t alt = NULL;
            jp_dnnl_act_md(ctx, &wsrc_md, dnnl_f32, s->n, s->cin, s->h, s->w);
            if (dnnl_convolution_backward_weights_desc_init(&cd, algo, &wsrc_md, &w_any, &b_md, &dst_md,
                                                            strides, pad, pad) == dnnl_success)
                alt = make_pd(ctx, &cd, battr, fpd);
            if (alt && !is_reference(alt)) {
                dnnl_primitive_desc_destroy(wpd);
                wpd = alt;
                c->wsrc_blocked = 1;
            } else {
                if (alt) dnnl_primitive_desc_destroy(alt);
                wsrc_md = src_md;
            }
        }
        dnnl_primitive_attr_destroy(battr);
        if (!bpd || !wpd) {
            if (bpd) dnnl_primitive_desc_destroy(bpd);
            if (wpd) dnnl_primitive_desc_destroy(wpd);
            dnnl_primitive_desc_destroy(fpd);
            return jp_fail(err, JP_ERR_BACKEND, "oneDNN has no backward convolution for %d->%d, "
                           "kernel %dx%d", s->cin, s->cout, s->kh, s->kw);
        }
        c->wd_md = *dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
        c->dw_md = *dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0);
        c->bwd_data = jp_dnnl_primitive(ctx, bpd, &c->m_scr_bd);
        c->bwd_w = jp_dnnl_primitive(ctx, wpd, &c->m_scr_bw);
        if (!dnnl_memory_desc_equal(&c->wd_md, &c->w_md)) {
            p->wd_bytes = dnnl_memory_desc_get_size(&c->wd_md);
            c->wd_reorder = jp_dnnl_reorder(ctx, &w_plain, &c->wd_md, 0, &c->m_scr_wdr);
        }
        p->dw_bytes = dnnl_memory_desc_get_size(&c->dw_md);
        c->dw_acc = jp_dnnl_reorder(ctx, &c->dw_md, &w_plain, 1, &c->m_scr_acc);
        c->m_wd = jp_dnnl_mem(ctx, &c->wd_md);
        c->m_dsrc = jp_dnnl_mem(ctx, &dsrc_md);
        c->m_wsrc = jp_dnnl_mem(ctx, &wsrc_md);
        if (src_plain) {
            c->blocked = jp_alloc(jp_act_bytes(ctx, s->n, s->cin, s->h, s->w));
            if (!c->blocked) {
                dnnl_primitive_desc_destroy(bpd);
                dnnl_primitive_desc_destroy(wpd);
                dnnl_primitive_desc_destroy(fpd);
                return jp_fail(err, JP_ERR_NOMEM, "convolution backward scratch");
            }
        }
        c->m_ddst = jp_dnnl_mem(ctx, &dst_md);
        c->m_dw = jp_dnnl_mem(ctx, &c->dw_md);
        c->m_db = jp_dnnl_mem(ctx, &b_md);
        c->m_dw_plain = jp_dnnl_mem(ctx, &w_plain);
        dnnl_primitive_desc_destroy(bpd);
        dnnl_primitive_desc_destroy(wpd);
    }
    dnnl_primitive_desc_destroy(fpd);
    return JP_OK;
}

static jp_status init_direct(jp_conv_plan *p, jp_error *err)
{
    return dnnl_init(p, dnnl_convolution_direct, err);
}

static jp_status init_winograd(jp_conv_plan *p, jp_error *err)
{
    return dnnl_init(p, dnnl_convolution_winograd, err);
}

static const char *kernel(const jp_conv_plan *p, int pass)
{
    const conv_state *c = p->state;
    return jp_dnnl_impl(pass == 0 ? c->fwd : pass == 1 ? c->bwd_data : c->bwd_w);
}

static void prepare_weights(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw)
{
    const conv_state *c = p->state;
    jp_dnnl_exec_reorder(p->ctx, c->w_reorder, c->m_w_plain, c->m_w, c->m_scr_wr, w_oihw, wfwd);
    if (c->wd_reorder) {
        JP_CHECK(wbwd != NULL);
        jp_dnnl_exec_reorder(p->ctx, c->wd_reorder, c->m_w_plain, c->m_wd, c->m_scr_wdr, w_oihw, wbwd);
    }
}

static void forward(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd, const float *b)
{
    const conv_state *c = p->state;
    int ids[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[] = {c->m_src, c->m_w, c->m_b, c->m_dst, c->m_scr_fwd};
    void *ptr[] = {(void *)src, (void *)wfwd, (void *)b, dst, NULL};
    jp_dnnl_exec(p->ctx, c->fwd, 5, ids, m, ptr);
}

static void backward_data(const jp_conv_plan *p, float *dsrc, const float *ddst, const float *wbwd)
{
    const conv_state *c = p->state;
    int ids[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC, DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[] = {c->m_ddst, c->m_wd, c->m_dsrc, c->m_scr_bd};
    void *ptr[] = {(void *)ddst, (void *)wbwd, p->src_plain ? c->blocked : dsrc, NULL};
    jp_dnnl_exec(p->ctx, c->bwd_data, 4, ids, m, ptr);
    if (p->src_plain) jp_act_from_blocked(p->ctx, dsrc, c->blocked, p->s.n, p->s.cin, p->s.h, p->s.w);
}

static void backward_weights(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                             const float *src, float *dw_scratch, float *db_scratch)
{
    const conv_state *c = p->state;
    int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS,
                 DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[] = {c->m_wsrc, c->m_ddst, c->m_dw, c->m_db, c->m_scr_bw};
    void *ptr[] = {(void *)src, (void *)ddst, dw_scratch, db_scratch, NULL};
    if (c->wsrc_blocked) {
        jp_act_to_blocked(p->ctx, c->blocked, src, p->s.n, p->s.cin, p->s.h, p->s.w);
        ptr[0] = c->blocked;
    }
    jp_dnnl_exec(p->ctx, c->bwd_w, 5, ids, m, ptr);
    if (dw_oihw) jp_dnnl_exec_reorder(p->ctx, c->dw_acc, c->m_dw, c->m_dw_plain, c->m_scr_acc, dw_scratch, dw_oihw);
    if (db)
        for (int i = 0; i < p->s.cout; i++) db[i] += db_scratch[i];
}

static void release(jp_conv_plan *p)
{
    conv_state *c = p->state;
    if (!c) return;
    dnnl_primitive_t prims[] = {c->fwd, c->bwd_data, c->bwd_w, c->w_reorder, c->wd_reorder, c->dw_acc};
    for (size_t i = 0; i < sizeof prims / sizeof *prims; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {c->m_src, c->m_dst, c->m_w, c->m_b, c->m_wd, c->m_dsrc, c->m_ddst, c->m_wsrc,
                            c->m_dw, c->m_db, c->m_w_plain, c->m_dw_plain, c->m_scr_fwd, c->m_scr_bd,
                            c->m_scr_bw, c->m_scr_wr, c->m_scr_wdr, c->m_scr_acc};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    jp_free(c->blocked);
    free(c);
    p->state = NULL;
}

const jp_conv_impl jp_conv_onednn_direct = {JP_CONV_ONEDNN_DIRECT, init_direct, release, kernel, prepare_weights,
                                            forward, backward_data, backward_weights};
const jp_conv_impl jp_conv_onednn_winograd = {JP_CONV_ONEDNN_WINOGRAD, init_winograd, release, kernel,
                                              prepare_weights, forward, backward_data, backward_weights};
