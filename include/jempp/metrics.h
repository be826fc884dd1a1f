/* Evaluation arithmetic, independent of any model: detection metrics for OOD scores,
 * calibration, and the statistics behind FID, KID and the Inception Score. Every
 * function is checked against numpy/scipy (tools/gen_metrics_ref.py,
 * tests/test_metrics.c). All sums are accumulated in double.
 *
 * Detection convention (as the reference's OOD evaluation): the in-distribution
 * examples are the positive class and a higher score means "more in-distribution". */
#ifndef JEMPP_METRICS_H
#define JEMPP_METRICS_H

#include <stdint.h>

#include "jempp/core.h"

/* ---- detection: in-distribution (pos) vs out-of-distribution (neg) ----------- */
typedef struct {
    double auroc; /* area under the ROC curve */
    double aupr;  /* average precision, positives = in-distribution ("AUPR-In") */
    double fpr95; /* false-positive rate at the first threshold reaching 95% TPR */
} jp_detect_metrics;

/* AUROC = U / (n_pos n_neg), the Mann-Whitney statistic
 *   U = #{(i, j): pos_i > neg_j} + 1/2 #{(i, j): pos_i == neg_j},
 * computed exactly (2U is an integer count), so a set scored against an identical
 * copy of itself gives exactly 0.5. Equals sklearn's roc_auc_score (trapezoids). */
double jp_auroc(const double *pos, int n_pos, const double *neg, int n_neg);
/* Average precision as sklearn's average_precision_score: thresholds at the distinct
 * scores in decreasing order, AP = sum_t (R_t - R_{t-1}) P_t with P_t = TP_t / (TP_t +
 * FP_t) and R_t = TP_t / n_pos (tied scores form one threshold). */
double jp_aupr(const double *pos, int n_pos, const double *neg, int n_neg);
/* FPR at the largest threshold t (a distinct score) whose TPR = #{pos >= t} / n_pos
 * reaches `tpr`: FP_t / n_neg (the FPR of sklearn's roc_curve at the first point with
 * tpr >= target). */
double jp_fpr_at_tpr(const double *pos, int n_pos, const double *neg, int n_neg, double tpr);
/* All three (fpr95 at tpr 0.95). JP_ERR_ARG for an empty side or a non-finite score
 * (the message names the side and the index). */
jp_status jp_detect(const double *pos, int n_pos, const double *neg, int n_neg,
                    jp_detect_metrics *out, jp_error *err);

/* ---- classification and calibration ----------------------------------------- */
/* From logits (n, K) and labels (n), confidence c_i = max_k softmax(l_i)_k and
 * prediction argmax_k l_ik (first index on ties). Bin b (0 <= b < B) holds the
 * examples with b/B < c_i <= (b+1)/B (equal-width bins on [0, 1] as the reference's
 * ECELoss(20), upper edge included).
 *   ECE = sum_b (count_b / n) |acc_b - conf_b|
 *   NLL = mean_i (LSE(l_i) - l_i[y_i])             (the mean cross-entropy)
 * bin_acc/bin_conf are NaN for an empty bin. */
typedef struct {
    int n, n_bins;
    double ece, nll, acc, mean_conf;
    double *bin_acc;   /* (n_bins) accuracy of the bin */
    double *bin_conf;  /* (n_bins) mean confidence of the bin */
    int64_t *bin_count;/* (n_bins) */
} jp_calibration;

/* Fills c (arrays allocated here; jp_calibration_free). JP_ERR_ARG for n < 1,
 * n_bins < 1, a label outside [0, K) or a non-finite logit. */
jp_status jp_calibrate(jp_calibration *c, const float *logits, const int *y, int n, int K,
                       int n_bins, jp_error *err);
void jp_calibration_free(jp_calibration *c);
/* The bin of confidence c under B equal-width bins (b/B, (b+1)/B]; 0 for c <= 0. */
int jp_confidence_bin(double c, int n_bins);

/* ---- Gaussian statistics of features and the Frechet distance ------------------ */
/* mean (d) and unbiased covariance (d, d) of feats (n, d), n >= 2, in double, as
 * numpy's mean(axis=0) and cov(rowvar=False). */
jp_status jp_feature_stats(double *mean, double *cov, const float *feats, int n, int d,
                           jp_error *err);
/* Symmetric PSD square root in place: S = V diag(l) V^T (LAPACK dsyevd), S <- V
 * diag(sqrt(max(l, 0))) V^T. S is (d, d), symmetric. Negative eigenvalues (rounding of a
 * singular covariance) are clamped to 0; *clamped (may be NULL) receives the most
 * negative eigenvalue seen (0 if none). */
jp_status jp_sqrtm_psd(double *S, int d, double *clamped, jp_error *err);
/* FID = ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2), with
 *   tr sqrt(S1 S2) = tr sqrt(A S2 A),  A = sqrt(S1)
 * (S1 S2 is similar to A S2 A = A^-1 (A A S2 A) A when S1 is invertible, and by
 * continuity otherwise; A S2 A is symmetric PSD, so its square root's trace is the sum of
 * the square roots of its eigenvalues, tiny negative ones clamped to 0). All in double;
 * dsyevd twice. The result equals pytorch-fid's scipy.linalg.sqrtm computation up to
 * sqrtm's own rounding. */
jp_status jp_frechet_distance(const double *mu1, const double *S1, const double *mu2,
                              const double *S2, int d, double *fid, jp_error *err);

/* ---- KID: unbiased MMD^2 with the cubic polynomial kernel ----------------------- */
/* k(x, y) = (x.y / d + 1)^3. For X, Y of m rows each:
 *   MMD^2_u = [sum_{i != j} k(x_i, x_j) + sum_{i != j} k(y_i, y_j)] / (m (m - 1))
 *             - 2 sum_{i, j} k(x_i, y_j) / m^2
 * (the unbiased estimator of the standard KID implementation). */
double jp_mmd2_poly(const float *X, const float *Y, int m, int d);
/* KID over n_subsets random subsets of subset_size rows drawn without replacement from
 * each side (subset_size is lowered to min(nx, ny)): mean and population std (ddof 0)
 * of the subsets' MMD^2, as the standard implementation. */
jp_status jp_kid(const float *fx, int nx, const float *fy, int ny, int d, int n_subsets,
                 int subset_size, jp_rng *rng, double *mean, double *std, jp_error *err);

/* ---- Inception Score --------------------------------------------------------- */
/* probs (n, K) rows of p(y|x). The rows are cut into `splits` consecutive parts of
 * floor(n / splits) rows (the remainder is unused, as the standard implementation);
 * per part p(y) = mean of its rows and
 *   IS_part = exp(mean_i sum_k p_ik (log p_ik - log p(y)_k))   (0 log 0 = 0).
 * mean and population std of the parts' scores. JP_ERR_ARG when n < splits. */
jp_status jp_inception_score(const float *probs, int n, int K, int splits, double *mean,
                             double *std, jp_error *err);

#endif
