/* Logits, features and OOD scores of a model over sets of images; the built-in
 * distribution-shifted sets. */
#include "jempp/ood.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ebm.h"
#include "jempp/ops.h"
#include "nn/wrn_internal.h"

jp_status jp_model_fits(const jp_wrn *m, const char *ckpt_name, const jp_dataset *ds, int need_labels,
                        jp_error *err)
{
    const jp_wrn_config *c = jp_wrn_config_of(m);
    if (ds->n < 1) return jp_fail(err, JP_ERR_ARG, "data set '%s' is empty: nothing to evaluate", ds->name);
    if (ds->c != c->in_channels || ds->h != c->image_size || ds->w != c->image_size)
        return jp_fail(err, JP_ERR_SHAPE, "checkpoint %s expects %dx%dx%d images (channels x height x width), "
                       "data set '%s' has %dx%dx%d", ckpt_name, c->in_channels, c->image_size, c->image_size,
                       ds->name, ds->c, ds->h, ds->w);
    if (need_labels && ds->n_classes != c->n_classes)
        return jp_fail(err, JP_ERR_SHAPE, "checkpoint %s classifies %d classes, data set '%s' has %d", ckpt_name,
                       c->n_classes, ds->name, ds->n_classes);
    return JP_OK;
}

void jp_input_opts_defaults(jp_input_opts *o)
{
    o->sigma = 0.0f;
    o->n_steps = 0;
    o->sgld_lr = 1.0f;
    o->sgld_std = 0.01f;
}

/* Scratch for batches of the model's size: host arrays and, for a model on a device,
 * their device copies (d_*: the host arrays themselves on the CPU). */
typedef struct {
    int B, K, dim;
    const jp_device *dev;
    float *x, *logits, *dx, *lse;
    float *d_x, *d_logits, *d_dx, *d_lse;
} batch_work;

static void work_free(batch_work *w)
{
    if (w->dev) {
        jp_dev_twin_free(w->dev, w->x, w->d_x);
        jp_dev_twin_free(w->dev, w->logits, w->d_logits);
        jp_dev_twin_free(w->dev, w->dx, w->d_dx);
        jp_dev_twin_free(w->dev, w->lse, w->d_lse);
    }
    jp_free(w->x);
    jp_free(w->logits);
    jp_free(w->dx);
    jp_free(w->lse);
    memset(w, 0, sizeof *w);
}


static jp_status work_init(batch_work *w, const jp_wrn *m, int grads, jp_error *err)
{
    const jp_wrn_config *c = jp_wrn_config_of(m);
    memset(w, 0, sizeof *w);
    w->B = jp_wrn_batch(m);
    w->K = c->n_classes;
    w->dim = c->in_channels * c->image_size * c->image_size;
    w->dev = jp_wrn_dev(m);
    size_t bd = (size_t)w->B * w->dim, bk = (size_t)w->B * w->K;
    w->x = jp_alloc(bd * sizeof(float));
    w->logits = jp_alloc(bk * sizeof(float));
    w->lse = jp_alloc((size_t)w->B * sizeof(float));
    if (grads) w->dx = jp_alloc(bd * sizeof(float));
    w->d_x = jp_dev_twin(w->dev, w->x, bd * sizeof(float));
    w->d_logits = jp_dev_twin(w->dev, w->logits, bk * sizeof(float));
    w->d_lse = jp_dev_twin(w->dev, w->lse, (size_t)w->B * sizeof(float));
    w->d_dx = jp_dev_twin(w->dev, w->dx, bd * sizeof(float));
    if (!w->x || !w->logits || !w->lse || (grads && !w->dx) || !w->d_x || !w->d_logits || !w->d_lse ||
        (grads && !w->d_dx)) {
        work_free(w);
        return jp_fail(err, JP_ERR_NOMEM, "evaluation batch buffers (batch %d)", w->B);
    }
    return JP_OK;
}

/* w->x = x + sigma N(0, 1) for the batch of nb images, and on the device */
static void load_batch(batch_work *w, const float *x, int nb, float sigma, jp_rng *rng)
{
    size_t cnt = (size_t)nb * w->dim;
    memcpy(w->x, x, cnt * sizeof(float));
    if (sigma > 0) {
        for (size_t i = 0; i < cnt; i++) w->x[i] += sigma * (float)jp_rng_normal(rng);
    }
    jp_dev_upload(w->dev, w->d_x, w->x, cnt * sizeof(float));
}

