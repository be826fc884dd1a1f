/* The batch norm + LeakyReLU implementation "onednn": oneDNN's batch-normalisation
 * primitive followed by an eltwise LeakyReLU in place (oneDNN 2.6 fuses only ReLU into
 * batch norm), created once per plan. The math is in ops/bnact.c. */
#include <stdlib.h>

#include "ops/onednn/onednn.h"

/* What the plan keeps (jp_bnact_plan.state). */
typedef struct {
    dnnl_primitive_t fwd_train, fwd_eval, bwd_train, bwd_eval, act_fwd, act_bwd;
    dnnl_memory_t m_src, m_dst, m_scale, m_shift, m_mean, m_var, m_dsrc, m_ddst, m_dscale, m_dshift;
    dnnl_memory_t m_scr[6];
    float *dparams; /* 2 C floats: where the primitive writes d(gamma), d(beta) not asked for */
} bn_state;

static jp_status init(jp_bnact_plan *p, jp_error *err)
{
    jp_ctx *ctx = p->ctx;
    const jp_bn_shape *s = &p->s;
    bn_state *b = calloc(1, sizeof *b);
    p->state = b;
    if (!b || !(b->dparams = malloc(2 * (size_t)s->c * sizeof(float))))
        return jp_fail(err, JP_ERR_NOMEM, "batch-norm plan");
    dnnl_engine_t eng = ctx->dnnl->eng;
    dnnl_memory_desc_t md, cmd;
    jp_dnnl_act_md(ctx, &md, dnnl_f32, s->n, s->c, s->h, s->w);
    dnnl_dims_t cd = {s->c};
    JP_DNNL(dnnl_memory_desc_init_by_tag(&cmd, 1, cd, dnnl_f32, dnnl_x));
    dnnl_primitive_attr_t attr = jp_dnnl_attr(0, 0);

    dnnl_eltwise_desc_t ed;
    dnnl_primitive_desc_t afpd, abpd;
    JP_DNNL(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, &md,
                                           p->slope, 0.0f));
    JP_DNNL(dnnl_primitive_desc_create(&afpd, &ed, attr, eng, NULL));
    JP_DNNL(dnnl_eltwise_backward_desc_init(&ed, dnnl_eltwise_relu_use_dst_for_bwd, &md, &md, p->slope, 0.0f));
    JP_DNNL(dnnl_primitive_desc_create(&abpd, &ed, attr, eng, afpd));
    b->act_fwd = jp_dnnl_primitive(ctx, afpd, &b->m_scr[0]);
    b->act_bwd = jp_dnnl_primitive(ctx, abpd, &b->m_scr[1]);
    dnnl_primitive_desc_destroy(afpd);
    dnnl_primitive_desc_destroy(abpd);

    if (p->has_bn) {
        unsigned flags = dnnl_use_scale | dnnl_use_shift;
        dnnl_batch_normalization_desc_t bd;
        dnnl_primitive_desc_t pd[4];
        JP_DNNL(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, &md, s->eps, flags));
        JP_DNNL(dnnl_primitive_desc_create(&pd[0], &bd, attr, eng, NULL));
        JP_DNNL(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, &md, s->eps,
                                                           flags | dnnl_use_global_stats));
        JP_DNNL(dnnl_primitive_desc_create(&pd[1], &bd, attr, eng, NULL));
        JP_DNNL(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &md, &md, s->eps, flags));
        JP_DNNL(dnnl_primitive_desc_create(&pd[2], &bd, attr, eng, pd[0]));
        JP_DNNL(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &md, &md, s->eps,
                                                            flags | dnnl_use_global_stats));
        JP_DNNL(dnnl_primitive_desc_create(&pd[3], &bd, attr, eng, pd[1]));
        b->fwd_train = jp_dnnl_primitive(ctx, pd[0], &b->m_scr[2]);
        b->fwd_eval = jp_dnnl_primitive(ctx, pd[1], &b->m_scr[3]);
        b->bwd_train = jp_dnnl_primitive(ctx, pd[2], &b->m_scr[4]);
        b->bwd_eval = jp_dnnl_primitive(ctx, pd[3], &b->m_scr[5]);
        for (int i = 0; i < 4; i++) dnnl_primitive_desc_destroy(pd[i]);
    }
    dnnl_primitive_attr_destroy(attr);
    dnnl_memory_t *acts[] = {&b->m_src, &b->m_dst, &b->m_dsrc, &b->m_ddst};
    dnnl_memory_t *chans[] = {&b->m_scale, &b->m_shift, &b->m_mean, &b->m_var, &b->m_dscale, &b->m_dshift};
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) *acts[i] = jp_dnnl_mem(ctx, &md);
    for (size_t i = 0; i < sizeof chans / sizeof *chans; i++) *chans[i] = jp_dnnl_mem(ctx, &cmd);
    return JP_OK;
}

