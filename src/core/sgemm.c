/* jp_sgemm on oneDNN's dnnl_sgemm (large products) or OpenBLAS (small ones), and the
 * note on OpenBLAS's choice of kernels (see sgemm.h for the measurements behind both). */
#include "core/sgemm.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jempp/core.h"

/* OpenBLAS's own extension: the name of the kernel set it picked when it loaded. */
char *openblas_get_corename(void);

static int max1(int x)
{
    return x > 1 ? x : 1;
}

void jp_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
    /* both libraries would refuse these (OpenBLAS by printing a message and returning) */
    JP_CHECK(m >= 0 && n >= 0 && k >= 0);
    JP_CHECK(lda >= max1(trans_a ? m : k) && ldb >= max1(trans_b ? k : n) && ldc >= max1(n));
    if ((long long)m * n * k < JP_SGEMM_DNNL_MIN_MACS) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n,
                    k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta,
                                  c, ldc);
    if (st != dnnl_success)
        fprintf(stderr, "jempp: dnnl_sgemm(%c, %c, m %d, n %d, k %d, lda %d, ldb %d, ldc %d) failed: status %d\n",
                trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, lda, ldb, ldc, (int)st);
    JP_CHECK(st == dnnl_success);
}

/* Kernel sets of OpenBLAS that use no AVX2/FMA ("generic": a build without a CPU table). */
const char *jp_blas_better_core(void)
{
    static const char *const old[] = {"Prescott", "Core2", "Nehalem", "Sandybridge", "generic"};
    const char *core = openblas_get_corename();
    if (!core || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return NULL;
    int stale = 0;
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) stale |= !strcasecmp(core, old[i]);
    if (!stale) return NULL;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? "SkylakeX" : "Haswell";
}

int jp_blas_note(char *buf, size_t len)
{
    const char *better = jp_blas_better_core();
    if (!better) return 0;
    snprintf(buf, len,
             "OpenBLAS runs its %s kernels on this %s CPU, so LAPACK (Cholesky) and its other BLAS calls are "
             "several times slower than they could be; start with OPENBLAS_CORETYPE=%s set to fix it",
             openblas_get_corename(), !strcmp(better, "SkylakeX") ? "AVX-512" : "AVX2", better);
    return 1;
}
