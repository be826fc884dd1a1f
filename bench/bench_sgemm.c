/* The machine's practical single-precision peak, and what jp_sgemm gains over OpenBLAS:
 * C = A B (square, row-major) through OpenBLAS's cblas_sgemm and through jp_sgemm
 * (oneDNN) on the same matrices, in GFLOP/s, medians of interleaved runs; the kernel
 * set OpenBLAS picked (openblas_get_corename, OPENBLAS_CORETYPE overrides it), whether
 * the two products agree, and the nominal FMA peak from /proc/cpuinfo's clock (2 FMA
 * units x 8 floats (AVX2) or 16 (AVX-512) x 2 flops a cycle and core). The convolution figures of
 * bench_wrn are read against it.
 *
 *   bench_sgemm [--n 2048] [--iters 5] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_stats.h"
#include "core/sgemm.h"
#include "jempp/core.h"

/* OpenBLAS's own extension: the name of the kernel set it picked when it loaded. */
char *openblas_get_corename(void);

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
    float *a = jp_alloc(nn * 4), *b = jp_alloc(nn * 4), *c = jp_alloc(nn * 4), *c2 = jp_alloc(nn * 4);
    if (!a || !b || !c || !c2) {
        fprintf(stderr, "bench_sgemm: out of memory for n = %d\n", n);
        return 1;
    }
    jp_rng r;
    jp_rng_seed(&r, 1);
    jp_rng_fill_uniform(&r, a, nn, -1, 1);
    jp_rng_fill_uniform(&r, b, nn, -1, 1);
    /* One untimed warm-up each (thread pools, oneDNN's JIT kernels), then the two
     * interleaved so that a busy neighbour slows both alike. Each call starts after a
     * pause: both libraries' worker threads spin for a while after a call, and on a
     * machine with few cores the spinners would take the other library's cores. */
    double t_ob[64], t_jp[64];
    const struct timespec pause = {0, 200 * 1000 * 1000};
    for (int it = 0; it < iters + 1; it++) {
        nanosleep(&pause, NULL);
        double t0 = jp_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t1 = jp_now();
        nanosleep(&pause, NULL);
        double t2 = jp_now();
        jp_sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c2, n);
        double t3 = jp_now();
        if (it) t_ob[it - 1] = t1 - t0, t_jp[it - 1] = t3 - t2;
    }
    double med_ob = bench_median(t_ob, iters), med_jp = bench_median(t_jp, iters), flops = 2.0 * n * (double)n * n;
    double gf_ob = flops / med_ob * 1e-9, gf_jp = flops / med_jp * 1e-9;
    double maxd = 0, maxc = 0;
    for (size_t i = 0; i < nn; i++) {
        double d = fabs((double)c[i] - c2[i]);
        if (isnan(d)) d = INFINITY;
        if (d > maxd) maxd = d;
        if (fabs(c[i]) > maxc) maxc = fabs(c[i]);
    }
    double rel = maxc > 0 ? maxd / maxc : maxd;
    const char *th = getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : getenv("OMP_NUM_THREADS");
    const char *ct = getenv("OPENBLAS_CORETYPE");
    double mhz = cpu_mhz();
    int threads = th ? atoi(th) : 0;
    printf("OpenBLAS core: %s (OPENBLAS_CORETYPE %s)\n", openblas_get_corename(), ct ? ct : "unset");
    printf("sgemm %dx%dx%d, median of %d, %s threads:\n", n, n, n, iters, th ? th : "default");
    printf("  OpenBLAS cblas_sgemm: %8.1f ms %7.1f GFLOP/s\n", med_ob * 1e3, gf_ob);
    printf("  jp_sgemm (oneDNN):    %8.1f ms %7.1f GFLOP/s  (%.2fx)\n", med_jp * 1e3, gf_jp, gf_jp / gf_ob);
    printf("  results %s: max |diff| / max |C| = %.2g\n", rel < 1e-4 ? "agree" : "DIFFER", rel);
    /* 2 FMA units x 8 (AVX2) or 16 (AVX-512) floats x 2 flops a cycle */
    int avx512 = __builtin_cpu_supports("avx512f"), fpc = avx512 ? 64 : 32;
    if (mhz > 0 && threads > 0)
        printf("  nominal %s FMA peak at /proc/cpuinfo's clock (the base clock on some CPUs; boost runs "
               "faster) %.0f GFLOP/s (%d x %.0f MHz x %d): OpenBLAS %.0f%%, jp_sgemm %.0f%%\n",
               avx512 ? "AVX-512" : "AVX2", threads * mhz * fpc * 1e-3, threads, mhz, fpc,
               100 * gf_ob / (threads * mhz * fpc * 1e-3), 100 * gf_jp / (threads * mhz * fpc * 1e-3));
    jp_free(a), jp_free(b), jp_free(c), jp_free(c2);
    return rel < 1e-4 ? 0 : 1;
}
