/* PGD attacks (L-inf, L2) with random restarts, and JEM's noisy-copies + SGLD defence
 * attacked end to end with BPDA. Units and conventions: include/jempp/attack.h. */
#include "jempp/attack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ebm.h"
#include "nn/wrn_internal.h"

struct jp_attacker {
    jp_wrn *m;
    jp_defence_config def;
    int defended, batch, B, K, dim;
    jp_rng rng;
    jp_sampler_work sw;
    jp_sampler_config sc;
    float *xc, *lc, *dlc, *dxc; /* model-batch buffers: copies, their logits and gradients */
    float *cur, *g, *logits, *loss_best; /* per-attack: iterate, gradient, logits, best loss */
    /* the model's device and its copies of xc, lc, dlc, dxc (those arrays on the CPU) */
    const jp_device *dev;
    float *d_xc, *d_lc, *d_dlc, *d_dxc;
};

const char *jp_pgd_norm_name(jp_pgd_norm k) { return k == JP_PGD_L2 ? "l2" : "linf"; }

void jp_pgd_config_defaults(jp_pgd_config *c)
{
    memset(c, 0, sizeof *c);
    c->norm = JP_PGD_LINF;
    c->eps = 8.0 / 255.0;
    c->n_iter = 40;
    c->step = 0;
    c->restarts = 1;
    c->random_start = 1;
}

void jp_defence_config_jem(jp_defence_config *d)
{
    d->n_copies = 5;
    d->n_steps = 10;
    d->sigma = 0.03f;
    d->sgld_lr = 1.0f;
    d->sgld_std = 0.01f;
}

void jp_attacker_free(jp_attacker *a)
{
    if (!a) return;
    if (a->dev) {
        jp_dev_twin_free(a->dev, a->xc, a->d_xc);
        jp_dev_twin_free(a->dev, a->lc, a->d_lc);
        jp_dev_twin_free(a->dev, a->dlc, a->d_dlc);
        jp_dev_twin_free(a->dev, a->dxc, a->d_dxc);
    }
    void *bufs[] = {a->xc, a->lc, a->dlc, a->dxc, a->cur, a->g, a->logits, a->loss_best};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) jp_free(bufs[i]);
    if (a->defended && a->def.n_steps > 0) jp_sampler_work_free(&a->sw);
    free(a);
}

