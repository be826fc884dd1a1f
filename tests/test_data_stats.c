/* Informative-initialisation statistics: per-class mean, covariance and Cholesky factor
 * against numpy (tests/data/data_gauss_ref.safetensors from tools/gen_data_formats.py)
 * and against a naive double-precision computation here; the sample mean and
 * covariance of 100k draws per class against mu and Sigma + eps I; class frequencies of
 * mixture draws; clamping; an empty class; the cache (hit, stale hash, corrupt file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jempp/data.h"
#include "jempp/safetensors.h"
#include "testutil.h"

static char tmp[512];

static void make_dataset(jp_dataset *ds, int n, int c, int h, int w, int k)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "stats-test");
    ds->n = n, ds->c = c, ds->h = h, ds->w = w, ds->n_classes = k;
    ds->x = jp_alloc((size_t)n * c * h * w * sizeof(float));
    ds->y = jp_alloc((size_t)n * sizeof(int));
}

/* Naive double-precision per-class mean and covariance. */
static void naive_stats(const jp_dataset *ds, int k, double *mean, double *cov)
{
    size_t d = jp_dataset_dim(ds);
    int n = 0;
    memset(mean, 0, d * sizeof(double));
    memset(cov, 0, d * d * sizeof(double));
    for (int i = 0; i < ds->n; i++)
        if (ds->y[i] == k) {
            n++;
            for (size_t j = 0; j < d; j++) mean[j] += ds->x[i * d + j];
        }
    for (size_t j = 0; j < d; j++) mean[j] /= n;
    for (int i = 0; i < ds->n; i++)
        if (ds->y[i] == k)
            for (size_t a = 0; a < d; a++)
                for (size_t b = 0; b < d; b++)
                    cov[a * d + b] += (ds->x[i * d + a] - mean[a]) * (ds->x[i * d + b] - mean[b]);
    for (size_t j = 0; j < d * d; j++) cov[j] /= n;
}

