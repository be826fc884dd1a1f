/* The kernels of Winograd F(4x4, 3x3) for one vector width: included by
 * winograd_avx2.c (JP_VW 8, nChw8c) and winograd_avx512.c (JP_VW 16, nChw16c), each
 * compiled with its instruction set; winograd.c plans and dispatches. The method and
 * the matrices are in winograd.h and winograd.c. Every vector below holds the JP_VW
 * channels of one block of the layout, so each transform runs on JP_VW channels at
 * once. Per block of tiles: (1) input transform into V[xi][t][ci], (2) for each xi,
 * M[xi][t][co] = sum_ci V[xi][t][ci] U[xi][ci][co] with a 6 x 2 JP_VW register kernel,
 * (3) output transform of M into the 4x4 tiles of dst. */
#include <omp.h>
#include <string.h>

#include "ops/simd.h"
#include "ops/winograd.h"

enum { NPTS = JP_WINO_NPTS, KROWS = JP_WINO_KROWS };
#define point_stride jp_wino_point_stride

/* One convolution's geometry for the routine below (forward or backward-data). */
typedef struct {
    int ci, co;   /* input / output channels of this convolution */
    int h, w, th, tw;
} geom;

/* B^T x for 6 vectors (a row or a column of the tile). */
static inline void bt6(vf o[6], const vf d[6])
{
    const vf c4 = vf_set1(4.f), c5 = vf_set1(-5.f), c2 = vf_set1(2.f),
                 cm4 = vf_set1(-4.f);
    o[0] = vf_fmadd(c4, d[0], vf_fmadd(c5, d[2], d[4]));
    o[1] = vf_fmadd(cm4, vf_add(d[1], d[2]), vf_add(d[3], d[4]));
    o[2] = vf_fmadd(c4, vf_sub(d[1], d[2]), vf_sub(d[4], d[3]));
    o[3] = vf_fmadd(c2, vf_sub(d[3], d[1]), vf_sub(d[4], d[2]));
    o[4] = vf_fmadd(c2, vf_sub(d[1], d[3]), vf_sub(d[4], d[2]));
    o[5] = vf_fmadd(c4, d[1], vf_fmadd(c5, d[3], d[5]));
}

/* A^T m for 6 vectors: 4 outputs. */
static inline void at6(vf o[4], const vf m[6])
{
    vf s12 = vf_add(m[1], m[2]), d12 = vf_sub(m[1], m[2]);
    vf s34 = vf_add(m[3], m[4]), d34 = vf_sub(m[3], m[4]);
    o[0] = vf_add(vf_add(m[0], s12), s34);
    o[1] = vf_fmadd(vf_set1(2.f), d34, d12);
    o[2] = vf_fmadd(vf_set1(4.f), s34, s12);
    o[3] = vf_add(vf_fmadd(vf_set1(8.f), d34, d12), m[5]);
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

/* d[0..5] = the JP_VW channels at pixels (y, x0 - 1 .. x0 + 4) of one blocked plane, zero
 * outside the image; inside: the whole tile window is in the image (no checks). */
static inline void load_row6(vf d[6], const geom *g, const float *plane, int y, int x0, int inside)
{
    if (inside) {
        const float *row = plane + ((size_t)y * g->w + x0 - 1) * JP_VW;
        #pragma GCC unroll 6
        for (int j = 0; j < 6; j++) d[j] = vf_load(row + j * JP_VW);
        return;
    }
    #pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
        int x = x0 - 1 + j;
        d[j] = y >= 0 && y < g->h && x >= 0 && x < g->w ? vf_load(plane + ((size_t)y * g->w + x) * JP_VW)
                                                        : vf_zero();
    }
}

/* V[xi][t][c] = (B^T d B)[xi] for the tiles [t0, t0 + nt) of src (t counted from t0).
 * Channel blocks outside, tiles inside: the loads run along 6 rows of one plane (tiles
 * outside read 6 rows of every plane at once). Paired runs could not tell it from
 * tiles outside or from 2 or 4 channel blocks per tile; the unrolling was what counted. */
static void input_transform(const geom *g, float *V, const float *src, int t0, int nt)
{
    size_t ps = point_stride(nt, g->ci);
    int cb_n = g->ci / JP_VW;
    for (int cb = 0; cb < cb_n; cb++) {
        tile_pos p = tile_at(g, t0);
        for (int t = 0; t < nt; t++, tile_next(g, &p)) {
            const float *plane = src + ((size_t)p.img * cb_n + cb) * g->h * g->w * JP_VW;
            int inside = p.y0 >= 1 && p.x0 >= 1 && p.y0 + 5 <= g->h && p.x0 + 5 <= g->w;
            vf rows[6][6];
            #pragma GCC unroll 6
            for (int i = 0; i < 6; i++) {
                vf d[6];
                load_row6(d, g, plane, p.y0 - 1 + i, p.x0, inside);
                bt6(rows[i], d); /* rows[i][j] = (d B)[i][j] */
            }
            float *v = V + (size_t)t * g->ci + cb * JP_VW;
            #pragma GCC unroll 6
            for (int j = 0; j < 6; j++) {
                vf col[6], o[6];
                #pragma GCC unroll 6
                for (int i = 0; i < 6; i++) col[i] = rows[i][j];
                bt6(o, col);
                #pragma GCC unroll 6
                for (int i = 0; i < 6; i++) vf_store(v + (i * 6 + j) * ps, o[i]);
            }
        }
    }
}

