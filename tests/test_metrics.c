/* Evaluation arithmetic against numpy/scipy (tests/data/metrics_ref.safetensors from
 * tools/gen_metrics_ref.py): AUROC/AUPR/FPR95, ECE/NLL and the reliability bins, the
 * Gaussian statistics, the PSD square root, FID (scipy.linalg.sqrtm), KID's unbiased
 * MMD^2 and the Inception Score; plus properties that need no reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/metrics.h"
#include "testutil.h"

/* Tensor `name` as doubles (F64, F32 or I32 in the file); *count receives its size. */
static double *ref_d(const jp_st_file *f, const char *name, size_t *count)
{
    const jp_st_entry *e = jp_st_find(f, name);
    if (!e) {
        fprintf(stderr, "reference tensor '%s' missing from %s\n", name, f->path);
        exit(2);
    }
    size_t es = jp_dtype_size(e->dtype), n = (e->end - e->begin) / es;
    double *out = malloc((n + 1) * sizeof(double));
    const unsigned char *p = jp_st_data(f, e);
    for (size_t i = 0; i < n; i++) {
        if (e->dtype == JP_F64) memcpy(&out[i], p + i * 8, 8);
        else if (e->dtype == JP_F32) {
            float v;
            memcpy(&v, p + i * 4, 4);
            out[i] = v;
        } else if (e->dtype == JP_I32) {
            int32_t v;
            memcpy(&v, p + i * 4, 4);
            out[i] = v;
        } else {
            fprintf(stderr, "reference tensor '%s': unexpected dtype\n", name);
            exit(2);
        }
    }
    if (count) *count = n;
    return out;
}

static void check_detection(tu_ctx *t, const jp_st_file *f, const char *tag, int same)
{
    char a[64], b[64], r[64];
    snprintf(a, sizeof a, "det_%s_pos", tag);
    snprintf(b, sizeof b, "det_%s_neg", tag);
    snprintf(r, sizeof r, "det_%s_ref", tag);
    size_t np_, nn;
    double *pos = ref_d(f, a, &np_), *neg = same ? ref_d(f, a, &nn) : ref_d(f, b, &nn), *ref = ref_d(f, r, NULL);
    jp_detect_metrics m;
    jp_error err;
    jp_status st = jp_detect(pos, (int)np_, neg, (int)nn, &m, &err);
    tu_check(t, st == JP_OK, "jp_detect %s", tag);
    double got[3] = {m.auroc, m.aupr, m.fpr95};
    char what[80];
    snprintf(what, sizeof what, "detection %s (auroc, aupr, fpr95)", tag);
    tu_close_d(t, what, got, ref, 3, 1e-12, 1e-12);
    if (same) tu_check(t, m.auroc == 0.5, "AUROC of a set against itself is exactly 0.5 (%.17g)", m.auroc);
    free(pos);
    free(neg);
    free(ref);
}

static void check_calibration(tu_ctx *t, const jp_st_file *f, int bins)
{
    size_t nl, n;
    float *logits = tu_ref_f32(f, "cal_logits", &nl);
    double *yd = ref_d(f, "cal_y", &n);
    int *y = malloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++) y[i] = (int)yd[i];
    int K = (int)(nl / n);
    char name[64];
    snprintf(name, sizeof name, "cal%d_scalars", bins);
    double *sc = ref_d(f, name, NULL);
    snprintf(name, sizeof name, "cal%d_acc", bins);
    double *acc = ref_d(f, name, NULL);
    snprintf(name, sizeof name, "cal%d_conf", bins);
    double *conf = ref_d(f, name, NULL);
    snprintf(name, sizeof name, "cal%d_count", bins);
    double *cnt = ref_d(f, name, NULL);
    jp_calibration c;
    jp_error err;
    jp_status st = jp_calibrate(&c, logits, y, (int)n, K, bins, &err);
    tu_check(t, st == JP_OK, "jp_calibrate %d bins", bins);
    double got[3] = {c.ece, c.nll, c.acc};
    char what[80];
    snprintf(what, sizeof what, "ECE, NLL, accuracy (%d bins)", bins);
    tu_close_d(t, what, got, sc, 3, 1e-12, 1e-10);
    int same_empty = 1, counts_equal = 1;
    double *ga = malloc((size_t)bins * sizeof(double)), *gc = malloc((size_t)bins * sizeof(double));
    double *ra = malloc((size_t)bins * sizeof(double)), *rc = malloc((size_t)bins * sizeof(double));
    for (int b = 0; b < bins; b++) {
        counts_equal &= (double)c.bin_count[b] == cnt[b];
        same_empty &= isnan(c.bin_acc[b]) == isnan(acc[b]);
        ga[b] = isnan(c.bin_acc[b]) ? 0 : c.bin_acc[b];
        ra[b] = isnan(acc[b]) ? 0 : acc[b];
        gc[b] = isnan(c.bin_conf[b]) ? 0 : c.bin_conf[b];
        rc[b] = isnan(conf[b]) ? 0 : conf[b];
    }
    tu_check(t, counts_equal, "bin counts equal the reference's (%d bins)", bins);
    tu_check(t, same_empty, "the same bins are empty (NaN) (%d bins)", bins);
    tu_close_d(t, "bin accuracy", ga, ra, (size_t)bins, 1e-12, 0);
    tu_close_d(t, "bin mean confidence", gc, rc, (size_t)bins, 1e-12, 1e-12);
    jp_calibration_free(&c);
    free(ga);
    free(gc);
    free(ra);
    free(rc);
    free(logits);
    free(yd);
    free(y);
    free(sc);
    free(acc);
    free(conf);
    free(cnt);
}

