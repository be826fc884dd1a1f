/* jp_sgemm against a naive double-precision product on both of its paths (OpenBLAS below
 * JP_SGEMM_DNNL_MIN_MACS multiply-adds, oneDNN from there on): the four transpose
 * combinations, beta 0 and 1 (and a general alpha/beta), non-square sizes, leading
 * dimensions past the row length (the padding must stay untouched), the gemv and outer
 * product shapes of the network heads, an empty inner dimension, and beta 0 over a C full
 * of NaN (BLAS: C is not read). Then, run with OpenBLAS on its Prescott kernels (the
 * test starts itself again with OPENBLAS_CORETYPE=Prescott), that jp_blas_better_core
 * and jp_blas_note detect them on an AVX2 CPU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/sgemm.h"
#include "testutil.h"

char *openblas_get_corename(void); /* OpenBLAS's own extension */

#define PAD_VALUE 12345.0f

/* Element (i, j) of op(X), X row-major with leading dimension ld. */
static double at(const float *x, int ld, int trans, int i, int j)
{
    return trans ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j];
}

/* One case: random A, B, C with `pad` extra columns in every leading dimension; the pad
 * holds PAD_VALUE, which must survive and must not leak into C. nan_c fills C with NaN
 * (only meaningful with beta == 0). */
static void check_case(tu_ctx *t, jp_rng *r, int ta, int tb, int m, int n, int k, float alpha, float beta, int pad,
                       int nan_c)
{
    int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    size_t na = (size_t)a_rows * lda, nb = (size_t)b_rows * ldb, nc = (size_t)m * ldc;
    float *a = malloc((na + 1) * sizeof(float)), *b = malloc((nb + 1) * sizeof(float));
    float *c = malloc((nc + 1) * sizeof(float));
    double *ref = malloc(((size_t)m * n + 1) * sizeof(double));
    if (!a || !b || !c || !ref) {
        fprintf(stderr, "test_sgemm: out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < na; i++) a[i] = PAD_VALUE;
    for (size_t i = 0; i < nb; i++) b[i] = PAD_VALUE;
    for (size_t i = 0; i < nc; i++) c[i] = PAD_VALUE;
    for (int i = 0; i < a_rows; i++) jp_rng_fill_uniform(r, a + (size_t)i * lda, (size_t)a_cols, -1, 1);
    for (int i = 0; i < b_rows; i++) jp_rng_fill_uniform(r, b + (size_t)i * ldb, (size_t)b_cols, -1, 1);
    for (int i = 0; i < m; i++) {
        float *row = c + (size_t)i * ldc;
        if (nan_c)
            for (int j = 0; j < n; j++) row[j] = NAN;
        else jp_rng_fill_uniform(r, row, (size_t)n, -1, 1);
    }
    /* op(A) and op(B)^T as dense double rows, so that each entry is a contiguous dot */
    double *oa = malloc(((size_t)m * k + 1) * sizeof(double)), *obt = malloc(((size_t)n * k + 1) * sizeof(double));
    if (!oa || !obt) {
        fprintf(stderr, "test_sgemm: out of memory\n");
        exit(2);
    }
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++) oa[(size_t)i * k + p] = at(a, lda, ta, i, p);
    for (int j = 0; j < n; j++)
        for (int p = 0; p < k; p++) obt[(size_t)j * k + p] = at(b, ldb, tb, p, j);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) s += oa[(size_t)i * k + p] * obt[(size_t)j * k + p];
            double c0 = beta == 0.0f ? 0.0 : (double)beta * c[(size_t)i * ldc + j];
            ref[(size_t)i * n + j] = alpha * s + c0;
        }
    free(oa);
    free(obt);

    jp_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /* float accumulation of k products of magnitude <= 1: error well under 1e-6 per term */
    double tol = 1e-6 * (k + 2) * (fabs(alpha) + 1), maxd = 0;
    size_t bad = 0, pad_bad = 0;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double d = fabs((double)c[(size_t)i * ldc + j] - ref[(size_t)i * n + j]);
            if (isnan(d)) d = INFINITY;
            if (d > maxd) maxd = d;
            bad += d > tol;
        }
        for (int j = n; j < ldc; j++) pad_bad += c[(size_t)i * ldc + j] != PAD_VALUE;
    }
    int dnnl = (long long)m * n * k >= JP_SGEMM_DNNL_MIN_MACS;
    tu_check(t, bad == 0 && pad_bad == 0,
             "%-8s %c%c m %3d n %3d k %3d alpha %5.2f beta %4.2f lda %3d ldb %3d ldc %3d%s: max|diff| %.3g "
             "(tol %.1g), %zu wrong, %zu pad entries written",
             dnnl ? "oneDNN" : "OpenBLAS", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, beta, lda, ldb, ldc,
             nan_c ? " (C was NaN)" : "", maxd, tol, bad, pad_bad);
    free(a);
    free(b);
    free(c);
    free(ref);
}

