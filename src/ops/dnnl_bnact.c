/* Batch norm followed by LeakyReLU on blocked activations, two implementations:
 * "jempp-fused" (ops/bnact_fused.c: nChw8c with AVX2, nChw16c with AVX-512, C a
 * multiple of the block) and "onednn" (its batch-norm primitive, then an eltwise
 * LeakyReLU in place); the automatic choice takes jempp-fused wherever it runs.
 *
 * Forward (train):  mu = mean(x), var = mean((x-mu)^2) (biased), y = g*(x-mu)/sqrt(var+eps)+b,
 *                   running = (1-m)*running + m*{mu, var*M/(M-1)} (unbiased), M = N*H*W
 * Forward (eval):   the same with the running statistics.
 * Activation:       a = y > 0 ? y : slope*y
 * Backward:         dy = da * (a > 0 ? 1 : slope)   (a and y have the same sign: slope > 0,
 *                   and slope = 0 gives ReLU's rule)
 *   train:          dx = g/sqrt(var+eps) * (dy - mean(dy) - xhat * mean(dy*xhat)),
 *                   dgamma = sum dy*xhat, dbeta = sum dy
 *   eval:           dx = g/sqrt(rv+eps) * dy (statistics are constants) */
#include "ops/dnnl_ops.h"

#include <string.h>

jp_status jp_bnact_plan_init(jp_bnact_plan *p, jp_dnnl *ctx, const jp_bn_shape *s, int has_bn,
                             float slope, jp_bnact_impl_id impl, jp_error *err)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->s = *s;
    p->slope = slope;
    p->has_bn = has_bn;
    int fused_runs = jp_bnfused_supported(s->c, ctx->act_block);
    if (impl == JP_BNACT_JEMPP_FUSED && !fused_runs)
        return jp_fail(err, JP_ERR_BACKEND, "jempp-fused batch norm: needs %d channels in multiples of %d and "
                       "a CPU with %s (got %d)", s->c, ctx->act_block, ctx->act_block == 16 ? "AVX-512F" :
                       "AVX2 and FMA", s->c);
    if (impl == JP_BNACT_AUTO) impl = fused_runs ? JP_BNACT_JEMPP_FUSED : JP_BNACT_ONEDNN;
    p->impl = impl;
    if (impl == JP_BNACT_JEMPP_FUSED) { /* no primitives */
        p->fused = (jp_bnfused){ctx->act_block, *s, slope, has_bn,
                                jp_alloc(jp_bnfused_partial_doubles(s->c) * sizeof(double))};
        if (!p->fused.partial) return jp_fail(err, JP_ERR_NOMEM, "out of memory for batch norm sums");
        return JP_OK;
    }
    dnnl_memory_desc_t md, cmd;
    jp_dnnl_act_md(ctx, &md, s->n, s->c, s->h, s->w);
    dnnl_dims_t cd = {s->c};
    JP_DNNL(dnnl_memory_desc_init_by_tag(&cmd, 1, cd, dnnl_f32, dnnl_x));
    dnnl_primitive_attr_t attr = jp_dnnl_attr(0, 0);

    dnnl_eltwise_desc_t ed;
    dnnl_primitive_desc_t afpd, abpd;
    JP_DNNL(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training,
                                           dnnl_eltwise_relu_use_dst_for_bwd, &md, slope, 0.0f));
    JP_DNNL(dnnl_primitive_desc_create(&afpd, &ed, attr, ctx->eng, NULL));
    JP_DNNL(dnnl_eltwise_backward_desc_init(&ed, dnnl_eltwise_relu_use_dst_for_bwd, &md, &md, slope,
                                            0.0f));
    JP_DNNL(dnnl_primitive_desc_create(&abpd, &ed, attr, ctx->eng, afpd));
    p->act_fwd = jp_dnnl_primitive(ctx, afpd, &p->m_scr[0]);
    p->act_bwd = jp_dnnl_primitive(ctx, abpd, &p->m_scr[1]);
    dnnl_primitive_desc_destroy(afpd);
    dnnl_primitive_desc_destroy(abpd);

    if (has_bn) {
        unsigned flags = dnnl_use_scale | dnnl_use_shift;
        dnnl_batch_normalization_desc_t bd;
        dnnl_primitive_desc_t pd[4];
        JP_DNNL(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, &md, s->eps, flags));
        JP_DNNL(dnnl_primitive_desc_create(&pd[0], &bd, attr, ctx->eng, NULL));
        JP_DNNL(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, &md, s->eps,
                                                           flags | dnnl_use_global_stats));
        JP_DNNL(dnnl_primitive_desc_create(&pd[1], &bd, attr, ctx->eng, NULL));
        JP_DNNL(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &md, &md, s->eps, flags));
        JP_DNNL(dnnl_primitive_desc_create(&pd[2], &bd, attr, ctx->eng, pd[0]));
        JP_DNNL(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &md, &md, s->eps,
                                                            flags | dnnl_use_global_stats));
        JP_DNNL(dnnl_primitive_desc_create(&pd[3], &bd, attr, ctx->eng, pd[1]));
        p->fwd_train = jp_dnnl_primitive(ctx, pd[0], &p->m_scr[2]);
        p->fwd_eval = jp_dnnl_primitive(ctx, pd[1], &p->m_scr[3]);
        p->bwd_train = jp_dnnl_primitive(ctx, pd[2], &p->m_scr[4]);
        p->bwd_eval = jp_dnnl_primitive(ctx, pd[3], &p->m_scr[5]);
        for (int i = 0; i < 4; i++) dnnl_primitive_desc_destroy(pd[i]);
    }
    dnnl_primitive_attr_destroy(attr);
    p->m_src = jp_dnnl_mem(ctx, &md);
    p->m_dst = jp_dnnl_mem(ctx, &md);
    p->m_dsrc = jp_dnnl_mem(ctx, &md);
    p->m_ddst = jp_dnnl_mem(ctx, &md);
    p->m_scale = jp_dnnl_mem(ctx, &cmd);
    p->m_shift = jp_dnnl_mem(ctx, &cmd);
    p->m_mean = jp_dnnl_mem(ctx, &cmd);
    p->m_var = jp_dnnl_mem(ctx, &cmd);
    p->m_dscale = jp_dnnl_mem(ctx, &cmd);
    p->m_dshift = jp_dnnl_mem(ctx, &cmd);
    return JP_OK;
}

