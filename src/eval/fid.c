/* Statistics of generated images: Gaussian feature statistics, the Frechet distance
 * (FID), the kernel inception distance (KID) and the Inception Score, in double. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/metrics.h"

/* LAPACK (Fortran): eigenvalues (jobz "N") or eigenpairs ("V") of a symmetric matrix. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);

jp_status jp_feature_stats(double *mean, double *cov, const float *feats, int n, int d, jp_error *err)
{
    if (n < 2 || d < 1)
        return jp_fail(err, JP_ERR_ARG, "feature statistics need at least 2 rows of dimension >= 1 (got %d x %d)",
                       n, d);
    enum { ROWS = 512 };
    double *blk = malloc((size_t)ROWS * d * sizeof(double));
    if (!blk) return jp_fail(err, JP_ERR_NOMEM, "feature statistics block (%d x %d doubles)", ROWS, d);
    memset(mean, 0, (size_t)d * sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += feats[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= n;
    /* cov = sum_i (x_i - mu)(x_i - mu)^T / (n - 1), blocks of rows through dsyrk */
    memset(cov, 0, (size_t)d * d * sizeof(double));
    for (int at = 0; at < n; at += ROWS) {
        int r = n - at < ROWS ? n - at : ROWS;
        for (int i = 0; i < r; i++)
            for (int j = 0; j < d; j++) blk[(size_t)i * d + j] = (double)feats[(size_t)(at + i) * d + j] - mean[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, r, 1.0, blk, d, 1.0, cov, d);
    }
    free(blk);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double v = cov[(size_t)i * d + j] / (n - 1);
            cov[(size_t)i * d + j] = cov[(size_t)j * d + i] = v;
        }
    return JP_OK;
}

/* Eigen-decomposition of the symmetric S (d, d) in place: w (d) ascending eigenvalues;
 * with vectors, row j of S (row-major) holds eigenvector j afterwards. */
static jp_status syevd(double *S, double *w, int d, int vectors, jp_error *err)
{
    const char *jobz = vectors ? "V" : "N";
    int lwork = -1, liwork = -1, info = 0, iw_q = 0;
    double w_q = 0;
    dsyevd_(jobz, "U", &d, S, &d, w, &w_q, &lwork, &iw_q, &liwork, &info);
    if (info != 0) return jp_fail(err, JP_ERR_BACKEND, "dsyevd workspace query failed (info %d)", info);
    lwork = (int)w_q + 1;
    liwork = iw_q + 1;
    double *work = malloc((size_t)lwork * sizeof(double));
    int *iwork = malloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) {
        free(work);
        free(iwork);
        return jp_fail(err, JP_ERR_NOMEM, "dsyevd workspace for a %d x %d matrix", d, d);
    }
    dsyevd_(jobz, "U", &d, S, &d, w, work, &lwork, iwork, &liwork, &info);
    free(work);
    free(iwork);
    if (info != 0)
        return jp_fail(err, JP_ERR_NUMERIC, "dsyevd did not converge on a %d x %d matrix (info %d)", d, d, info);
    return JP_OK;
}

jp_status jp_sqrtm_psd(double *S, int d, double *clamped, jp_error *err)
{
    double *w = malloc((size_t)d * sizeof(double));
    double *F = malloc((size_t)d * d * sizeof(double));
    if (!w || !F) {
        free(w);
        free(F);
        return jp_fail(err, JP_ERR_NOMEM, "matrix square root of %d x %d", d, d);
    }
    memcpy(F, S, (size_t)d * d * sizeof(double));
    jp_status st = syevd(F, w, d, 1, err);
    if (!st) {
        /* sqrt(S) = sum_j sqrt(l_j) v_j v_j^T = G^T G with row j of G = l_j^(1/4) v_j */
        double lo = 0;
        for (int j = 0; j < d; j++) {
            if (w[j] < lo) lo = w[j];
            double s = w[j] > 0 ? sqrt(sqrt(w[j])) : 0.0;
            for (int i = 0; i < d; i++) F[(size_t)j * d + i] *= s;
        }
        if (clamped) *clamped = lo;
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, d, 1.0, F, d, 0.0, S, d);
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++) S[(size_t)j * d + i] = S[(size_t)i * d + j];
    }
    free(w);
    free(F);
    return st;
}

