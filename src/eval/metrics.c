/* Detection metrics (AUROC, AUPR, FPR at a TPR) and calibration (ECE, NLL).
 * Scores are sorted once in decreasing order; tied scores form one threshold. */
#include "jempp/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double s;
    int pos;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* One threshold of the decreasing sweep: tp/fp counts inside the tie group. */
typedef struct {
    int64_t tp, fp;
} tie_group;

/* Sorts pos and neg together and returns the tie groups in decreasing score order
 * (NULL when out of memory); *ng receives their number. */
static tie_group *sweep(const double *pos, int n_pos, const double *neg, int n_neg, int *ng)
{
    size_t n = (size_t)n_pos + (size_t)n_neg;
    scored *a = malloc(n * sizeof *a);
    tie_group *g = malloc(n * sizeof *g);
    if (!a || !g) {
        free(a);
        free(g);
        return NULL;
    }
    for (int i = 0; i < n_pos; i++) a[i] = (scored){pos[i], 1};
    for (int i = 0; i < n_neg; i++) a[(size_t)n_pos + i] = (scored){neg[i], 0};
    qsort(a, n, sizeof *a, by_score_desc);
    int k = 0;
    for (size_t i = 0; i < n;) {
        tie_group t = {0, 0};
        size_t j = i;
        for (; j < n && a[j].s == a[i].s; j++) {
            if (a[j].pos) t.tp++;
            else t.fp++;
        }
        g[k++] = t;
        i = j;
    }
    free(a);
    *ng = k;
    return g;
}

double jp_auroc(const double *pos, int n_pos, const double *neg, int n_neg)
{
    int ng;
    tie_group *g = sweep(pos, n_pos, neg, n_neg, &ng);
    if (!g || n_pos < 1 || n_neg < 1) {
        free(g);
        return NAN;
    }
    /* Descending sweep: a positive in group t beats every negative of the later groups
     * (n_neg - fp_before - fp_t of them) and ties with the fp_t negatives of its group:
     *   2U = sum_t tp_t (2 (n_neg - fp_before - fp_t) + fp_t). */
    int64_t two_u = 0, fp_before = 0;
    for (int t = 0; t < ng; t++) {
        two_u += g[t].tp * (2 * (n_neg - fp_before - g[t].fp) + g[t].fp);
        fp_before += g[t].fp;
    }
    free(g);
    return (double)two_u / (2.0 * (double)n_pos * (double)n_neg);
}

double jp_aupr(const double *pos, int n_pos, const double *neg, int n_neg)
{
    int ng;
    tie_group *g = sweep(pos, n_pos, neg, n_neg, &ng);
    if (!g || n_pos < 1) {
        free(g);
        return NAN;
    }
    /* AP = sum_t (R_t - R_{t-1}) P_t, R_0 = 0 */
    int64_t tp = 0, fp = 0;
    double ap = 0, r_prev = 0;
    for (int t = 0; t < ng; t++) {
        tp += g[t].tp;
        fp += g[t].fp;
        double p = (double)tp / (double)(tp + fp), r = (double)tp / (double)n_pos;
        ap += (r - r_prev) * p;
        r_prev = r;
    }
    free(g);
    return ap;
}

double jp_fpr_at_tpr(const double *pos, int n_pos, const double *neg, int n_neg, double tpr)
{
    int ng;
    tie_group *g = sweep(pos, n_pos, neg, n_neg, &ng);
    if (!g || n_pos < 1 || n_neg < 1) {
        free(g);
        return NAN;
    }
    int64_t tp = 0, fp = 0;
    double out = 1.0;
    for (int t = 0; t < ng; t++) {
        tp += g[t].tp;
        fp += g[t].fp;
        if ((double)tp / (double)n_pos >= tpr) {
            out = (double)fp / (double)n_neg;
            break;
        }
    }
    free(g);
    return out;
}

static jp_status check_finite(const double *v, int n, const char *side, jp_error *err)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return jp_fail(err, JP_ERR_ARG, "%s score %d is not finite (%g)", side, i, v[i]);
    return JP_OK;
}

