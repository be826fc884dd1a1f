/* Winograd F(4x4, 3x3) on nChw8c with AVX2 + FMA: see winograd.h for the method.
 *
 * The three matrices (points 0, 1, -1, 2, -2, inf):
 *   B^T = [4  0 -5  0 1 0]   G = [ 1/4     0     0 ]   A^T = [1 1  1 1  1 0]
 *         [0 -4 -4  1 1 0]       [-1/6  -1/6  -1/6 ]         [0 1 -1 2 -2 0]
 *         [0  4 -4 -1 1 0]       [-1/6   1/6  -1/6 ]         [0 1  1 4  4 0]
 *         [0 -2 -1  2 1 0]       [ 1/24  1/12  1/6 ]         [0 1 -1 8 -8 1]
 *         [0  2 -1 -2 1 0]       [ 1/24 -1/12  1/6 ]
 *         [0  4  0 -5 0 1]       [ 0     0     1   ]
 * Every vector below holds the 8 channels of one nChw8c block, so each transform runs
 * on 8 channels at once. Per block of tiles: (1) input transform into V[xi][t][ci],
 * (2) for each xi, M[xi][t][co] = sum_ci V[xi][t][ci] U[xi][ci][co] with a 6x16
 * register kernel, (3) output transform of M into the 4x4 tiles of dst. */
#include "ops/winograd.h"

#include <omp.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define JP_WINO_SIMD 1
#else
#define JP_WINO_SIMD 0
#endif

/* NPTS: points of a 6x6 tile; KROWS: rows of the GEMM's register tile; L2_BUDGET: V
 * and M of a block of tiles. The block is also at least MIN_BLOCK tiles (MIN_BLOCK_WIDE
 * above 128 channels): with blocks of 6 the 36 transformed kernels (36 Cin Cout floats,
 * 14.7 MB at 320 channels) streamed from memory for every 6 tiles and Winograd ran
 * slower than oneDNN's direct kernels (bench_winograd, 2 threads, batch 64, forward:
 * 320->320 16x16 80 vs 129 GFLOP/s; with blocks of 24: 312 vs 172; 128->128 8x8: 290,
 * 391, 352 with blocks of 6, 12, 24). MIN_BLOCK_W: backward-weights' block, the depth
 * of its products, which are added into the per-thread dU once per block. */
enum { NPTS = 36, KROWS = 6, L2_BUDGET = 256 * 1024, MIN_BLOCK = 12, MIN_BLOCK_WIDE = 24, MIN_BLOCK_W = 32 };

int jp_wino_supported(int cin, int cout, int kh, int kw, int stride, int pad)
{
    return JP_WINO_SIMD && cin % 8 == 0 && cout % 8 == 0 && cin > 0 && cout > 0 && kh == 3 && kw == 3 &&
           stride == 1 && pad == 1;
}

/* Floats from one point's matrix to the next in a block of nt tiles of c channels
 * (V[xi] is nt x c): nt c rounded up to whole 64-byte lines, plus one line when that
 * count is even. An unpadded stride of a power-of-two multiple of lines (3 KiB for 24
 * tiles of 32 channels) puts the 36 matrices into a few L1 sets, and the transforms,
 * which touch all 36 for every tile, evict each other. */
static size_t point_stride(int nt, int c)
{
    size_t lines = ((size_t)nt * c + 15) / 16;
    return (lines % 2 ? lines : lines + 1) * 16;
}

