/* jempp eval --mode samples as a library function: chains from scratch (unconditional
 * and one grid row per class, jp_chains_run), their mean energy over the steps, an
 * animation of a run as numbered PNG frames, and the replay buffer (as stored, and
 * sorted by predicted class); samples.json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_out.h"
#include "jempp/plot.h"
#include "jempp/png.h"

void jp_samples_opts_defaults(jp_samples_opts *o)
{
    memset(o, 0, sizeof *o);
    jp_eval_chains_opts_defaults(&o->chains);
    o->n_samples = 100;
    o->per_class = 10;
    o->frames = 20;
}

void jp_samples_result_free(jp_samples_result *r)
{
    free(r->energy_uncond);
    free(r->energy_cond);
    jp_free(r->x_uncond);
    jp_free(r->x_cond);
    free(r->buffer_counts);
    memset(r, 0, sizeof *r);
}

/* Classifies the replay buffer; per predicted class the per_class most confident
 * images (max softmax) as one grid row (black where a class has fewer) written to path
 * when path is not NULL; counts (K) of predictions and their mean energy. */
static jp_status buffer_by_class(const jp_eval_target *t, const char *path, int per_class, int *counts,
                                 double *mean_energy, jp_rng *rng, jp_error *err)
{
    const jp_wrn_config *cfg = jp_wrn_config_of(t->model);
    int n = t->buffer_n, K = cfg->n_classes, C = cfg->in_channels, H = cfg->image_size, dim = C * H * H;
    float *logits = malloc((size_t)n * K * sizeof(float));
    float *grid = malloc((size_t)K * per_class * dim * sizeof(float));
    double *best = malloc((size_t)K * per_class * sizeof(double));
    int *who = malloc((size_t)K * per_class * sizeof(int));
    jp_status st = JP_OK;
    if (!logits || !grid || !best || !who) {
        st = jp_fail(err, JP_ERR_NOMEM, "buffer classification");
        goto done;
    }
    st = jp_eval_logits(t->model, t->buffer, n, NULL, logits, NULL, rng, err);
    if (st) goto done;
    for (int i = 0; i < K * per_class; i++) best[i] = -1, who[i] = -1;
    memset(counts, 0, (size_t)K * sizeof(int));
    double e = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        int p;
        double conf;
        e -= ev_lse(l, K, &p, &conf); /* E = -LSE */
        counts[p]++;
        /* insertion into the class's top list, most confident first */
        double *b = best + (size_t)p * per_class;
        int *wh = who + (size_t)p * per_class, j = per_class - 1;
        if (conf <= b[j]) continue;
        while (j > 0 && conf > b[j - 1]) {
            b[j] = b[j - 1];
            wh[j] = wh[j - 1];
            j--;
        }
        b[j] = conf;
        wh[j] = i;
    }
    *mean_energy = e / n;
    for (int i = 0; i < K * per_class; i++) {
        float *dst = grid + (size_t)i * dim;
        if (who[i] < 0)
            for (int j = 0; j < dim; j++) dst[j] = -1.0f;
        else memcpy(dst, t->buffer + (size_t)who[i] * dim, (size_t)dim * sizeof(float));
    }
    if (path) st = jp_png_write_grid(path, grid, K * per_class, C, H, H, per_class, err);
done:
    free(logits);
    free(grid);
    free(best);
    free(who);
    return st;
}


static void json_array(jp_jw *w, const char *key, const double *v, int n)
{
    jp_jw_key(w, key);
    jp_jw_begin_array(w);
    for (int i = 0; i < n; i++) jp_jw_double(w, v[i]);
    jp_jw_end_array(w);
}

static jp_status write_json(const jp_eval_target *t, const jp_samples_opts *o, const jp_sampler_config *sc,
                            const jp_samples_result *r, jp_error *err)
{
    static const char *samplers[] = {"pyld", "sgld", "proximal"};
    int S = r->n_steps;
    jp_jw w;
    ev_json_begin(t, &w, "samples");
    jp_jw_key(&w, "sampler");
    jp_jw_string(&w, samplers[sc->kind]);
    jp_jw_key(&w, "n_steps");
    jp_jw_int(&w, S);
    jp_jw_key(&w, "in_steps");
    jp_jw_int(&w, sc->in_steps);
    jp_jw_key(&w, "init");
    jp_jw_string(&w, o->chains.informative ? "informative" : "uniform");
    jp_jw_key(&w, "train_mode_sampling");
    jp_jw_bool(&w, sc->train_mode);
    jp_jw_key(&w, "n_unconditional");
    jp_jw_int(&w, o->n_samples);
    jp_jw_key(&w, "per_class");
    jp_jw_int(&w, o->per_class);
    jp_jw_key(&w, "energy_note");
    jp_jw_string(&w, "mean -logsumexp f(x) over the chains before each step (from the sampler's own pass) and, "
                     "last, of the final samples in eval mode");
    json_array(&w, "energy_unconditional", r->energy_uncond, S + 1);
    json_array(&w, "energy_conditional", r->energy_cond, S + 1);
    jp_jw_key(&w, "animation_frames");
    jp_jw_int(&w, o->frames);
    jp_jw_key(&w, "replay_buffer");
    if (r->has_buffer) {
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "n");
        jp_jw_int(&w, t->buffer_n);
        jp_jw_key(&w, "mean_energy");
        jp_jw_double(&w, r->buffer_energy);
        jp_jw_key(&w, "predicted_class_counts");
        jp_jw_begin_array(&w);
        for (int k = 0; k < r->n_classes; k++) jp_jw_int(&w, r->buffer_counts[k]);
        jp_jw_end_array(&w);
        jp_jw_end_object(&w);
    } else {
        jp_jw_null(&w);
    }
    return ev_json_save(t, &w, "samples.json", err);
}