static void check_fid(tu_ctx *t, const jp_st_file *f)
{
    size_t n1, n2, dd;
    float *f1 = tu_ref_f32(f, "fid_f1", &n1), *f2 = tu_ref_f32(f, "fid_f2", &n2);
    double *s1r = ref_d(f, "fid_s1", &dd), *mu1r = ref_d(f, "fid_mu1", NULL);
    double *s2r = ref_d(f, "fid_s2", NULL), *mu2r = ref_d(f, "fid_mu2", NULL);
    double *fidr = ref_d(f, "fid_value", NULL);
    int d = (int)lround(sqrt((double)dd));
    double *mu1 = malloc((size_t)d * sizeof(double)), *mu2 = malloc((size_t)d * sizeof(double));
    double *s1 = malloc(dd * sizeof(double)), *s2 = malloc(dd * sizeof(double));
    jp_error err;
    tu_check(t, jp_feature_stats(mu1, s1, f1, (int)(n1 / d), d, &err) == JP_OK, "jp_feature_stats 1");
    tu_check(t, jp_feature_stats(mu2, s2, f2, (int)(n2 / d), d, &err) == JP_OK, "jp_feature_stats 2");
    tu_close_d(t, "mean vs np.mean", mu1, mu1r, (size_t)d, 1e-12, 1e-12);
    tu_close_d(t, "covariance vs np.cov", s1, s1r, dd, 1e-12, 1e-11);
    tu_close_d(t, "covariance 2 vs np.cov", s2, s2r, dd, 1e-12, 1e-11);
    double fid;
    tu_check(t, jp_frechet_distance(mu1, s1, mu2, s2, d, &fid, &err) == JP_OK, "jp_frechet_distance");
    tu_close_d(t, "FID vs scipy.linalg.sqrtm (pytorch-fid)", &fid, fidr, 1, 1e-9, 1e-10);
    double self;
    jp_frechet_distance(mu1, s1, mu1, s1, d, &self, &err);
    tu_check(t, fabs(self) < 1e-9, "FID of a distribution with itself is 0 (%.3g)", self);

    /* the PSD square root itself */
    double *in = ref_d(f, "sqrtm_in", NULL), *out = ref_d(f, "sqrtm_out", NULL), clamped = 1;
    tu_check(t, jp_sqrtm_psd(in, d, &clamped, &err) == JP_OK, "jp_sqrtm_psd");
    tu_close_d(t, "sqrt(S) vs scipy.linalg.sqrtm", in, out, dd, 1e-10, 1e-9);

    /* rank-deficient covariances (fewer rows than dimensions): eigenvalues clamped */
    size_t g1n, g2n;
    float *g1 = tu_ref_f32(f, "fidr_f1", &g1n), *g2 = tu_ref_f32(f, "fidr_f2", &g2n);
    double *gref = ref_d(f, "fidr_value", NULL), gfid;
    jp_feature_stats(mu1, s1, g1, (int)(g1n / d), d, &err);
    jp_feature_stats(mu2, s2, g2, (int)(g2n / d), d, &err);
    double *a = malloc(dd * sizeof(double));
    memcpy(a, s1, dd * sizeof(double));
    jp_sqrtm_psd(a, d, &clamped, &err);
    tu_check(t, clamped <= 0 && clamped > -1e-9, "singular covariance: tiny negative eigenvalue clamped (%.3g)",
             clamped);
    tu_check(t, jp_frechet_distance(mu1, s1, mu2, s2, d, &gfid, &err) == JP_OK, "FID of rank-deficient statistics");
    tu_close_d(t, "rank-deficient FID vs scipy.linalg.sqrtm", &gfid, gref, 1, 1e-6, 1e-6);
    free(a);
    free(g1);
    free(g2);
    free(gref);
    free(in);
    free(out);
    free(f1);
    free(f2);
    free(s1r);
    free(s2r);
    free(mu1r);
    free(mu2r);
    free(fidr);
    free(mu1);
    free(mu2);
    free(s1);
    free(s2);
}