/* C (R rows x NV*JP_VW) = A (R x K) . B (K x NV*JP_VW), or C += with accumulate. A's element
 * (r, k) is a[r * a_rs + k * a_ks] (a row-major A, or a transposed one), B's row k
 * starts at b + k * ldb. Constant R and NV unroll into a 6 x 2 JP_VW register tile
 * (12 accumulators: of AVX2's 16 registers, of AVX-512's 32). */
static inline __attribute__((always_inline)) void gemm_kernel(int R, int NV, int K, const float *a,
                                                             size_t a_rs, size_t a_ks, const float *b,
                                                             size_t ldb, float *c, size_t ldc, int accumulate)
{
    vf acc[KROWS][2];
#pragma GCC unroll 6
    for (int r = 0; r < KROWS; r++) acc[r][0] = acc[r][1] = vf_zero();
    for (int k = 0; k < K; k++) {
        vf b0 = vf_load(b + (size_t)k * ldb);
        vf b1 = NV > 1 ? vf_load(b + (size_t)k * ldb + JP_VW) : b0;
        const float *ak = a + (size_t)k * a_ks;
#pragma GCC unroll 6
        for (int r = 0; r < KROWS; r++) {
            if (r >= R) break;
            vf x = vf_bcast(ak + r * a_rs);
            acc[r][0] = vf_fmadd(x, b0, acc[r][0]);
            if (NV > 1) acc[r][1] = vf_fmadd(x, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < KROWS; r++) {
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

/* M[xi] (nt x co) = V[xi] (nt x ci) . U[xi] (ci x co), U[xi] strip by strip
 * (jp_wino_u_index). */
static void multiply(const geom *g, float *M, const float *V, const float *U, int nt)
{
    size_t vs = point_stride(nt, g->ci), ms = point_stride(nt, g->co);
    for (int x = 0; x < NPTS; x++) {
        const float *ux = U + (size_t)x * g->ci * g->co;
        for (int c0 = 0; c0 < g->co; c0 += JP_WINO_STRIP) {
            int width = jp_wino_strip_width(g->co, c0);
            gemm(nt, width, g->ci, V + x * vs, g->ci, 1, ux + (size_t)c0 * g->ci, width, M + x * ms + c0, g->co, 0);
        }
    }
}

/* dst tiles = A^T M A (+ b) for the tiles [t0, t0 + nt); accumulate adds into dst,
 * relu then clamps at 0. */
static void output_transform(const geom *g, float *dst, const float *M, const float *b, int accumulate,
                             int relu, int t0, int nt)
{
    int cb_n = g->co / JP_VW;
    size_t ps = point_stride(nt, g->co);
    for (int cb = 0; cb < cb_n; cb++) { /* channel blocks outside: see input_transform */
        tile_pos p = tile_at(g, t0);
        for (int t = 0; t < nt; t++, tile_next(g, &p)) {
            int img = p.img, y0 = p.y0, x0 = p.x0;
            const float *m = M + (size_t)t * g->co + cb * JP_VW;
            vf rows[6][4];
            #pragma GCC unroll 6
            for (int i = 0; i < 6; i++) {
                vf r[6];
                #pragma GCC unroll 6
                for (int j = 0; j < 6; j++) r[j] = vf_load(m + (i * 6 + j) * ps);
                at6(rows[i], r); /* rows[i][j] = (m A)[i][j] */
            }
            vf bias = b ? vf_load(b + cb * JP_VW) : vf_zero();
            float *plane = dst + ((size_t)img * cb_n + cb) * g->h * g->w * JP_VW;
            #pragma GCC unroll 6
            for (int j = 0; j < 4; j++) {
                int x = x0 + j;
                if (x >= g->w) break;
                vf col[6], o[4];
                #pragma GCC unroll 6
                for (int i = 0; i < 6; i++) col[i] = rows[i][j];
                at6(o, col);
                #pragma GCC unroll 6
                for (int i = 0; i < 4; i++) {
                    int y = y0 + i;
                    if (y >= g->h) break;
                    float *q = plane + ((size_t)y * g->w + x) * JP_VW;
                    vf v = vf_add(o[i], bias);
                    if (accumulate) v = vf_add(v, vf_load(q));
                    if (relu) v = vf_max(v, vf_zero());
                    vf_store(q, v);
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

void JP_VNAME(jp_wino_forward)(const jp_wino_plan *p, float *dst, const float *src, const float *u,
                     const float *b, int accumulate, int relu, void *scratch)
{
    geom g = {p->cin, p->cout, p->h, p->w, p->th, p->tw};
    convolve(p, &g, dst, src, u, b, accumulate, relu, scratch);
}

void JP_VNAME(jp_wino_backward_data)(const jp_wino_plan *p, float *dsrc, const float *ddst, const float *u,
                           void *scratch)
{
    geom g = {p->cout, p->cin, p->h, p->w, p->th, p->tw};
    convolve(p, &g, dsrc, ddst, u, NULL, 0, 0, scratch);
}

/* A y for 4 vectors (A = (A^T)^T, 6x4): 6 outputs. */
static inline void a4(vf o[6], const vf y[4])
{
    vf s02 = vf_add(y[0], y[2]), s13 = vf_add(y[1], y[3]);
    vf p = vf_fmadd(vf_set1(4.f), y[2], y[0]);
    vf q = vf_mul(vf_set1(2.f), vf_fmadd(vf_set1(4.f), y[3], y[1]));
    o[0] = y[0];
    o[1] = vf_add(s02, s13);
    o[2] = vf_sub(s02, s13);
    o[3] = vf_add(p, q);
    o[4] = vf_sub(p, q);
    o[5] = y[3];
}

/* Mb[xi][t][c] = (A dY A^T)[xi] for the 4x4 tiles [t0, t0 + nt) of ddst (zero outside
 * the image), and dbias[c] += the tiles' sums. */
static void grad_transform(const geom *g, float *Mb, float *dbias, const float *ddst, int t0, int nt)
{
    int cb_n = g->co / JP_VW;
    size_t ps = point_stride(nt, g->co);
    for (int cb = 0; cb < cb_n; cb++) { /* channel blocks outside: see input_transform */
        tile_pos p = tile_at(g, t0);
        vf sum = vf_zero();
        for (int t = 0; t < nt; t++, tile_next(g, &p)) {
            int img = p.img, y0 = p.y0, x0 = p.x0;
            const float *plane = ddst + ((size_t)img * cb_n + cb) * g->h * g->w * JP_VW;
            vf rows[4][6];
            #pragma GCC unroll 6
            for (int i = 0; i < 4; i++) {
                int y = y0 + i;
                vf d[4];
                #pragma GCC unroll 6
                for (int j = 0; j < 4; j++) {
                    int x = x0 + j;
                    d[j] = (y < g->h && x < g->w) ? vf_load(plane + ((size_t)y * g->w + x) * JP_VW)
                                                  : vf_zero();
                    sum = vf_add(sum, d[j]);
                }
                a4(rows[i], d); /* rows[i][j] = (dY A^T)[i][j] */
            }
            float *m = Mb + (size_t)t * g->co + cb * JP_VW;
            #pragma GCC unroll 6
            for (int j = 0; j < 6; j++) {
                vf col[4], o[6];
                #pragma GCC unroll 6
                for (int i = 0; i < 4; i++) col[i] = rows[i][j];
                a4(o, col);
                #pragma GCC unroll 6
                for (int i = 0; i < 6; i++) vf_store(m + (i * 6 + j) * ps, o[i]);
            }
        }
        vf_store(dbias + cb * JP_VW, vf_add(sum, vf_load(dbias + cb * JP_VW)));
    }
}

/* G^T x for 6 vectors: 3 outputs. */
static inline void gt6(vf o[3], const vf x[6])
{
    const vf c4 = vf_set1(1.f / 4), c6 = vf_set1(1.f / 6), c12 = vf_set1(1.f / 12),
                 c24 = vf_set1(1.f / 24);
    vf s12 = vf_add(x[1], x[2]), s34 = vf_add(x[3], x[4]);
    o[0] = vf_fmadd(c4, x[0], vf_fmsub(c24, s34, vf_mul(c6, s12)));
    o[1] = vf_fmadd(c6, vf_sub(x[2], x[1]), vf_mul(c12, vf_sub(x[3], x[4])));
    o[2] = vf_fmadd(c6, vf_sub(s34, s12), x[5]);
}

/* dw[co][ci] += G^T dU[.][ci][co] G for JP_VW output channels co0.. at once. */
static void weight_grad_out(const geom *g, float *dw, const float *dU, int ci, int co0)
{
    vf t[3][6], o[3][3];
    for (int j = 0; j < 6; j++) { /* t = G^T X, one column of X at a time */
        vf col[6], r[3];
        for (int k = 0; k < 6; k++) col[k] = vf_load(dU + ((size_t)(k * 6 + j) * g->ci + ci) * g->co + co0);
        gt6(r, col);
        for (int i = 0; i < 3; i++) t[i][j] = r[i];
    }
    for (int i = 0; i < 3; i++) gt6(o[i], t[i]); /* (G^T X) G = rows of t through G^T */
    float v[9][JP_VW];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) vf_store(v[i * 3 + j], o[i][j]);
    for (int l = 0; l < JP_VW; l++) {
        float *w = dw + ((size_t)(co0 + l) * g->ci + ci) * 9;
        for (int k = 0; k < 9; k++) w[k] += v[k][l];
    }
}

void JP_VNAME(jp_wino_backward_weights)(const jp_wino_plan *p, float *dw_oihw, float *db, const float *ddst,
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
        for (int co0 = 0; co0 < g.co; co0 += JP_VW) weight_grad_out(&g, dw_oihw, sum, ci, co0);
}

