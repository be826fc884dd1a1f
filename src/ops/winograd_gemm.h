/* The products of jempp's Winograd kernels (winograd_kern.h: F(4x4,3x3) stride 1;
 * winograd_s2_kern.h: its stride-2 form), for one vector width: C = A . B through a
 * KROWS x 2 JP_VW register tile, and per point M[xi] = V[xi] . U[xi]. Included by the
 * kernel headers after ops/simd.h. */
#ifndef JEMPP_WINOGRAD_GEMM_H
#define JEMPP_WINOGRAD_GEMM_H

#include "ops/winograd.h"

/* C (R rows x NV*JP_VW) = A (R x K) . B (K x NV*JP_VW), or C += with accumulate. A's element
 * (r, k) is a[r * a_rs + k * a_ks] (a row-major A, or a transposed one), B's row k
 * starts at b + k * ldb. Constant R and NV unroll into a 6 x 2 JP_VW register tile
 * (12 accumulators: of AVX2's 16 registers, of AVX-512's 32). */
static inline __attribute__((always_inline)) void gemm_kernel(int R, int NV, int K, const float *a,
                                                             size_t a_rs, size_t a_ks, const float *b,
                                                             size_t ldb, float *c, size_t ldc, int accumulate)
{
    vf acc[JP_WINO_KROWS][2];
#pragma GCC unroll 6
    for (int r = 0; r < JP_WINO_KROWS; r++) acc[r][0] = acc[r][1] = vf_zero();
    for (int k = 0; k < K; k++) {
        vf b0 = vf_load(b + (size_t)k * ldb);
        vf b1 = NV > 1 ? vf_load(b + (size_t)k * ldb + JP_VW) : b0;
        const float *ak = a + (size_t)k * a_ks;
#pragma GCC unroll 6
        for (int r = 0; r < JP_WINO_KROWS; r++) {
            if (r >= R) break;
            vf x = vf_bcast(ak + r * a_rs);
            acc[r][0] = vf_fmadd(x, b0, acc[r][0]);
            if (NV > 1) acc[r][1] = vf_fmadd(x, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < JP_WINO_KROWS; r++) {
        if (r >= R) break;
        float *cr = c + r * ldc;
        if (accumulate) {
            acc[r][0] = vf_add(acc[r][0], vf_load(cr));
            if (NV > 1) acc[r][1] = vf_add(acc[r][1], vf_load(cr + JP_VW));
        }
        vf_store(cr, acc[r][0]);
        if (NV > 1) vf_store(cr + JP_VW, acc[r][1]);
    }
}

/* C (rows x ncol) (+)= A . B with every row and column block through gemm_kernel:
 * A's element (r, k) at a[r * a_rs + k * a_ks], B's row k at b + k * ldb (ncol a
 * multiple of JP_VW). */
static void gemm(int rows, int ncol, int K, const float *a, size_t a_rs, size_t a_ks, const float *b,
                 size_t ldb, float *c, size_t ldc, int accumulate)
{
    for (int c0 = 0; c0 < ncol; c0 += 2 * JP_VW) {
        int nv = ncol - c0 >= 2 * JP_VW ? 2 : 1;
        for (int r0 = 0; r0 < rows; r0 += JP_WINO_KROWS) {
            const float *ar = a + (size_t)r0 * a_rs;
            float *cr = c + (size_t)r0 * ldc + c0;
            int R = rows - r0 < JP_WINO_KROWS ? rows - r0 : JP_WINO_KROWS;
            if (R == JP_WINO_KROWS && nv == 2)
                gemm_kernel(JP_WINO_KROWS, 2, K, ar, a_rs, a_ks, b + c0, ldb, cr, ldc, accumulate);
            else if (nv == 2)
                gemm_kernel(R, 2, K, ar, a_rs, a_ks, b + c0, ldb, cr, ldc, accumulate);
            else
                gemm_kernel(R, 1, K, ar, a_rs, a_ks, b + c0, ldb, cr, ldc, accumulate);
        }
    }
}

/* M[xi] (nt x co) = V[xi] (nt x ci) . U[xi] (ci x co) for the npts points, U[xi] strip
 * by strip (jp_wino_u_index). */
static void multiply(int npts, int ci, int co, float *M, const float *V, const float *U, int nt)
{
    size_t vs = jp_wino_point_stride(nt, ci), ms = jp_wino_point_stride(nt, co);
    for (int x = 0; x < npts; x++) {
        const float *ux = U + (size_t)x * ci * co;
        for (int c0 = 0; c0 < co; c0 += JP_WINO_STRIP) {
            int width = jp_wino_strip_width(co, c0);
            gemm(nt, width, ci, V + x * vs, ci, 1, ux + (size_t)c0 * ci, width, M + x * ms + c0, co, 0);
        }
    }
}

#endif