static void check_kid_is(tu_ctx *t, const jp_st_file *f)
{
    size_t nx, ny;
    float *x = tu_ref_f32(f, "kid_x", &nx), *y = tu_ref_f32(f, "kid_y", &ny);
    double *ref = ref_d(f, "kid_mmd2", NULL);
    int d = 16, m = (int)(nx / d);
    double got = jp_mmd2_poly(x, y, m, d);
    tu_close_d(t, "unbiased MMD^2, cubic kernel", &got, ref, 1, 1e-12, 1e-10);
    /* subsets of every row: each subset is a permutation, the same MMD^2, std 0 */
    jp_rng rng;
    jp_rng_seed(&rng, 7);
    double mean, std;
    jp_error err;
    tu_check(t, jp_kid(x, m, y, m, d, 4, 1000, &rng, &mean, &std, &err) == JP_OK, "jp_kid");
    tu_close_d(t, "KID over full-size subsets", &mean, ref, 1, 1e-12, 1e-10);
    tu_check(t, std < 1e-12, "KID std over permutations of the same rows is 0 (%.3g)", std);
    jp_kid(x, m, y, m, d, 20, 30, &rng, &mean, &std, &err);
    tu_check(t, std > 0 && fabs(mean - ref[0]) < 5 * std + 0.05, "KID over subsets of 30: %.4f +- %.4f (full %.4f)",
             mean, std, ref[0]);
    tu_check(t, jp_kid(x, 1, y, 1, d, 4, 10, &rng, &mean, &std, &err) == JP_ERR_ARG, "KID of one row refused: %s",
             err.msg);

    size_t np_;
    float *p = tu_ref_f32(f, "is_probs", &np_);
    int K = 12, n = (int)(np_ / K);
    for (int s = 3; s <= 5; s += 2) {
        char name[16];
        snprintf(name, sizeof name, "is_%d", s);
        double *r = ref_d(f, name, NULL), g[2];
        tu_check(t, jp_inception_score(p, n, K, s, &g[0], &g[1], &err) == JP_OK, "jp_inception_score %d splits", s);
        tu_close_d(t, s == 3 ? "IS mean, std (3 splits)" : "IS mean, std (5 splits)", g, r, 2, 1e-12, 1e-10);
        free(r);
    }
    tu_check(t, jp_inception_score(p, 2, K, 3, &mean, &std, &err) == JP_ERR_ARG, "IS with fewer images than splits "
             "refused: %s", err.msg);
    free(p);
    free(x);
    free(y);
    free(ref);
}

static void check_properties(tu_ctx *t)
{
    /* perfect separation, full inversion, empty side */
    double pos[4] = {3, 4, 5, 6}, neg[3] = {0, 1, 2};
    jp_detect_metrics m;
    jp_error err;
    jp_detect(pos, 4, neg, 3, &m, &err);
    tu_check(t, m.auroc == 1 && m.aupr == 1 && m.fpr95 == 0, "separated: auroc %g aupr %g fpr95 %g", m.auroc, m.aupr,
             m.fpr95);
    jp_detect(neg, 3, pos, 4, &m, &err);
    tu_check(t, m.auroc == 0 && m.fpr95 == 1, "inverted: auroc %g fpr95 %g", m.auroc, m.fpr95);
    tu_check(t, jp_detect(pos, 4, neg, 0, &m, &err) == JP_ERR_ARG, "empty side refused: %s", err.msg);
    double bad[2] = {1, NAN};
    tu_check(t, jp_detect(bad, 2, neg, 3, &m, &err) == JP_ERR_ARG, "NaN score refused: %s", err.msg);
    /* bins: upper edge included, 1.0 in the last bin, exact edges */
    tu_check(t, jp_confidence_bin(0.05, 20) == 0 && jp_confidence_bin(0.0500001, 20) == 1 &&
                    jp_confidence_bin(1.0, 20) == 19 && jp_confidence_bin(0.1, 20) == 1 &&
                    jp_confidence_bin(0.0, 20) == 0,
             "confidence bins (b/B, (b+1)/B]");
    /* a perfectly calibrated toy: 2 classes, confidence 1 and always right */
    float lg[4] = {100, 0, 0, 100};
    int y[2] = {0, 1};
    jp_calibration c;
    jp_calibrate(&c, lg, y, 2, 2, 20, &err);
    tu_check(t, c.ece < 1e-12 && c.acc == 1 && c.bin_count[19] == 2, "confident and right: ECE %.3g", c.ece);
    jp_calibration_free(&c);
    int ybad[2] = {0, 2};
    tu_check(t, jp_calibrate(&c, lg, ybad, 2, 2, 20, &err) == JP_ERR_ARG, "label out of range refused: %s", err.msg);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_metrics");
    char path[1024];
    jp_st_file f;
    jp_error err;
    if (jp_st_read(&f, tu_src_path(path, sizeof path, "tests/data/metrics_ref.safetensors"), &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    check_detection(&t, &f, "a", 0);
    check_detection(&t, &f, "b", 0);
    check_detection(&t, &f, "c", 1);
    check_calibration(&t, &f, 20);
    check_calibration(&t, &f, 7);
    check_fid(&t, &f);
    check_kid_is(&t, &f);
    check_properties(&t);
    jp_st_close(&f);
    return tu_finish(&t);
}