jp_status jp_wino_plan_init(jp_wino_plan *p, int n, int cin, int cout, int h, int w, int wgrad,
                            jp_error *err)
{
    memset(p, 0, sizeof *p);
    if (!jp_wino_supported(cin, cout, 3, 3, 1, 1) || n <= 0 || h <= 0 || w <= 0)
        return jp_fail(err, JP_ERR_SHAPE, "Winograd F(4x4,3x3) needs AVX2/FMA and channels in "
                       "multiples of 8 (got %d -> %d)", cin, cout);
    p->n = n, p->cin = cin, p->cout = cout, p->h = h, p->w = w;
    p->th = (h + 3) / 4, p->tw = (w + 3) / 4;
    p->tiles = n * p->th * p->tw;
    /* V and M of a block (in either direction: Cin and Cout exchange) within the budget. */
    int cmax = cin > cout ? cin : cout;
    int block = L2_BUDGET / (NPTS * 2 * cmax * (int)sizeof(float));
    block = block / KROWS * KROWS;
    /* ... but at least MIN_BLOCK tiles (MIN_BLOCK_WIDE over 128 channels) so that each
     * transformed kernel U[xi] (Cin x Cout) is used for enough rows */
    int min_block = cmax > 128 ? MIN_BLOCK_WIDE : MIN_BLOCK;
    if (block < min_block) block = min_block;
    p->block = block;
    /* backward-weights adds each block's product into the per-thread dU (36 Cin Cout
     * floats, beyond L2 for wide layers): a deeper block reads and writes it less often */
    p->block_w = block < MIN_BLOCK_W ? MIN_BLOCK_W : block;
    p->nthreads = omp_get_max_threads();
    p->scratch_floats = 2 * NPTS * point_stride(p->block_w, cmax);
    p->wgrad_floats = wgrad ? (size_t)NPTS * cin * cout + cout : 0;
    p->scratch_bytes = (p->scratch_floats + p->wgrad_floats) * p->nthreads * sizeof(float);
    return JP_OK;
}

size_t jp_wino_weight_floats(const jp_wino_plan *p) { return (size_t)NPTS * p->cin * p->cout; }

/* G of the kernel transform (6x3), see the top of the file. */
static const double G[6][3] = {{1.0 / 4, 0, 0},
                               {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                               {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                               {1.0 / 24, 1.0 / 12, 1.0 / 6},
                               {1.0 / 24, -1.0 / 12, 1.0 / 6},
                               {0, 0, 1}};

/* (G g G^T) for one 3x3 kernel g (row-major), in double: 36 values, row-major 6x6. */
static void kernel_transform(double out[NPTS], const double g[9])
{
    double t[6][3];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++) t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) out[i * 6 + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

/* u[xi][a][b] (a: the convolution's input channel, b: its output channel) from
 * w[co][ci]; backward-data takes a = co, b = ci and the kernel rotated by 180 degrees. */
static void weights(const jp_wino_plan *p, float *u, const float *w, int bwd)
{
    int na = bwd ? p->cout : p->cin, nb = bwd ? p->cin : p->cout;
#pragma omp parallel for schedule(static) num_threads(p->nthreads)
    for (int co = 0; co < p->cout; co++)
        for (int ci = 0; ci < p->cin; ci++) {
            const float *k = w + ((size_t)co * p->cin + ci) * 9;
            double g[9], t[NPTS];
            for (int i = 0; i < 9; i++) g[i] = bwd ? k[8 - i] : k[i];
            kernel_transform(t, g);
            int a = bwd ? co : ci, b = bwd ? ci : co;
            for (int x = 0; x < NPTS; x++) u[((size_t)x * na + a) * nb + b] = (float)t[x];
        }
}

void jp_wino_weights_forward(const jp_wino_plan *p, float *u, const float *w_oihw)
{
    weights(p, u, w_oihw, 0);
}

void jp_wino_weights_backward_data(const jp_wino_plan *p, float *u, const float *w_oihw)
{
    weights(p, u, w_oihw, 1);
}

#if JP_WINO_SIMD

/* One convolution's geometry for the routine below (forward or backward-data). */
typedef struct {
    int ci, co;   /* input / output channels of this convolution */
    int h, w, th, tw;
} geom;

/* B^T x for 6 vectors (a row or a column of the tile). */
static inline void bt6(__m256 o[6], const __m256 d[6])
{
    const __m256 c4 = _mm256_set1_ps(4.f), c5 = _mm256_set1_ps(-5.f), c2 = _mm256_set1_ps(2.f),
                 cm4 = _mm256_set1_ps(-4.f);
    o[0] = _mm256_fmadd_ps(c4, d[0], _mm256_fmadd_ps(c5, d[2], d[4]));
    o[1] = _mm256_fmadd_ps(cm4, _mm256_add_ps(d[1], d[2]), _mm256_add_ps(d[3], d[4]));
    o[2] = _mm256_fmadd_ps(c4, _mm256_sub_ps(d[1], d[2]), _mm256_sub_ps(d[4], d[3]));
    o[3] = _mm256_fmadd_ps(c2, _mm256_sub_ps(d[3], d[1]), _mm256_sub_ps(d[4], d[2]));
    o[4] = _mm256_fmadd_ps(c2, _mm256_sub_ps(d[1], d[3]), _mm256_sub_ps(d[4], d[2]));
    o[5] = _mm256_fmadd_ps(c4, d[1], _mm256_fmadd_ps(c5, d[3], d[5]));
}

/* A^T m for 6 vectors: 4 outputs. */
static inline void at6(__m256 o[4], const __m256 m[6])
{
    __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
    __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
    o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
    o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), d34, d12);
    o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.f), s34, s12);
    o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), d34, d12), m[5]);
}

