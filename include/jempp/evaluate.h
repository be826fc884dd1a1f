/* The evaluation modes of `jempp eval` as library functions: a model on a data set split
 * (jp_eval_target), each mode's options, and a result struct with the numbers of the
 * mode's JSON. With target->out set, each mode also writes its files there (the same
 * files as `jempp eval --out`, docs/evaluation.md): <mode>.json, CSV and PNGs; with
 * out NULL it only computes. Progress goes to stderr unless target->quiet.
 *
 * Every mode runs the model in eval mode (except train-mode sampling) in batches of the
 * model's batch size and draws every random number from target->seed. */
#ifndef JEMPP_EVALUATE_H
#define JEMPP_EVALUATE_H

#include <stdint.h>

#include "jempp/attack.h"
#include "jempp/core.h"
#include "jempp/data.h"
#include "jempp/ebm.h"
#include "jempp/metrics.h"
#include "jempp/ood.h"
#include "jempp/wrn.h"

/* ---- what is evaluated --------------------------------------------------------- */
typedef struct {
    jp_wrn *model;            /* required */
    const char *ckpt;         /* the checkpoint's name: messages and the JSON's "checkpoint" */
    const jp_data *data;      /* the data set, or NULL for a mode that needs no images (samples with a
                                 uniform init, fid from the replay buffer) */
    const jp_dataset *split;  /* the evaluated split of data (NULL with data NULL) */
    const char *split_name;   /* "test", "valid" or "train": the JSON's "split" */
    const char *dataset;      /* the data set's name (the fid reference's default) */
    const char *data_root;    /* its folder, NULL or "": the default one */
    int n_valid;              /* validation images split off a training set: valid splits of other sets */
    int max_n;                /* only the first max_n images of a split (0: all) */
    const float *buffer;      /* the checkpoint's replay buffer (buffer_n, C, H, W), or NULL */
    int buffer_n;
    uint64_t seed;            /* every random draw */
    int quiet;                /* 1: no progress on stderr */
    const char *out;          /* folder for the files (created by the caller), NULL: compute only */
} jp_eval_target;

/* A target with no data, seed 1 and nothing written, for model m. */
jp_eval_target jp_eval_target_init(jp_wrn *m);

/* ---- test_clf, predict, cali: the classifier ------------------------------------ */
/* Inputs are prepared as the reference's test_clf (jp_input_opts: + sigma N(0, 1), then
 * n_steps of SGLD). The split needs labels. */
typedef struct {
    jp_input_opts input;
    int bins; /* cali: equal-width confidence bins of the ECE (20) */
} jp_clf_opts;

void jp_clf_opts_defaults(jp_clf_opts *o);

typedef struct {
    int n, n_classes;
    double accuracy;
    double loss;           /* mean cross-entropy LSE(f(x)) - f(x)[y] */
    double mean_energy;    /* mean E(x) = -log p(x) */
    int64_t *confusion;    /* (K, K): row = true class, column = predicted class */
    int64_t *class_n;      /* (K) images per true class */
    double *class_accuracy;/* (K) NaN for a class without images */
} jp_test_clf_result;

/* test_clf.json, confusion.png, per_class_accuracy.png. */
jp_status jp_eval_test_clf(const jp_eval_target *t, const jp_clf_opts *o, jp_test_clf_result *r, jp_error *err);
void jp_test_clf_result_free(jp_test_clf_result *r);

typedef struct {
    int n, n_classes;
    double accuracy;
    int *label, *pred;     /* (n) true class, argmax of the logits */
    double *energy;        /* (n) E(x) = -log p(x) */
    double *logp_y;        /* (n) log softmax of the true class, f(x)[y] - LSE(f(x)) */
    float *logits;         /* (n, K) */
} jp_predict_result;

/* predict.csv (one row per image), predict.json. */
jp_status jp_eval_predict(const jp_eval_target *t, const jp_clf_opts *o, jp_predict_result *r, jp_error *err);
void jp_predict_result_free(jp_predict_result *r);

