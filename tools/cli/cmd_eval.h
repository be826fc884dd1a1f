/* `jempp eval`: shared state of the evaluation modes (cmd_eval*.c). */
#ifndef JEMPP_CLI_CMD_EVAL_H
#define JEMPP_CLI_CMD_EVAL_H

#include <stdint.h>

#include "io/json.h"
#include "jempp/core.h"
#include "jempp/data.h"
#include "jempp/ebm.h"
#include "jempp/ood.h"
#include "jempp/wrn.h"

typedef enum { EV_TEST_CLF, EV_PREDICT, EV_CALI, EV_OOD, EV_SAMPLES, EV_ATTACK, EV_FID } ev_mode;
#define EV_MODE_CHOICES "test_clf|predict|cali|ood|samples|attack|fid"
#define EV_SPLIT_CHOICES "test|valid|train"
/* --fid_source, in the order of its choices "auto|buffer|scratch|data" */
typedef enum { EV_FID_AUTO, EV_FID_BUFFER, EV_FID_SCRATCH, EV_FID_DATA } ev_fid_source;

typedef struct {
    char ckpt[512], out[512], dataset[32], data_root[512];
    int mode, split, n_valid, batch_size, max_n, quiet;
    uint64_t seed;
    /* input preparation (test_clf, predict, cali) and the OOD scores' noise */
    jp_input_opts input;
    int bins; /* cali */
    /* ood */
    char ood_sets[128], ood_dataset[32], ood_data_root[512];
    int ood_split, hist_bins;
    /* samples (and fid from scratch) */
    int sampler, n_sample_steps, in_steps, init, n_samples, per_class, frames, train_mode_sampling;
    float pyld_lr, sampler_eps, sample_sgld_lr, sample_sgld_std;
    /* attack */
    int norm, n_iter, restarts, defence, n_copies, refine_steps;
    float step, refine_sigma;
    char eps_linf[256], eps_l2[256];
    /* fid */
    char ref_dataset[32], ref_data_root[512], inception_weights[512], feature_ckpt[512];
    int ref_split, ref_max_n, fid_source, n_fid, kid_subsets, kid_subset_size, is_splits, inception_batch;
    float select;
} ev_opts;

typedef struct {
    ev_opts o;
    jp_wrn *m;
    const char *ckpt_name; /* o.ckpt */
    float *buffer;         /* the checkpoint's replay buffer (buffer_n, C, H, W), or NULL */
    int buffer_n;
    jp_data data;
    int data_open;
    const jp_dataset *ds; /* the chosen split of the data set (NULL until opened) */
    int n;                /* images of ds used (--max_n) */
    int K, C, H, W, dim;
    jp_rng rng;
} ev_ctx;

/* ---- shared helpers (cmd_eval.c) ---- */
void ev_log(const ev_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<out>/<file>" into buf. */
const char *ev_path(const ev_ctx *c, char *buf, size_t len, const char *file);
/* Opens --dataset (split --split) and checks that it fits the checkpoint (labels too when
 * need_labels); sets c->ds and c->n. The validation images are split off the training
 * set (--n_valid, as in training) when the split is valid or train, or need_train. */
jp_status ev_open_data(ev_ctx *c, int need_labels, int need_train, jp_error *err);
/* Opens another data set (OOD or FID reference) by name/root; d must be closed by the
 * caller (jp_data_close) when this returns JP_OK. */
jp_status ev_open_other(jp_data *d, const char *dataset, const char *root, int n_valid, jp_error *err);
/* {"mode": ..., "checkpoint": ..., common keys...: the caller adds its own and ends it. */
void ev_json_begin(const ev_ctx *c, jp_jw *w, const char *mode);
void ev_json_dataset(const ev_ctx *c, jp_jw *w);
/* Finishes w and writes it as <out>/<file>; frees w. */
jp_status ev_json_save(const ev_ctx *c, jp_jw *w, const char *file, jp_error *err);
/* A float flag's value as the number the user wrote (shortest round-trip decimal). */
void ev_json_float(jp_jw *w, float v);
const char *ev_class_name(const jp_dataset *ds, int k, char *buf, size_t len);
int ev_argmax(const float *l, int K);

/* ---- modes ---- */
jp_status ev_test_clf(ev_ctx *c, jp_error *err);   /* cmd_eval_clf.c */
jp_status ev_predict(ev_ctx *c, jp_error *err);
jp_status ev_cali(ev_ctx *c, jp_error *err);
jp_status ev_ood(ev_ctx *c, jp_error *err);        /* cmd_eval_ood.c */
jp_status ev_attack(ev_ctx *c, jp_error *err);     /* cmd_eval_attack.c */
jp_status ev_samples(ev_ctx *c, jp_error *err);    /* cmd_eval_gen.c */
jp_status ev_fid(ev_ctx *c, jp_error *err);        /* cmd_eval_fid.c */

/* ---- chains from scratch (cmd_eval_gen.c), shared by samples and fid ---- */
typedef struct {
    jp_sampler_config sc;
    int informative;     /* 1: class Gaussians of the training set; 0: uniform */
    jp_gauss_stats gauss;
    int have_gauss;
} ev_chains;

jp_status ev_chains_init(ev_chains *ch, ev_ctx *c, jp_error *err);
void ev_chains_free(ev_chains *ch);
/* Runs n chains from scratch (y: class per chain, or NULL: unconditional) for
 * sc.n_steps steps into x (n, dim). trace (n_steps + 1, may be NULL) receives the
 * chains' mean energy -LSE before each step and at the end. When frames_dir is not
 * NULL, n_frames grids of the first min(n, 64) chains are written there. */
jp_status ev_chains_run(ev_chains *ch, ev_ctx *c, float *x, const int *y, int n, double *trace,
                        const char *frames_dir, int n_frames, jp_error *err);

#endif
