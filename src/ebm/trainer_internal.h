/* The trainer's state, shared by trainer.c (the loop) and trainer_state.c
 * (checkpoints, resume, snapshots and recovery, curves). */
#ifndef JEMPP_TRAINER_INTERNAL_H
#define JEMPP_TRAINER_INTERNAL_H

#include <stdio.h>

#include "ebm/init_device.h"
#include "ebm/train_hooks.h"
#include "io/json.h"
#include "jempp/tfevents.h"
#include "jempp/data.h"
#include "jempp/ebm.h"
#include "jempp/optim.h"
#include "jempp/train.h"
#include "jempp/wrn.h"
#include "nn/wrn_internal.h"

typedef struct {
    double lr, loss, ce, acc, lse_data, lse_sample, seconds;
    double comm_seconds;  /* of seconds: in the ranks' collective operations (0 on one process) */
    double sample_absmax; /* largest |x| of the iteration's samples (0 without sampling) */
    double gap_mean;      /* the running mean of |LSE gap| including this iteration */
    int samples_finite;
    int diverged;         /* the step was refused; why says which detector fired */
    int lost_data;        /* it was the gap detector (the sampler lost the data) */
    char why[160];
} jp_iter_stats;

/* What a rollback restores: everything a step changes. */
typedef struct {
    float *params, *buffers, *optim, *replay;
    int64_t *counters;
    size_t optim_floats;
    int64_t optim_step, iter, epoch, px_pos[2], lab_pos[2];
    double gap_mean;
    jp_rng rng, model_rng;
} jp_snapshot;

typedef struct {
    jp_train_config cfg; /* with --dist: this rank's batch_size and buffer_size */
    const jp_dist *dist; /* NULL: one process */
    int rank, nranks;
    int global_batch;    /* the loaders' batch: nranks x cfg.batch_size */
    float *x_glob;       /* (global_batch, dim), nranks > 1: a batch before this rank's share */
    int *y_glob;
    float *buf_all;      /* rank 0 of several: the whole replay buffer, gathered to be saved */
    uint64_t *rng_all;   /* nranks x 12: the ranks' generator states, gathered to be saved */
    jp_data data;
    int data_open;
    jp_wrn *m;
    const jp_device *dev; /* the model's */
    float *stage;         /* several ranks on a device: host room for the gradients (and
                           * parameters, buffers) that the collectives carry */
    jp_optim opt;
    jp_lr_schedule sched;
    jp_loader *px, *lab;
    jp_gauss_stats gauss;
    int have_gauss;
    jp_init_fn init_fn;
    void *init_ctx;
    jp_replay_buffer buf;
    jp_sampler_work sw;
    jp_rng rng;
    int dim, K, use_px, use_pxy;
    size_t opt_off, n_opt; /* the parameters the optimiser updates: [opt_off, opt_off + n_opt) */
    float *x_p, *x_lab, *x_q, *logits, *dlogits, *lse, *scale;
    int *y_lab, *y_p, *y_q, *idx, *fresh;
    /* what the model reads and writes, on its device: the arrays above themselves on the
     * CPU, device copies otherwise (uploaded and downloaded around each use) */
    float *d_x_p, *d_x_lab, *d_x_q, *d_logits, *d_dlogits, *d_lse, *d_scale;
    int *d_y_lab, *d_y_q, *d_idx;
    /* the replay buffer's chains on the device (buf.x itself on the CPU), where they are
     * drawn and written back; buf.x is then their host copy, up to date after
     * jp_trainer_buffer_down (checkpoints, grids) and sent up by jp_trainer_buffer_up */
    float *d_buf;
    /* fresh chains into d_buf's memory: init_fn / init_ctx on the CPU, jp_init_on_device
     * with dinit on a device */
    jp_init_fn chain_init;
    void *chain_ctx;
    jp_init_device dinit;
    int64_t iter, epoch;
    double lr_scale, best_valid;
    int64_t best_iter, best_epoch; /* best.safetensors: its iteration and epoch (-1: none yet) */
    double best_test;              /* and its test accuracy */
    int steps_scale; /* the sampler runs steps_scale x --n_steps outer steps (the gap remedy doubles it) */
    double gap_mean; /* running mean of |mean LSE(data) - mean LSE(samples)| (diverge_gap) */
    int recoveries, injected; /* injected: 1 the NaN, 2 the gap (testing aids) done */
    jp_train_hooks hooks;     /* testing aids (train_hooks.h); zero: none */
    jp_snapshot snap;
    FILE *metrics_jsonl, *metrics_csv, *epochs_jsonl, *epochs_csv;
    jp_tfevents *tb; /* TensorBoard events of this start (NULL when the file could not be made) */
} jp_trainer;