jp_status jp_detect(const double *pos, int n_pos, const double *neg, int n_neg,
                    jp_detect_metrics *out, jp_error *err)
{
    memset(out, 0, sizeof *out);
    if (n_pos < 1 || n_neg < 1)
        return jp_fail(err, JP_ERR_ARG, "detection metrics need both sides: %d in-distribution and %d "
                       "out-of-distribution scores", n_pos, n_neg);
    jp_status st = check_finite(pos, n_pos, "in-distribution", err);
    if (!st) st = check_finite(neg, n_neg, "out-of-distribution", err);
    if (st) return st;
    out->auroc = jp_auroc(pos, n_pos, neg, n_neg);
    out->aupr = jp_aupr(pos, n_pos, neg, n_neg);
    out->fpr95 = jp_fpr_at_tpr(pos, n_pos, neg, n_neg, 0.95);
    if (isnan(out->auroc) || isnan(out->aupr) || isnan(out->fpr95))
        return jp_fail(err, JP_ERR_NOMEM, "detection metrics: out of memory sorting %d scores", n_pos + n_neg);
    return JP_OK;
}

/* ---- calibration ----------------------------------------------------------------- */

int jp_confidence_bin(double c, int n_bins)
{
    /* b/B < c <= (b+1)/B: start from ceil(c B) - 1 and correct for rounding of c * B */
    int b = (int)ceil(c * n_bins) - 1;
    if (b < 0) b = 0;
    if (b > n_bins - 1) b = n_bins - 1;
    while (b > 0 && c <= (double)b / n_bins) b--;
    while (b < n_bins - 1 && c > (double)(b + 1) / n_bins) b++;
    return b;
}

void jp_calibration_free(jp_calibration *c)
{
    free(c->bin_acc);
    free(c->bin_conf);
    free(c->bin_count);
    memset(c, 0, sizeof *c);
}

jp_status jp_calibrate(jp_calibration *c, const float *logits, const int *y, int n, int K,
                       int n_bins, jp_error *err)
{
    memset(c, 0, sizeof *c);
    if (n < 1 || K < 1 || n_bins < 1)
        return jp_fail(err, JP_ERR_ARG, "calibration of %d examples, %d classes in %d bins: all must be >= 1",
                       n, K, n_bins);
    c->bin_acc = calloc((size_t)n_bins, sizeof(double));
    c->bin_conf = calloc((size_t)n_bins, sizeof(double));
    c->bin_count = calloc((size_t)n_bins, sizeof(int64_t));
    if (!c->bin_acc || !c->bin_conf || !c->bin_count) {
        jp_calibration_free(c);
        return jp_fail(err, JP_ERR_NOMEM, "calibration bins");
    }
    c->n = n;
    c->n_bins = n_bins;
    double nll = 0, correct = 0, conf_sum = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        if (y[i] < 0 || y[i] >= K) {
            jp_calibration_free(c);
            return jp_fail(err, JP_ERR_ARG, "label %d of example %d is outside [0, %d)", y[i], i, K);
        }
        int arg = 0;
        for (int k = 0; k < K; k++) {
            if (!isfinite(l[k])) {
                jp_calibration_free(c);
                return jp_fail(err, JP_ERR_ARG, "logit %d of example %d is not finite", k, i);
            }
            if (l[k] > l[arg]) arg = k;
        }
        /* softmax max = exp(l_max - LSE) = 1 / sum_k exp(l_k - l_max) */
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)l[k] - (double)l[arg]);
        double conf = 1.0 / s, lse = (double)l[arg] + log(s);
        nll += lse - (double)l[y[i]];
        int ok = arg == y[i];
        correct += ok;
        conf_sum += conf;
        int b = jp_confidence_bin(conf, n_bins);
        c->bin_count[b]++;
        c->bin_acc[b] += ok;
        c->bin_conf[b] += conf;
    }
    double ece = 0;
    for (int b = 0; b < n_bins; b++) {
        if (c->bin_count[b] == 0) {
            c->bin_acc[b] = c->bin_conf[b] = NAN;
            continue;
        }
        c->bin_acc[b] /= (double)c->bin_count[b];
        c->bin_conf[b] /= (double)c->bin_count[b];
        ece += (double)c->bin_count[b] / n * fabs(c->bin_acc[b] - c->bin_conf[b]);
    }
    c->ece = ece;
    c->nll = nll / n;
    c->acc = correct / n;
    c->mean_conf = conf_sum / n;
    return JP_OK;
}