int main(int argc, char **argv)
{
    /* OpenBLAS reads OPENBLAS_CORETYPE when it loads: start again with the old kernels */
    const char *ct = getenv("OPENBLAS_CORETYPE");
    if (argc > 0 && (!ct || strcmp(ct, "Prescott"))) {
        setenv("OPENBLAS_CORETYPE", "Prescott", 1);
        execv("/proc/self/exe", argv);
        printf("test_sgemm: cannot start again with OPENBLAS_CORETYPE=Prescott\n");
        return 1;
    }
    tu_ctx t;
    tu_begin(&t, "test_sgemm");
    jp_rng r;
    jp_rng_seed(&r, 7);
    /* non-square: m, n and k all differ; the last two sets are larger than a kernel block in
     * each, and the last is past JP_SGEMM_DNNL_MIN_MACS (oneDNN's path) */
    static const int sizes[][3] = {{3, 5, 7}, {37, 29, 64}, {130, 70, 257}, {520, 400, 330}};
    _Static_assert(520LL * 400 * 330 >= JP_SGEMM_DNNL_MIN_MACS && 130LL * 70 * 257 < JP_SGEMM_DNNL_MIN_MACS,
                   "the test's sizes must cover both paths");
    for (int s = 0; s < 4; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int beta = 0; beta < 2; beta++)
                    check_case(&t, &r, ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1.0f, (float)beta, 3 + s, 0);
    /* a general alpha and beta, and no padding */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) check_case(&t, &r, ta, tb, 19, 23, 41, -1.5f, 0.5f, 0, 0);
    check_case(&t, &r, 1, 1, 410, 420, 400, -1.5f, 0.5f, 0, 0);
    /* beta 0 never reads C */
    check_case(&t, &r, 0, 1, 17, 11, 33, 1.0f, 0.0f, 2, 1);
    check_case(&t, &r, 1, 0, 17, 11, 33, 2.0f, 0.0f, 0, 1);
    check_case(&t, &r, 0, 0, 410, 420, 400, 1.0f, 0.0f, 1, 1);
    /* the heads' shapes: gemv as n == 1 (e = feat we) and m == 1 (dw += d^T feat), the
     * outer product as k == 1 (the shape of dfeat += d we^T); classes K = 10, features D = 640 */
    check_case(&t, &r, 0, 0, 64, 1, 640, 1.0f, 0.0f, 0, 0);
    check_case(&t, &r, 0, 0, 1, 640, 64, 1.0f, 1.0f, 0, 0);
    check_case(&t, &r, 0, 0, 64, 640, 1, 1.0f, 1.0f, 0, 0);
    check_case(&t, &r, 0, 1, 64, 10, 640, 1.0f, 0.0f, 0, 0);
    check_case(&t, &r, 1, 0, 10, 640, 64, 1.0f, 1.0f, 0, 0);
    /* an empty inner dimension: C = beta C */
    check_case(&t, &r, 0, 0, 5, 6, 0, 1.0f, 1.0f, 1, 0);
    check_case(&t, &r, 1, 1, 5, 6, 0, 1.0f, 0.0f, 1, 1);
    check_case(&t, &r, 0, 0, 5, 6, 0, 1.0f, 0.5f, 0, 0);

    /* started (below) with OpenBLAS on its Prescott kernels: on an AVX2 CPU that is
     * detected, with the core to use instead, and the note names both */
    const char *core = openblas_get_corename(), *better = jp_blas_better_core();
    char note[400] = "";
    int has_note = jp_blas_note(note, sizeof note);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        const char *want = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? "SkylakeX"
                                                                                                    : "Haswell";
        tu_check(&t, core && !strcasecmp(core, "Prescott"), "OpenBLAS runs the Prescott kernels asked for (%s)",
                 core ? core : "?");
        tu_check(&t, better && !strcmp(better, want), "jp_blas_better_core: %s (want %s)", better ? better : "NULL",
                 want);
        tu_check(&t, has_note && strstr(note, "Prescott") && strstr(note, want) && !strchr(note, '\n'),
                 "jp_blas_note: %s", note);
    } else {
        tu_check(&t, !better && !has_note, "no AVX2: Prescott's kernels are no worse than the CPU's");
    }
    return tu_finish(&t);
}