/* ECE, NLL, accuracy, mean confidence and the bins (jp_calibrate; free with
 * jp_calibration_free): cali.json, reliability.png. */
jp_status jp_eval_cali(const jp_eval_target *t, const jp_clf_opts *o, jp_calibration *r, jp_error *err);

/* ---- ood: detection of shifted and other data sets ------------------------------ */
#define JP_OOD_MAX_SETS 8

typedef struct {
    float sigma;          /* noise std added before scoring (0) */
    int shifts[JP_N_SHIFTS]; /* the built-in shifted sets compared, in this order */
    int n_shifts;
    const char *dataset;  /* another data set to compare with (NULL or "": none) */
    const char *data_root;
    int split;            /* its split: 0 test, 1 valid, 2 train */
    int hist_bins;        /* bins of the score histograms (100) */
} jp_ood_opts;

/* All four shifted sets, no other data set. */
void jp_ood_opts_defaults(jp_ood_opts *o);
/* o->shifts from a comma-separated list of kinds ("noise,constant,interp,invert";
 * "none" or "": none); JP_ERR_ARG naming `flag` for an unknown or repeated kind. */
jp_status jp_ood_parse_shifts(jp_ood_opts *o, const char *list, const char *flag, jp_error *err);

typedef struct {
    char name[JP_DATA_NAME_MAX + 16];
    const char *kind;               /* "noise", ..., "dataset"; NULL for the in-distribution set */
    int n;
    double mean[JP_N_SCORES];       /* mean score (px, py, pxgrad) */
    jp_detect_metrics m[JP_N_SCORES]; /* against the in-distribution set (not for it) */
    double *score[JP_N_SCORES];     /* (n) per image */
} jp_ood_set_result;

typedef struct {
    jp_ood_set_result in;
    jp_ood_set_result sets[JP_OOD_MAX_SETS];
    int n_sets;
} jp_ood_result;

/* ood.json, ood_hist_px.png, ood_hist_py.png, ood_hist_pxgrad.png. */
jp_status jp_eval_ood(const jp_eval_target *t, const jp_ood_opts *o, jp_ood_result *r, jp_error *err);
void jp_ood_result_free(jp_ood_result *r);

/* ---- samples: chains from scratch and the replay buffer ------------------------ */
typedef struct {
    jp_sampler_config sampler; /* of the chains from scratch */
    int informative;           /* 1: init from the class Gaussians of data->train; 0: uniform */
} jp_eval_chains_opts;

/* PYLD-100-5 in eval mode (lr 0.2, eps 1), informative init: `jempp eval`'s defaults. */
void jp_eval_chains_opts_defaults(jp_eval_chains_opts *o);

typedef struct {
    jp_eval_chains_opts chains;
    int n_samples; /* unconditional chains (100) */
    int per_class; /* conditional chains per class (10) */
    int frames;    /* animation frames of the unconditional chains (20; 0: none) */
} jp_samples_opts;

/* PYLD-100-5 in eval mode (lr 0.2, eps 1), informative init, 100 chains, 10 per class, 20 frames. */
void jp_samples_opts_defaults(jp_samples_opts *o);

typedef struct {
    int n_steps, n_uncond, n_cond, n_classes;
    double *energy_uncond, *energy_cond; /* (n_steps + 1) mean E before each step, last: final states */
    float *x_uncond, *x_cond;            /* (n_uncond, C, H, W), (n_cond = K per_class, ...) class-major */
    int has_buffer;                      /* the replay buffer's classification: */
    int *buffer_counts;                  /* (K) images per predicted class */
    double buffer_energy;                /* mean E */
} jp_samples_result;

/* samples_uncond.png, samples_cond.png, energy.png, animation/frame_NNNN.png, and with a
 * replay buffer buffer.png and buffer_by_class.png; samples.json. */