/* A tile: its image and top-left output pixel. */
typedef struct {
    int img, y0, x0;
} tile_pos;

/* Tile number t -> its position. */
static inline tile_pos tile_at(const geom *g, int t)
{
    int per = g->th * g->tw, r = t % per;
    return (tile_pos){t / per, r / g->tw * 4, r % g->tw * 4};
}

/* The tile after p (tiles run along rows, then down the image, then to the next). */
static inline void tile_next(const geom *g, tile_pos *p)
{
    p->x0 += 4;
    if (p->x0 < g->w) return;
    p->x0 = 0, p->y0 += 4;
    if (p->y0 < g->h) return;
    p->y0 = 0, p->img++;
}

/* d[0..5] = the 8 channels at pixels (y, x0 - 1 .. x0 + 4) of one nChw8c plane, zero
 * outside the image; inside: the whole tile window is in the image (no checks). */
static inline void load_row6(__m256 d[6], const geom *g, const float *plane, int y, int x0, int inside)
{
    if (inside) {
        const float *row = plane + ((size_t)y * g->w + x0 - 1) * 8;
        #pragma GCC unroll 6
        for (int j = 0; j < 6; j++) d[j] = _mm256_loadu_ps(row + j * 8);
        return;
    }
    #pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
        int x = x0 - 1 + j;
        d[j] = y >= 0 && y < g->h && x >= 0 && x < g->w ? _mm256_loadu_ps(plane + ((size_t)y * g->w + x) * 8)
                                                        : _mm256_setzero_ps();
    }
}

/* V[xi][t][c] = (B^T d B)[xi] for the tiles [t0, t0 + nt) of src (t counted from t0).
 * Channel blocks outside, tiles inside: the loads run along 6 rows of one plane (tiles
 * outside read 6 rows of every plane at once). Paired runs could not tell it from
 * tiles outside or from 2 or 4 channel blocks per tile; the unrolling was what counted. */
static void input_transform(const geom *g, float *V, const float *src, int t0, int nt)
{
    size_t ps = point_stride(nt, g->ci);
    int cb_n = g->ci / 8;
    for (int cb = 0; cb < cb_n; cb++) {
        tile_pos p = tile_at(g, t0);
        for (int t = 0; t < nt; t++, tile_next(g, &p)) {
            const float *plane = src + ((size_t)p.img * cb_n + cb) * g->h * g->w * 8;
            int inside = p.y0 >= 1 && p.x0 >= 1 && p.y0 + 5 <= g->h && p.x0 + 5 <= g->w;
            __m256 rows[6][6];
            #pragma GCC unroll 6
            for (int i = 0; i < 6; i++) {
                __m256 d[6];
                load_row6(d, g, plane, p.y0 - 1 + i, p.x0, inside);
                bt6(rows[i], d); /* rows[i][j] = (d B)[i][j] */
            }
            float *v = V + (size_t)t * g->ci + cb * 8;
            #pragma GCC unroll 6
            for (int j = 0; j < 6; j++) {
                __m256 col[6], o[6];
                #pragma GCC unroll 6
                for (int i = 0; i < 6; i++) col[i] = rows[i][j];
                bt6(o, col);
                #pragma GCC unroll 6
                for (int i = 0; i < 6; i++) _mm256_storeu_ps(v + (i * 6 + j) * ps, o[i]);
            }
        }
    }
}

