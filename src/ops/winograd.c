/* Winograd F(4x4, 3x3) on blocked layouts: planning, the kernel transform and the
 * choice of the vector width; the kernels are in winograd_kern.h. See winograd.h for
 * the method.
 *
 * The three matrices (points 0, 1, -1, 2, -2, inf):
 *   B^T = [4  0 -5  0 1 0]   G = [ 1/4     0     0 ]   A^T = [1 1  1 1  1 0]
 *         [0 -4 -4  1 1 0]       [-1/6  -1/6  -1/6 ]         [0 1 -1 2 -2 0]
 *         [0  4 -4 -1 1 0]       [-1/6   1/6  -1/6 ]         [0 1  1 4  4 0]
 *         [0 -2 -1  2 1 0]       [ 1/24  1/12  1/6 ]         [0 1 -1 8 -8 1]
 *         [0  2 -1 -2 1 0]       [ 1/24 -1/12  1/6 ]
 *         [0  4  0 -5 0 1]       [ 0     0     1   ]
 */
#include "ops/winograd.h"

#include <omp.h>
#include <string.h>

#include "ops/cpu_isa.h"

/* KROWS: rows of the GEMM's register tile; L2_BUDGET: V and M of a block of tiles. The
 * block is also at least MIN_BLOCK tiles (MIN_BLOCK_WIDE above 128 channels): with
 * blocks of 6 the 36 transformed kernels (36 Cin Cout floats,
 * 14.7 MB at 320 channels) streamed from memory for every 6 tiles and Winograd ran
 * slower than oneDNN's direct kernels (bench_winograd, 2 threads, batch 64, forward:
 * 320->320 16x16 80 vs 129 GFLOP/s; with blocks of 24: 312 vs 172; 128->128 8x8: 290,
 * 391, 352 with blocks of 6, 12, 24). MIN_BLOCK_W: backward-weights' block, the depth
 * of its products, which are added into the per-thread dU once per block.
 * SHARED_U, SHARED_BLOCK: from SHARED_U bytes of transformed kernel the forward and
 * backward-data take blocks of SHARED_BLOCK tiles that all threads share, each point's
 * kernel read once per block in all (convolve). bench_winograd, 2 threads on the Zen 5
 * EPYC, forward / backward-data GFLOP/s-equivalent, shared (blocks of 96) against per
 * thread: 640->640 8x8 1432 / 1408 against 1075 / 1074, 512->512 8x8 1380 / 1386
 * against 1063 / 1082, 640->640 16x16 s2 593 / 581 against 439 / 446, 320->320 32x32 s2
 * 526 / 529 against 423 / 434, 128->128 14x14 s2 with 7x7 tiles 418 / 429 against 334 /
 * 338; below it, 160->320 32x32 (7.4 MB) 1235 / 1158 against 1302 / 1268 and 128->128
 * 16x16 s2 (5.3 MB) 415 / 418 against 451 / 449. Blocks of 48 gave less on the widest
 * (640->640 8x8 1346 / 1337), blocks of 192 and 288 about the same. WIDE_TILE_U: the
 * largest transformed kernel for 7x7 stride-2 tiles (225 Cin Cout floats; see
 * jp_wino_s2_tile). */
enum {
    KROWS = JP_WINO_KROWS,
    L2_BUDGET = 256 * 1024,
    MIN_BLOCK = 12,
    MIN_BLOCK_WIDE = 24,
    MIN_BLOCK_W = 32,
    SHARED_U = 8 << 20,
    SHARED_BLOCK = 96,
    WIDE_TILE_U = 16 << 20
};

int jp_wino_supported(int cin, int cout, int kh, int kw, int stride, int pad, int vw)
{
    return (vw == 8 || vw == 16) && cin % vw == 0 && cout % vw == 0 && cin > 0 && cout > 0 && kh == 3 &&
           kw == 3 && (stride == 1 || stride == 2) && pad == 1;
}

