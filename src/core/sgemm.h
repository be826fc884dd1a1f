/* The library's one single-precision matrix product: large products on oneDNN's
 * dnnl_sgemm, small ones on OpenBLAS.
 *
 * Why not OpenBLAS alone: Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) takes its kernel set
 * from OPENBLAS_CORETYPE or else from a CPU table that predates the machines we run on.
 * On an Intel Xeon with AVX-512 it falls back to "Prescott": SGEMM 2048^3 at 31-65
 * GFLOP/s. On an AMD EPYC Zen 5 (AVX-512, 2 threads) it picks "Cooperlake" (~330), but an
 * environment that sets OPENBLAS_CORETYPE=Haswell gets ~170-190. The variable is read when
 * the library loads, so a program cannot fix it for itself. dnnl_sgemm chooses AVX2 /
 * AVX-512 kernels at run time: ~340-355 GFLOP/s on that Zen 5 whatever OpenBLAS chose.
 *
 * Why not oneDNN alone: dnnl_sgemm mallocs a packing buffer (74 KB a thread with oneDNN
 * 2.6) on almost every call, and a steady-state training step allocates no memory
 * (tests/test_no_alloc.c). The network heads' products (batch x classes x features:
 * 0.4 million multiply-adds for WRN-28-10 on CIFAR-10) stay on OpenBLAS, where the
 * kernel set costs microseconds.
 *
 * LAPACK (Cholesky, eigenvalues) and the other BLAS calls (a rank-1 update, syrk, trmm,
 * double precision) still run on OpenBLAS; jp_blas_note says when its kernels are old. */
#ifndef JEMPP_CORE_SGEMM_H
#define JEMPP_CORE_SGEMM_H

#include <stddef.h>

/* Products of at least this many multiply-adds (m n k) go to dnnl_sgemm. 2^26 keeps every
 * head of a training step on OpenBLAS (even batch 1024 x 100 classes x 640 features) and
 * sends the Inception logits layer (n x 1008 x 2048, n >= 33) and anything larger to
 * oneDNN; on OpenBLAS's Prescott kernels a product of this size takes a few ms. */
#define JP_SGEMM_DNNL_MIN_MACS (1LL << 26)

/* C (m x n) = alpha op(A) op(B) + beta C, all row-major, as cblas_sgemm(CblasRowMajor,
 * ...): op(A) is m x k (A stored k x m when trans_a), op(B) is k x n (B stored n x k when
 * trans_b). beta == 0 writes C without reading it. Threads: oneDNN's OpenMP runtime or
 * OpenBLAS's own. Aborts on negative sizes or leading dimensions shorter than a row
 * (a programming error). */
void jp_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

/* The kernel set OpenBLAS should run on this CPU ("Haswell", or "SkylakeX" with
 * AVX-512) when the one it picked when it loaded uses no AVX2 (Prescott, Core2, Nehalem,
 * Sandybridge or generic); NULL when its choice is fine. */
const char *jp_blas_better_core(void);
/* Writes a one-line warning into buf and returns 1 when jp_blas_better_core() is not
 * NULL; returns 0 (buf untouched) otherwise. */
int jp_blas_note(char *buf, size_t len);

#endif