static void test_against_numpy(tu_ctx *t)
{
    char path[1024];
    jp_st_file f;
    jp_error e = {0};
    if (jp_st_read(&f, tu_src_path(path, sizeof path, "tests/data/data_gauss_ref.safetensors"), &e)) {
        tu_check(t, 0, "reference file: %s", e.msg);
        return;
    }
    const jp_st_entry *ep = jp_st_find(&f, "pixels"), *el = jp_st_find(&f, "labels");
    int n = (int)ep->shape[0], K = 3, D = 48;
    jp_dataset ds;
    make_dataset(&ds, n, 3, 4, 4, K);
    const unsigned char *pix = jp_st_data(&f, ep);
    const unsigned char *lab = jp_st_data(&f, el);
    for (int i = 0; i < n * D; i++) ds.x[i] = ((float)pix[i] / 255.0f - 0.5f) / 0.5f;
    for (int i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, lab + 8 * i, 8);
        ds.y[i] = (int)v;
    }
    double *rmean = malloc(sizeof(double) * K * D), *rcov = malloc(sizeof(double) * K * D * D);
    double *rchol = malloc(sizeof(double) * K * D * D), *rprior = malloc(sizeof(double) * K);
    int64_t sm[2] = {K, D}, sc[3] = {K, D, D}, sk[1] = {K};
    jp_status s = jp_st_get(&f, "mean", JP_F64, 2, sm, rmean, &e);
    if (!s) s = jp_st_get(&f, "cov", JP_F64, 3, sc, rcov, &e);
    if (!s) s = jp_st_get(&f, "chol", JP_F64, 3, sc, rchol, &e);
    if (!s) s = jp_st_get(&f, "prior", JP_F64, 1, sk, rprior, &e);
    tu_check(t, s == JP_OK, "numpy reference tensors: %s", s ? e.msg : "loaded");
    jp_st_close(&f);

    jp_gauss_stats st;
    s = jp_gauss_stats_compute(&st, &ds, 1, &e);
    tu_check(t, s == JP_OK, "compute: %s", s ? e.msg : "ok");
    if (s != JP_OK) return;
    double *mean_d = malloc(sizeof(double) * K * D), *chol_d = malloc(sizeof(double) * K * D * D);
    double prior_d[3];
    for (int i = 0; i < K * D; i++) mean_d[i] = st.mean[i];
    for (int i = 0; i < K * D * D; i++) chol_d[i] = st.chol[i];
    for (int k = 0; k < K; k++) prior_d[k] = st.prior[k];
    tu_close_d(t, "mean vs numpy", mean_d, rmean, (size_t)K * D, 1e-6, 1e-6);
    tu_close_d(t, "covariance vs numpy", st.cov, rcov, (size_t)K * D * D, 1e-7, 1e-5);
    tu_close_d(t, "Cholesky of cov + 1e-4 I vs numpy", chol_d, rchol, (size_t)K * D * D, 2e-6, 1e-5);
    tu_close_d(t, "priors vs numpy", prior_d, rprior, K, 1e-7, 0);
    tu_check(t, st.count[0] == 300 && st.count[1] == 200 && st.count[2] == 100,
             "class counts 300/200/100");
    /* naive double computation, and L L^T = Sigma + eps I */
    double *nm = malloc(sizeof(double) * D), *nc = malloc(sizeof(double) * D * D);
    double *llt = malloc(sizeof(double) * D * D), *want = malloc(sizeof(double) * D * D);
    for (int k = 0; k < K; k++) {
        naive_stats(&ds, k, nm, nc);
        char what[64];
        snprintf(what, sizeof what, "class %d covariance vs naive double", k);
        tu_close_d(t, what, st.cov + (size_t)k * D * D, nc, (size_t)D * D, 1e-7, 1e-5);
        const float *L = st.chol + (size_t)k * D * D;
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++) {
                double v = 0;
                for (int j = 0; j < D; j++) v += (double)L[a * D + j] * L[b * D + j];
                llt[a * D + b] = v;
                want[a * D + b] = nc[a * D + b] + (a == b ? 1e-4 : 0);
            }
        snprintf(what, sizeof what, "class %d L L^T vs Sigma + 1e-4 I", k);
        tu_close_d(t, what, llt, want, (size_t)D * D, 1e-6, 1e-5);
    }
    /* draws from this data hit the clamp: all within [-1, 1], some at the bounds */
    float *xs = malloc(sizeof(float) * 2000 * D);
    jp_rng rng;
    jp_rng_seed(&rng, 3);
    jp_gauss_stats_sample(&st, xs, NULL, 2000, -1, &rng);
    int inside = 1, at_bound = 0;
    for (int i = 0; i < 2000 * D; i++) {
        inside = inside && xs[i] >= -1.0f && xs[i] <= 1.0f;
        at_bound += xs[i] == 1.0f || xs[i] == -1.0f;
    }
    tu_check(t, inside && at_bound > 0, "samples clamped to [-1, 1] (%d values at the bounds)", at_bound);
    free(xs);
    free(nm), free(nc), free(llt), free(want);
    free(mean_d), free(chol_d), free(rmean), free(rcov), free(rchol), free(rprior);
    jp_gauss_stats_free(&st);
    jp_dataset_free(&ds);
}

/* Data well inside (-1, 1), so that clamping never matters and draws can be checked
 * against the Gaussian exactly. Class 3 has no images. */
