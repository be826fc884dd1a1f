/* Samplers on the energy E(x) = -LSE(f(x)): PYLD (JEM++), SGLD (JEM), proximal SGLD. */
#include "jempp/ebm.h"

#include <math.h>
#include <string.h>

#include "jempp/ops.h"

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
    w->n = jp_wrn_batch(m);
    w->dim = c->in_channels * c->image_size * c->image_size;
    w->n_classes = c->n_classes;
    size_t nk = (size_t)w->n * w->n_classes, nd = (size_t)w->n * w->dim;
    w->logits = jp_alloc(nk * sizeof(float));
    w->dlogits = jp_alloc(nk * sizeof(float));
    w->grad = jp_alloc(nd * sizeof(float));
    w->noise = jp_alloc(nd * sizeof(float));
    w->lse = jp_alloc((size_t)w->n * sizeof(float));
    if (!w->logits || !w->dlogits || !w->grad || !w->noise || !w->lse) {
        jp_sampler_work_free(w);
        return jp_fail(err, JP_ERR_NOMEM, "sampler scratch for batch %d", w->n);
    }
    return JP_OK;
}

void jp_sampler_work_free(jp_sampler_work *w)
{
    jp_free(w->logits);
    jp_free(w->dlogits);
    jp_free(w->grad);
    jp_free(w->noise);
    jp_free(w->lse);
    memset(w, 0, sizeof *w);
}

/* grad_x of sum_i log p(x_i) (LSE of the logits, or the energy head of an unconditional
 * model), or of sum_i f(x_i)[y_i], into w->grad; returns the mean log p(x). */
static double energy_grad(jp_wrn *m, jp_sampler_work *w, const float *x, const int *y, int n, int train)
{
    int K = w->n_classes;
    jp_wrn_forward(m, w->logits, x, n, train);
    jp_wrn_log_px(m, w->logits, w->lse, n);
    double mean = 0;
    for (int i = 0; i < n; i++) mean += w->lse[i];
    if (y) {
        /* d f(x)[y] / d logits = onehot(y) */
        memset(w->dlogits, 0, (size_t)n * K * sizeof(float));
        for (int i = 0; i < n; i++) w->dlogits[(size_t)i * K + y[i]] = 1.0f;
        jp_wrn_backward_log_px(m, w->logits, NULL, w->dlogits, w->grad, 0);
    } else {
        for (int i = 0; i < n; i++) w->lse[i] = 1.0f;
        jp_wrn_backward_log_px(m, w->logits, w->lse, NULL, w->grad, 0);
    }
    return mean / n;
}

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

double jp_sample(jp_wrn *m, jp_sampler_work *w, const jp_sampler_config *c, float *x, const int *y,
                 int n, jp_rng *rng)
{
    size_t count = (size_t)n * w->dim;
    double lse = 0;
    for (int s = 0; s < c->n_steps; s++) {
        lse = energy_grad(m, w, x, y, n, c->train_mode);
        const float *g = w->grad;
        if (c->kind == JP_SAMPLER_PYLD) {
            /* the authors' sample_q: an optional SGLD step on the outer gradient, the N inner
             * steps, then optional noise, unclamped, once per outer step */
            float lr = c->pyld_lr, eps = c->eps, sgld_lr = c->sgld_lr;
            if (sgld_lr > 0) {
#pragma omp parallel for simd
                for (size_t i = 0; i < count; i++) x[i] = clampf(x[i] + sgld_lr * clampf(g[i], -eps, eps), -1.0f, 1.0f);
            }
            for (int t = 0; t < c->in_steps; t++) {
#pragma omp parallel for simd
                for (size_t i = 0; i < count; i++) x[i] = clampf(x[i] + lr * clampf(g[i], -eps, eps), -1.0f, 1.0f);
            }
            if (c->sgld_std > 0) {
                jp_rng_fill_normal(rng, w->noise, count, 0.0f, c->sgld_std);
#pragma omp parallel for simd
                for (size_t i = 0; i < count; i++) x[i] += w->noise[i];
            }
        } else {
            int prox = c->kind == JP_SAMPLER_PROXIMAL;
            float lr = c->sgld_lr, eps = c->eps, std = c->sgld_std;
            if (std > 0) jp_rng_fill_normal(rng, w->noise, count, 0.0f, prox ? lr * std : std);
            const float *nz = std > 0 ? w->noise : NULL;
#pragma omp parallel for simd
            for (size_t i = 0; i < count; i++) {
                float step = prox ? 0.5f * lr * clampf(g[i], -eps, eps) : lr * g[i];
                float v = x[i] + step + (nz ? nz[i] : 0.0f);
                x[i] = c->clamp ? clampf(v, -1.0f, 1.0f) : v;
            }
        }
    }
    return lse;
}
