/* What the evaluation modes (src/eval/eval_*.c) share: progress, the files written into
 * the target's folder, the JSON head and the class names. Internal. */
#ifndef JEMPP_EVAL_OUT_H
#define JEMPP_EVAL_OUT_H

#include <stddef.h>

#include "io/json.h"
#include "jempp/evaluate.h"

void ev_log(const jp_eval_target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<out>/<file>" into buf. */
const char *ev_path(const jp_eval_target *t, char *buf, size_t len, const char *file);
/* The images of a split used: min(ds->n, max_n) (max_n > 0). */
int ev_count(const jp_eval_target *t, const jp_dataset *ds);
/* The split, its shape fitting the model (labels too when need_labels); JP_ERR_ARG when
 * the target has no data. */
jp_status ev_split(const jp_eval_target *t, int need_labels, jp_error *err);
/* {"mode": ..., "checkpoint": ..., "seed": ...: the caller adds its own keys. */
void ev_json_begin(const jp_eval_target *t, jp_jw *w, const char *mode);
/* "dataset", "split", "n" of the target's split. */
void ev_json_dataset(const jp_eval_target *t, jp_jw *w);
/* "sigma", "n_steps", "sgld_lr", "sgld_std" of the input preparation. */
void ev_json_inputs(jp_jw *w, const jp_input_opts *in);
/* Ends w's object and writes it as <out>/<file>; frees w. */
jp_status ev_json_save(const jp_eval_target *t, jp_jw *w, const char *file, jp_error *err);
/* A float option as the number the user wrote (shortest round-trip decimal). */
void ev_json_float(jp_jw *w, float v);
const char *ev_class_name(const jp_dataset *ds, int k, char *buf, size_t len);
int ev_argmax(const float *l, int K);
/* max softmax of logits l (K) and their LSE: p = argmax, s = sum_k exp(l_k - l_p),
 * LSE = l_p + log s, max softmax = 1 / s. */
double ev_lse(const float *l, int K, int *argmax, double *max_softmax);
/* Logits (n, K) of the first n = ev_count images of the split (labels required), inputs
 * prepared by in, followed in the same allocation (free) by the model's log p(x) (n). */
jp_status ev_split_logits(const jp_eval_target *t, const jp_input_opts *in, float **logits, int *n, jp_error *err);
/* The chains from scratch of opts: sampler and init (informative: the class Gaussians of
 * data->train, from the cache file the trainer uses); free with ev_chains_free. */
typedef struct {
    jp_chains ch;
    jp_gauss_stats gauss;
    int have_gauss, dim;
} ev_chains;
jp_status ev_chains_init(ev_chains *c, const jp_eval_target *t, const jp_eval_chains_opts *o, jp_error *err);
void ev_chains_free(ev_chains *c);

#endif