jp_status jp_eval_logits(jp_wrn *m, const float *x, int n, const jp_input_opts *o, float *logits, float *log_px,
                         jp_rng *rng, jp_error *err)
{
    jp_input_opts plain;
    jp_input_opts_defaults(&plain);
    if (!o) o = &plain;
    if (o->n_steps < 0 || !(o->sigma >= 0) || !isfinite(o->sgld_lr) || !(o->sgld_std >= 0))
        return jp_fail(err, JP_ERR_ARG, "input preparation: sigma %g, n_steps %d, sgld_lr %g, sgld_std %g (need "
                       "sigma >= 0, n_steps >= 0, finite step, std >= 0)", (double)o->sigma, o->n_steps,
                       (double)o->sgld_lr, (double)o->sgld_std);
    batch_work w;
    jp_status st = work_init(&w, m, 0, err);
    if (st) return st;
    jp_sampler_work sw;
    jp_sampler_config sc;
    jp_sampler_config_sgld(&sc);
    sc.n_steps = o->n_steps;
    sc.sgld_lr = o->sgld_lr;
    sc.sgld_std = o->sgld_std;
    sc.train_mode = 0;
    sc.clamp = 0;
    if (o->n_steps > 0 && (st = jp_sampler_work_init(&sw, m, err))) {
        work_free(&w);
        return st;
    }
    for (int at = 0; at < n; at += w.B) {
        int nb = n - at < w.B ? n - at : w.B;
        load_batch(&w, x + (size_t)at * w.dim, nb, o->sigma, rng);
        if (o->n_steps > 0) jp_sample(m, &sw, &sc, w.d_x, NULL, nb, rng);
        jp_wrn_forward(m, w.d_logits, w.d_x, nb, 0);
        jp_dev_download(w.dev, logits + (size_t)at * w.K, w.d_logits, (size_t)nb * w.K * sizeof(float));
        if (log_px) {
            jp_wrn_log_px(m, w.d_logits, w.d_lse, nb);
            jp_dev_download(w.dev, log_px + at, w.d_lse, (size_t)nb * sizeof(float));
        }
    }
    if (o->n_steps > 0) jp_sampler_work_free(&sw);
    work_free(&w);
    return JP_OK;
}

jp_status jp_eval_features(jp_wrn *m, const float *x, int n, float *feats, jp_error *err)
{
    batch_work w;
    jp_status st = work_init(&w, m, 0, err);
    if (st) return st;
    int F = jp_wrn_feature_dim(m);
    for (int at = 0; at < n; at += w.B) {
        int nb = n - at < w.B ? n - at : w.B;
        load_batch(&w, x + (size_t)at * w.dim, nb, 0.0f, NULL);
        jp_wrn_forward(m, w.d_logits, w.d_x, nb, 0);
        jp_dev_download(w.dev, feats + (size_t)at * F, jp_wrn_features(m), (size_t)nb * F * sizeof(float));
    }
    work_free(&w);
    return JP_OK;
}

const char *jp_score_name(jp_score_kind k)
{
    static const char *names[JP_N_SCORES] = {"px", "py", "pxgrad"};
    return k >= 0 && k < JP_N_SCORES ? names[k] : "?";
}

