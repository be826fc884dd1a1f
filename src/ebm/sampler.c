/* Samplers on the energy E(x) = -LSE(f(x)): PYLD (JEM++), SGLD (JEM), proximal SGLD. */
#include "jempp/ebm.h"

#include <math.h>
#include <string.h>

#include "jempp/ops.h"
#include "nn/wrn_internal.h"

void jp_sampler_config_pyld(jp_sampler_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = JP_SAMPLER_PYLD;
    c->n_steps = 10;
    c->in_steps = 5;
    c->pyld_lr = 0.2f;
    c->eps = 1.0f;
    c->sgld_lr = 0.0f;
    c->sgld_std = 0.0f;
    c->train_mode = 1;
    c->clamp = 1;
}

void jp_sampler_config_sgld(jp_sampler_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = JP_SAMPLER_SGLD;
    c->n_steps = 20;
    c->in_steps = 1;
    c->pyld_lr = 0.2f;
    c->eps = 1.0f;
    c->sgld_lr = 1.0f;
    c->sgld_std = 0.01f;
    c->train_mode = 0;
    c->clamp = 0;
}

jp_status jp_sampler_config_check(const jp_sampler_config *c, jp_error *err)
{
    if (c->n_steps < 0 || c->n_steps > 100000)
        return jp_fail(err, JP_ERR_ARG, "--n_steps %d: must be between 0 and 100000", c->n_steps);
    if (c->kind == JP_SAMPLER_PYLD && (c->in_steps < 1 || c->in_steps > 100000))
        return jp_fail(err, JP_ERR_ARG, "--in_steps %d: must be between 1 and 100000", c->in_steps);
    if (!(c->eps > 0) || !isfinite(c->eps))
        return jp_fail(err, JP_ERR_ARG, "--eps %g: must be a positive number", (double)c->eps);
    if (!isfinite(c->pyld_lr) || !isfinite(c->sgld_lr) || !(c->sgld_std >= 0) || !isfinite(c->sgld_std))
        return jp_fail(err, JP_ERR_ARG, "sampler step sizes must be finite and the noise std >= 0");
    return JP_OK;
}

jp_status jp_sampler_work_init(jp_sampler_work *w, const jp_wrn *m, jp_error *err)
{
    const jp_wrn_config *c = jp_wrn_config_of(m);
    memset(w, 0, sizeof *w);
    const jp_device *d = jp_wrn_dev(m);
    w->dev = d;
    w->n = jp_wrn_batch(m);
    w->dim = c->in_channels * c->image_size * c->image_size;
    w->n_classes = c->n_classes;
    size_t nk = (size_t)w->n * w->n_classes, nd = (size_t)w->n * w->dim;
    w->logits = jp_dev_alloc(d, nk * sizeof(float));
    w->dlogits = jp_dev_alloc(d, nk * sizeof(float));
    w->grad = jp_dev_alloc(d, nd * sizeof(float));
    w->noise = jp_dev_alloc(d, nd * sizeof(float));
    w->lse = jp_dev_alloc(d, (size_t)w->n * sizeof(float));
    w->lse_host = jp_alloc((size_t)w->n * sizeof(float));
    if (!w->logits || !w->dlogits || !w->grad || !w->noise || !w->lse || !w->lse_host) {
        jp_sampler_work_free(w);
        return jp_fail(err, JP_ERR_NOMEM, "sampler scratch for batch %d", w->n);
    }
    return JP_OK;
}

void jp_sampler_work_free(jp_sampler_work *w)
{
    const jp_device *d = w->dev;
    if (d) {
        float *arrays[] = {w->logits, w->dlogits, w->grad, w->noise, w->lse};
        for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) jp_dev_release(d, arrays[i]);
    }
    jp_free(w->lse_host);
    memset(w, 0, sizeof *w);
}

/* grad_x of sum_i log p(x_i) (LSE of the logits, or the energy head of an unconditional
 * model), or of sum_i f(x_i)[y_i], into w->grad; returns the mean log p(x). */
static double energy_grad(jp_wrn *m, jp_sampler_work *w, const float *x, const int *y, int n, int train)
{
    const jp_device *d = w->dev;
    int K = w->n_classes;
    jp_wrn_forward(m, w->logits, x, n, train);
    jp_wrn_log_px(m, w->logits, w->lse, n);
    jp_dev_download(d, w->lse_host, w->lse, (size_t)n * sizeof(float));
    double mean = 0;
    for (int i = 0; i < n; i++) mean += w->lse_host[i];
    if (y) {
        /* d f(x)[y] / d logits = onehot(y) */
        jp_dev_zero(d, w->dlogits, (size_t)n * K * sizeof(float));
        d->ops->set_at_labels(d->state, w->dlogits, y, n, K, 1.0f);
        jp_wrn_backward_log_px(m, w->logits, NULL, w->dlogits, w->grad, 0);
    } else {
        d->ops->fill(d->state, w->lse, 1.0f, (size_t)n);
        jp_wrn_backward_log_px(m, w->logits, w->lse, NULL, w->grad, 0);
    }
    return mean / n;
}

double jp_sample(jp_wrn *m, jp_sampler_work *w, const jp_sampler_config *c, float *x, const int *y,
                 int n, jp_rng *rng)
{
    const jp_device *d = w->dev;
    size_t count = (size_t)n * w->dim;
    double lse = 0;
    for (int s = 0; s < c->n_steps; s++) {
        lse = energy_grad(m, w, x, y, n, c->train_mode);
        const float *g = w->grad;
        if (c->kind == JP_SAMPLER_PYLD) {
            /* the authors' sample_q: an optional SGLD step on the outer gradient, the N inner
             * steps, then optional noise, unclamped, once per outer step */
            if (c->sgld_lr > 0) d->ops->pyld_step(d->state, x, g, count, c->sgld_lr, c->eps);
            for (int t = 0; t < c->in_steps; t++) d->ops->pyld_step(d->state, x, g, count, c->pyld_lr, c->eps);
            if (c->sgld_std > 0) {
                d->ops->normal(d->state, w->noise, count, 0.0f, c->sgld_std, rng);
                d->ops->add(d->state, x, w->noise, count);
            }
        } else {
            int prox = c->kind == JP_SAMPLER_PROXIMAL;
            float lr = c->sgld_lr, std = c->sgld_std;
            if (std > 0) d->ops->normal(d->state, w->noise, count, 0.0f, prox ? lr * std : std, rng);
            d->ops->sgld_step(d->state, x, g, std > 0 ? w->noise : NULL, count, lr, c->eps, prox, c->clamp);
        }
    }
    return lse;
}
