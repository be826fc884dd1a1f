/* The machine's practical single-precision peak: OpenBLAS SGEMM (C = A B, square,
 * row-major) in GFLOP/s, median of a few runs, beside the nominal AVX2 FMA peak from
 * /proc/cpuinfo's clock (2 FMA units x 8 floats x 2 flops = 32 flop/cycle/core).
 * The convolution figures of bench_wrn are read against it.
 *
 *   bench_sgemm [--n 2048] [--iters 5] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "jempp/core.h"

/* The clock of the first CPU in MHz, 0 when /proc/cpuinfo does not say. */
static double cpu_mhz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    double mhz = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "cpu MHz", 7) && strchr(line, ':')) {
            mhz = atof(strchr(line, ':') + 1);
            break;
        }
    if (f) fclose(f);
    return mhz;
}

int main(int argc, char **argv)
{
    int n = 2048, iters = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench_sgemm: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (n < 64 || n > 16384 || iters < 1 || iters > 64) {
        fprintf(stderr, "bench_sgemm: --n must be 64..16384 and --iters 1..64\n");
        return 2;
    }
    size_t nn = (size_t)n * n;
    float *a = jp_alloc(nn * 4), *b = jp_alloc(nn * 4), *c = jp_alloc(nn * 4);
    if (!a || !b || !c) {
        fprintf(stderr, "bench_sgemm: out of memory for n = %d\n", n);
        return 1;
    }
    jp_rng r;
    jp_rng_seed(&r, 1);
    jp_rng_fill_uniform(&r, a, nn, -1, 1);
    jp_rng_fill_uniform(&r, b, nn, -1, 1);
    double t[64];
    for (int it = 0; it < iters + 1; it++) {
        double t0 = jp_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        if (it) t[it - 1] = jp_now() - t0;
    }
    double med = bench_median(t, iters), gf = 2.0 * n * (double)n * n / med * 1e-9;
    const char *th = getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : getenv("OMP_NUM_THREADS");
    double mhz = cpu_mhz();
    int threads = th ? atoi(th) : 0;
    printf("sgemm %dx%dx%d: %.1f ms, %.1f GFLOP/s (median of %d, %s threads)", n, n, n, med * 1e3, gf, iters,
           th ? th : "default");
    if (mhz > 0 && threads > 0)
        printf("; nominal AVX2 FMA peak %.0f GFLOP/s (%d x %.0f MHz x 32) = %.0f%%", threads * mhz * 32e-3, threads,
               mhz, 100 * gf / (threads * mhz * 32e-3));
    printf("\n");
    jp_free(a), jp_free(b), jp_free(c);
    return 0;
}
