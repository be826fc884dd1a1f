/* Winograd F(4x4, 3x3) convolution on the blocked layouts nChw8c (AVX2 + FMA) and
 * nChw16c (AVX-512F): jempp's own, one source for both widths (winograd_kern.h).
 *
 * A 3x3, stride-1, pad-1 convolution computes each 4x4 output tile from a 6x6 input
 * tile with 36 element-wise products per (input, output) channel pair instead of
 * 144 (Lavin & Gray 2016, points 0, +-1, +-2, inf):
 *     Y = A^T [ sum_ci (G g G^T) . (B^T d B) ] A
 * d: the 6x6 input tile, g: the 3x3 kernel, G (6x3), B^T (6x6), A^T (4x6) below. The
 * sum over ci is, for each of the 36 points, one matrix product
 *     M[xi] (tiles x Cout) = V[xi] (tiles x Cin) . U[xi] (Cin x Cout)
 * done block by block of tiles so that V and M stay in the core's L2 cache.
 *
 * Backward-data of the same convolution is again such a convolution: the transposed
 * convolution with pad 1 equals a correlation with the kernel rotated by 180 degrees
 * and Cin and Cout exchanged, so it uses the same routine with U built from
 * w'[ci][co][i][j] = w[co][ci][2-i][2-j].
 *
 * Stride 2 (winograd_s2_kern.h). Along one axis, 4 outputs of a stride-2 3-tap
 * correlation y[i] = w0 x[2i-1] + w1 x[2i] + w2 x[2i+1] split into the even inputs, a
 * 1-tap product (w1 x[2i], 4 points, no transform), and the odd ones, a stride-1
 * 2-tap correlation of x[2i-1] with (w0, w2), done as F(4,2) with 5 points (0, 1, -1,
 * 2, inf). So a 4x4 output tile reads a 9x9 input tile (from input pixel 2 y0 - 1) and
 * takes 9 x 9 = 81 products per channel pair instead of 144:
 *     Y = A9^T [ sum_ci (G9 g G9^T) . (B9^T d B9) ] A9      (9x9 -> 81 -> 4x4)
 * Backward-data, dx[2j] = w1 dy[j] and dx[2j+1] = w2 dy[j] + w0 dy[j+1], gathers an
 * 8x8 tile of dx from a 5x5 tile of dy with the same 9 points per axis (4 of w1, F(4,2)
 * with (w2, w0), that is G9 applied to the kernel rotated by 180 degrees, g'), so each
 * dx pixel is written once:
 *     dX = Ab^T [ sum_co (G9 g' G9^T) . (Bb^T dy Bb) ] Ab    (5x5 -> 81 -> 8x8)
 * Backward-weights is that of the forward: dL/dg = G9^T [ sum (A9 dY A9^T) . (B9^T d B9) ] G9.
 * Where the output sides are multiples of 7 but not of 4 (the 14x14 and 7x7 outputs of a
 * 28x28 input), the tile is 7x7 instead, so that no product falls outside the image: per
 * axis 7 even points and F(7,2) on the odd inputs (8 points: 0, 1, -1, 2, -2, 1/2, -1/2,
 * inf), a 15x15 input tile, 225 products per 7x7 tile (4.6 per output instead of 5.1
 * with 4x4 tiles, 9 direct); backward-data a 14x14 tile of dx from 8x8 of dy.
 * The matrices are in winograd.c and winograd_s2_kern.h.
 *
 * Internal header. */
#ifndef JEMPP_WINOGRAD_H
#define JEMPP_WINOGRAD_H

#include <stddef.h>

#include "jempp/core.h"

typedef struct {
    int vw;                 /* vector width = channel block of the layout: 8 or 16 */
    int stride;             /* 1: F(4x4,3x3), 36 points; 2: its stride-2 form, 81 points */
    int tile;               /* outputs per side of a tile: 4, or 7 (225 points) at stride 2 where
                             * jp_wino_s2_tile says so */
    int npts;
    int n, cin, cout, h, w; /* the forward convolution's shape (3x3, stride 1 or 2, pad 1) */
    int ho, wo;             /* its output: h, w at stride 1; ceil(h / 2), ceil(w / 2) at 2 */
    int th, tw;             /* output tiles per image: ceil(ho / tile), ceil(wo / tile) */
    int tiles;              /* n * th * tw */
    int block;              /* tiles per block (a multiple of 6, the kernel's rows) */
    int block_w;            /* tiles per block of backward-weights (its GEMM's depth) */
    int nthreads;
    int shared;             /* forward, backward-data: the threads share each block (see convolve) */
    int wgrad_shared;       /* backward-weights: one dU for all threads (else one per thread) */
    size_t scratch_floats;  /* V and M of one per-thread block (forward, backward-data without
                             * shared) or of one backward-weights block: one per thread, or one
                             * shared by the threads in backward-weights with wgrad_shared; a
                             * shared forward block takes the start of the scratch */
    size_t wgrad_floats;    /* the transformed weight gradient and the bias's (backward-weights),
                             * one or one per thread; 0 without backward-weights */
    size_t scratch_bytes;   /* what the passes need as scratch */
} jp_wino_plan;

/* Whether the shape is one it computes on vw-channel blocks (8 or 16): Cin and Cout
 * multiples of vw, a 3x3 kernel with stride 1 or 2 and padding 1. Whether the CPU runs the
 * width's kernels is ops/cpu_isa.h's jp_cpu_has_width. */