/* C (R rows x NV*8) = A (R x K) . B (K x NV*8), or C += with accumulate. A's element
 * (r, k) is a[r * a_rs + k * a_ks] (a row-major A, or a transposed one), B's row k
 * starts at b + k * ldb. Constant R and NV unroll into a 6x16 register tile. */
static inline __attribute__((always_inline)) void gemm_kernel(int R, int NV, int K, const float *a,
                                                             size_t a_rs, size_t a_ks, const float *b,
                                                             size_t ldb, float *c, size_t ldc, int accumulate)
{
    __m256 acc[KROWS][2];
#pragma GCC unroll 6
    for (int r = 0; r < KROWS; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m256 b0 = _mm256_loadu_ps(b + (size_t)k * ldb);
        __m256 b1 = NV > 1 ? _mm256_loadu_ps(b + (size_t)k * ldb + 8) : b0;
        const float *ak = a + (size_t)k * a_ks;
#pragma GCC unroll 6
        for (int r = 0; r < KROWS; r++) {
            if (r >= R) break;
            __m256 x = _mm256_broadcast_ss(ak + r * a_rs);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            if (NV > 1) acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < KROWS; r++) {
        if (r >= R) break;
        float *cr = c + r * ldc;
        if (accumulate) {
            acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(cr));
            if (NV > 1) acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(cr + 8));
        }
        _mm256_storeu_ps(cr, acc[r][0]);
        if (NV > 1) _mm256_storeu_ps(cr + 8, acc[r][1]);
    }
}

/* C (rows x ncol) (+)= A . B with every row and column block through gemm_kernel:
 * A's element (r, k) at a[r * a_rs + k * a_ks], B's row k at b + k * ldb (ncol a
 * multiple of 8). */
static void gemm(int rows, int ncol, int K, const float *a, size_t a_rs, size_t a_ks, const float *b,
                 size_t ldb, float *c, size_t ldc, int accumulate)
{
    for (int c0 = 0; c0 < ncol; c0 += 16) {
        int nv = ncol - c0 >= 16 ? 2 : 1;
        for (int r0 = 0; r0 < rows; r0 += KROWS) {
            const float *ar = a + (size_t)r0 * a_rs;
            float *cr = c + (size_t)r0 * ldc + c0;
            int R = rows - r0 < KROWS ? rows - r0 : KROWS;
            if (R == KROWS && nv == 2)
                gemm_kernel(KROWS, 2, K, ar, a_rs, a_ks, b + c0, ldb, cr, ldc, accumulate);
            else if (nv == 2)
                gemm_kernel(R, 2, K, ar, a_rs, a_ks, b + c0, ldb, cr, ldc, accumulate);
            else
                gemm_kernel(R, 1, K, ar, a_rs, a_ks, b + c0, ldb, cr, ldc, accumulate);
        }
    }
}

/* M[xi] (nt x co) = V[xi] (nt x ci) . U[xi] (ci x co). */
static void multiply(const geom *g, float *M, const float *V, const float *U, int nt)
{
    size_t vs = point_stride(nt, g->ci), ms = point_stride(nt, g->co);
    for (int x = 0; x < NPTS; x++)
        gemm(nt, g->co, g->ci, V + x * vs, g->ci, 1, U + (size_t)x * g->ci * g->co, g->co, M + x * ms, g->co, 0);
}

/* dst tiles = A^T M A (+ b) for the tiles [t0, t0 + nt); accumulate adds into dst,
 * relu then clamps at 0. */
