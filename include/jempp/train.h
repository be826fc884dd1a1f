/* `jempp train`: JEM++ (and JEM, and a plain classifier) training runs.
 *
 * A run directory holds config.json, metrics.jsonl / metrics.csv (per iteration),
 * epochs.jsonl / epochs.csv (per epoch), samples PNGs, curves.png, last.safetensors
 * and best.safetensors (model with PyTorch names + optimizer, buffer, RNG and position,
 * so --resume continues the run exactly). */
#ifndef JEMPP_TRAIN_H
#define JEMPP_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "jempp/core.h"
#include "jempp/dist.h"
#include "jempp/ebm.h"
#include "jempp/optim.h"
#include "jempp/wrn.h"

typedef enum { JP_INIT_UNIFORM = 0, JP_INIT_INFORMATIVE = 1 } jp_init_kind;

typedef struct {
    /* data */
    char dataset[32];
    char data_root[512];
    int n_valid, labels_per_class, flip;
    int pad;             /* reflect-pad + random crop back (4); 0: no crop */
    float sigma;
    /* model */
    int depth, width;
    jp_norm norm;
    float dropout_rate;
    int winograd;        /* 1 (default): Winograd 3x3 convolutions (jp_wrn_config) */
    jp_kernel_choice kernels; /* layout and implementations (jp_wrn_config; default automatic) */
    /* objective */
    float p_x_weight, p_y_given_x_weight, p_x_y_weight;
    int clf_only;        /* the reference's --clf_only: the optimiser updates only class_output
                          * (weight and bias); the loss keeps every term */
    int softmax_only;    /* a plain softmax classifier: cross-entropy only, no p(x) term and no
                          * sampling (--preset clf) */
    int class_cond_p_x_sample;
    int uncond;          /* 1: log p(x) is the energy head's output (JEM's --uncond), not LSE of the logits */
    /* sampler, init, buffer */
    jp_sampler_config sampler;
    jp_init_kind init;
    int buffer_size;
    float reinit_freq;
    /* optimisation */
    jp_optim_kind optimizer;
    float lr, momentum, weight_decay, decay_rate;
    int warmup_iters, n_decay, decay_epochs[16];
    jp_lr_kind lr_schedule; /* step decays at decay_epochs (the reference), or a cosine (cosine_iters) */
    float final_lr;      /* cosine: the lr at its end */
    int64_t cosine_iters; /* cosine: its length in iterations; 0: n_epochs epochs; -1: the run's
                             length (max_iters, or n_epochs epochs when max_iters is 0) */
    int n_epochs, batch_size;
    int sync_bn;         /* with dist: batch-norm statistics over the global batch (jp_wrn_sync_batch_norm) */
    int64_t max_iters;   /* stop after this many iterations in total (0: no limit) */
    /* run */
    char device[16];     /* where to train: "cpu", "cuda", "cuda:N" or "auto" (the program opens it and
                          * sets kernels.device; the library only records it) */
    char comm[8];        /* the ranks' collectives: "auto", "mpi" or "nccl" (the program sets dist) */
    int tf32;            /* on a GPU: TF32 tensor cores in the convolutions (1, PyTorch's default) */
    int deterministic;   /* on a GPU: deterministic cuDNN algorithms (same bits on every run) */
    uint64_t seed;
    char save_dir[512];
    char resume[512];
    char load_path[512]; /* start from this checkpoint's model (and replay buffer, when it
                          * holds one that fits): the reference's --load_path, e.g. a
                          * converted reference checkpoint or a run's weights under a new
                          * configuration; a fresh optimizer, schedule and RNG. Ignored
                          * on --resume (the run's own state wins). */
    int ckpt_every;      /* epochs between numbered checkpoints (0: only last/best) */
    int save_every;      /* iterations between rewrites of last.safetensors inside an epoch (0: epoch ends only) */
    int max_file_mb;     /* no checkpoint file above this many MiB: parts beside it (jp_st_writer_save_parts); 0: one file */
    int eval_every;      /* epochs between validation/test evaluations */
    int print_every;     /* iterations between progress lines and sample grids */
    int n_sample_grid;   /* images in a sample grid */
    int quiet;
    /* divergence handling */
    float diverge_loss;  /* |loss| above this (or non-finite) is a divergence (1e8) */
    float diverge_energy;/* |mean LSE| of data or samples above this: energies ran away (1e4) */
    float diverge_range; /* a sample value with |x| above this left the valid range (100) */
    float diverge_gap;   /* the sampler lost the data: a running mean (over ~20 iterations) of
                          * |mean LSE(data) - mean LSE(samples)| above this (10; 0: off) */
    int max_recoveries;  /* rollbacks before giving up */
    int gap_max_steps;   /* the gap detector's remedy doubles the sampler's outer steps (n_steps)
                          * up to this many; once there (and with 0, the default) it halves the lr */
    /* When *stop becomes non-zero (a signal handler sets it), the run finishes the
     * iteration in progress (and the epoch-end evaluation if that iteration ended an
     * epoch), writes last.safetensors and returns JP_ERR_INTERRUPTED; --resume then
     * continues exactly. NULL: never. Not part of config.json. */
    const volatile sig_atomic_t *stop;
    /* Data-parallel training over dist->size processes (jempp/dist.h), NULL: one. Each
     * rank takes its share (batch_size / size) of every global batch, keeps buffer_size /
     * size chains, and the gradients are averaged before every step, so the weights stay
     * the same on every rank; rank 0 alone writes the run folder. Not part of config.json. */
    const jp_dist *dist;
} jp_train_config;