jp_status jp_eval_samples(const jp_eval_target *t, const jp_samples_opts *o, jp_samples_result *r, jp_error *err)
{
    memset(r, 0, sizeof *r);
    if (o->n_samples < 1 || o->per_class < 1 || o->frames < 0 || o->chains.sampler.n_steps < 0)
        return jp_fail(err, JP_ERR_ARG, "--n_samples %d / --per_class %d / --frames %d / --n_sample_steps %d: need "
                       ">= 1, >= 1, >= 0, >= 0", o->n_samples, o->per_class, o->frames, o->chains.sampler.n_steps);
    ev_chains ch;
    jp_status st = ev_chains_init(&ch, t, &o->chains, err);
    if (st) {
        ev_chains_free(&ch);
        return st;
    }
    const jp_wrn_config *cfg = jp_wrn_config_of(t->model);
    int S = ch.ch.sc.n_steps, K = cfg->n_classes, C = cfg->in_channels, H = cfg->image_size, dim = ch.dim;
    int nc = K * o->per_class;
    r->n_steps = S;
    r->n_uncond = o->n_samples;
    r->n_cond = nc;
    r->n_classes = K;
    r->x_uncond = jp_alloc((size_t)o->n_samples * dim * sizeof(float));
    r->x_cond = jp_alloc((size_t)nc * dim * sizeof(float));
    r->energy_uncond = malloc((size_t)(S + 1) * sizeof(double));
    r->energy_cond = malloc((size_t)(S + 1) * sizeof(double));
    r->buffer_counts = calloc((size_t)K, sizeof(int));
    int *y = malloc((size_t)nc * sizeof(int));
    char path[1100], anim[1100];
    if (!r->x_uncond || !r->x_cond || !r->energy_uncond || !r->energy_cond || !r->buffer_counts || !y)
        st = jp_fail(err, JP_ERR_NOMEM, "sample buffers");
    int frames = t->out ? o->frames : 0;
    if (!st && frames > 0) st = jp_mkdirs(ev_path(t, anim, sizeof anim, "animation"), err);
    jp_rng rng;
    jp_rng_seed(&rng, t->seed);
    if (!st) {
        ev_log(t, "%d unconditional chains from scratch, %d steps\n", o->n_samples, S);
        st = jp_chains_run(t->model, &ch.ch, r->x_uncond, NULL, o->n_samples, &rng, r->energy_uncond,
                           frames > 0 ? anim : NULL, frames, err);
    }
    if (!st && t->out)
        st = jp_png_write_grid(ev_path(t, path, sizeof path, "samples_uncond.png"), r->x_uncond, o->n_samples, C, H, H,
                               (int)ceil(sqrt((double)o->n_samples)), err);
    if (!st) {
        for (int i = 0; i < nc; i++) y[i] = i / o->per_class;
        ev_log(t, "%d class-conditional chains (%d per class)\n", nc, o->per_class);
        st = jp_chains_run(t->model, &ch.ch, r->x_cond, y, nc, &rng, r->energy_cond, NULL, 0, err);
    }
    if (!st && t->out)
        st = jp_png_write_grid(ev_path(t, path, sizeof path, "samples_cond.png"), r->x_cond, nc, C, H, H, o->per_class,
                               err);
    if (!st && t->out) {
        jp_series s[2] = {{"unconditional", NULL, r->energy_uncond, S + 1},
                          {"class-conditional", NULL, r->energy_cond, S + 1}};
        jp_plot_opts po = {"mean energy -logsumexp f(x) of the chains", "sampler step", "energy", 800, 520, 0, 0, 0};
        st = jp_plot_lines(ev_path(t, path, sizeof path, "energy.png"), &po, s, 2, err);
    }
    if (!st && t->buffer) {
        r->has_buffer = 1;
        int nb = t->buffer_n < 100 ? t->buffer_n : 100;
        if (t->out)
            st = jp_png_write_grid(ev_path(t, path, sizeof path, "buffer.png"), t->buffer, nb, C, H, H, 10, err);
        if (!st)
            st = buffer_by_class(t, t->out ? ev_path(t, path, sizeof path, "buffer_by_class.png") : NULL, o->per_class,
                                 r->buffer_counts, &r->buffer_energy, &rng, err);
    }
    if (!st && t->out) st = write_json(t, o, &ch.ch.sc, r, err);
    ev_chains_free(&ch);
    free(y);
    if (st) jp_samples_result_free(r);
    return st;
}
