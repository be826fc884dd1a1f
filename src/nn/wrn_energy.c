/* The WRN's log density: log p(x) = LSE(logits) for JEM/JEM++ (the classifier's logits
 * define the energy), or the energy head energy_output(feat) for JEM's unconditional
 * variant (--uncond), and its backward. */
#include "nn/wrn_internal.h"

void jp_wrn_energy_head(jp_wrn *m, float *e, int n)
{
    const jp_device *d = m->ctx.dev;
    int D = m->last_c;
    /* e (n) = feat (n, D) w_e (D) + b_e */
    d->ops->gemm(d->state, 0, 0, n, 1, D, 1.0f, m->feat, D, m->params + m->en_w, 1, 0.0f, e, 1);
    d->ops->bias_forward(d->state, e, m->params + m->en_b, n, 1);
}

void jp_wrn_log_px(jp_wrn *m, const float *logits, float *out, int n)
{
    const jp_device *d = m->ctx.dev;
    if (m->cfg.uncond) jp_wrn_energy_head(m, out, n);
    else d->ops->logsumexp_forward(d->state, out, logits, n, m->cfg.n_classes);
}

/* d/d logits of sum_i w_i LSE(logits_i) = w_i softmax(logits_i); for the energy head
 * d/d e_i = w_i. The extra d(logits) adds to the class head's gradient either way. */
void jp_wrn_backward_log_px(jp_wrn *m, const float *logits, const float *w, const float *dlogits_extra, float *dx,
                            int param_grads)
{
    const jp_device *d = m->ctx.dev;
    int n = m->last_n, K = m->cfg.n_classes;
    const float *dl = dlogits_extra, *de = NULL;
    if (m->cfg.uncond) {
        de = w;
    } else if (w) {
        d->ops->logsumexp_backward(d->state, m->dlog_scratch, w, logits, n, K);
        if (dlogits_extra) d->ops->add(d->state, m->dlog_scratch, dlogits_extra, (size_t)n * K);
        dl = m->dlog_scratch;
    }
    jp_wrn_backward_heads(m, dl, de, dx, param_grads);
}
