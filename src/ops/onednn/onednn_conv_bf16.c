/* The convolution implementation "onednn-bf16": oneDNN's direct convolution with its
 * products in bfloat16 on CPUs with AVX-512 BF16 (oneDNN's avx512_core_bf16 kernels,
 * whose dot-product instruction multiplies twice the pairs of a float32 FMA), float32
 * in and out, so it is a peer of the others behind the seam.
 *
 * Forward:          dst = W16 * src16 + b         src16 = bf16(src), W16 = bf16(W)
 * Backward data:    dsrc = W16^T * ddst16         ddst16 = bf16(ddst)
 * Backward weights: dW = ddst (x) src, db = sum ddst, in float32, by the plan that the
 *                   automatic choice makes for the shape without bfloat16
 *                   (jempp-winograd's stride-2 form where it takes the shape and Winograd
 *                   is allowed, onednn-direct's otherwise)
 * bf16() rounds to 8 significant bits (relative error at most 2^-9); the products of
 * two such numbers are exact in float32, and the sums run in float32. The weight
 * gradient keeps float32 throughout: bfloat16's kernels are no faster there.
 * Activations in the context's 16-channel blocked layout only (not a plain first layer);
 * a shape without a bfloat16 kernel is not of its kind (JP_ERR_SHAPE), a CPU without
 * AVX-512 BF16 cannot run it (JP_ERR_BACKEND). */
#include <stdlib.h>
#include <string.h>

#include "ops/onednn/onednn.h"

typedef struct {
    jp_conv_plan f32; /* the float32 plan of the same shape: backward-weights */
    dnnl_primitive_t fwd, bwd_data, w_cvt, wd_cvt, src_cvt, ddst_cvt;
    /* float32 activations (m_src32: the source and its gradient, m_dst: the output and
     * its gradient; their handles are set at each call) and bfloat16 copies */
    dnnl_memory_t m_src32, m_src16, m_dst, m_w_plain, m_w, m_b, m_ddst16, m_wd;
    dnnl_memory_t m_scr_fwd, m_scr_bd, m_scr_w, m_scr_wd, m_scr_src, m_scr_ddst;
    void *src16, *ddst16; /* the bfloat16 copies of the source and of the output gradient */
} bf16_state;

/* Whether oneDNN runs bfloat16 at the hardware's rate here (not emulated on AVX-512). */
static int cpu_has_bf16(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
}

/* The primitive of op desc d when oneDNN has a bfloat16 JIT kernel for it, else NULL. */
static dnnl_primitive_t bf16_primitive(jp_ctx *ctx, const void *d, dnnl_primitive_attr_t attr,
                                       const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd_out,
                                       dnnl_memory_t *scr)
{
    dnnl_primitive_desc_t pd = NULL;
    const char *impl = "";
    if (dnnl_primitive_desc_create(&pd, d, attr, ctx->dnnl->eng, hint) != dnnl_success) return NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    if (!strstr(impl, "bf16") || jp_kernel_is_reference(impl)) {
        dnnl_primitive_desc_destroy(pd);
        return NULL;
    }
    dnnl_primitive_t prim = jp_dnnl_primitive(ctx, pd, scr);
    if (pd_out) *pd_out = pd;
    else dnnl_primitive_desc_destroy(pd);
    return prim;
}