int jp_wino_supported(int cin, int cout, int kh, int kw, int stride, int pad, int vw);
/* The tile (outputs per side) of a stride-2 plan for a convolution of Cin -> Cout channels
 * whose output is oh x ow: 4 where 4x4 tiles cover it exactly, 7 where 7x7 tiles do and
 * their transformed kernel is small enough (winograd.c), else 0 (a plan takes 4x4 tiles,
 * some of whose outputs fall outside the image). */
int jp_wino_s2_tile(int cin, int cout, int oh, int ow);
/* Plans for omp_get_max_threads() threads; wgrad: also backward-weights. Allocates
 * nothing: every pass takes a scratch of p->scratch_bytes (per thread a block's V and M,
 * with wgrad also the accumulators of backward-weights, npts Cin Cout + Cout floats), so
 * the layers of a model can share one. */
jp_status jp_wino_plan_init(jp_wino_plan *p, int n, int cin, int cout, int h, int w, int stride, int wgrad,
                            int vw, jp_error *err);
/* "jempp:winograd_4x4_3x3:avx2" or ":avx512" (stride 2: "jempp:winograd_4x4_3x3_s2:...",
 * with the 7x7 tile "jempp:winograd_7x7_3x3_s2:..."): the kernels a plan runs. */
const char *jp_wino_kernel_name(const jp_wino_plan *p);

/* Floats of a transformed kernel: npts * Cin * Cout. */
size_t jp_wino_weight_floats(const jp_wino_plan *p);
/* u[xi][ci][co] = (G g G^T)[xi] for g = w[co][ci] (OIHW), the forward kernel (G9 at
 * stride 2), each U[xi] stored in strips of JP_WINO_STRIP columns (jp_wino_u_index). */
void jp_wino_weights_forward(const jp_wino_plan *p, float *u, const float *w_oihw);
/* u[xi][co][ci] = (G g' G^T)[xi] for g' = w[co][ci] rotated by 180 degrees (G9 or G15
 * at stride 2): the kernel of backward-data (Cout input channels, Cin output channels). */
void jp_wino_weights_backward_data(const jp_wino_plan *p, float *u, const float *w_oihw);

/* dst (N, Cout, Ho, Wo) = conv(src (N, Cin, H, W)) + b, both in the plan's blocked layout; accumulate: dst +=
 * instead of dst =; relu: then dst = max(dst, 0); b may be NULL. u from
 * jp_wino_weights_forward. */
void jp_wino_forward(const jp_wino_plan *p, float *dst, const float *src, const float *u,
                     const float *b, int accumulate, int relu, void *scratch);
/* dsrc (N, Cin, H, W) = conv^T(ddst (N, Cout, Ho, Wo)), blocked; u from
 * jp_wino_weights_backward_data. */
void jp_wino_backward_data(const jp_wino_plan *p, float *dsrc, const float *ddst, const float *u,
                           void *scratch);
/* dw_oihw += dL/dw and db += sum ddst (either may be NULL) from src and ddst (blocked),
 * on a plan made with wgrad. Y = A^T [U . V] A is linear in U = G g G^T, so
 *     dL/dg = G^T [ sum_tiles (A dY A^T) . (B^T d B) ] G
 * the sum over tiles being, for each point, dU[xi] (Cin x Cout) += V[xi]^T (Cin x tiles) .
 * (A dY A^T)[xi] (tiles x Cout), block by block of tiles, each point by one thread. */
void jp_wino_backward_weights(const jp_wino_plan *p, float *dw_oihw, float *db, const float *ddst,
                              const float *src, void *scratch);

/* Shared by winograd.c and the kernels. NPTS: points of a 6x6 tile (S2: of the
 * stride-2 form's 9x9); KROWS: rows of the products' register tile. */
enum { JP_WINO_NPTS = 36, JP_WINO_NPTS_S2 = 81, JP_WINO_NPTS_S2W = 225, JP_WINO_KROWS = 6 };

/* Columns of the strips in which the transformed kernels are stored (jp_wino_u_index). */
enum { JP_WINO_STRIP = 32 };

/* Columns of the strip that starts at column c0 (a multiple of JP_WINO_STRIP). */
static inline int jp_wino_strip_width(int cols, int c0)
{
    return cols - c0 < JP_WINO_STRIP ? cols - c0 : JP_WINO_STRIP;
}

/* Where U[xi] (rows x cols) keeps its element (r, c): in strips of JP_WINO_STRIP columns
 * (the last one 16 wide when cols is an odd multiple of 16), each strip rows x width
 * row-major, so that the products stream one strip of the kernel from memory in order.
 * Stored row-major instead (a strip's rows 4 Cout bytes apart), the kernels of the wide
 * layers (14.7 MB at 320 -> 320) ran at 0.90x oneDNN's Winograd against 1.09x in strips
 * (bench_winograd, 320->320 16x16 forward, medians of 3 runs). */
static inline size_t jp_wino_u_index(int rows, int cols, int r, int c)
{
    int c0 = c / JP_WINO_STRIP * JP_WINO_STRIP;
    return (size_t)c0 * rows + (size_t)r * jp_wino_strip_width(cols, c0) + (c - c0);
}

/* Floats from one point's matrix to the next in a block of nt tiles of c channels
 * (V[xi] is nt x c): nt c rounded up to whole 64-byte lines, plus one line when that
 * count is even. An unpadded stride of a power-of-two multiple of lines (3 KiB for 24
 * tiles of 32 channels) puts the 36 matrices into a few L1 sets, and the transforms,
 * which touch all 36 for every tile, evict each other. */
static inline size_t jp_wino_point_stride(int nt, int c)
{
    size_t lines = ((size_t)nt * c + 15) / 16;
    return (lines % 2 ? lines : lines + 1) * 16;
}

#endif