jp_status jp_attacker_create(jp_attacker **out, jp_wrn *m, const jp_defence_config *def, uint64_t seed,
                             jp_error *err)
{
    *out = NULL;
    jp_attacker *a = calloc(1, sizeof *a);
    if (!a) return jp_fail(err, JP_ERR_NOMEM, "attacker");
    const jp_wrn_config *c = jp_wrn_config_of(m);
    a->m = m;
    a->B = jp_wrn_batch(m);
    a->K = c->n_classes;
    a->dim = c->in_channels * c->image_size * c->image_size;
    a->defended = def && def->n_copies > 0;
    if (a->defended) {
        a->def = *def;
        if (def->n_steps < 0 || !(def->sigma >= 0) || !(def->sgld_std >= 0) || !isfinite(def->sgld_lr)) {
            free(a);
            return jp_fail(err, JP_ERR_ARG, "defence: n_steps %d, sigma %g, sgld_std %g (need >= 0, finite lr)",
                           def->n_steps, (double)def->sigma, (double)def->sgld_std);
        }
        if (def->n_copies > a->B) {
            int B = a->B;
            free(a);
            return jp_fail(err, JP_ERR_ARG, "defence with %d noisy copies needs a model batch of at least %d "
                           "(it is %d): raise --batch_size", def->n_copies, def->n_copies, B);
        }
    }
    a->batch = a->defended ? a->B / a->def.n_copies : a->B;
    jp_rng_seed(&a->rng, seed);
    jp_sampler_config_sgld(&a->sc);
    if (a->defended) {
        a->sc.n_steps = a->def.n_steps;
        a->sc.sgld_lr = a->def.sgld_lr;
        a->sc.sgld_std = a->def.sgld_std;
    }
    a->sc.train_mode = 0;
    a->sc.clamp = 0;
    size_t bd = (size_t)a->B * a->dim, bk = (size_t)a->B * a->K;
    a->xc = jp_alloc(bd * sizeof(float));
    a->lc = jp_alloc(bk * sizeof(float));
    a->dlc = jp_alloc(bk * sizeof(float));
    a->dxc = jp_alloc(bd * sizeof(float));
    a->cur = jp_alloc(bd * sizeof(float));
    a->g = jp_alloc(bd * sizeof(float));
    a->logits = jp_alloc(bk * sizeof(float));
    a->loss_best = jp_alloc((size_t)a->B * sizeof(float));
    a->dev = jp_wrn_dev(m);
    a->d_xc = jp_dev_twin(a->dev, a->xc, bd * sizeof(float));
    a->d_lc = jp_dev_twin(a->dev, a->lc, bk * sizeof(float));
    a->d_dlc = jp_dev_twin(a->dev, a->dlc, bk * sizeof(float));
    a->d_dxc = jp_dev_twin(a->dev, a->dxc, bd * sizeof(float));
    if (!a->xc || !a->lc || !a->dlc || !a->dxc || !a->cur || !a->g || !a->logits || !a->loss_best || !a->d_xc ||
        !a->d_lc || !a->d_dlc || !a->d_dxc) {
        jp_attacker_free(a);
        return jp_fail(err, JP_ERR_NOMEM, "attack buffers (batch %d)", a->B);
    }
    if (a->defended && a->def.n_steps > 0) {
        jp_status st = jp_sampler_work_init(&a->sw, m, err);
        if (st) {
            a->def.n_steps = 0; /* nothing to free in sw */
            jp_attacker_free(a);
            return st;
        }
    }
    *out = a;
    return JP_OK;
}

int jp_attacker_batch(const jp_attacker *a) { return a->batch; }

/* Forward of the (defended) classifier; leaves the copies' pass in the model for a
 * backward. logits (n, K) = mean over copies of the copies' logits. The model reads and
 * writes its device's copies: xc and lc go up and come down around it. */
static void forward(jp_attacker *a, float *logits, const float *x, int n)
{
    if (!a->defended) {
        jp_dev_upload(a->dev, a->d_xc, x, (size_t)n * a->dim * sizeof(float));
        jp_wrn_forward(a->m, a->d_lc, a->d_xc, n, 0);
        jp_dev_download(a->dev, logits, a->d_lc, (size_t)n * a->K * sizeof(float));
        return;
    }
    int C = a->def.n_copies, nc = n * C, K = a->K;
    size_t dim = (size_t)a->dim;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++) {
            float *dst = a->xc + ((size_t)i * C + c) * dim;
            const float *src = x + (size_t)i * dim;
            for (size_t j = 0; j < dim; j++) dst[j] = src[j] + a->def.sigma * (float)jp_rng_normal(&a->rng);
        }
    jp_dev_upload(a->dev, a->d_xc, a->xc, (size_t)nc * dim * sizeof(float));
    if (a->def.n_steps > 0) jp_sample(a->m, &a->sw, &a->sc, a->d_xc, NULL, nc, &a->rng);
    jp_wrn_forward(a->m, a->d_lc, a->d_xc, nc, 0);
    jp_dev_download(a->dev, a->lc, a->d_lc, (size_t)nc * K * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (int c = 0; c < C; c++) s += a->lc[((size_t)i * C + c) * K + k];
            logits[(size_t)i * K + k] = (float)(s / C);
        }
}

void jp_attacker_logits(jp_attacker *a, float *logits, const float *x, int n)
{
    JP_CHECK(n >= 0 && n <= a->batch);
    forward(a, logits, x, n);
}