static void test_sampling(tu_ctx *t)
{
    enum { D = 12, K = 4, N = 3000, DRAWS = 100000 };
    jp_dataset ds;
    make_dataset(&ds, N, 3, 2, 2, K);
    jp_rng rng;
    jp_rng_seed(&rng, 11);
    for (int i = 0; i < N; i++) {
        int k = i % 6 == 0 ? 2 : i % 2; /* classes 0, 1 and a smaller 2 */
        ds.y[i] = k;
        double z[3] = {jp_rng_normal(&rng), jp_rng_normal(&rng), jp_rng_normal(&rng)};
        for (int j = 0; j < D; j++)
            ds.x[(size_t)i * D + j] = (float)(0.2 * (k - 1) + 0.05 * sin(j + k) +
                                             0.04 * z[j % 3] + 0.02 * z[(j + k) % 3] * (j % 2) +
                                             0.01 * jp_rng_normal(&rng));
    }
    jp_gauss_stats st;
    jp_error e = {0};
    if (jp_gauss_stats_compute(&st, &ds, 1, &e) != JP_OK) {
        tu_check(t, 0, "compute: %s", e.msg);
        return;
    }
    tu_check(t, st.count[3] == 0 && st.prior[3] == 0 && fabs(st.chol[3 * D * D] - 1e-2) < 1e-7,
             "empty class 3: prior 0, L = sqrt(1e-4) I");
    float *x = malloc(sizeof(float) * (size_t)DRAWS * D);
    int *y = malloc(sizeof(int) * DRAWS);
    for (int k = 0; k < 3; k++) {
        jp_gauss_stats_sample(&st, x, y, DRAWS, k, &rng);
        double m[D] = {0}, c[D * D] = {0};
        for (int i = 0; i < DRAWS; i++)
            for (int j = 0; j < D; j++) m[j] += x[(size_t)i * D + j];
        for (int j = 0; j < D; j++) m[j] /= DRAWS;
        for (int i = 0; i < DRAWS; i++)
            for (int a = 0; a < D; a++)
                for (int b = 0; b < D; b++)
                    c[a * D + b] += (x[(size_t)i * D + a] - m[a]) * (x[(size_t)i * D + b] - m[b]);
        double worst_m = 0, worst_c = 0;
        for (int a = 0; a < D; a++) {
            double saa = st.cov[(size_t)k * D * D + a * D + a] + 1e-4;
            double se = sqrt(saa / DRAWS);
            worst_m = fmax(worst_m, fabs(m[a] - st.mean[k * D + a]) / se);
            for (int b = 0; b < D; b++) {
                double sab = st.cov[(size_t)k * D * D + a * D + b] + (a == b ? 1e-4 : 0);
                double sbb = st.cov[(size_t)k * D * D + b * D + b] + 1e-4;
                double se_c = sqrt((saa * sbb + sab * sab) / DRAWS);
                worst_c = fmax(worst_c, fabs(c[a * D + b] / DRAWS - sab) / se_c);
            }
        }
        tu_check(t, worst_m < 5 && worst_c < 5,
                 "class %d, %d draws: sample mean within %.2f SE, sample covariance within %.2f "
                 "SE of Sigma + 1e-4 I (limit 5)", k, DRAWS, worst_m, worst_c);
    }
    /* mixture: classes follow the priors (1/3 - 1/6, 1/2, 1/6, 0) */
    jp_gauss_stats_sample(&st, x, y, DRAWS, -1, &rng);
    long cnt[K] = {0};
    int consistent = 1;
    for (int i = 0; i < DRAWS; i++) {
        cnt[y[i]]++;
        /* a draw of class 2 sits near 0.2 * (2 - 1) = 0.2 on average, class 0 near -0.2 */
        double avg = 0;
        for (int j = 0; j < D; j++) avg += x[(size_t)i * D + j] / D;
        consistent = consistent && fabs(avg - 0.2 * (y[i] - 1)) < 0.15;
    }
    double chi2 = 0;
    for (int k = 0; k < 3; k++) {
        double want = DRAWS * (double)st.prior[k];
        chi2 += (cnt[k] - want) * (cnt[k] - want) / want;
    }
    tu_check(t, cnt[3] == 0 && chi2 < 13.8,
             "mixture draws: class counts %ld/%ld/%ld/%ld vs priors, chi-square %.2f (99.9%% point "
             "13.8)", cnt[0], cnt[1], cnt[2], cnt[3], chi2);
    tu_check(t, consistent, "each draw's y_out matches the class its values came from");
    /* determinism */
    jp_rng r1, r2;
    jp_rng_seed(&r1, 5);
    r2 = r1;
    float *x2 = malloc(sizeof(float) * 500 * D);
    jp_gauss_stats_sample(&st, x, y, 500, -1, &r1);
    jp_gauss_stats_sample(&st, x2, NULL, 500, -1, &r2);
    tu_check(t, memcmp(x, x2, sizeof(float) * 500 * D) == 0, "same rng state, same draws");
    free(x2);

    /* the cache */
    char path[1024];
    snprintf(path, sizeof path, "%s/stats.safetensors", tmp);
    jp_gauss_stats a, b;
    jp_status s = jp_gauss_stats_load_or_compute(&a, &ds, path, &e);
    tu_check(t, s == JP_OK && !a.from_cache && strstr(a.cache_note, "saved"),
             "first run computes and writes the cache: %s", a.cache_note);
    s = jp_gauss_stats_load_or_compute(&b, &ds, path, &e);
    int same = s == JP_OK && b.from_cache && b.data_hash == a.data_hash &&
               memcmp(a.mean, b.mean, sizeof(float) * K * D) == 0 &&
               memcmp(a.chol, b.chol, sizeof(float) * K * D * D) == 0 &&
               memcmp(a.prior, b.prior, sizeof(float) * K) == 0 &&
               memcmp(a.count, b.count, sizeof(int64_t) * K) == 0;
    tu_check(t, same, "second run loads the cache, bit for bit equal");
    jp_gauss_stats_free(&b);
    ds.x[7] += 0.001f; /* other data: the cache is stale */
    s = jp_gauss_stats_load_or_compute(&b, &ds, path, &e);
    tu_check(t, s == JP_OK && !b.from_cache && strstr(b.cache_note, "other data"),
             "changed data: cache not used: %s", b.cache_note);
    jp_gauss_stats_free(&b);
    s = jp_gauss_stats_load(&b, path, a.data_hash, &e);
    tu_check(t, s == JP_ERR_FORMAT && strstr(e.msg, "other data"), "load with the old hash: %s", e.msg);
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fclose(f);
        if (truncate(path, len / 2) != 0) perror("truncate");
    }
    s = jp_gauss_stats_load_or_compute(&b, &ds, path, &e);
    tu_check(t, s == JP_OK && !b.from_cache && strstr(b.cache_note, "not used"),
             "truncated cache: recomputed: %s", b.cache_note);
    jp_gauss_stats_free(&b);
    s = jp_gauss_stats_load_or_compute(&b, &ds, "/nonexistent-dir/stats.safetensors", &e);
    tu_check(t, s == JP_OK && strstr(b.cache_note, "could not write"),
             "unwritable cache path is not an error: %s", b.cache_note);
    jp_gauss_stats_free(&b);
    jp_gauss_stats_free(&a);
    jp_gauss_stats_free(&st);
    free(x);
    free(y);
    jp_dataset_free(&ds);
}

