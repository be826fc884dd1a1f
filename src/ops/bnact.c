/* Batch norm followed by LeakyReLU on blocked activations: the plan, the choice of its
 * implementation ("jempp-fused", bnact_fused.c; "onednn", onednn/onednn_bnact.c), and
 * what every implementation shares: the running statistics and the accumulation of the
 * parameter gradients.
 *
 * Forward (train):  mu = mean(x), var = mean((x-mu)^2) (biased), y = g*(x-mu)/sqrt(var+eps)+b,
 *                   running = (1-m)*running + m*{mu, var*M/(M-1)} (unbiased), M = N*H*W
 *                   (synchronised over R processes: the whole batch's, M = R*N*H*W)
 * Forward (eval):   the same with the running statistics.
 * Activation:       a = y > 0 ? y : slope*y
 * Backward:         dy = da * (a > 0 ? 1 : slope)   (a and y have the same sign: slope > 0,
 *                   and slope = 0 gives ReLU's rule)
 *   train:          dx = g/sqrt(var+eps) * (dy - mean(dy) - xhat * mean(dy*xhat)),
 *                   dgamma = sum dy*xhat, dbeta = sum dy
 *   eval:           dx = g/sqrt(rv+eps) * dy (statistics are constants) */
#include <string.h>

#include "ops/backend.h"
#include "ops/bnact_fused.h"

jp_status jp_bnact_plan_init(jp_bnact_plan *p, jp_ctx *ctx, const jp_bn_shape *s, int has_bn, float slope,
                             jp_bnact_impl_id impl, jp_error *err)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->s = *s;
    p->slope = slope;
    p->has_bn = has_bn;
    if (ctx->dev_bnact) { /* a device's own */
        p->impl = ctx->dev_bnact;
        jp_status st = p->impl->init(p, err);
        if (st) jp_bnact_plan_free(p);
        return st;
    }
    int fused_runs = jp_bnfused_supported(s->c, ctx->act_block);
    if (impl == JP_BNACT_JEMPP_FUSED && !fused_runs)
        return jp_fail(err, JP_ERR_BACKEND, "jempp-fused batch norm: needs channels in multiples of %d and a "
                       "CPU with %s (got %d channels)", ctx->act_block,
                       ctx->act_block == 16 ? "AVX-512F" : "AVX2 and FMA", s->c);
    if (impl == JP_BNACT_AUTO) impl = fused_runs ? JP_BNACT_JEMPP_FUSED : JP_BNACT_ONEDNN;
    if (impl == JP_BNACT_CUDNN)
        return jp_fail(err, JP_ERR_BACKEND, "batch-norm implementation cudnn runs on a GPU (--device cuda), not on "
                       "the CPU");
    if (impl != JP_BNACT_JEMPP_FUSED && impl != JP_BNACT_ONEDNN)
        return jp_fail(err, JP_ERR_ARG, "no batch-norm implementation %d", (int)impl);
    p->impl = impl == JP_BNACT_JEMPP_FUSED ? &jp_bnact_jempp_fused : &jp_bnact_onednn;
    jp_status st = p->impl->init(p, err);
    if (st) jp_bnact_plan_free(p);
    return st;
}

jp_status jp_bnact_plan_sync(jp_bnact_plan *p, const jp_bn_sync *sync, jp_error *err)
{
    if (sync && p->has_bn && p->impl != &jp_bnact_jempp_fused)
        return jp_fail(err, JP_ERR_BACKEND, "synchronised batch norm runs in jempp's fused batch norm only (--bn_impl "
                       "jempp-fused: channels in multiples of %d, AVX2 or AVX-512); this layer runs %s",
                       p->ctx->act_block, p->impl->kernel(p, 0));
    p->sync = sync;
    return JP_OK;
}

void jp_bnact_plan_free(jp_bnact_plan *p)
{
    if (p->impl) p->impl->release(p);
    memset(p, 0, sizeof *p);
}

const char *jp_bnact_kernel(const jp_bnact_plan *p, int k)
{
    return k < 0 || k > 5 ? NULL : p->impl->kernel(p, k);
}

void jp_bnact_forward(const jp_bnact_plan *p, int train, float *dst, float *mean, float *var,
                      float *running_mean, float *running_var, const float *src, const float *gamma,
                      const float *beta)
{
    const jp_bn_shape *s = &p->s;
    p->impl->forward(p, train, dst, train ? mean : running_mean, train ? var : running_var, src, gamma, beta);
    if (p->has_bn && train && running_mean && running_var) {
        double M = (double)s->n * s->h * s->w * (p->sync ? p->sync->ranks : 1);
        float unbias = M > 1 ? (float)(M / (M - 1)) : 1.0f;
        const jp_device *d = p->ctx->dev;
        d->ops->bn_running_update(d->state, running_mean, running_var, mean, var, s->c, s->momentum, unbias);
    }
}

void jp_bnact_backward(const jp_bnact_plan *p, int train, float *dsrc, float *ddst, float *dgamma, float *dbeta,
                       const float *dst, const float *src, const float *mean, const float *var,
                       const float *gamma, const float *beta, float *dparam_scratch)
{
    int C = p->s.c;
    float *dg = dgamma && p->has_bn ? dparam_scratch : NULL, *db = dbeta && p->has_bn ? dparam_scratch + C : NULL;
    p->impl->backward(p, train, dsrc, ddst, dg, db, dst, src, mean, var, gamma, beta);
    const jp_device *d = p->ctx->dev;
    if (dg) d->ops->add(d->state, dgamma, dg, (size_t)C);
    if (db) d->ops->add(d->state, dbeta, db, (size_t)C);
}
