/* A trained JEM applied to sets of images: logits (optionally of noisy and SGLD-refined
 * inputs, as the reference's test_clf), penultimate features, the three OOD scores
 * of the reference, and the built-in distribution-shifted sets made from a test set.
 *
 * Every function runs the model in eval mode (running BN statistics, no dropout) in
 * batches of the model's batch size, on images x (n, C, H, W) in [-1, 1] whose shape
 * the caller has checked with jp_model_fits. */
#ifndef JEMPP_OOD_H
#define JEMPP_OOD_H

#include "jempp/core.h"
#include "jempp/data.h"
#include "jempp/wrn.h"

/* JP_OK when ds's images are the model's (channels, size); with need_labels also when
 * ds has the model's number of classes. Otherwise JP_ERR_SHAPE naming the data set, the
 * checkpoint file `ckpt_name` and both shapes; JP_ERR_ARG for an empty data set. */
jp_status jp_model_fits(const jp_wrn *m, const char *ckpt_name, const jp_dataset *ds, int need_labels,
                        jp_error *err);

/* How inputs are prepared before classification (the reference's test_clf):
 *   x <- x + sigma N(0, 1);  then n_steps of SGLD  x <- x + lr grad_x LSE(x) + std N(0, 1)
 * (eval mode, no clamp, as the reference's sample()). */
typedef struct {
    float sigma;    /* 0: no noise */
    int n_steps;    /* 0: no refinement */
    float sgld_lr;  /* 1 */
    float sgld_std; /* 0.01 */
} jp_input_opts;

void jp_input_opts_defaults(jp_input_opts *o);

/* logits (n, K) of x (n, dim) prepared by o (NULL: as is), and, when log_px is not NULL,
 * the model's log p(x) (n) of the same pass (jp_wrn_log_px: LSE, or the energy head of an
 * --uncond model). rng drives the noise. */
jp_status jp_eval_logits(jp_wrn *m, const float *x, int n, const jp_input_opts *o, float *logits, float *log_px,
                         jp_rng *rng, jp_error *err);
/* Penultimate features (n, jp_wrn_feature_dim) of x: the pooled activations after the
 * final BN and LeakyReLU. */
jp_status jp_eval_features(jp_wrn *m, const float *x, int n, float *feats, jp_error *err);

/* ---- OOD scores (higher = more in-distribution) --------------------------------- */
typedef enum { JP_SCORE_PX = 0, JP_SCORE_PY = 1, JP_SCORE_PXGRAD = 2, JP_N_SCORES = 3 } jp_score_kind;
const char *jp_score_name(jp_score_kind k); /* "px", "py", "pxgrad" */

/* Per image i of x (n, dim), after adding sigma N(0, 1) when sigma > 0:
 *   px[i]     = LSE(f(x_i))                      = -E(x_i)
 *   py[i]     = max_k softmax(f(x_i))_k
 *   pxgrad[i] = -|| grad_x LSE(f(x_i)) ||_2
 * The gradient of sum_i LSE(f(x_i)) in eval mode is the per-image gradient (images do not
 * interact). Any of the outputs may be NULL. */
jp_status jp_ood_scores(jp_wrn *m, const float *x, int n, float sigma, double *px, double *py, double *pxgrad,
                        jp_rng *rng, jp_error *err);

/* ---- built-in shifted sets --------------------------------------------------------- */
typedef enum {
    JP_SHIFT_NOISE = 0,    /* uniform noise on [-1, 1] per value */
    JP_SHIFT_CONSTANT = 1, /* one value v ~ U(-1, 1) per image, every pixel and channel */
    JP_SHIFT_INTERP = 2,   /* 0.5 x_i + 0.5 x_j, i = image k, j != i uniform (cifar_interp) */
    JP_SHIFT_INVERT = 3,   /* -x_i: intensities inverted in [-1, 1] units */
    JP_N_SHIFTS = 4
} jp_shift_kind;
const char *jp_shift_name(jp_shift_kind k); /* "noise", "constant", "interp", "invert" */
/* The kind named s, or -1. */
int jp_shift_parse(const char *s);

/* out = n images made from src (n <= src->n for interp and invert; image k derives from
 * src image k mod src->n), named "<kind>(<src name>)", labels copied from the source
 * images (meaningless for noise and constant). Draws from rng: noise values in image
 * order; constants one per image; interp one partner j per image. */
jp_status jp_shifted_set(jp_dataset *out, const jp_dataset *src, jp_shift_kind k, int n, jp_rng *rng,
                         jp_error *err);

#endif