jp_status jp_frechet_distance(const double *mu1, const double *S1, const double *mu2, const double *S2, int d,
                              double *fid, jp_error *err)
{
    *fid = NAN;
    if (d < 1) return jp_fail(err, JP_ERR_ARG, "Frechet distance of dimension %d", d);
    size_t dd = (size_t)d * d;
    double *A = malloc(dd * sizeof(double)), *T = malloc(dd * sizeof(double));
    double *M = malloc(dd * sizeof(double)), *w = malloc((size_t)d * sizeof(double));
    jp_status st = JP_OK;
    if (!A || !T || !M || !w) {
        st = jp_fail(err, JP_ERR_NOMEM, "Frechet distance of dimension %d", d);
        goto done;
    }
    memcpy(A, S1, dd * sizeof(double));
    st = jp_sqrtm_psd(A, d, NULL, err); /* A = sqrt(S1) */
    if (st) goto done;
    /* M = A S2 A, symmetric PSD */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, A, d, S2, d, 0.0, T, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, T, d, A, d, 0.0, M, d);
    for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) {
            double v = 0.5 * (M[(size_t)i * d + j] + M[(size_t)j * d + i]);
            M[(size_t)i * d + j] = M[(size_t)j * d + i] = v;
        }
    st = syevd(M, w, d, 0, err);
    if (st) goto done;
    double tr_sqrt = 0, diff2 = 0, tr1 = 0, tr2 = 0;
    for (int j = 0; j < d; j++) tr_sqrt += w[j] > 0 ? sqrt(w[j]) : 0.0;
    for (int j = 0; j < d; j++) {
        double df = mu1[j] - mu2[j];
        diff2 += df * df;
        tr1 += S1[(size_t)j * d + j];
        tr2 += S2[(size_t)j * d + j];
    }
    *fid = diff2 + tr1 + tr2 - 2.0 * tr_sqrt;
done:
    free(A);
    free(T);
    free(M);
    free(w);
    return st;
}

/* ---- KID ---------------------------------------------------------------------- */

double jp_mmd2_poly(const float *X, const float *Y, int m, int d)
{
    size_t md = (size_t)m * d, mm = (size_t)m * m;
    double *x = malloc(md * sizeof(double)), *y = malloc(md * sizeof(double));
    double *G = malloc(mm * sizeof(double));
    double out = NAN;
    if (!x || !y || !G || m < 2) goto done;
    for (size_t i = 0; i < md; i++) {
        x[i] = X[i];
        y[i] = Y[i];
    }
    double inv_d = 1.0 / d, sxx = 0, syy = 0, sxy = 0;
    /* sum_{i<j} k(x_i, x_j) from the upper triangle of X X^T (the diagonal is left out) */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, m, d, 1.0, x, d, 0.0, G, m);
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++) {
            double k = G[(size_t)i * m + j] * inv_d + 1.0;
            sxx += k * k * k;
        }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, m, d, 1.0, y, d, 0.0, G, m);
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++) {
            double k = G[(size_t)i * m + j] * inv_d + 1.0;
            syy += k * k * k;
        }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, x, d, y, d, 0.0, G, m);
    for (size_t i = 0; i < mm; i++) {
        double k = G[i] * inv_d + 1.0;
        sxy += k * k * k;
    }
    out = 2.0 * (sxx + syy) / ((double)m * (m - 1)) - 2.0 * sxy / ((double)m * m);
done:
    free(x);
    free(y);
    free(G);
    return out;
}

/* The first k entries of idx become a uniform random k-subset of [0, n) (partial
 * Fisher-Yates over the identity). */