jp_status jp_ood_scores(jp_wrn *m, const float *x, int n, float sigma, double *px, double *py, double *pxgrad,
                        jp_rng *rng, jp_error *err)
{
    batch_work w;
    jp_status st = work_init(&w, m, pxgrad != NULL, err);
    if (st) return st;
    int K = w.K;
    for (int at = 0; at < n; at += w.B) {
        int nb = n - at < w.B ? n - at : w.B;
        load_batch(&w, x + (size_t)at * w.dim, nb, sigma, rng);
        jp_wrn_forward(m, w.d_logits, w.d_x, nb, 0);
        jp_dev_download(w.dev, w.logits, w.d_logits, (size_t)nb * K * sizeof(float));
        jp_logsumexp_forward(w.lse, w.logits, nb, K);
        for (int i = 0; i < nb; i++) {
            const float *l = w.logits + (size_t)i * K;
            float mx = l[0];
            for (int k = 1; k < K; k++) mx = l[k] > mx ? l[k] : mx;
            /* max softmax = exp(max logit - LSE) */
            if (py) py[at + i] = exp((double)mx - (double)w.lse[i]);
        }
        /* px: the model's log p(x), LSE of the logits or an unconditional model's head */
        jp_wrn_log_px(m, w.d_logits, w.d_lse, nb);
        jp_dev_download(w.dev, w.lse, w.d_lse, (size_t)nb * sizeof(float));
        if (px)
            for (int i = 0; i < nb; i++) px[at + i] = w.lse[i];
        if (pxgrad) {
            /* backward of sum_i log p(x_i) gives grad_x per image */
            w.dev->ops->fill(w.dev->state, w.d_lse, 1.0f, (size_t)nb);
            jp_wrn_backward_log_px(m, w.d_logits, w.d_lse, NULL, w.d_dx, 0);
            jp_dev_download(w.dev, w.dx, w.d_dx, (size_t)nb * w.dim * sizeof(float));
            for (int i = 0; i < nb; i++) {
                const float *g = w.dx + (size_t)i * w.dim;
                double s = 0;
                for (int j = 0; j < w.dim; j++) s += (double)g[j] * g[j];
                pxgrad[at + i] = -sqrt(s);
            }
        }
    }
    work_free(&w);
    return JP_OK;
}

/* ---- shifted sets --------------------------------------------------------------- */

static const char *shift_names[JP_N_SHIFTS] = {"noise", "constant", "interp", "invert"};

const char *jp_shift_name(jp_shift_kind k) { return k >= 0 && k < JP_N_SHIFTS ? shift_names[k] : "?"; }

int jp_shift_parse(const char *s)
{
    for (int k = 0; k < JP_N_SHIFTS; k++)
        if (!strcmp(s, shift_names[k])) return k;
    return -1;
}

jp_status jp_shifted_set(jp_dataset *out, const jp_dataset *src, jp_shift_kind kind, int n, jp_rng *rng,
                         jp_error *err)
{
    memset(out, 0, sizeof *out);
    if (kind < 0 || kind >= JP_N_SHIFTS) return jp_fail(err, JP_ERR_ARG, "unknown shifted set %d", (int)kind);
    if (src->n < 1)
        return jp_fail(err, JP_ERR_ARG, "shifted set %s: source '%s' is empty", shift_names[kind], src->name);
    int paired = kind == JP_SHIFT_INTERP || kind == JP_SHIFT_INVERT;
    if (n < 1 || (paired && n > src->n))
        return jp_fail(err, JP_ERR_ARG, "shifted set %s of %d images from '%s' (%d images): need 1..%d",
                       shift_names[kind], n, src->name, src->n, paired ? src->n : 1 << 30);
    if (kind == JP_SHIFT_INTERP && src->n < 2)
        return jp_fail(err, JP_ERR_ARG, "interpolations need at least 2 source images ('%s' has 1)", src->name);
    int *idx = malloc((size_t)n * sizeof(int));
    if (!idx) return jp_fail(err, JP_ERR_NOMEM, "shifted set indices");
    for (int k = 0; k < n; k++) idx[k] = k % src->n;
    char name[JP_DATA_NAME_MAX];
    snprintf(name, sizeof name, "%s(%.48s)", shift_names[kind], src->name);
    jp_status st = jp_dataset_subset(out, src, idx, n, name, err);
    free(idx);
    if (st) return st;
    size_t dim = jp_dataset_dim(src);
    for (int k = 0; k < n; k++) {
        float *x = out->x + (size_t)k * dim;
        switch (kind) {
        case JP_SHIFT_NOISE:
            jp_rng_fill_uniform(rng, x, dim, -1.0f, 1.0f);
            break;
        case JP_SHIFT_CONSTANT: {
            float v = (float)(2.0 * jp_rng_uniform(rng) - 1.0);
            for (size_t j = 0; j < dim; j++) x[j] = v;
            break;
        }
        case JP_SHIFT_INTERP: {
            /* partner j uniform over the other images: draw from n-1 and skip k's own */
            int i = k % src->n, j = (int)jp_rng_below(rng, (uint64_t)(src->n - 1));
            if (j >= i) j++;
            const float *b = src->x + (size_t)j * dim;
            for (size_t q = 0; q < dim; q++) x[q] = 0.5f * x[q] + 0.5f * b[q];
            break;
        }
        default:
            for (size_t j = 0; j < dim; j++) x[j] = -x[j];
            break;
        }
    }
    return JP_OK;
}