static void output_transform(const geom *g, float *dst, const float *M, const float *b, int accumulate,
                             int relu, int t0, int nt)
{
    int cb_n = g->co / 8;
    size_t ps = point_stride(nt, g->co);
    for (int cb = 0; cb < cb_n; cb++) { /* channel blocks outside: see input_transform */
        tile_pos p = tile_at(g, t0);
        for (int t = 0; t < nt; t++, tile_next(g, &p)) {
            int img = p.img, y0 = p.y0, x0 = p.x0;
            const float *m = M + (size_t)t * g->co + cb * 8;
            __m256 rows[6][4];
            #pragma GCC unroll 6
            for (int i = 0; i < 6; i++) {
                __m256 r[6];
                #pragma GCC unroll 6
                for (int j = 0; j < 6; j++) r[j] = _mm256_loadu_ps(m + (i * 6 + j) * ps);
                at6(rows[i], r); /* rows[i][j] = (m A)[i][j] */
            }
            __m256 bias = b ? _mm256_loadu_ps(b + cb * 8) : _mm256_setzero_ps();
            float *plane = dst + ((size_t)img * cb_n + cb) * g->h * g->w * 8;
            #pragma GCC unroll 6
            for (int j = 0; j < 4; j++) {
                int x = x0 + j;
                if (x >= g->w) break;
                __m256 col[6], o[4];
                #pragma GCC unroll 6
                for (int i = 0; i < 6; i++) col[i] = rows[i][j];
                at6(o, col);
                #pragma GCC unroll 6
                for (int i = 0; i < 4; i++) {
                    int y = y0 + i;
                    if (y >= g->h) break;
                    float *q = plane + ((size_t)y * g->w + x) * 8;
                    __m256 v = _mm256_add_ps(o[i], bias);
                    if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(q));
                    if (relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
                    _mm256_storeu_ps(q, v);
                }
            }
        }
    }
}

/* One convolution, block by block of tiles over the threads (each tile of dst is
 * written by one thread, so the result does not depend on the thread count). */
static void convolve(const jp_wino_plan *p, const geom *g, float *dst, const float *src, const float *U,
                     const float *b, int accumulate, int relu, float *scratch)
{
    int nblocks = (p->tiles + p->block - 1) / p->block;
#pragma omp parallel for schedule(static) num_threads(p->nthreads)
    for (int k = 0; k < nblocks; k++) {
        float *V = scratch + (size_t)omp_get_thread_num() * p->scratch_floats;
        float *M = V + NPTS * point_stride(p->block, g->ci);
        int t0 = k * p->block, nt = p->tiles - t0 < p->block ? p->tiles - t0 : p->block;
        input_transform(g, V, src, t0, nt);
        multiply(g, M, V, U, nt);
        output_transform(g, dst, M, b, accumulate, relu, t0, nt);
    }
}

void jp_wino_forward(const jp_wino_plan *p, float *dst, const float *src, const float *u,
                     const float *b, int accumulate, int relu, void *scratch)
{
    geom g = {p->cin, p->cout, p->h, p->w, p->th, p->tw};
    convolve(p, &g, dst, src, u, b, accumulate, relu, scratch);
}

void jp_wino_backward_data(const jp_wino_plan *p, float *dsrc, const float *ddst, const float *u,
                           void *scratch)
{
    geom g = {p->cout, p->cin, p->h, p->w, p->th, p->tw};
    convolve(p, &g, dsrc, ddst, u, NULL, 0, 0, scratch);
}

/* A y for 4 vectors (A = (A^T)^T, 6x4): 6 outputs. */
static inline void a4(__m256 o[6], const __m256 y[4])
{
    __m256 s02 = _mm256_add_ps(y[0], y[2]), s13 = _mm256_add_ps(y[1], y[3]);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(4.f), y[2], y[0]);
    __m256 q = _mm256_mul_ps(_mm256_set1_ps(2.f), _mm256_fmadd_ps(_mm256_set1_ps(4.f), y[3], y[1]));
    o[0] = y[0];
    o[1] = _mm256_add_ps(s02, s13);
    o[2] = _mm256_sub_ps(s02, s13);
    o[3] = _mm256_add_ps(p, q);
    o[4] = _mm256_sub_ps(p, q);
    o[5] = y[3];
}