int jp_wino_s2_tile(int cin, int cout, int oh, int ow)
{
    if (oh % 4 == 0 && ow % 4 == 0) return 4;
    /* 225 Cin Cout floats of transformed kernel: 7x7 tiles only up to WIDE_TILE_U bytes
     * (bench_winograd, forward / backward-data against onednn-direct: 64->64 28x28 s2
     * (3.7 MB) 1.26 / 1.17x; 128->128 14x14 s2 (14.7 MB) 0.80 / 1.04x with blocks per
     * thread, 1.22 / 1.42x with the shared blocks it takes from SHARED_U; 4x4 tiles there
     * 1.05 / 1.21x) */
    if (oh % 7 == 0 && ow % 7 == 0 && (size_t)JP_WINO_NPTS_S2W * cin * cout * sizeof(float) <= WIDE_TILE_U) return 7;
    return 0;
}

jp_status jp_wino_plan_init(jp_wino_plan *p, int n, int cin, int cout, int h, int w, int stride, int wgrad,
                            int vw, jp_error *err)
{
    memset(p, 0, sizeof *p);
    if (!jp_wino_supported(cin, cout, 3, 3, stride, 1, vw) || !jp_cpu_has_width(vw) || n <= 0 || h <= 0 || w <= 0)
        return jp_fail(err, JP_ERR_SHAPE, "Winograd F(4x4,3x3) on %d-channel blocks needs %s, stride 1 or 2 "
                       "and channels in multiples of %d (got %d -> %d, stride %d)", vw, jp_cpu_width_isa(vw), vw,
                       cin, cout, stride);
    p->vw = vw;
    p->stride = stride;
    p->n = n, p->cin = cin, p->cout = cout, p->h = h, p->w = w;
    p->ho = (h - 1) / stride + 1, p->wo = (w - 1) / stride + 1;
    int wide = stride == 2 && jp_wino_s2_tile(cin, cout, p->ho, p->wo) == 7;
    p->tile = wide ? 7 : 4;
    p->npts = stride == 1 ? JP_WINO_NPTS : wide ? JP_WINO_NPTS_S2W : JP_WINO_NPTS_S2;
    p->th = (p->ho + p->tile - 1) / p->tile, p->tw = (p->wo + p->tile - 1) / p->tile;
    p->tiles = n * p->th * p->tw;
    /* V and M of a block (in either direction: Cin and Cout exchange) within the budget. */
    int cmax = cin > cout ? cin : cout;
    int block = L2_BUDGET / (p->npts * 2 * cmax * (int)sizeof(float));
    block = block / KROWS * KROWS;
    /* ... but at least MIN_BLOCK tiles (MIN_BLOCK_WIDE over 128 channels) so that each
     * transformed kernel U[xi] (Cin x Cout) is used for enough rows */
    int min_block = cmax > 128 ? MIN_BLOCK_WIDE : MIN_BLOCK;
    if (block < min_block) block = min_block;
    /* backward-weights adds each block's product into the per-thread dU (36 Cin Cout
     * floats, beyond L2 for wide layers): a deeper block reads and writes it less often */
    p->block_w = block < MIN_BLOCK_W ? MIN_BLOCK_W : block;
    /* where the transformed kernel is large, the forward and backward-data take blocks
     * of SHARED_BLOCK tiles that all threads share (convolve in winograd_kern.h) */
    p->shared = jp_wino_weight_floats(p) * sizeof(float) > SHARED_U;
    if (p->shared) block = p->tiles < SHARED_BLOCK ? p->tiles : SHARED_BLOCK;
    p->block = block;
    p->nthreads = omp_get_max_threads();
    /* V and M of a per-thread block (forward, backward-data), or V and Mb of a
     * backward-weights block (block_w is at least the per-thread block); V and M of the
     * shared block */
    p->scratch_floats = 2 * (size_t)p->npts * jp_wino_point_stride(p->block_w, cmax);
    size_t shared_floats = p->shared ? 2 * (size_t)p->npts * jp_wino_point_stride(block, cmax) : 0;
    p->wgrad_floats = wgrad ? jp_wino_weight_floats(p) + cout : 0;
    /* backward-weights with one dU that the threads share (a block's V and Mb too) from
     * 256 channels in and out; narrower, each thread its own: bench_winograd, 2 threads
     * on the Zen 5 EPYC, shared against per thread in GFLOP/s-equivalent: 256->256 16x16
     * 1072 / 850, 320->320 16x16 1162 / 930, 640->640 8x8 1073 / 714, 640->640 16x16 s2
     * 449 / 352; 160->320 32x32 1063 / 1103, 64->64 16x16 540 / 1032 (its 4 channel
     * blocks' transforms, split over the threads, then read across cores) */
    p->wgrad_shared = cin >= 256 && cout >= 256;
    /* forward and backward-data: V and M per thread, or one shared; backward-weights: V,
     * Mb and dU per thread, or one of each shared */
    size_t fwd_need = p->shared ? shared_floats : p->scratch_floats * p->nthreads,
           wgrad_need = (p->scratch_floats + p->wgrad_floats) * (p->wgrad_shared ? 1 : p->nthreads);
    p->scratch_bytes = (fwd_need > wgrad_need ? fwd_need : wgrad_need) * sizeof(float);
    return JP_OK;
}

