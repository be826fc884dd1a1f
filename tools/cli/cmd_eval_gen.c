/* jempp eval --mode samples: chains from scratch (unconditional and one grid row per
 * class), the chains' energy over the steps, an animation of a run as numbered PNG
 * frames, and the checkpoint's replay buffer (as stored, and sorted by predicted class).
 * The chain runner is shared with the fid mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"
#include "jempp/ops.h"
#include "jempp/plot.h"
#include "jempp/png.h"

jp_status ev_chains_init(ev_chains *ch, ev_ctx *c, jp_error *err)
{
    const ev_opts *o = &c->o;
    memset(ch, 0, sizeof *ch);
    if (o->sampler == JP_SAMPLER_PYLD) jp_sampler_config_pyld(&ch->sc);
    else jp_sampler_config_sgld(&ch->sc);
    ch->sc.kind = (jp_sampler_kind)o->sampler;
    ch->sc.n_steps = o->n_sample_steps;
    ch->sc.in_steps = o->in_steps;
    ch->sc.pyld_lr = o->pyld_lr;
    ch->sc.eps = o->sampler_eps;
    if (o->sample_sgld_lr >= 0) ch->sc.sgld_lr = o->sample_sgld_lr;
    if (o->sample_sgld_std >= 0) ch->sc.sgld_std = o->sample_sgld_std;
    ch->sc.train_mode = o->train_mode_sampling;
    jp_status st = jp_sampler_config_check(&ch->sc, err);
    if (st) return st;
    ch->informative = o->init == 1;
    if (!ch->informative) return JP_OK;
    /* informative init: class Gaussians of the training images (cached as in training) */
    if (!c->data_open) {
        st = ev_open_data(c, 1, 1, err);
        if (st) return st;
    }
    char cache[1100];
    jp_gauss_stats_cache_path(cache, sizeof cache, &c->data, &c->data.train);
    ev_log(c, "informative init: class Gaussians of %s (cache %s)\n", c->data.train.name, cache);
    st = jp_gauss_stats_load_or_compute(&ch->gauss, &c->data.train, cache, err);
    if (!st) ch->have_gauss = 1;
    return st;
}

void ev_chains_free(ev_chains *ch)
{
    if (ch->have_gauss) jp_gauss_stats_free(&ch->gauss);
    memset(ch, 0, sizeof *ch);
}

static void chain_init(ev_chains *ch, const ev_ctx *c, float *x, int cls, jp_rng *rng)
{
    if (ch->informative) jp_gauss_stats_sample(&ch->gauss, x, NULL, 1, cls, rng);
    else jp_rng_fill_uniform(rng, x, (size_t)c->dim, -1.0f, 1.0f);
}

static jp_status write_frame(const ev_ctx *c, const char *dir, int k, const float *x, int n, jp_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/frame_%04d.png", dir, k);
    int cols = (int)ceil(sqrt((double)n));
    return jp_png_write_grid(path, x, n, c->C, c->H, c->W, cols, err);
}