/* The settings of jp_train_config a user sets, in one table: each has one name, the
 * flag of `jempp train` (--name) and the key of config.json. */
typedef enum {
    JP_SET_INT,      /* int */
    JP_SET_FLOAT,    /* float */
    JP_SET_I64,      /* int64_t */
    JP_SET_U64,      /* uint64_t */
    JP_SET_STR,      /* char[size] */
    JP_SET_BOOL,     /* int, 0 or 1 */
    JP_SET_BOOL_NOT, /* int holding the negation of the setting (eval_mode_sampling sets
                        sampler.train_mode = 0) */
    JP_SET_CHOICE,   /* an enum (int) holding the index of one of choices' words */
    JP_SET_INTLIST   /* int[size], its length in the int at count_offset */
} jp_setting_type;

typedef struct {
    const char *name;    /* flag and config.json key */
    jp_setting_type type;
    size_t offset;       /* of the field in jp_train_config */
    size_t size;         /* STR: buffer size; INTLIST: most entries */
    const char *choices; /* CHOICE: "a|b|c" */
    size_t count_offset; /* INTLIST: offset of the int holding the count */
    int in_json;         /* 1: part of a run's identity, written to and read from config.json */
    const char *def;     /* the default (the reference's JEM++), as jp_train_setting_parse reads it */
    double lo, hi;       /* INT, I64, FLOAT: the valid range, lo excluded when lo_open */
    int lo_open;
    const char *help;
} jp_train_setting;

/* The table (*n entries), in the order of `jempp train --help`. */
const jp_train_setting *jp_train_settings(int *n);
/* The setting of that name, or NULL. */
const jp_train_setting *jp_train_setting_find(const char *name);
/* Sets s in c from text: integers and numbers in full, booleans 0/1/true/false/on/off, a
 * choice's word, a list of integers separated by commas or spaces. JP_ERR_ARG naming the
 * setting (--name) and the text otherwise; c unchanged then. */
jp_status jp_train_setting_parse(jp_train_config *c, const jp_train_setting *s, const char *text, jp_error *err);
/* Every number of c finite and in its setting's range (JP_ERR_ARG naming the first that
 * is not); jp_train_config_check adds the checks that concern several settings. */
jp_status jp_train_settings_check(const jp_train_config *c, jp_error *err);

/* The reference JEM++ defaults (the authors' code, sndnyang/JEMPP), on Fashion-MNIST. */
void jp_train_config_defaults(jp_train_config *c);
/* Named presets: "jempp" (PYLD-10-5, informative init, BN, SGD 0.1 + warmup),
 * "jem" (SGLD-20, uniform init, no BN, Adam 1e-4), "clf" (softmax classifier only),
 * "fashion" (the README's main job: JEM++ with a small WRN on Fashion-MNIST sized for
 * about 15 minutes on 2 cores). Returns JP_ERR_ARG for an unknown name. */
jp_status jp_train_preset(jp_train_config *c, const char *name, jp_error *err);
jp_status jp_train_config_check(const jp_train_config *c, jp_error *err);

/* config.json of a run directory: every setting that decides what the run computes, plus
 * the data's image shape and class count and the run folder, for information. Written
 * atomically. */
jp_status jp_train_config_write_json(const jp_train_config *c, const int image_shape[3], int n_classes,
                                     const char *path, jp_error *err);
/* Reads such a file over *c: the settings it holds replace those of *c, the others are
 * kept. An unknown key, a value of the wrong type or malformed JSON: JP_ERR_FORMAT naming
 * the file and the key; *c is then unchanged. */
jp_status jp_train_config_read_json(jp_train_config *c, const char *path, jp_error *err);

/* Final numbers of a run. test_acc, test_loss and valid_acc are the final model's (the
 * one in last.safetensors, after `iters` iterations: evaluated at the end when the last
 * epoch-end evaluation was of an earlier model); best_* describe best.safetensors, the
 * model of the scheduled epoch-end evaluation with the highest validation accuracy
 * (best_valid_acc -1 and best_iter -1 when there was none). */
typedef struct {
    double test_acc, valid_acc, test_loss;
    double best_valid_acc, best_test_acc;
    int64_t best_iter, best_epoch;
    int n_valid;             /* validation images of the run */
    int64_t iters;
    double seconds;          /* the whole run: evaluations, sample grids and checkpoints too */
    double seconds_per_iter; /* the training steps alone (refused ones included) per iteration done */
    double comm_seconds_per_iter; /* of it, in the ranks' collective operations (jp_dist) */
    int ranks;               /* processes of the run (1 without jp_dist) */
    int recoveries;
} jp_train_result;

jp_status jp_train_run(const jp_train_config *c, jp_train_result *res, jp_error *err);

#endif
