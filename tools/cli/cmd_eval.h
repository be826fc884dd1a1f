/* `jempp eval`: the flags (cmd_eval.c) and the modes run through the library
 * (cmd_eval_modes.c, include/jempp/evaluate.h). */
#ifndef JEMPP_CLI_CMD_EVAL_H
#define JEMPP_CLI_CMD_EVAL_H

#include <stdint.h>

#include "jempp/evaluate.h"

typedef enum { EV_TEST_CLF, EV_PREDICT, EV_CALI, EV_OOD, EV_SAMPLES, EV_ATTACK, EV_FID } ev_mode;
#define EV_MODE_CHOICES "test_clf|predict|cali|ood|samples|attack|fid"
#define EV_SPLIT_CHOICES "test|valid|train"

/* The flags' values, as given (defaults in jp_cmd_eval). */
typedef struct {
    char ckpt[512], out[512], dataset[32], data_root[512];
    int mode, split, n_valid, batch_size, max_n, quiet;
    char device[16];         /* cpu, cuda[:N] or auto (device_cli.h) */
    int tf32, deterministic; /* on a GPU */
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

/* 1 when the mode of o reads the evaluated data set, with *need_train when it needs the
 * training images (the class Gaussians of an informative init); has_buffer: the
 * checkpoint holds a replay buffer. */
int ev_needs_data(const ev_opts *o, int has_buffer, int *need_train);
/* Runs o's mode on t through the library and prints its one-line summary on stdout. */
jp_status ev_run_mode(const ev_opts *o, const jp_eval_target *t, jp_error *err);

#endif