size_t jp_wino_weight_floats(const jp_wino_plan *p) { return (size_t)p->npts * p->cin * p->cout; }

/* G of the kernel transform (6x3), see the top of the file. */
static const double G[6][3] = {{1.0 / 4, 0, 0},
                               {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                               {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                               {1.0 / 24, 1.0 / 12, 1.0 / 6},
                               {1.0 / 24, -1.0 / 12, 1.0 / 6},
                               {0, 0, 1}};

/* The stride-2 form's G9 (4x4 tiles) and G15 (7x7 tiles): rows (0 1 0) for the even
 * points, then (G5[p][0] 0 G5[p][1]), resp. (G8[p][0] 0 G8[p][1]), with F(4,2)'s G5
 * (points 0, 1, -1, 2, inf; B5^T, A5^T in winograd_s2_kern.h) and F(7,2)'s G8 (points
 * 0, 1, -1, 2, -2, 1/2, -1/2, inf; B8^T, A8^T there):
 *   G5 = [1/2 0; -1/2 -1/2; -1/6 1/6; 1/6 1/3; 0 1]
 *   G8 = [-1 0; -2/9 -2/9; -2/9 2/9; 1/90 1/45; 1/90 -1/45; 32/45 16/45; 32/45 -16/45; 0 1]
 * Backward-data's kernel is G (w0, w1, w2 exchanged) G^T, that is the same matrix applied
 * to the kernel rotated by 180 degrees, as at stride 1. */
static const double G9[9][3] = {{0, 1, 0}, {0, 1, 0}, {0, 1, 0}, {0, 1, 0},
                                {1.0 / 2, 0, 0}, {-1.0 / 2, 0, -1.0 / 2}, {-1.0 / 6, 0, 1.0 / 6},
                                {1.0 / 6, 0, 1.0 / 3}, {0, 0, 1}};
static const double G15[15][3] = {{0, 1, 0}, {0, 1, 0}, {0, 1, 0}, {0, 1, 0}, {0, 1, 0}, {0, 1, 0}, {0, 1, 0},
                                  {-1, 0, 0}, {-2.0 / 9, 0, -2.0 / 9}, {-2.0 / 9, 0, 2.0 / 9},
                                  {1.0 / 90, 0, 1.0 / 45}, {1.0 / 90, 0, -1.0 / 45}, {32.0 / 45, 0, 16.0 / 45},
                                  {32.0 / 45, 0, -16.0 / 45}, {0, 0, 1}};

const char *jp_wino_kernel_name(const jp_wino_plan *p)
{
    if (p->stride == 2 && p->tile == 7)
        return p->vw == 16 ? "jempp:winograd_7x7_3x3_s2:avx512" : "jempp:winograd_7x7_3x3_s2:avx2";
    if (p->stride == 2) return p->vw == 16 ? "jempp:winograd_4x4_3x3_s2:avx512" : "jempp:winograd_4x4_3x3_s2:avx2";
    return p->vw == 16 ? "jempp:winograd_4x4_3x3:avx512" : "jempp:winograd_4x4_3x3:avx2";
}

/* The width's kernels (winograd_avx2.c, winograd_avx512.c). */
#define JP_WINO_DECLARE(sfx)                                                                             \
    void jp_wino_forward_##sfx(const jp_wino_plan *p, float *dst, const float *src, const float *u,    \
                               const float *b, int accumulate, int relu, void *scratch);             \
    void jp_wino_backward_data_##sfx(const jp_wino_plan *p, float *dsrc, const float *ddst, const float *u, \
                                     void *scratch);                                                  \
    void jp_wino_backward_weights_##sfx(const jp_wino_plan *p, float *dw_oihw, float *db,              \
                                        const float *ddst, const float *src, void *scratch);          \
    void jp_wino_weights_##sfx(const jp_wino_plan *p, float *u, const float *w, int bwd,               \
                               const double (*T)[3], int side);