/* Mb[xi][t][c] = (A dY A^T)[xi] for the 4x4 tiles [t0, t0 + nt) of ddst (zero outside
 * the image), and dbias[c] += the tiles' sums. */
static void grad_transform(const geom *g, float *Mb, float *dbias, const float *ddst, int t0, int nt)
{
    int cb_n = g->co / 8;
    size_t ps = point_stride(nt, g->co);
    for (int cb = 0; cb < cb_n; cb++) { /* channel blocks outside: see input_transform */
        tile_pos p = tile_at(g, t0);
        __m256 sum = _mm256_setzero_ps();
        for (int t = 0; t < nt; t++, tile_next(g, &p)) {
            int img = p.img, y0 = p.y0, x0 = p.x0;
            const float *plane = ddst + ((size_t)img * cb_n + cb) * g->h * g->w * 8;
            __m256 rows[4][6];
            #pragma GCC unroll 6
            for (int i = 0; i < 4; i++) {
                int y = y0 + i;
                __m256 d[4];
                #pragma GCC unroll 6
                for (int j = 0; j < 4; j++) {
                    int x = x0 + j;
                    d[j] = (y < g->h && x < g->w) ? _mm256_loadu_ps(plane + ((size_t)y * g->w + x) * 8)
                                                  : _mm256_setzero_ps();
                    sum = _mm256_add_ps(sum, d[j]);
                }
                a4(rows[i], d); /* rows[i][j] = (dY A^T)[i][j] */
            }
            float *m = Mb + (size_t)t * g->co + cb * 8;
            #pragma GCC unroll 6
            for (int j = 0; j < 6; j++) {
                __m256 col[4], o[6];
                #pragma GCC unroll 6
                for (int i = 0; i < 4; i++) col[i] = rows[i][j];
                a4(o, col);
                #pragma GCC unroll 6
                for (int i = 0; i < 6; i++) _mm256_storeu_ps(m + (i * 6 + j) * ps, o[i]);
            }
        }
        _mm256_storeu_ps(dbias + cb * 8, _mm256_add_ps(sum, _mm256_loadu_ps(dbias + cb * 8)));
    }
}

/* G^T x for 6 vectors: 3 outputs. */
static inline void gt6(__m256 o[3], const __m256 x[6])
{
    const __m256 c4 = _mm256_set1_ps(1.f / 4), c6 = _mm256_set1_ps(1.f / 6), c12 = _mm256_set1_ps(1.f / 12),
                 c24 = _mm256_set1_ps(1.f / 24);
    __m256 s12 = _mm256_add_ps(x[1], x[2]), s34 = _mm256_add_ps(x[3], x[4]);
    o[0] = _mm256_fmadd_ps(c4, x[0], _mm256_fmsub_ps(c24, s34, _mm256_mul_ps(c6, s12)));
    o[1] = _mm256_fmadd_ps(c6, _mm256_sub_ps(x[2], x[1]), _mm256_mul_ps(c12, _mm256_sub_ps(x[3], x[4])));
    o[2] = _mm256_fmadd_ps(c6, _mm256_sub_ps(s34, s12), x[5]);
}

/* dw[co][ci] += G^T dU[.][ci][co] G for 8 output channels co0.. at once. */
static void weight_grad_out(const geom *g, float *dw, const float *dU, int ci, int co0)
{
    __m256 t[3][6], o[3][3];
    for (int j = 0; j < 6; j++) { /* t = G^T X, one column of X at a time */
        __m256 col[6], r[3];
        for (int k = 0; k < 6; k++) col[k] = _mm256_loadu_ps(dU + ((size_t)(k * 6 + j) * g->ci + ci) * g->co + co0);
        gt6(r, col);
        for (int i = 0; i < 3; i++) t[i][j] = r[i];
    }
    for (int i = 0; i < 3; i++) gt6(o[i], t[i]); /* (G^T X) G = rows of t through G^T */
    float v[9][8];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) _mm256_storeu_ps(v[i * 3 + j], o[i][j]);
    for (int l = 0; l < 8; l++) {
        float *w = dw + ((size_t)(co0 + l) * g->ci + ci) * 9;
        for (int k = 0; k < 9; k++) w[k] += v[k][l];
    }
}