jp_status jp_eval_samples(const jp_eval_target *t, const jp_samples_opts *o, jp_samples_result *r, jp_error *err);
void jp_samples_result_free(jp_samples_result *r);

/* ---- attack: PGD robust accuracy --------------------------------------------- */
#define JP_ATTACK_MAX_EPS 32

typedef struct {
    double eps[2][JP_ATTACK_MAX_EPS]; /* radii in pixel units, per norm (JP_PGD_LINF, JP_PGD_L2) */
    int n_eps[2];                     /* 0: that norm is not attacked */
    int n_iter, restarts;             /* 40, 1 */
    float step;                       /* pixel units; 0: eps / 4 */
    int defence;                      /* 1: JEM's defence (def) */
    jp_defence_config def;
} jp_attack_opts;

/* Both norms at the default radii (L-inf 0, 1/255, 2/255, 4/255, 8/255, 16/255; L2 0,
 * 0.125, 0.25, 0.5, 1), PGD-40, 1 restart, no defence (def: JEM's). */
void jp_attack_opts_defaults(jp_attack_opts *o);
/* Radii "0,1/255,0.5" (pixel units, a/b allowed) into eps (at most JP_ATTACK_MAX_EPS);
 * JP_ERR_ARG naming `flag` otherwise. */
jp_status jp_attack_parse_eps(const char *list, const char *flag, double *eps, int *n, jp_error *err);

typedef struct {
    int n_points;          /* 0: not attacked */
    double clean_accuracy;
    double seconds;
    jp_robust_point points[JP_ATTACK_MAX_EPS];
} jp_attack_norm_result;

typedef struct {
    int n;
    jp_attack_norm_result norm[2]; /* JP_PGD_LINF, JP_PGD_L2 */
} jp_attack_result;

/* attack.json, robust_accuracy_<norm>.png, adversarial_<norm>.png. */
jp_status jp_eval_attack(const jp_eval_target *t, const jp_attack_opts *o, jp_attack_result *r, jp_error *err);

/* ---- fid: FID, KID and Inception Score of samples -------------------------------- */
typedef enum { JP_FID_AUTO = 0, JP_FID_BUFFER = 1, JP_FID_SCRATCH = 2, JP_FID_DATA = 3 } jp_fid_source;

typedef struct {
    const char *inception_weights; /* Inception-v3 FID weights (safetensors), or NULL */
    int inception_batch;           /* images per Inception pass (50) */
    const char *feature_ckpt;      /* a classifier whose penultimate features give another FID, or NULL */
    jp_fid_source source;          /* auto: the replay buffer when there is one, else scratch */
    int n_fid;                     /* chains from scratch / real images (10000) */
    jp_eval_chains_opts chains;    /* chains from scratch */
    float select;                  /* per predicted class keep the most confident: < 1 a fraction, >= 1 a count; 0 all */
    const char *ref_dataset;       /* reference images (NULL or "": the target's data set) */
    const char *ref_data_root;
    int ref_split;                 /* 0 test, 1 valid, 2 train, 3 all */
    int ref_max_n;                 /* 0: all */
    int kid_subsets, kid_subset_size, is_splits; /* 100, 1000, 10 */
} jp_fid_opts;

void jp_fid_opts_defaults(jp_fid_opts *o);

typedef struct {
    int dim;
    double fid, kid_mean, kid_std;
    int has_is;
    double is_mean, is_std;
} jp_fid_scores;

typedef struct {
    const char *source;   /* "replay_buffer", "scratch" or "data" */
    int n;                /* samples measured (after the selection) */
    char reference[160];  /* "<data set> (<split>)" */
    int reference_n;
    int has_inception, has_classifier;
    jp_fid_scores inception, classifier;
} jp_fid_result;

/* fid.json, fid_samples.png. */
jp_status jp_eval_fid(const jp_eval_target *t, const jp_fid_opts *o, jp_fid_result *r, jp_error *err);

#endif
