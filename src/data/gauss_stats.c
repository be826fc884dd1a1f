/* Class-conditional Gaussians of the informative initialisation: per class y the mean,
 * Sigma_y = (X - mu)^T (X - mu) / n_y, the Cholesky factor of Sigma_y + eps I and the
 * prior; and the sampler x = clamp(mu_y + L_y z, -1, 1), z ~ N(0, I).
 *
 * Cost for CIFAR size (45000 x 3072, 10 classes): the covariances are n D^2 / 2 = 2.1e11
 * multiply-adds done by ssyrk on row blocks of the double-centred data, each block's
 * float result accumulated into a double matrix (so rounding grows with the block
 * length, not with n), and the factorisations are 10 dpotrf of 3072^2 in double.
 * Only BLAS/LAPACK run multi-threaded: the O(n D) and O(D^2) loops around them are
 * cheap, and OpenMP regions between BLAS calls made the whole several times slower on
 * a busy 2-core machine (threads waiting at barriers for descheduled peers). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/gauss_internal.h"

void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);

#define ROW_BLOCK 1024

void jp_gauss_stats_free(jp_gauss_stats *s)
{
    if (!s) return;
    jp_free(s->mean);
    jp_free(s->chol);
    jp_free(s->prior);
    jp_free(s->count);
    jp_free(s->cov);
    memset(s, 0, sizeof *s);
}

jp_status jp_gauss_stats_alloc(jp_gauss_stats *s, int k, int c, int h, int w, int with_cov,
                               jp_error *err)
{
    memset(s, 0, sizeof *s);
    s->n_classes = k;
    s->c = c;
    s->h = h;
    s->w = w;
    s->dim = c * h * w;
    s->eps = 1e-4f;
    size_t d = (size_t)s->dim;
    s->mean = jp_alloc((size_t)k * d * sizeof(float));
    s->chol = jp_alloc((size_t)k * d * d * sizeof(float));
    s->prior = jp_alloc((size_t)k * sizeof(float));
    s->count = jp_alloc((size_t)k * sizeof(int64_t));
    if (with_cov) s->cov = jp_alloc((size_t)k * d * d * sizeof(double));
    if (!s->mean || !s->chol || !s->prior || !s->count || (with_cov && !s->cov)) {
        jp_gauss_stats_free(s);
        return jp_fail(err, JP_ERR_NOMEM, "Gaussian statistics: cannot allocate %zu bytes for %d "
                       "classes of dimension %zu", (size_t)k * d * d * sizeof(float), k, d);
    }
    return JP_OK;
}

jp_status jp_gauss_stats_compute(jp_gauss_stats *s, const jp_dataset *ds, int keep_cov,
                                 jp_error *err)
{
    return jp_gauss_stats_compute_hashed(s, ds, keep_cov, 0, err);
}

jp_status jp_gauss_stats_compute_hashed(jp_gauss_stats *s, const jp_dataset *ds, int keep_cov,
                                        uint64_t hash, jp_error *err)
{
    if (ds->n < 1 || ds->n_classes < 1)
        return jp_fail(err, JP_ERR_ARG, "Gaussian statistics of %s: no images", ds->name);
    jp_status st = jp_gauss_stats_alloc(s, ds->n_classes, ds->c, ds->h, ds->w, keep_cov, err);
    if (st != JP_OK) return st;
    const int D = s->dim, K = s->n_classes;
    const size_t d = (size_t)D;
    s->data_hash = hash ? hash : jp_dataset_hash(ds);
    int *members = malloc((size_t)ds->n * sizeof(int));
    double *mu = malloc(d * sizeof(double));
    double *acc = jp_alloc(d * d * sizeof(double));
    float *blk = jp_alloc((size_t)ROW_BLOCK * d * sizeof(float));
    float *part = jp_alloc(d * d * sizeof(float));
    if (!members || !mu || !acc || !blk || !part) {
        st = jp_fail(err, JP_ERR_NOMEM, "Gaussian statistics: cannot allocate %zu bytes of "
                     "work space", d * d * 12 + (size_t)ROW_BLOCK * d * 4);
        goto done;
    }
    for (int k = 0; k < K; k++) {
        int nk = 0;
        for (int i = 0; i < ds->n; i++)
            if (ds->y[i] == k) members[nk++] = i;
        s->count[k] = nk;
        s->prior[k] = (float)((double)nk / ds->n);
        float *mean = s->mean + (size_t)k * d;
        memset(mu, 0, d * sizeof(double));
        memset(acc, 0, d * d * sizeof(double));
        if (nk > 0) {
            for (int j0 = 0; j0 < D; j0 += 64) {
                int je = D - j0 < 64 ? D : j0 + 64;
                double a[64] = {0};
                for (int i = 0; i < nk; i++) {
                    const float *row = ds->x + (size_t)members[i] * d;
                    for (int j = j0; j < je; j++) a[j - j0] += row[j];
                }
                for (int j = j0; j < je; j++) mu[j] = a[j - j0] / nk;
            }
            for (int b0 = 0; b0 < nk; b0 += ROW_BLOCK) {
                int rows = nk - b0 < ROW_BLOCK ? nk - b0 : ROW_BLOCK;
                for (int r = 0; r < rows; r++) {
                    const float *src = ds->x + (size_t)members[b0 + r] * d;
                    float *dst = blk + (size_t)r * d;
                    for (int j = 0; j < D; j++) dst[j] = (float)((double)src[j] - mu[j]);
                }
                /* part (lower, row-major) = blk^T blk */
                cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, D, rows, 1.0f, blk, D, 0.0f,
                            part, D);
                for (int i = 0; i < D; i++)
                    for (int j = 0; j <= i; j++) acc[(size_t)i * d + j] += part[(size_t)i * d + j];
            }
            double inv = 1.0 / nk;
            for (int i = 0; i < D; i++)
                for (int j = 0; j <= i; j++) acc[(size_t)i * d + j] *= inv;
        }
        for (int j = 0; j < D; j++) mean[j] = (float)mu[j];
        if (s->cov) {
            double *cv = s->cov + (size_t)k * d * d;
            for (int i = 0; i < D; i++)
                for (int j = 0; j <= i; j++)
                    cv[(size_t)i * d + j] = cv[(size_t)j * d + i] = acc[(size_t)i * d + j];
        }
        for (int i = 0; i < D; i++) acc[(size_t)i * d + i] += (double)s->eps;
        /* Row-major lower = column-major upper: dpotrf("U") leaves U with A = U^T U in it,
         * which read row-major is L = U^T, A = L L^T. */
        int info = 0;
        dpotrf_("U", &D, acc, &D, &info);
        if (info != 0) {
            st = jp_fail(err, info > 0 ? JP_ERR_NUMERIC : JP_ERR_BACKEND,
                         "Gaussian statistics of %s: the covariance of class %d plus %g I is not "
                         "positive definite (dpotrf info %d)", ds->name, k, (double)s->eps, info);
            goto done;
        }
        float *L = s->chol + (size_t)k * d * d;
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++)
                L[(size_t)i * d + j] = j <= i ? (float)acc[(size_t)i * d + j] : 0.0f;
    }
    st = JP_OK;