static void random_subset(int *idx, int n, int k, jp_rng *rng)
{
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = 0; i < k; i++) {
        int j = i + (int)jp_rng_below(rng, (uint64_t)(n - i));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

jp_status jp_kid(const float *fx, int nx, const float *fy, int ny, int d, int n_subsets, int subset_size,
                 jp_rng *rng, double *mean, double *std, jp_error *err)
{
    *mean = *std = NAN;
    int m = subset_size;
    if (m > nx) m = nx;
    if (m > ny) m = ny;
    if (m < 2 || n_subsets < 1 || d < 1)
        return jp_fail(err, JP_ERR_ARG, "KID needs subsets of at least 2 rows and at least one subset "
                       "(%d and %d rows, subset size %d, %d subsets)", nx, ny, subset_size, n_subsets);
    float *sx = malloc((size_t)m * d * sizeof(float)), *sy = malloc((size_t)m * d * sizeof(float));
    int *ix = malloc((size_t)nx * sizeof(int)), *iy = malloc((size_t)ny * sizeof(int));
    double *v = malloc((size_t)n_subsets * sizeof(double));
    jp_status st = JP_OK;
    if (!sx || !sy || !ix || !iy || !v) {
        st = jp_fail(err, JP_ERR_NOMEM, "KID subsets of %d x %d", m, d);
        goto done;
    }
    double s = 0;
    for (int k = 0; k < n_subsets; k++) {
        random_subset(ix, nx, m, rng);
        random_subset(iy, ny, m, rng);
        for (int i = 0; i < m; i++) {
            memcpy(sx + (size_t)i * d, fx + (size_t)ix[i] * d, (size_t)d * sizeof(float));
            memcpy(sy + (size_t)i * d, fy + (size_t)iy[i] * d, (size_t)d * sizeof(float));
        }
        v[k] = jp_mmd2_poly(sx, sy, m, d);
        if (isnan(v[k])) {
            st = jp_fail(err, JP_ERR_NOMEM, "KID kernel matrices of %d x %d", m, m);
            goto done;
        }
        s += v[k];
    }
    *mean = s / n_subsets;
    double q = 0;
    for (int k = 0; k < n_subsets; k++) q += (v[k] - *mean) * (v[k] - *mean);
    *std = sqrt(q / n_subsets);
done:
    free(sx);
    free(sy);
    free(ix);
    free(iy);
    free(v);
    return st;
}

/* ---- Inception Score ---------------------------------------------------------- */

jp_status jp_inception_score(const float *probs, int n, int K, int splits, double *mean, double *std,
                             jp_error *err)
{
    *mean = *std = NAN;
    if (splits < 1 || n < splits || K < 1)
        return jp_fail(err, JP_ERR_ARG, "Inception Score of %d images in %d splits: need at least one image "
                       "per split", n, splits);
    double *py = malloc((size_t)K * sizeof(double)), *sc = malloc((size_t)splits * sizeof(double));
    if (!py || !sc) {
        free(py);
        free(sc);
        return jp_fail(err, JP_ERR_NOMEM, "Inception Score");
    }
    int part = n / splits;
    double s = 0;
    for (int p = 0; p < splits; p++) {
        const float *P = probs + (size_t)p * part * K;
        memset(py, 0, (size_t)K * sizeof(double));
        for (int i = 0; i < part; i++)
            for (int k = 0; k < K; k++) py[k] += P[(size_t)i * K + k];
        for (int k = 0; k < K; k++) py[k] /= part;
        double kl = 0;
        for (int i = 0; i < part; i++)
            for (int k = 0; k < K; k++) {
                double q = P[(size_t)i * K + k];
                if (q > 0) kl += q * (log(q) - log(py[k]));
            }
        sc[p] = exp(kl / part);
        s += sc[p];
    }
    *mean = s / splits;
    double q = 0;
    for (int p = 0; p < splits; p++) q += (sc[p] - *mean) * (sc[p] - *mean);
    *std = sqrt(q / splits);
    free(py);
    free(sc);
    return JP_OK;
}