jp_status ev_chains_run(ev_chains *ch, ev_ctx *c, float *x, const int *y, int n, double *trace, const char *frames_dir,
                        int n_frames, jp_error *err)
{
    int B = jp_wrn_batch(c->m), S = ch->sc.n_steps, dim = c->dim;
    jp_sampler_work sw;
    jp_status st = jp_sampler_work_init(&sw, c->m, err);
    if (st) return st;
    float *xb = jp_alloc((size_t)B * dim * sizeof(float)), *lse = jp_alloc((size_t)B * sizeof(float));
    float *logits = jp_alloc((size_t)B * c->K * sizeof(float));
    int *yb = jp_alloc((size_t)B * sizeof(int));
    double *tsum = calloc((size_t)S + 1, sizeof(double));
    float *saved_bn = NULL;
    int64_t *saved_cnt = NULL;
    if (!xb || !lse || !logits || !yb || !tsum) {
        st = jp_fail(err, JP_ERR_NOMEM, "sampling buffers");
        goto done;
    }
    jp_sampler_config one = ch->sc;
    one.n_steps = 1;
    /* train-mode sampling updates the BN running statistics: keep the checkpoint's */
    size_t nbuf = jp_wrn_buffer_count(c->m), ncnt = jp_wrn_counter_count(c->m);
    saved_bn = ch->sc.train_mode ? malloc((nbuf + 1) * sizeof(float)) : NULL;
    saved_cnt = ch->sc.train_mode ? malloc((ncnt + 1) * sizeof(int64_t)) : NULL;
    if (ch->sc.train_mode && (!saved_bn || !saved_cnt)) {
        st = jp_fail(err, JP_ERR_NOMEM, "BN statistics copy");
        goto done;
    }
    if (saved_bn) {
        memcpy(saved_bn, jp_wrn_buffers(c->m), nbuf * sizeof(float));
        memcpy(saved_cnt, jp_wrn_counters(c->m), ncnt * sizeof(int64_t));
    }
    for (int at = 0; at < n && !st; at += B) {
        int nb = n - at < B ? n - at : B;
        /* train-mode BN needs full batches: pad with extra chains that are dropped */
        int nrun = ch->sc.train_mode ? B : nb;
        for (int i = 0; i < nrun; i++) {
            yb[i] = y ? y[at + i % nb] : -1;
            chain_init(ch, c, xb + (size_t)i * dim, yb[i], &c->rng);
        }
        int nshow = nb < 64 ? nb : 64, frame = 0;
        for (int s = 0; s <= S && !st; s++) {
            /* frame k shows step round(k S / (F - 1)) */
            while (frames_dir && at == 0 && frame < n_frames &&
                   (n_frames == 1 ? S : (int)lround((double)frame * S / (n_frames - 1))) == s && !st)
                st = write_frame(c, frames_dir, frame++, xb, nshow, err);
            if (s == S) break;
            double m = jp_sample(c->m, &sw, &one, xb, y ? yb : NULL, nrun, &c->rng);
            tsum[s] += m * nb;
        }
        if (saved_bn) { /* back to the checkpoint's statistics before any eval-mode pass */
            memcpy(jp_wrn_buffers(c->m), saved_bn, nbuf * sizeof(float));
            memcpy(jp_wrn_counters(c->m), saved_cnt, ncnt * sizeof(int64_t));
        }
        /* the final state's energy, eval mode */
        jp_wrn_forward(c->m, logits, xb, nb, 0);
        jp_wrn_log_px(c->m, logits, lse, nb);
        for (int i = 0; i < nb; i++) tsum[S] += lse[i];
        memcpy(x + (size_t)at * dim, xb, (size_t)nb * dim * sizeof(float));
        if (n > B) ev_log(c, "  chains %d/%d\n", at + nb, n);
    }
    if (trace)
        for (int s = 0; s <= S; s++) trace[s] = -tsum[s] / n; /* energy = -LSE */
done:
    free(saved_bn);
    free(saved_cnt);
    jp_sampler_work_free(&sw);
    jp_free(xb);
    jp_free(lse);
    jp_free(logits);
    jp_free(yb);
    free(tsum);
    return st;
}

/* ---- the samples mode ----------------------------------------------------------- */

static void json_array(jp_jw *w, const char *key, const double *v, int n)
{
    jp_jw_key(w, key);
    jp_jw_begin_array(w);
    for (int i = 0; i < n; i++) jp_jw_double(w, v[i]);
    jp_jw_end_array(w);
}

/* Classifies the buffer; per predicted class the per_class most confident images as one
 * grid row (black where a class has fewer); counts (K) of predictions. */
static jp_status buffer_by_class(ev_ctx *c, const char *path, int per_class, int *counts, double *mean_energy,
                                 jp_error *err)
{
    int n = c->buffer_n, K = c->K;
    float *logits = malloc((size_t)n * K * sizeof(float));
    float *grid = malloc((size_t)K * per_class * c->dim * sizeof(float));
    double *best = malloc((size_t)K * per_class * sizeof(double));
    int *who = malloc((size_t)K * per_class * sizeof(int));
    jp_status st = JP_OK;
    if (!logits || !grid || !best || !who) {
        st = jp_fail(err, JP_ERR_NOMEM, "buffer classification");
        goto done;
    }
    st = jp_eval_logits(c->m, c->buffer, n, NULL, logits, NULL, &c->rng, err);
    if (st) goto done;
    for (int i = 0; i < K * per_class; i++) best[i] = -1, who[i] = -1;
    memset(counts, 0, (size_t)K * sizeof(int));
    double e = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        int p = ev_argmax(l, K);
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)l[k] - l[p]);
        double conf = 1.0 / s;
        e -= l[p] + log(s);
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
        float *dst = grid + (size_t)i * c->dim;
        if (who[i] < 0)
            for (int j = 0; j < c->dim; j++) dst[j] = -1.0f;
        else memcpy(dst, c->buffer + (size_t)who[i] * c->dim, (size_t)c->dim * sizeof(float));
    }
    st = jp_png_write_grid(path, grid, K * per_class, c->C, c->H, c->W, per_class, err);
done:
    free(logits);
    free(grid);
    free(best);
    free(who);
    return st;
}