JP_WINO_DECLARE(v8)
JP_WINO_DECLARE(v16)

#if !defined(JEMPP_X86_KERNELS) /* jp_cpu_has_width() is 0: no plan can be made */
#define JP_NO_KERNELS(...) JP_CHECK(!"no vector kernels in this build")
#define jp_wino_forward_v16 JP_NO_KERNELS
#define jp_wino_forward_v8 JP_NO_KERNELS
#define jp_wino_backward_data_v16 JP_NO_KERNELS
#define jp_wino_backward_data_v8 JP_NO_KERNELS
#define jp_wino_backward_weights_v16 JP_NO_KERNELS
#define jp_wino_backward_weights_v8 JP_NO_KERNELS
#define jp_wino_weights_v16 JP_NO_KERNELS
#define jp_wino_weights_v8 JP_NO_KERNELS
#endif

/* u[xi][a][b] (a: the convolution's input channel, b: its output channel; in strips,
 * jp_wino_u_index) from w[co][ci]; backward-data takes a = co, b = ci and the kernel
 * rotated by 180 degrees. */
static void weights(const jp_wino_plan *p, float *u, const float *w, int bwd)
{
    int s2 = p->stride == 2, side = s2 ? 2 * p->tile + 1 : 6;
    const double(*T)[3] = !s2 ? G : p->tile == 4 ? G9 : G15;
    if (p->vw == 16) jp_wino_weights_v16(p, u, w, bwd, T, side);
    else jp_wino_weights_v8(p, u, w, bwd, T, side);
}


void jp_wino_weights_forward(const jp_wino_plan *p, float *u, const float *w_oihw)
{
    weights(p, u, w_oihw, 0);
}

void jp_wino_weights_backward_data(const jp_wino_plan *p, float *u, const float *w_oihw)
{
    weights(p, u, w_oihw, 1);
}

void jp_wino_forward(const jp_wino_plan *p, float *dst, const float *src, const float *u, const float *b,
                     int accumulate, int relu, void *scratch)
{
    if (p->vw == 16) jp_wino_forward_v16(p, dst, src, u, b, accumulate, relu, scratch);
    else jp_wino_forward_v8(p, dst, src, u, b, accumulate, relu, scratch);
}

void jp_wino_backward_data(const jp_wino_plan *p, float *dsrc, const float *ddst, const float *u,
                           void *scratch)
{
    if (p->vw == 16) jp_wino_backward_data_v16(p, dsrc, ddst, u, scratch);
    else jp_wino_backward_data_v8(p, dsrc, ddst, u, scratch);
}

void jp_wino_backward_weights(const jp_wino_plan *p, float *dw_oihw, float *db, const float *ddst,
                              const float *src, void *scratch)
{
    if (p->vw == 16) jp_wino_backward_weights_v16(p, dw_oihw, db, ddst, src, scratch);
    else jp_wino_backward_weights_v8(p, dw_oihw, db, ddst, src, scratch);
}