/* CE = LSE(l) - l_y of one row and, when d is not NULL, d CE / d l = softmax(l) - onehot(y). */
static double ce_row(const float *l, int y, int K, float *d)
{
    float mx = l[0];
    for (int k = 1; k < K; k++) mx = l[k] > mx ? l[k] : mx;
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)l[k] - mx);
    double lse = mx + log(s);
    if (d)
        for (int k = 0; k < K; k++) d[k] = (float)(exp((double)l[k] - lse) - (k == y));
    return lse - l[y];
}

void jp_attacker_grad(jp_attacker *a, float *dx, float *logits, const float *x, const int *y, int n)
{
    JP_CHECK(n >= 0 && n <= a->batch);
    int K = a->K;
    forward(a, logits, x, n);
    if (!a->defended) {
        for (int i = 0; i < n; i++) ce_row(logits + (size_t)i * K, y[i], K, a->dlc + (size_t)i * K);
        jp_dev_upload(a->dev, a->d_dlc, a->dlc, (size_t)n * K * sizeof(float));
        jp_wrn_backward(a->m, a->d_dlc, a->d_dxc, 0);
        jp_dev_download(a->dev, dx, a->d_dxc, (size_t)n * a->dim * sizeof(float));
        return;
    }
    /* L = CE(lbar, y) with lbar = (1/C) sum_c f(r_c), r_c = refine(x + sigma n_c). BPDA takes
     * d r_c / d x = I, so
     *   dL/dx = sum_c J_f(r_c)^T (softmax(lbar) - onehot(y)) / C,
     * one backward of the copies with dlogits_c = (softmax(lbar) - onehot(y)) / C, summed. */
    int C = a->def.n_copies;
    for (int i = 0; i < n; i++) {
        float *row0 = a->dlc + (size_t)i * C * K; /* copy 0's row holds dL/dlogits_avg first */
        ce_row(logits + (size_t)i * K, y[i], K, row0);
        for (int c = C - 1; c >= 0; c--) /* copy 0 last: it is read by the others */
            for (int k = 0; k < K; k++) row0[(size_t)c * K + k] = row0[k] / (float)C;
    }
    size_t dim = (size_t)a->dim;
    jp_dev_upload(a->dev, a->d_dlc, a->dlc, (size_t)n * C * K * sizeof(float));
    jp_wrn_backward(a->m, a->d_dlc, a->d_dxc, 0);
    jp_dev_download(a->dev, a->dxc, a->d_dxc, (size_t)n * C * dim * sizeof(float));
    for (int i = 0; i < n; i++) {
        float *o = dx + (size_t)i * dim;
        memset(o, 0, dim * sizeof(float));
        for (int c = 0; c < C; c++) {
            const float *s = a->dxc + ((size_t)i * C + c) * dim;
            for (size_t j = 0; j < dim; j++) o[j] += s[j];
        }
    }
}

/* ---- PGD ------------------------------------------------------------------------ */

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static double l2_norm(const float *v, size_t n)
{
    double s = 0;
    for (size_t j = 0; j < n; j++) s += (double)v[j] * v[j];
    return sqrt(s);
}

/* cur <- the point of the ball ||cur - x|| <= e nearest to cur (the L2 radius shrunk by a
 * relative 1e-6 so that float rounding cannot leave the ball), then clipped to [-1, 1]. */
static void project(float *cur, const float *x, size_t dim, jp_pgd_norm norm, float e)
{
    if (norm == JP_PGD_LINF) {
        for (size_t j = 0; j < dim; j++) cur[j] = clampf(clampf(cur[j], x[j] - e, x[j] + e), -1.0f, 1.0f);
        return;
    }
    double s = 0;
    for (size_t j = 0; j < dim; j++) s += ((double)cur[j] - x[j]) * ((double)cur[j] - x[j]);
    double nrm = sqrt(s);
    if (nrm > (double)e * (1.0 - 1e-6)) {
        double f = (double)e * (1.0 - 1e-6) / nrm;
        for (size_t j = 0; j < dim; j++) cur[j] = (float)(x[j] + ((double)cur[j] - x[j]) * f);
    }
    for (size_t j = 0; j < dim; j++) cur[j] = clampf(cur[j], -1.0f, 1.0f);
}