void jp_bnact_plan_free(jp_bnact_plan *p)
{
    dnnl_primitive_t prims[] = {p->fwd_train, p->fwd_eval, p->bwd_train, p->bwd_eval, p->act_fwd,
                                p->act_bwd};
    for (size_t i = 0; i < sizeof prims / sizeof *prims; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {p->m_src, p->m_dst, p->m_scale, p->m_shift, p->m_mean, p->m_var,
                            p->m_dsrc, p->m_ddst, p->m_dscale, p->m_dshift, p->m_scr[0],
                            p->m_scr[1], p->m_scr[2], p->m_scr[3], p->m_scr[4], p->m_scr[5]};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    jp_free(p->fused.partial);
    memset(p, 0, sizeof *p);
}

const char *jp_bnact_kernel(const jp_bnact_plan *p, int k)
{
    if (k < 0 || k > 5) return NULL;
    if (p->impl == JP_BNACT_JEMPP_FUSED) return k < 4 ? jp_bnfused_kernel_name(&p->fused) : NULL;
    dnnl_primitive_t prim[6] = {p->fwd_train, p->fwd_eval, p->bwd_train, p->bwd_eval, p->act_fwd, p->act_bwd};
    return prim[k] ? jp_dnnl_impl(prim[k]) : NULL;
}

void jp_bnact_forward(const jp_bnact_plan *p, int train, float *dst, float *mean, float *var,
                      float *running_mean, float *running_var, const float *src,
                      const float *gamma, const float *beta)
{
    const jp_bn_shape *s = &p->s;
    if (p->impl == JP_BNACT_JEMPP_FUSED) {
        jp_bnfused_forward(&p->fused, train, dst, train ? mean : running_mean, train ? var : running_var, src,
                           gamma, beta);
    } else if (p->has_bn) {
        int ids[] = {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE,
                     DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
        dnnl_memory_t m[] = {p->m_src, p->m_scale, p->m_shift, p->m_mean, p->m_var, p->m_dst,
                             p->m_scr[train ? 2 : 3]};
        void *ptr[] = {(void *)src, (void *)gamma, (void *)beta,
                       train ? mean : running_mean, train ? var : running_var, dst, NULL};
        jp_dnnl_exec(p->ctx, train ? p->fwd_train : p->fwd_eval, 7, ids, m, ptr);
        src = dst;
    }
    if (p->impl == JP_BNACT_ONEDNN) {
        int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
        dnnl_memory_t m[] = {p->m_src, p->m_dst, p->m_scr[0]};
        void *ptr[] = {(void *)src, dst, NULL};
        jp_dnnl_exec(p->ctx, p->act_fwd, 3, ids, m, ptr);
    }
    if (p->has_bn && train && running_mean && running_var) {
        double M = (double)s->n * s->h * s->w;
        float unbias = M > 1 ? (float)(M / (M - 1)) : 1.0f, mo = s->momentum;
        for (int c = 0; c < s->c; c++) {
            running_mean[c] = (1 - mo) * running_mean[c] + mo * mean[c];
            running_var[c] = (1 - mo) * running_var[c] + mo * var[c] * unbias;
        }
    }
}

static void add_param_grads(int C, float *dgamma, float *dbeta, const float *dg, const float *db)
{
    if (dgamma)
        for (int c = 0; c < C; c++) dgamma[c] += dg[c];
    if (dbeta)
        for (int c = 0; c < C; c++) dbeta[c] += db[c];
}

void jp_bnact_backward(const jp_bnact_plan *p, int train, float *dsrc, float *ddst,
                       float *dgamma, float *dbeta, const float *dst, const float *src,
                       const float *mean, const float *var, const float *gamma,
                       const float *beta, float *dparam_scratch)
{
    int C = p->s.c;
    float *dg = dparam_scratch, *db = dparam_scratch + C;
    if (p->impl == JP_BNACT_JEMPP_FUSED) {
        jp_bnfused_backward(&p->fused, train, dsrc, ddst, dgamma ? dg : NULL, dbeta ? db : NULL, src, mean, var,
                            gamma, beta);
        add_param_grads(C, dgamma, dbeta, dg, db);
        return;
    }
    /* activation backward, in place on ddst when a BN follows */
    float *dy = p->has_bn ? ddst : dsrc;
    {
        int ids[] = {DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_SCRATCHPAD};
        dnnl_memory_t m[] = {p->m_dst, p->m_ddst, p->m_dsrc, p->m_scr[1]};
        void *ptr[] = {(void *)dst, ddst, dy, NULL};
        jp_dnnl_exec(p->ctx, p->act_bwd, 4, ids, m, ptr);
    }
    if (!p->has_bn) return;
    int ids[] = {DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE,
                 DNNL_ARG_SHIFT, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT,
                 DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[] = {p->m_src, p->m_mean, p->m_var, p->m_ddst, p->m_scale, p->m_shift,
                         p->m_dsrc, p->m_dscale, p->m_dshift, p->m_scr[train ? 4 : 5]};
    void *ptr[] = {(void *)src, (void *)mean, (void *)var, dy, (void *)gamma, (void *)beta,
                   dsrc, dg, db, NULL};
    jp_dnnl_exec(p->ctx, train ? p->bwd_train : p->bwd_eval, 10, ids, m, ptr);
    add_param_grads(C, dgamma, dbeta, dg, db);
}