static void test_hash(tu_ctx *t)
{
    jp_dataset a, b;
    make_dataset(&a, 300, 3, 5, 7, 3);
    for (int i = 0; i < 300 * 105; i++) a.x[i] = (float)sin(i * 0.37);
    for (int i = 0; i < 300; i++) a.y[i] = i % 3;
    int idx[300];
    for (int i = 0; i < 300; i++) idx[i] = i;
    jp_error e;
    jp_dataset_subset(&b, &a, idx, 300, "copy", &e);
    uint64_t h = jp_dataset_hash(&a);
    int ok = h == jp_dataset_hash(&b);
    b.x[300 * 105 - 1] = nextafterf(b.x[300 * 105 - 1], 2.0f);
    ok = ok && h != jp_dataset_hash(&b);
    b.x[300 * 105 - 1] = a.x[300 * 105 - 1];
    b.y[5] = 0;
    ok = ok && h != jp_dataset_hash(&b);
    tu_check(t, ok, "hash: equal for a copy, differs after a 1-ulp change or a relabel");
    jp_dataset_free(&a);
    jp_dataset_free(&b);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_data_stats");
    tu_tmpdir(tmp, sizeof tmp, "data-stats");
    test_against_numpy(&t);
    test_sampling(&t);
    test_hash(&t);
    return tu_finish(&t);
}
