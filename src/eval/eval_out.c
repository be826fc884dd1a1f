/* Helpers of the evaluation modes: progress, output files, the JSON head, chains. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_out.h"
#include "io/atomic_file.h"

jp_eval_target jp_eval_target_init(jp_wrn *m)
{
    jp_eval_target t;
    memset(&t, 0, sizeof t);
    t.model = m;
    t.ckpt = "";
    t.split_name = "test";
    t.dataset = "";
    t.n_valid = 5000;
    t.seed = 1;
    return t;
}

void ev_log(const jp_eval_target *t, const char *fmt, ...)
{
    if (t->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

const char *ev_path(const jp_eval_target *t, char *buf, size_t len, const char *file)
{
    snprintf(buf, len, "%s/%s", t->out, file);
    return buf;
}

int ev_count(const jp_eval_target *t, const jp_dataset *ds)
{
    return t->max_n > 0 && t->max_n < ds->n ? t->max_n : ds->n;
}

jp_status ev_split(const jp_eval_target *t, int need_labels, jp_error *err)
{
    if (!t->split) return jp_fail(err, JP_ERR_ARG, "no data set given to evaluate %s on", t->ckpt);
    return jp_model_fits(t->model, t->ckpt, t->split, need_labels, err);
}

jp_status ev_split_logits(const jp_eval_target *t, const jp_input_opts *in, float **logits, int *n, jp_error *err)
{
    *logits = NULL;
    jp_status st = ev_split(t, 1, err);
    if (st) return st;
    int K = jp_wrn_config_of(t->model)->n_classes;
    *n = ev_count(t, t->split);
    *logits = malloc((size_t)*n * (K + 1) * sizeof(float));
    if (!*logits) return jp_fail(err, JP_ERR_NOMEM, "logits of %d images", *n);
    ev_log(t, "classifying %d images of %s (sigma %g, %d SGLD steps)\n", *n, t->split->name, (double)in->sigma,
           in->n_steps);
    jp_rng rng;
    jp_rng_seed(&rng, t->seed);
    st = jp_eval_logits(t->model, t->split->x, *n, in, *logits, *logits + (size_t)*n * K, &rng, err);
    if (st) {
        free(*logits);
        *logits = NULL;
    }
    return st;
}

void ev_json_begin(const jp_eval_target *t, jp_jw *w, const char *mode)
{
    jp_jw_init(w, 1);
    jp_jw_begin_object(w);
    jp_jw_key(w, "mode");
    jp_jw_string(w, mode);
    jp_jw_key(w, "checkpoint");
    jp_jw_string(w, t->ckpt);
    jp_jw_key(w, "seed");
    jp_jw_uint(w, t->seed);
}

void ev_json_dataset(const jp_eval_target *t, jp_jw *w)
{
    jp_jw_key(w, "dataset");
    jp_jw_string(w, t->split ? t->split->name : t->dataset);
    jp_jw_key(w, "split");
    jp_jw_string(w, t->split_name);
    jp_jw_key(w, "n");
    jp_jw_int(w, t->split ? ev_count(t, t->split) : 0);
}

void ev_json_inputs(jp_jw *w, const jp_input_opts *in)
{
    jp_jw_key(w, "sigma");
    ev_json_float(w, in->sigma);
    jp_jw_key(w, "n_steps");
    jp_jw_int(w, in->n_steps);
    jp_jw_key(w, "sgld_lr");
    ev_json_float(w, in->sgld_lr);
    jp_jw_key(w, "sgld_std");
    ev_json_float(w, in->sgld_std);
}

jp_status ev_json_save(const jp_eval_target *t, jp_jw *w, const char *file, jp_error *err)
{
    jp_jw_end_object(w);
    jp_jw_raw(w, "\n", 1);
    jp_status st = jp_jw_finish(w, err);
    char path[1100];
    if (!st) st = jp_write_file_atomic(ev_path(t, path, sizeof path, file), w->buf, w->len, err);
    jp_jw_free(w);
    return st;
}

void ev_json_float(jp_jw *w, float v)
{
    /* the shortest decimal that reads back to the same float: 0.03, not 0.0299999993 */
    char b[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(b, sizeof b, "%.*g", digits, (double)v);
        if ((float)strtod(b, NULL) == v) break;
    }
    jp_jw_double(w, strtod(b, NULL));
}

const char *ev_class_name(const jp_dataset *ds, int k, char *buf, size_t len)
{
    if (ds && ds->class_names && k < ds->n_classes) snprintf(buf, len, "%s", ds->class_names[k]);
    else snprintf(buf, len, "%d", k);
    return buf;
}

int ev_argmax(const float *l, int K)
{
    int arg = 0;
    for (int k = 1; k < K; k++)
        if (l[k] > l[arg]) arg = k;
    return arg;
}

double ev_lse(const float *l, int K, int *argmax, double *max_softmax)
{
    int p = ev_argmax(l, K);
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)l[k] - l[p]);
    if (argmax) *argmax = p;
    if (max_softmax) *max_softmax = 1.0 / s;
    return l[p] + log(s);
}

void jp_eval_chains_opts_defaults(jp_eval_chains_opts *o)
{
    jp_sampler_config_pyld(&o->sampler);
    o->sampler.n_steps = 100;
    o->sampler.train_mode = 0;
    o->informative = 1;
}

jp_status ev_chains_init(ev_chains *c, const jp_eval_target *t, const jp_eval_chains_opts *o, jp_error *err)
{
    memset(c, 0, sizeof *c);
    const jp_wrn_config *cfg = jp_wrn_config_of(t->model);
    c->dim = cfg->in_channels * cfg->image_size * cfg->image_size;
    c->ch.sc = o->sampler;
    c->ch.quiet = t->quiet;
    c->ch.init = jp_init_uniform;
    c->ch.init_ctx = &c->dim;
    jp_status st = jp_sampler_config_check(&c->ch.sc, err);
    if (st || !o->informative) return st;
    /* informative init: class Gaussians of the training images (cached as in training) */
    if (!t->data)
        return jp_fail(err, JP_ERR_ARG, "informative init needs the training images of a data set: none given");
    st = jp_model_fits(t->model, t->ckpt, t->split ? t->split : &t->data->train, 1, err);
    if (st) return st;
    char cache[1100];
    jp_gauss_stats_cache_path(cache, sizeof cache, t->data, &t->data->train);
    ev_log(t, "informative init: class Gaussians of %s (cache %s)\n", t->data->train.name, cache);
    st = jp_gauss_stats_load_or_compute(&c->gauss, &t->data->train, cache, err);
    if (st) return st;
    c->have_gauss = 1;
    c->ch.init = jp_init_gauss;
    c->ch.init_ctx = &c->gauss;
    return JP_OK;
}

void ev_chains_free(ev_chains *c)
{
    if (c->have_gauss) jp_gauss_stats_free(&c->gauss);
    memset(c, 0, sizeof *c);
}