jp_status ev_samples(ev_ctx *c, jp_error *err)
{
    const ev_opts *o = &c->o;
    if (o->n_samples < 1 || o->per_class < 1 || o->frames < 0 || o->n_sample_steps < 0)
        return jp_fail(err, JP_ERR_ARG, "--n_samples %d / --per_class %d / --frames %d / --n_sample_steps %d: need "
                       ">= 1, >= 1, >= 0, >= 0", o->n_samples, o->per_class, o->frames, o->n_sample_steps);
    ev_chains ch;
    jp_status st = ev_chains_init(&ch, c, err);
    if (st) {
        ev_chains_free(&ch);
        return st;
    }
    int S = ch.sc.n_steps, K = c->K, nc = K * o->per_class;
    int nmax = o->n_samples > nc ? o->n_samples : nc;
    float *x = jp_alloc((size_t)nmax * c->dim * sizeof(float));
    double *tu = malloc((size_t)(S + 1) * sizeof(double)), *tc = malloc((size_t)(S + 1) * sizeof(double));
    int *y = malloc((size_t)nc * sizeof(int)), *counts = calloc((size_t)K, sizeof(int));
    char path[1100], anim[1100];
    if (!x || !tu || !tc || !y || !counts) st = jp_fail(err, JP_ERR_NOMEM, "sample buffers");
    if (!st && o->frames > 0) st = jp_mkdirs(ev_path(c, anim, sizeof anim, "animation"), err);
    if (!st) {
        ev_log(c, "%d unconditional chains from scratch, %d steps\n", o->n_samples, S);
        st = ev_chains_run(&ch, c, x, NULL, o->n_samples, tu, o->frames > 0 ? anim : NULL, o->frames, err);
    }
    if (!st)
        st = jp_png_write_grid(ev_path(c, path, sizeof path, "samples_uncond.png"), x, o->n_samples, c->C, c->H, c->W,
                               (int)ceil(sqrt((double)o->n_samples)), err);
    if (!st) {
        for (int i = 0; i < nc; i++) y[i] = i / o->per_class;
        ev_log(c, "%d class-conditional chains (%d per class)\n", nc, o->per_class);
        st = ev_chains_run(&ch, c, x, y, nc, tc, NULL, 0, err);
    }
    if (!st)
        st = jp_png_write_grid(ev_path(c, path, sizeof path, "samples_cond.png"), x, nc, c->C, c->H, c->W, o->per_class,
                               err);
    if (!st) {
        jp_series s[2] = {{"unconditional", NULL, tu, S + 1}, {"class-conditional", NULL, tc, S + 1}};
        jp_plot_opts po = {"mean energy -logsumexp f(x) of the chains", "sampler step", "energy", 800, 520, 0, 0, 0};
        st = jp_plot_lines(ev_path(c, path, sizeof path, "energy.png"), &po, s, 2, err);
    }
    double buf_energy = 0;
    if (!st && c->buffer) {
        int nb = c->buffer_n < 100 ? c->buffer_n : 100;
        st = jp_png_write_grid(ev_path(c, path, sizeof path, "buffer.png"), c->buffer, nb, c->C, c->H, c->W, 10, err);
        if (!st)
            st = buffer_by_class(c, ev_path(c, path, sizeof path, "buffer_by_class.png"), o->per_class, counts,
                                 &buf_energy, err);
    }
    if (!st) {
        static const char *samplers[] = {"pyld", "sgld", "proximal"};
        jp_jw w;
        ev_json_begin(c, &w, "samples");
        jp_jw_key(&w, "sampler");
        jp_jw_string(&w, samplers[ch.sc.kind]);
        jp_jw_key(&w, "n_steps");
        jp_jw_int(&w, S);
        jp_jw_key(&w, "in_steps");
        jp_jw_int(&w, ch.sc.in_steps);
        jp_jw_key(&w, "init");
        jp_jw_string(&w, ch.informative ? "informative" : "uniform");
        jp_jw_key(&w, "train_mode_sampling");
        jp_jw_bool(&w, ch.sc.train_mode);
        jp_jw_key(&w, "n_unconditional");
        jp_jw_int(&w, o->n_samples);
        jp_jw_key(&w, "per_class");
        jp_jw_int(&w, o->per_class);
        jp_jw_key(&w, "energy_note");
        jp_jw_string(&w, "mean -logsumexp f(x) over the chains before each step (from the sampler's own pass) and, "
                         "last, of the final samples in eval mode");
        json_array(&w, "energy_unconditional", tu, S + 1);
        json_array(&w, "energy_conditional", tc, S + 1);
        jp_jw_key(&w, "animation_frames");
        jp_jw_int(&w, o->frames);
        jp_jw_key(&w, "replay_buffer");
        if (c->buffer) {
            jp_jw_begin_object(&w);
            jp_jw_key(&w, "n");
            jp_jw_int(&w, c->buffer_n);
            jp_jw_key(&w, "mean_energy");
            jp_jw_double(&w, buf_energy);
            jp_jw_key(&w, "predicted_class_counts");
            jp_jw_begin_array(&w);
            for (int k = 0; k < K; k++) jp_jw_int(&w, counts[k]);
            jp_jw_end_array(&w);
            jp_jw_end_object(&w);
        } else {
            jp_jw_null(&w);
        }
        st = ev_json_save(c, &w, "samples.json", err);
    }
    if (!st)
        printf("samples: energy %.4f -> %.4f (unconditional), %.4f -> %.4f (conditional) over %d steps%s\n", tu[0],
               tu[S], tc[0], tc[S], S,
               c->buffer ? "; replay buffer grids written" : "; no replay buffer in the checkpoint");
    ev_chains_free(&ch);
    jp_free(x);
    free(tu);
    free(tc);
    free(y);
    free(counts);
    return st;
}
