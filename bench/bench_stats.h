/* The benchmarks' shared helpers: the median of n timings (sorts v in place), and
 * deterministic test data. */
#ifndef JEMPP_BENCH_STATS_H
#define JEMPP_BENCH_STATS_H

#include <stdlib.h>

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* x[0..n) uniform in [-0.5, 0.5) from a linear congruential sequence (*seed advances). */
static inline void bench_fill(float *x, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = (float)((*seed >> 8) * (1.0 / 16777216.0) - 0.5);
    }
}

#endif