void jp_wino_backward_weights(const jp_wino_plan *p, float *dw_oihw, float *db, const float *ddst,
                              const float *src, void *scratch)
{
    JP_CHECK(p->wgrad_floats > 0);
    float *wgrad = (float *)scratch + (size_t)p->nthreads * p->scratch_floats;
    geom g = {p->cin, p->cout, p->h, p->w, p->th, p->tw};
    size_t nu = (size_t)NPTS * g.ci * g.co;
    int nblocks = (p->tiles + p->block_w - 1) / p->block_w, team = 1;
#pragma omp parallel num_threads(p->nthreads)
    {
#pragma omp single
        team = omp_get_num_threads();
        float *dU = wgrad + (size_t)omp_get_thread_num() * p->wgrad_floats;
        float *V = (float *)scratch + (size_t)omp_get_thread_num() * p->scratch_floats;
        float *Mb = V + NPTS * point_stride(p->block_w, g.ci);
        memset(dU, 0, p->wgrad_floats * sizeof(float));
#pragma omp for schedule(static)
        for (int k = 0; k < nblocks; k++) {
            int t0 = k * p->block_w, nt = p->tiles - t0 < p->block_w ? p->tiles - t0 : p->block_w;
            input_transform(&g, V, src, t0, nt);
            grad_transform(&g, Mb, dU + nu, ddst, t0, nt);
            /* dU[xi] (ci x co) += V[xi]^T (ci x nt) . Mb[xi] (nt x co): A's (r, k) = V[xi][k][r] */
            for (int x = 0; x < NPTS; x++)
                gemm(g.ci, g.co, nt, V + x * point_stride(nt, g.ci), 1, g.ci, Mb + x * point_stride(nt, g.co), g.co,
                     dU + (size_t)x * g.ci * g.co, g.co, 1);
        }
    }
    /* the threads' sums into the first (each element in thread order), then
     * dw += G^T dU G per (co, ci) */
    float *sum = wgrad;
    if (team > 1) {
        long n = (long)p->wgrad_floats;
#pragma omp parallel for schedule(static) num_threads(p->nthreads)
        for (long i = 0; i < n; i++)
            for (int th = 1; th < team; th++) sum[i] += wgrad[(size_t)th * p->wgrad_floats + i];
    }
    if (db)
        for (int c = 0; c < g.co; c++) db[c] += sum[nu + c];
    if (!dw_oihw) return;
#pragma omp parallel for schedule(static) num_threads(p->nthreads)
    for (int ci = 0; ci < g.ci; ci++)
        for (int co0 = 0; co0 < g.co; co0 += 8) weight_grad_out(&g, dw_oihw, sum, ci, co0);
}

#else /* no AVX2/FMA: jp_wino_supported() is 0 and no plan can be made */

void jp_wino_forward(const jp_wino_plan *p, float *dst, const float *src, const float *u,
                     const float *b, int accumulate, int relu, void *scratch)
{
    (void)p, (void)dst, (void)src, (void)u, (void)b, (void)accumulate, (void)relu, (void)scratch;
    JP_CHECK(!"Winograd without AVX2");
}

void jp_wino_backward_data(const jp_wino_plan *p, float *dsrc, const float *ddst, const float *u,
                           void *scratch)
{
    (void)p, (void)dsrc, (void)ddst, (void)u, (void)scratch;
    JP_CHECK(!"Winograd without AVX2");
}

void jp_wino_backward_weights(const jp_wino_plan *p, float *dw_oihw, float *db, const float *ddst,
                              const float *src, void *scratch)
{
    (void)p, (void)dw_oihw, (void)db, (void)ddst, (void)src, (void)scratch;
    JP_CHECK(!"Winograd without AVX2");
}

#endif