static jp_status init(jp_conv_plan *p, jp_error *err)
{
    jp_ctx *ctx = p->ctx;
    const jp_conv_shape *s = &p->s;
    bf16_state *c = calloc(1, sizeof *c);
    p->state = c;
    if (!c) return jp_fail(err, JP_ERR_NOMEM, "convolution plan");
    JP_CHECK(!(p->relu && p->backward)); /* the backward primitives know no fused ReLU */
    if (p->src_plain || ctx->act_block != 16)
        return jp_fail(err, JP_ERR_SHAPE, "onednn-bf16: activations in 16-channel blocks only (not a plain first "
                       "layer, not nChw%dc)", ctx->act_block);
    if (!cpu_has_bf16())
        return jp_fail(err, JP_ERR_BACKEND, "onednn-bf16: needs AVX-512 BF16, which this CPU (or DNNL_MAX_CPU_ISA) "
                       "does not offer");

    dnnl_memory_desc_t src32, src16, dst, ddst16, w_any, w_plain, b_md;
    jp_dnnl_act_md(ctx, &src32, dnnl_f32, s->n, s->cin, s->h, s->w);
    jp_dnnl_act_md(ctx, &src16, dnnl_bf16, s->n, s->cin, s->h, s->w);
    jp_dnnl_act_md(ctx, &dst, dnnl_f32, s->n, s->cout, s->oh, s->ow);
    jp_dnnl_act_md(ctx, &ddst16, dnnl_bf16, s->n, s->cout, s->oh, s->ow);
    dnnl_dims_t wd = {s->cout, s->cin, s->kh, s->kw}, bd = {s->cout};
    JP_DNNL(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_bf16, dnnl_format_tag_any));
    JP_DNNL(dnnl_memory_desc_init_by_tag(&w_plain, 4, wd, dnnl_f32, dnnl_oihw));
    JP_DNNL(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x));
    dnnl_dims_t strides = {s->sh, s->sw}, pad = {s->ph, s->pw};

    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t fpd = NULL;
    dnnl_primitive_attr_t attr = jp_dnnl_attr(p->residual, p->relu);
    JP_DNNL(dnnl_convolution_forward_desc_init(&cd, p->backward ? dnnl_forward_training : dnnl_forward_inference,
                                               dnnl_convolution_direct, &src16, &w_any, &b_md, &dst, strides, pad,
                                               pad));
    c->fwd = bf16_primitive(ctx, &cd, attr, NULL, &fpd, &c->m_scr_fwd);
    dnnl_primitive_attr_destroy(attr);
    if (!c->fwd)
        return jp_fail(err, JP_ERR_SHAPE, "onednn-bf16: oneDNN has no bfloat16 kernel for %d->%d, kernel %dx%d, "
                       "stride %d", s->cin, s->cout, s->kh, s->kw, s->sh);
    const dnnl_memory_desc_t w_md = *dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    p->w_bytes = dnnl_memory_desc_get_size(&w_md);
    c->m_src32 = jp_dnnl_mem(ctx, &src32);
    c->m_src16 = jp_dnnl_mem(ctx, &src16);
    c->m_dst = jp_dnnl_mem(ctx, &dst);
    c->m_w_plain = jp_dnnl_mem(ctx, &w_plain);
    c->m_w = jp_dnnl_mem(ctx, &w_md);
    c->m_b = jp_dnnl_mem(ctx, &b_md);
    c->w_cvt = jp_dnnl_reorder(ctx, &w_plain, &w_md, 0, &c->m_scr_w);
    c->src_cvt = jp_dnnl_reorder(ctx, &src32, &src16, 0, &c->m_scr_src);
    c->src16 = jp_alloc(dnnl_memory_desc_get_size(&src16));
    jp_status st = c->src16 ? JP_OK : jp_fail(err, JP_ERR_NOMEM, "onednn-bf16: the bfloat16 source");

    if (st == JP_OK && p->backward) {
        dnnl_primitive_attr_t battr = jp_dnnl_attr(0, 0);
        dnnl_primitive_desc_t bpd = NULL;
        JP_DNNL(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &src32, &w_any, &ddst16,
                                                         strides, pad, pad));
        c->bwd_data = bf16_primitive(ctx, &cd, battr, fpd, &bpd, &c->m_scr_bd);
        dnnl_primitive_attr_destroy(battr);
        if (!c->bwd_data) {
            st = jp_fail(err, JP_ERR_SHAPE, "onednn-bf16: oneDNN has no bfloat16 backward-data kernel for "
                         "%d->%d, kernel %dx%d, stride %d", s->cin, s->cout, s->kh, s->kw, s->sh);
        } else {
            const dnnl_memory_desc_t wd_md = *dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
            dnnl_primitive_desc_destroy(bpd);
            c->m_wd = jp_dnnl_mem(ctx, &wd_md);
            if (!dnnl_memory_desc_equal(&wd_md, &w_md)) {
                p->wd_bytes = dnnl_memory_desc_get_size(&wd_md);
                c->wd_cvt = jp_dnnl_reorder(ctx, &w_plain, &wd_md, 0, &c->m_scr_wd);
            }
            c->m_ddst16 = jp_dnnl_mem(ctx, &ddst16);
            c->ddst_cvt = jp_dnnl_reorder(ctx, &dst, &ddst16, 0, &c->m_scr_ddst);
            c->ddst16 = jp_alloc(dnnl_memory_desc_get_size(&ddst16));
            if (!c->ddst16) st = jp_fail(err, JP_ERR_NOMEM, "onednn-bf16: the bfloat16 output gradient");
        }
        if (st == JP_OK) {
            jp_conv_opts o = {.residual = p->residual, .need_backward = 1, .winograd = p->winograd};
            st = jp_conv_plan_init(&c->f32, ctx, s, &o, err);
            p->dw_bytes = c->f32.dw_bytes;
        }
    }
    dnnl_primitive_desc_destroy(fpd);
    return st;
}