jp_status jp_trainer_init(jp_trainer *t, const jp_train_config *cfg, jp_error *err);
void jp_trainer_free(jp_trainer *t);
/* config.json's text (jp_train_config_write_json's) into *out, finished; the caller
 * frees it (jp_jw_free). */
jp_status jp_train_config_json_text(const jp_train_config *c, const int image_shape[3], int n_classes, jp_jw *out,
                                    jp_error *err);
/* Collective helpers (no-ops on one process); their errors end the job (dist->abort):
 * a rank that cannot take part would leave the others waiting. jp_trainer_dist_ok does
 * that with the status of any collective operation. */
void jp_trainer_dist_ok(const jp_trainer *t, jp_status st, const jp_error *err);
void jp_trainer_allreduce_f64(jp_trainer *t, double *v, size_t n, jp_dist_op op);
void jp_trainer_bcast(jp_trainer *t, void *data, size_t bytes);
/* One training iteration; s->diverged set (and nothing updated) on divergence. */
jp_status jp_trainer_step(jp_trainer *t, jp_iter_stats *s);
/* Writes <save_dir>/<name> atomically: model + full training state. */
jp_status jp_trainer_save(jp_trainer *t, const char *name, jp_error *err);
/* Restores the full training state from <dir>/last.safetensors. */
jp_status jp_trainer_resume(jp_trainer *t, const char *dir, jp_error *err);
/* --load_path: the model of the checkpoint at path (names, dtypes and shapes checked) and
 * its replay_buffer when the file holds one and this run samples; a buffer of another
 * shape is an error naming it. Everything else starts fresh. Says what it loaded in
 * what (at least 80 bytes). */
jp_status jp_trainer_load_start(jp_trainer *t, const char *path, char *what, size_t len, jp_error *err);
/* Rewrites the log at path (JSON lines or CSV) without the lines whose counter `key`
 * ("iter" or "epoch"; for CSV the first field) exceeds limit, and without a last line
 * that has no newline. A missing file is fine. */
jp_status jp_log_keep_until(const char *path, const char *key, long long limit, jp_error *err);
/* The replay buffer's host copy (buf.x) from its device copy, and back (nothing on the CPU). */
void jp_trainer_buffer_down(jp_trainer *t);
void jp_trainer_buffer_up(jp_trainer *t);
/* Fresh chains in every slot of the buffer (on its device), per class with the
 * informative init. */
void jp_trainer_buffer_fill(jp_trainer *t);
jp_status jp_trainer_snapshot_init(jp_trainer *t, jp_error *err);
void jp_trainer_snapshot_free(jp_trainer *t);
void jp_trainer_snapshot_take(jp_trainer *t);
/* Weight of the newest iteration in the running mean of the LSE gap (~20 iterations). */
#define JP_GAP_ALPHA 0.05
/* Rollback snapshots are taken every this many iterations while the run looks healthy
 * (the gap's running mean under half its limit), so that a rollback lands before the
 * trouble began. */
#define JP_SNAPSHOT_EVERY 50
/* Rolls back to the snapshot and applies a remedy, with new sampling noise each time.
 * After the other detectors: lr halved and fresh buffer chains. After the gap detector
 * (lost_data): the sampler's outer steps doubled while that stays within gap_max_steps
 * (0 by default: never), else the lr halved; the snapshot's chains kept either way
 * (chains started afresh are further from the data, so they would widen the very gap
 * it measures). Writes what it did into remedy. */
void jp_trainer_recover(jp_trainer *t, int lost_data, char *remedy, size_t len);
/* The sampler as the chains run it now: the configured one with steps_scale x n_steps. */
jp_sampler_config jp_trainer_chain_sampler(const jp_trainer *t);
/* curves.png from epochs.csv and metrics.csv (best effort: warns on failure). */
void jp_trainer_plot_curves(jp_trainer *t);
jp_status jp_trainer_conditional_grid(jp_trainer *t, const char *name, int per_class, jp_error *err);

#endif