/* A random start inside the ball around x: L-inf U(-e, e) per value; L2 a uniform
 * direction (normalised Gaussian) at radius e u^(1/D), uniform in the ball. */
static void random_start(jp_attacker *a, float *cur, const float *x, size_t dim, jp_pgd_norm norm, float e)
{
    if (norm == JP_PGD_LINF) {
        for (size_t j = 0; j < dim; j++) cur[j] = x[j] + (float)((2.0 * jp_rng_uniform(&a->rng) - 1.0) * e);
    } else {
        jp_rng_fill_normal(&a->rng, cur, dim, 0.0f, 1.0f);
        double nrm = l2_norm(cur, dim), r = e * pow(jp_rng_uniform(&a->rng), 1.0 / (double)dim);
        double f = nrm > 0 ? r / nrm : 0.0;
        for (size_t j = 0; j < dim; j++) cur[j] = (float)(x[j] + cur[j] * f);
    }
    project(cur, x, dim, norm, e);
}

static int argmax_row(const float *l, int K)
{
    int arg = 0;
    for (int k = 1; k < K; k++)
        if (l[k] > l[arg]) arg = k;
    return arg;
}

static jp_status check_pgd(const jp_attacker *a, const jp_pgd_config *c, int n, jp_error *err)
{
    if (n < 0 || n > a->batch)
        return jp_fail(err, JP_ERR_ARG, "PGD on %d images: at most %d per call", n, a->batch);
    if (!(c->eps >= 0) || !isfinite(c->eps) || !isfinite(c->step) || c->n_iter < 0 || c->restarts < 1)
        return jp_fail(err, JP_ERR_ARG, "PGD: eps %g, step %g, %d iterations, %d restarts (need eps >= 0, finite "
                       "step, iterations >= 0, restarts >= 1)", c->eps, c->step, c->n_iter, c->restarts);
    return JP_OK;
}

jp_status jp_pgd(jp_attacker *a, const jp_pgd_config *c, const float *x, const int *y, int n, float *x_adv,
                 int *broken, jp_error *err)
{
    jp_status st = check_pgd(a, c, n, err);
    if (st) return st;
    size_t dim = (size_t)a->dim;
    int K = a->K;
    float e = (float)(2.0 * c->eps), step = (float)(2.0 * (c->step > 0 ? c->step : c->eps / 4.0));
    for (int i = 0; i < n; i++) {
        broken[i] = 0;
        a->loss_best[i] = -INFINITY;
        memcpy(x_adv + i * dim, x + i * dim, dim * sizeof(float));
    }
    for (int r = 0; r < c->restarts; r++) {
        int left = 0;
        for (int i = 0; i < n; i++) left += !broken[i];
        if (!left) break; /* every image already broken: more restarts change nothing */
        for (int i = 0; i < n; i++) {
            if (c->random_start && e > 0) random_start(a, a->cur + i * dim, x + i * dim, dim, c->norm, e);
            else memcpy(a->cur + i * dim, x + i * dim, dim * sizeof(float));
        }
        for (int t = 0; t < c->n_iter && e > 0; t++) {
            jp_attacker_grad(a, a->g, a->logits, a->cur, y, n);
            for (int i = 0; i < n; i++) {
                float *v = a->cur + i * dim;
                const float *g = a->g + i * dim;
                if (c->norm == JP_PGD_LINF) {
                    for (size_t j = 0; j < dim; j++) v[j] += step * (float)((g[j] > 0) - (g[j] < 0));
                } else {
                    double gn = l2_norm(g, dim);
                    if (gn > 0)
                        for (size_t j = 0; j < dim; j++) v[j] += (float)(step * g[j] / gn);
                }
                project(v, x + i * dim, dim, c->norm, e);
            }
        }
        jp_attacker_logits(a, a->logits, a->cur, n);
        for (int i = 0; i < n; i++) {
            if (broken[i]) continue;
            const float *l = a->logits + (size_t)i * K;
            double loss = ce_row(l, y[i], K, NULL);
            int wrong = argmax_row(l, K) != y[i];
            if (wrong || loss > a->loss_best[i]) {
                broken[i] = wrong;
                a->loss_best[i] = (float)loss;
                memcpy(x_adv + i * dim, a->cur + i * dim, dim * sizeof(float));
            }
        }
    }
    return JP_OK;
}