static void release(jp_bnact_plan *p)
{
    bn_state *b = p->state;
    if (!b) return;
    dnnl_primitive_t prims[] = {b->fwd_train, b->fwd_eval, b->bwd_train, b->bwd_eval, b->act_fwd, b->act_bwd};
    for (size_t i = 0; i < sizeof prims / sizeof *prims; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {b->m_src, b->m_dst, b->m_scale, b->m_shift, b->m_mean, b->m_var,
                            b->m_dsrc, b->m_ddst, b->m_dscale, b->m_dshift, b->m_scr[0],
                            b->m_scr[1], b->m_scr[2], b->m_scr[3], b->m_scr[4], b->m_scr[5]};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    free(b->dparams);
    free(b);
    p->state = NULL;
}

static const char *kernel(const jp_bnact_plan *p, int k)
{
    const bn_state *b = p->state;
    dnnl_primitive_t prim[6] = {b->fwd_train, b->fwd_eval, b->bwd_train, b->bwd_eval, b->act_fwd, b->act_bwd};
    return prim[k] ? jp_dnnl_impl(prim[k]) : NULL;
}

static void forward(const jp_bnact_plan *p, int train, float *dst, float *mean, float *var, const float *src,
                    const float *gamma, const float *beta)
{
    const bn_state *b = p->state;
    if (p->has_bn) {
        int ids[] = {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE,
                     DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
        dnnl_memory_t m[] = {b->m_src, b->m_scale, b->m_shift, b->m_mean, b->m_var, b->m_dst, b->m_scr[train ? 2 : 3]};
        void *ptr[] = {(void *)src, (void *)gamma, (void *)beta, mean, var, dst, NULL};
        jp_dnnl_exec(p->ctx, train ? b->fwd_train : b->fwd_eval, 7, ids, m, ptr);
        src = dst;
    }
    int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[] = {b->m_src, b->m_dst, b->m_scr[0]};
    void *ptr[] = {(void *)src, dst, NULL};
    jp_dnnl_exec(p->ctx, b->act_fwd, 3, ids, m, ptr);
}

static void backward(const jp_bnact_plan *p, int train, float *dsrc, float *ddst, float *dgamma, float *dbeta,
                     const float *dst, const float *src, const float *mean, const float *var, const float *gamma,
                     const float *beta)
{
    const bn_state *b = p->state;
    /* activation backward, in place on ddst when a BN follows */
    float *dy = p->has_bn ? ddst : dsrc;
    {
        int ids[] = {DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_SCRATCHPAD};
        dnnl_memory_t m[] = {b->m_dst, b->m_ddst, b->m_dsrc, b->m_scr[1]};
        void *ptr[] = {(void *)dst, ddst, dy, NULL};
        jp_dnnl_exec(p->ctx, b->act_bwd, 4, ids, m, ptr);
    }
    if (!p->has_bn) return;
    int ids[] = {DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE,
                 DNNL_ARG_SHIFT, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT,
                 DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[] = {b->m_src, b->m_mean, b->m_var, b->m_ddst, b->m_scale, b->m_shift,
                         b->m_dsrc, b->m_dscale, b->m_dshift, b->m_scr[train ? 4 : 5]};
    void *ptr[] = {(void *)src, (void *)mean, (void *)var, dy, (void *)gamma, (void *)beta, dsrc,
                   dgamma ? dgamma : b->dparams, dbeta ? dbeta : b->dparams + p->s.c, NULL};
    jp_dnnl_exec(p->ctx, train ? b->bwd_train : b->bwd_eval, 10, ids, m, ptr);
}

const jp_bnact_impl jp_bnact_onednn = {JP_BNACT_ONEDNN, init, release, kernel, forward, backward};
