/* JP_CPU_CLONES: compile a function three times, for x86-64-v4 (AVX-512), x86-64-v3
 * (AVX2 + FMA) and the baseline, and let the loader pick the one this CPU runs. The
 * library is built for baseline x86-64 (one binary for every CPU), where fmaf() is a
 * call into libm per element: jp_sgd_update on 36.5 M parameters took 117 ms that way
 * against 14 ms with the FMA instruction (2 threads, AMD EPYC with AVX-512). For the
 * element-wise loops that use fmaf; the results are the same bits on every clone (fmaf
 * is exact either way). Internal header. */
#ifndef JEMPP_CPU_CLONES_H
#define JEMPP_CPU_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define JP_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define JP_CPU_CLONES
#endif

#endif