done:
    free(members);
    free(mu);
    jp_free(acc);
    jp_free(blk);
    jp_free(part);
    if (st != JP_OK) jp_gauss_stats_free(s);
    return st;
}

void jp_gauss_stats_classes(const jp_gauss_stats *s, int *cls, int n, int fixed_class, jp_rng *rng)
{
    const int K = s->n_classes;
    double total = 0;
    for (int k = 0; k < K; k++) total += s->prior[k];
    for (int i = 0; i < n; i++) {
        if (fixed_class >= 0) {
            cls[i] = fixed_class;
            continue;
        }
        double u = jp_rng_uniform(rng) * total, c = 0;
        int pick = -1, last = 0;
        for (int k = 0; k < K; k++) {
            if (s->prior[k] > 0) last = k;
            c += s->prior[k];
            if (pick < 0 && u < c) pick = k;
        }
        cls[i] = pick >= 0 ? pick : last; /* u rounding past the sum: the last class */
    }
}

void jp_gauss_stats_sample(const jp_gauss_stats *s, float *x, int *y_out, int n, int fixed_class,
                           jp_rng *rng)
{
    JP_CHECK(n >= 0 && fixed_class >= -1 && fixed_class < s->n_classes);
    if (n == 0) return;
    const int D = s->dim, K = s->n_classes;
    const size_t d = (size_t)D;
    int *cls = malloc((size_t)n * sizeof(int));
    int *order = malloc((size_t)n * sizeof(int));
    size_t blk_rows = n < JP_GAUSS_SAMPLE_ROWS ? (size_t)n : JP_GAUSS_SAMPLE_ROWS;
    float *blk = malloc(blk_rows * d * sizeof(float));
    JP_CHECK(cls && order && blk);
    jp_gauss_stats_classes(s, cls, n, fixed_class, rng);
    for (int k = 0; k < K; k++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (cls[i] == k) order[m++] = i;
        const float *L = s->chol + (size_t)k * d * d, *mu = s->mean + (size_t)k * d;
        for (int b0 = 0; b0 < m; b0 += JP_GAUSS_SAMPLE_ROWS) {
            int rows = m - b0 < JP_GAUSS_SAMPLE_ROWS ? m - b0 : JP_GAUSS_SAMPLE_ROWS;
            jp_rng_fill_normal(rng, blk, (size_t)rows * d, 0.0f, 1.0f);
            /* blk := blk L^T, i.e. each row z becomes L z */
            cblas_strmm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, rows, D,
                        1.0f, L, D, blk, D);
            for (int r = 0; r < rows; r++) {
                float *dst = x + (size_t)order[b0 + r] * d;
                const float *src = blk + (size_t)r * d;
                for (int j = 0; j < D; j++) {
                    float v = src[j] + mu[j];
                    dst[j] = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
                }
            }
        }
    }
    if (y_out) memcpy(y_out, cls, (size_t)n * sizeof(int));
    free(cls);
    free(order);
    free(blk);
}
