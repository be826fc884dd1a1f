/* Forward-only convolution + ReLU on oneDNN for the Inception network (inference
 * primitive, ReLU fused as a post-op, weights reordered once at load). The training
 * plans of ops/dnnl_conv.c carry backward primitives and no fused activation. */
#include "nn/inception_internal.h"

#include <string.h>

jp_status jp_inc_plan_init(jp_inc_plan *p, jp_dnnl *ctx, const jp_conv_shape *s, int src_plain,
                           jp_error *err)
{
    memset(p, 0, sizeof *p);
    p->s = *s;
    p->src_plain = src_plain;
    dnnl_memory_desc_t src_md, dst_md, w_any, w_plain, b_md;
    if (src_plain) {
        dnnl_dims_t d = {s->n, s->cin, s->h, s->w};
        JP_DNNL(dnnl_memory_desc_init_by_tag(&src_md, 4, d, dnnl_f32, dnnl_nchw));
    } else {
        jp_dnnl_act_md(ctx, &src_md, s->n, s->cin, s->h, s->w);
    }
    jp_dnnl_act_md(ctx, &dst_md, s->n, s->cout, s->oh, s->ow);
    dnnl_dims_t wd = {s->cout, s->cin, s->kh, s->kw}, bd = {s->cout};
    JP_DNNL(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
    JP_DNNL(dnnl_memory_desc_init_by_tag(&w_plain, 4, wd, dnnl_f32, dnnl_oihw));
    JP_DNNL(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x));
    /* right padding so that oneDNN's output size is PyTorch's floor((h + 2p - k)/s) + 1 */
    dnnl_dims_t strides = {s->sh, s->sw}, pad_l = {s->ph, s->pw};
    dnnl_dims_t pad_r = {(s->oh - 1) * s->sh + s->kh - s->h - s->ph,
                         (s->ow - 1) * s->sw + s->kw - s->w - s->pw};

    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = jp_dnnl_attr(0);
    dnnl_post_ops_t po;
    JP_DNNL(dnnl_post_ops_create(&po));
    JP_DNNL(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
    JP_DNNL(dnnl_primitive_attr_set_post_ops(attr, po));
    dnnl_post_ops_destroy(po);
    if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                           &src_md, &w_any, &b_md, &dst_md, strides, pad_l,
                                           pad_r) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &cd, attr, ctx->eng, NULL) != dnnl_success)
        pd = NULL;
    dnnl_primitive_attr_destroy(attr);
    if (!pd)
        return jp_fail(err, JP_ERR_BACKEND,
                       "oneDNN has no convolution for %dx%dx%dx%d -> %d channels, kernel %dx%d, "
                       "stride %dx%d, padding %dx%d",
                       s->n, s->cin, s->h, s->w, s->cout, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw);
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    p->w_bytes = dnnl_memory_desc_get_size(w_md);
    p->fwd = jp_dnnl_primitive(ctx, pd, &p->m_scr);
    p->m_src = jp_dnnl_mem(ctx, &src_md);
    p->m_dst = jp_dnnl_mem(ctx, &dst_md);
    p->m_w = jp_dnnl_mem(ctx, w_md);
    p->m_b = jp_dnnl_mem(ctx, &b_md);
    p->m_w_plain = jp_dnnl_mem(ctx, &w_plain);

    dnnl_primitive_desc_t rpd;
    dnnl_primitive_attr_t rattr = jp_dnnl_attr(0);
    JP_DNNL(dnnl_reorder_primitive_desc_create(&rpd, &w_plain, ctx->eng, w_md, ctx->eng, rattr));
    p->w_reorder = jp_dnnl_primitive(ctx, rpd, NULL);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_primitive_attr_destroy(rattr);
    dnnl_primitive_desc_destroy(pd);
    return JP_OK;
}

void jp_inc_plan_free(jp_inc_plan *p)
{
    if (p->fwd) dnnl_primitive_destroy(p->fwd);
    if (p->w_reorder) dnnl_primitive_destroy(p->w_reorder);
    dnnl_memory_t mems[] = {p->m_src, p->m_w, p->m_b, p->m_dst, p->m_scr, p->m_w_plain};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    memset(p, 0, sizeof *p);
}

void jp_inc_plan_weights(const jp_dnnl *ctx, const jp_inc_plan *p, float *wfwd, const float *w_oihw)
{
    int ids[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    dnnl_memory_t m[2] = {p->m_w_plain, p->m_w};
    void *ptr[2] = {(void *)w_oihw, wfwd};
    jp_dnnl_exec(ctx, p->w_reorder, 2, ids, m, ptr);
}

void jp_inc_plan_forward(const jp_dnnl *ctx, const jp_inc_plan *p, float *dst, const float *src,
                         const float *wfwd, const float *b)
{
    int ids[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[] = {p->m_src, p->m_w, p->m_b, p->m_dst, p->m_scr};
    void *ptr[] = {(void *)src, (void *)wfwd, (void *)b, dst, NULL};
    jp_dnnl_exec(ctx, p->fwd, 5, ids, m, ptr);
}