static const char *kernel(const jp_conv_plan *p, int pass)
{
    const bf16_state *c = p->state;
    return pass == 0 ? jp_dnnl_impl(c->fwd) : pass == 1 ? jp_dnnl_impl(c->bwd_data) : jp_conv_kernel(&c->f32, 2);
}

static void prepare_weights(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw)
{
    const bf16_state *c = p->state;
    jp_dnnl_exec_reorder(p->ctx, c->w_cvt, c->m_w_plain, c->m_w, c->m_scr_w, w_oihw, wfwd);
    if (c->wd_cvt) {
        JP_CHECK(wbwd != NULL);
        jp_dnnl_exec_reorder(p->ctx, c->wd_cvt, c->m_w_plain, c->m_wd, c->m_scr_wd, w_oihw, wbwd);
    }
}

static void forward(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd, const float *b)
{
    const bf16_state *c = p->state;
    jp_dnnl_exec_reorder(p->ctx, c->src_cvt, c->m_src32, c->m_src16, c->m_scr_src, src, c->src16);
    int ids[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[] = {c->m_src16, c->m_w, c->m_b, c->m_dst, c->m_scr_fwd};
    void *ptr[] = {c->src16, (void *)wfwd, (void *)b, dst, NULL};
    jp_dnnl_exec(p->ctx, c->fwd, 5, ids, m, ptr);
}

static void backward_data(const jp_conv_plan *p, float *dsrc, const float *ddst, const float *wbwd)
{
    const bf16_state *c = p->state;
    jp_dnnl_exec_reorder(p->ctx, c->ddst_cvt, c->m_dst, c->m_ddst16, c->m_scr_ddst, ddst, c->ddst16);
    int ids[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC, DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[] = {c->m_ddst16, c->m_wd, c->m_src32, c->m_scr_bd};
    void *ptr[] = {c->ddst16, (void *)wbwd, dsrc, NULL};
    jp_dnnl_exec(p->ctx, c->bwd_data, 4, ids, m, ptr);
}

static void backward_weights(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst,
                             const float *src, float *dw_scratch, float *db_scratch)
{
    const bf16_state *c = p->state;
    jp_conv_backward_weights(&c->f32, dw_oihw, db, ddst, src, dw_scratch, db_scratch);
}

static void release(jp_conv_plan *p)
{
    bf16_state *c = p->state;
    if (!c) return;
    if (c->f32.impl) jp_conv_plan_free(&c->f32);
    dnnl_primitive_t prims[] = {c->fwd, c->bwd_data, c->w_cvt, c->wd_cvt, c->src_cvt, c->ddst_cvt};
    for (size_t i = 0; i < sizeof prims / sizeof *prims; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {c->m_src32,   c->m_src16,  c->m_dst,   c->m_w_plain, c->m_w,     c->m_b,
                            c->m_ddst16,  c->m_wd,     c->m_scr_fwd, c->m_scr_bd, c->m_scr_w, c->m_scr_wd,
                            c->m_scr_src, c->m_scr_ddst};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    jp_free(c->src16);
    jp_free(c->ddst16);
    free(c);
    p->state = NULL;
}

const jp_conv_impl jp_conv_onednn_bf16 = {JP_CONV_ONEDNN_BF16, init, release, kernel, prepare_weights,
                                          forward, backward_data, backward_weights};