/* ||x_adv - x|| in the attack's norm, pixel units */
static double pixel_norm(const float *xa, const float *x, size_t dim, jp_pgd_norm norm)
{
    double s = 0;
    for (size_t j = 0; j < dim; j++) {
        double d = fabs((double)xa[j] - x[j]);
        if (norm == JP_PGD_LINF) s = d > s ? d : s;
        else s += d * d;
    }
    return (norm == JP_PGD_LINF ? s : sqrt(s)) / 2.0;
}

jp_status jp_robust_accuracy(jp_attacker *a, const jp_pgd_config *base, const jp_dataset *ds, int n,
                             jp_robust_point *pts, int n_eps, double *clean_acc, jp_error *err)
{
    if (n < 1 || n > ds->n)
        return jp_fail(err, JP_ERR_ARG, "robust accuracy over %d images of '%s' (%d images)", n, ds->name, ds->n);
    size_t dim = (size_t)a->dim;
    if (jp_dataset_dim(ds) != dim)
        return jp_fail(err, JP_ERR_SHAPE, "data set '%s' has %zu values per image, the model %zu", ds->name,
                       jp_dataset_dim(ds), dim);
    int bs = a->batch, K = a->K;
    int *correct = malloc((size_t)n * sizeof(int)), *broken = malloc((size_t)bs * sizeof(int));
    float *x_adv = jp_alloc((size_t)bs * dim * sizeof(float));
    jp_status st = JP_OK;
    if (!correct || !broken || !x_adv) {
        st = jp_fail(err, JP_ERR_NOMEM, "robust accuracy buffers");
        goto done;
    }
    int n_ok = 0;
    for (int at = 0; at < n; at += bs) {
        int nb = n - at < bs ? n - at : bs;
        jp_attacker_logits(a, a->logits, ds->x + (size_t)at * dim, nb);
        for (int i = 0; i < nb; i++) {
            correct[at + i] = argmax_row(a->logits + (size_t)i * K, K) == ds->y[at + i];
            n_ok += correct[at + i];
        }
    }
    *clean_acc = (double)n_ok / n;
    for (int e = 0; e < n_eps && !st; e++) {
        jp_pgd_config c = *base;
        c.eps = pts[e].eps;
        pts[e].n = n;
        pts[e].max_norm = 0;
        if (c.eps == 0) {
            pts[e].acc = *clean_acc;
            continue;
        }
        int robust = 0;
        for (int at = 0; at < n && !st; at += bs) {
            int nb = n - at < bs ? n - at : bs;
            const float *x = ds->x + (size_t)at * dim;
            st = jp_pgd(a, &c, x, ds->y + at, nb, x_adv, broken, err);
            for (int i = 0; i < nb && !st; i++) {
                robust += correct[at + i] && !broken[i];
                double d = pixel_norm(x_adv + i * dim, x + i * dim, dim, c.norm);
                if (d > pts[e].max_norm) pts[e].max_norm = d;
            }
        }
        pts[e].acc = (double)robust / n;
    }
done:
    free(correct);
    free(broken);
    jp_free(x_adv);
    return st;
}
