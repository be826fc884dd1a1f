/* The kernels of Winograd F(4x4, 3x3) for one vector width, stride 1 here and the
 * transforms of its stride-2 form in winograd_s2_kern.h: included by winograd_avx2.c
 * (JP_VW 8, nChw8c) and winograd_avx512.c (JP_VW 16, nChw16c), each compiled with its
 * instruction set; winograd.c plans and dispatches. The method and the matrices are in
 * winograd.h and winograd.c. Every vector below holds the JP_VW
 * channels of one block of the layout, so each transform runs on JP_VW channels at
 * once. Per block of tiles: (1) input transform into V[xi][t][ci], (2) for each xi,
 * M[xi][t][co] = sum_ci V[xi][t][ci] U[xi][ci][co] with a 6 x 2 JP_VW register kernel,
 * (3) output transform of M into the 4x4 tiles of dst. */
#include <omp.h>
#include <string.h>

#include "core/steal.h"
#include "ops/simd.h"
#include "ops/winograd.h"
#include "ops/winograd_gemm.h"

/* GCC 12 cannot follow the tile arrays below through the kinds' branches once the 15x15
 * tile is among them, and warns that the entries it copies (each written by the kind's
 * transform before it is read) may be uninitialised. */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define point_stride jp_wino_point_stride

/* One convolution's geometry for the routines below (forward or backward-data). */
typedef struct {
    int ci, co;   /* input / output channels of this convolution */
    int h, w;     /* the plan's input image (the forward's source, backward-data's dsrc) */
    int ho, wo;   /* its output image: h, w at stride 1 */
    int th, tw;   /* tiles of the output image */
    int tile;     /* outputs per side of a tile: 4, or 7 (stride 2's wide tile) */
    int stride;
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
    return (tile_pos){t / per, r / g->tw * g->tile, r % g->tw * g->tile};
}

/* The tile after p (tiles run along rows, then down the image, then to the next). */
static inline void tile_next(const geom *g, tile_pos *p)
{
    p->x0 += g->tile;
    if (p->x0 < g->tw * g->tile) return;
    p->x0 = 0, p->y0 += g->tile;
    if (p->y0 < g->th * g->tile) return;
    p->y0 = 0, p->img++;
}

/* d[0..n-1] = the JP_VW channels at pixels (y, x0 .. x0 + n - 1) of one blocked plane of
 * h x w, zero outside; inside: all of them are in the image (no checks). */
static inline __attribute__((always_inline)) void load_row(vf *d, int n, const float *plane, int h, int w, int y,
                                                          int x0, int inside)
{
    if (inside) {
        const float *row = plane + ((size_t)y * w + x0) * JP_VW;
        #pragma GCC unroll 15
        for (int j = 0; j < n; j++) d[j] = vf_load(row + j * JP_VW);
        return;
    }
    #pragma GCC unroll 15
    for (int j = 0; j < n; j++) {
        int x = x0 + j;
        d[j] = y >= 0 && y < h && x >= 0 && x < w ? vf_load(plane + ((size_t)y * w + x) * JP_VW) : vf_zero();
    }
}

#include "ops/winograd_s2_kern.h"

/* The input transforms: F(4x4,3x3)'s 6x6 window from pixel (y0 - 1, x0 - 1) of the
 * source; the stride-2 form's 9x9 window from (2 y0 - 1, 2 x0 - 1) (winograd_s2_kern.h)
 * and its backward-data's 5x5 window of dy from (y0, x0), both to 9x9 points; with the
 * wide tile (7 outputs a side) 15x15 and 8x8 windows to 15x15 points. */
enum { TILE_S1, TILE_S2, TILE_S2_BWD, TILE_S2W, TILE_S2W_BWD };

/* Per kind: inputs per side of the window, points per side, outputs per side. */
#define KIND_NIN(kind) ((kind) == TILE_S1 ? 6 : (kind) == TILE_S2 ? 9 : (kind) == TILE_S2_BWD ? 5 : (kind) == TILE_S2W ? 15 : 8)
#define KIND_SIDE(kind) ((kind) == TILE_S1 ? 6 : (kind) <= TILE_S2_BWD ? 9 : 15)
#define KIND_NOUT(kind) ((kind) == TILE_S2_BWD ? 8 : (kind) == TILE_S2W ? 7 : (kind) == TILE_S2W_BWD ? 14 : 4)
#define KIND_BWD(kind) ((kind) == TILE_S2_BWD || (kind) == TILE_S2W_BWD)

/* The points of one row or column of a tile of the given kind. */
static inline __attribute__((always_inline)) void in_points(int kind, vf *o, const vf *d)
{
    if (kind == TILE_S1) bt6(o, d);
    else if (kind == TILE_S2) s2_points(4, o, d);
    else if (kind == TILE_S2_BWD) s2b_points(4, o, d);
    else if (kind == TILE_S2W) s2_points(7, o, d);
    else s2b_points(7, o, d);
}

/* V[xi][t][c] = (B^T d B)[xi] for the tiles [t0, t0 + nt) of src (t counted from t0),
 * B that of the kind. Channel blocks outside, tiles inside: the loads run along the
 * rows of one plane (tiles outside read the rows of every plane at once). Paired runs
 * could not tell it from tiles outside or from 2 or 4 channel blocks per tile; the
 * unrolling was what counted. */
static inline __attribute__((always_inline)) void tile_inputs(int kind, const geom *g, float *V, const float *src,
                                                             int t0, int nt, int cb0, int cb1)
{
    const int nin = KIND_NIN(kind), side = KIND_SIDE(kind);
    const int h = KIND_BWD(kind) ? g->ho : g->h, w = KIND_BWD(kind) ? g->wo : g->w;
    size_t ps = point_stride(nt, g->ci);
    int cb_n = g->ci / JP_VW;
    for (int cb = cb0; cb < cb1; cb++) {
        tile_pos p = tile_at(g, t0);
        for (int t = 0; t < nt; t++, tile_next(g, &p)) {
            const float *plane = src + ((size_t)p.img * cb_n + cb) * h * w * JP_VW;
            int y0 = kind == TILE_S1 ? p.y0 - 1 : KIND_BWD(kind) ? p.y0 : 2 * p.y0 - 1;
            int x0 = kind == TILE_S1 ? p.x0 - 1 : KIND_BWD(kind) ? p.x0 : 2 * p.x0 - 1;
            int inside = y0 >= 0 && x0 >= 0 && y0 + nin <= h && x0 + nin <= w;
            vf rows[15][15];
            #pragma GCC unroll 15
            for (int i = 0; i < nin; i++) {
                vf d[15];
                load_row(d, nin, plane, h, w, y0 + i, x0, inside);
                in_points(kind, rows[i], d); /* rows[i][j] = (d B)[i][j] */
            }
            float *v = V + (size_t)t * g->ci + cb * JP_VW;
            #pragma GCC unroll 15
            for (int j = 0; j < side; j++) {
                vf col[15], o[15];
                #pragma GCC unroll 15
                for (int i = 0; i < nin; i++) col[i] = rows[i][j];
                in_points(kind, o, col);
                #pragma GCC unroll 15
                for (int i = 0; i < side; i++) vf_store(v + (i * side + j) * ps, o[i]);
            }
        }
    }
}

/* The output transforms, the kinds of tile_inputs: F(4x4,3x3)'s 36 points and the
 * stride-2 form's 81 to a 4x4 tile of dst from (y0, x0); its backward-data's 81 to an 8x8
 * tile of dsrc from (2 y0, 2 x0); with the wide tile 225 points to 7x7, resp. 14x14. */
static inline __attribute__((always_inline)) void out_values(int kind, vf *o, const vf *m)
{
    if (kind == TILE_S1) at6(o, m);
    else if (kind == TILE_S2) s2_outputs(4, o, m);
    else if (kind == TILE_S2_BWD) s2b_outputs(4, o, m);
    else if (kind == TILE_S2W) s2_outputs(7, o, m);
    else s2b_outputs(7, o, m);
}

/* dst's tiles = A^T M A (+ b) for the tiles [t0, t0 + nt), A that of the kind;
 * accumulate adds into dst, relu then clamps at 0. */
static inline __attribute__((always_inline)) void tile_outputs(int kind, const geom *g, float *dst, const float *M,
                                                              const float *b, int accumulate, int relu, int t0,
                                                              int nt, int cb0, int cb1)
{
    const int side = KIND_SIDE(kind), nout = KIND_NOUT(kind), scale = KIND_BWD(kind) ? 2 : 1;
    const int h = KIND_BWD(kind) ? g->h : g->ho, w = KIND_BWD(kind) ? g->w : g->wo;
    int cb_n = g->co / JP_VW;
    size_t ps = point_stride(nt, g->co);
    for (int cb = cb0; cb < cb1; cb++) { /* channel blocks outside: see tile_inputs */
        tile_pos p = tile_at(g, t0);
        for (int t = 0; t < nt; t++, tile_next(g, &p)) {
            const float *m = M + (size_t)t * g->co + cb * JP_VW;
            vf rows[15][14];
            #pragma GCC unroll 15
            for (int i = 0; i < side; i++) {
                vf r[15];
                #pragma GCC unroll 15
                for (int j = 0; j < side; j++) r[j] = vf_load(m + (i * side + j) * ps);
                out_values(kind, rows[i], r); /* rows[i][j] = (m A)[i][j] */
            }
            vf bias = b ? vf_load(b + cb * JP_VW) : vf_zero();
            float *plane = dst + ((size_t)p.img * cb_n + cb) * h * w * JP_VW;
            #pragma GCC unroll 14
            for (int j = 0; j < nout; j++) {
                int x = scale * p.x0 + j;
                if (x >= w) break;
                vf col[15], o[14];
                #pragma GCC unroll 15
                for (int i = 0; i < side; i++) col[i] = rows[i][j];
                out_values(kind, o, col);
                #pragma GCC unroll 14
                for (int i = 0; i < nout; i++) {
                    int y = scale * p.y0 + i;
                    if (y >= h) break;
                    float *q = plane + ((size_t)y * w + x) * JP_VW;
                    vf v = vf_add(o[i], bias);
                    if (accumulate) v = vf_add(v, vf_load(q));
                    if (relu) v = vf_max(v, vf_zero());
                    vf_store(q, v);
                }
            }
        }
    }
}

/* The input transforms of the tiles [t0, t0 + nt), channel blocks [cb0, cb1), into V. */
static void block_inputs(const geom *g, int bwd_data, float *V, const float *src, int t0, int nt, int cb0, int cb1)
{
    int wide = g->tile == 7;
    if (g->stride == 1) tile_inputs(TILE_S1, g, V, src, t0, nt, cb0, cb1);
    else if (!bwd_data) tile_inputs(wide ? TILE_S2W : TILE_S2, g, V, src, t0, nt, cb0, cb1);
    else tile_inputs(wide ? TILE_S2W_BWD : TILE_S2_BWD, g, V, src, t0, nt, cb0, cb1);
}

/* The output transforms of the tiles [t0, t0 + nt), channel blocks [cb0, cb1), from M. */
static void block_outputs(const geom *g, int bwd_data, float *dst, const float *M, const float *b, int accumulate,
                          int relu, int t0, int nt, int cb0, int cb1)
{
    int wide = g->tile == 7;
    if (g->stride == 1) tile_outputs(TILE_S1, g, dst, M, b, accumulate, relu, t0, nt, cb0, cb1);
    else if (!bwd_data) tile_outputs(wide ? TILE_S2W : TILE_S2, g, dst, M, b, accumulate, relu, t0, nt, cb0, cb1);
    else tile_outputs(wide ? TILE_S2W_BWD : TILE_S2_BWD, g, dst, M, NULL, 0, 0, t0, nt, cb0, cb1);
}

/* One convolution. Per thread (p->shared 0): blocks of tiles over the threads, each
 * thread its own V and M. Shared: the threads take each block together, the transforms
 * split by channel blocks and the products by points, so that each transformed kernel
 * U[xi] is read once per block in all, not once per block per thread. Each tile of dst is
 * written by one thread either way: the result does not depend on the thread count. */
static void convolve(const jp_wino_plan *p, const geom *g, int bwd_data, float *dst, const float *src,
                     const float *U, const float *b, int accumulate, int relu, float *scratch)
{
    int nblocks = (p->tiles + p->block - 1) / p->block, cbi = g->ci / JP_VW, cbo = g->co / JP_VW;
    if (p->shared) {
        float *V = scratch, *M = V + p->npts * point_stride(p->block, g->ci);
        /* each phase's items (channel blocks, points, channel blocks) stolen (core/steal.h);
         * thread 0 sets a phase's shares again for the next block once a barrier has
         * closed the phase, and a barrier comes before their next use */
        jp_steal in, mul, out;
        jp_steal_init(&in, cbi, p->nthreads), jp_steal_init(&mul, p->npts, p->nthreads);
        jp_steal_init(&out, cbo, p->nthreads);
#pragma omp parallel num_threads(p->nthreads)
        {
            int th = omp_get_thread_num();
            for (int k = 0; k < nblocks; k++) {
                int t0 = k * p->block, nt = p->tiles - t0 < p->block ? p->tiles - t0 : p->block;
                size_t vs = point_stride(nt, g->ci), ms = point_stride(nt, g->co);
                for (int c; (c = jp_steal_next(&in, th)) >= 0;) block_inputs(g, bwd_data, V, src, t0, nt, c, c + 1);
#pragma omp barrier
                if (th == 0) jp_steal_init(&in, cbi, p->nthreads);
                for (int x; (x = jp_steal_next(&mul, th)) >= 0;)
                    multiply(1, g->ci, g->co, M + x * ms, V + x * vs, U + (size_t)x * g->ci * g->co, nt);
#pragma omp barrier
                if (th == 0) jp_steal_init(&mul, p->npts, p->nthreads);
                for (int c; (c = jp_steal_next(&out, th)) >= 0;)
                    block_outputs(g, bwd_data, dst, M, b, accumulate, relu, t0, nt, c, c + 1);
#pragma omp barrier
                if (th == 0) jp_steal_init(&out, cbo, p->nthreads);
            }
        }
        return;
    }
    jp_steal work;
    jp_steal_init(&work, nblocks, p->nthreads);
#pragma omp parallel num_threads(p->nthreads)
    {
        int th = omp_get_thread_num();
        float *V = scratch + (size_t)th * p->scratch_floats;
        float *M = V + p->npts * point_stride(p->block, g->ci);
        for (int k; (k = jp_steal_next(&work, th)) >= 0;) {
            int t0 = k * p->block, nt = p->tiles - t0 < p->block ? p->tiles - t0 : p->block;
            block_inputs(g, bwd_data, V, src, t0, nt, 0, cbi);
            multiply(p->npts, g->ci, g->co, M, V, U, nt);
            block_outputs(g, bwd_data, dst, M, b, accumulate, relu, t0, nt, 0, cbo);
        }
    }
}

/* The geometry of the plan's forward convolution. */
static geom forward_geom(const jp_wino_plan *p)
{
    return (geom){p->cin, p->cout, p->h, p->w, p->ho, p->wo, p->th, p->tw, p->tile, p->stride};
}

void JP_VNAME(jp_wino_forward)(const jp_wino_plan *p, float *dst, const float *src, const float *u,
                     const float *b, int accumulate, int relu, void *scratch)
{
    geom g = forward_geom(p);
    convolve(p, &g, 0, dst, src, u, b, accumulate, relu, scratch);
}

void JP_VNAME(jp_wino_backward_data)(const jp_wino_plan *p, float *dsrc, const float *ddst, const float *u,
                           void *scratch)
{
    geom g = forward_geom(p); /* channels exchanged: the transposed convolution's */
    g.ci = p->cout, g.co = p->cin;
    convolve(p, &g, 1, dsrc, ddst, u, NULL, 0, 0, scratch);
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

/* The points of one row or column of dY's tile (A of the forward kind): 4 values to 6
 * (TILE_S1) or 9 (TILE_S2), 7 to 15 (TILE_S2W). */
static inline __attribute__((always_inline)) void grad_points(int kind, vf *o, const vf *d)
{
    if (kind == TILE_S1) a4(o, d);
    else s2_grad_points(kind == TILE_S2 ? 4 : 7, o, d);
}

/* Mb[xi][t][c] = (A dY A^T)[xi] for the tiles [t0, t0 + nt) of ddst (g->ho x g->wo, zero
 * outside), A that of the kind's forward (TILE_S1, TILE_S2 or TILE_S2W), and dbias[c] +=
 * the tiles' sums. */
static inline __attribute__((always_inline)) void tile_grads(int kind, const geom *g, float *Mb, float *dbias,
                                                            const float *ddst, int t0, int nt, int cb0, int cb1)
{
    const int side = KIND_SIDE(kind), n = KIND_NOUT(kind);
    int cb_n = g->co / JP_VW;
    size_t ps = point_stride(nt, g->co);
    for (int cb = cb0; cb < cb1; cb++) { /* channel blocks outside: see tile_inputs */
        tile_pos p = tile_at(g, t0);
        vf sum = vf_zero();
        for (int t = 0; t < nt; t++, tile_next(g, &p)) {
            const float *plane = ddst + ((size_t)p.img * cb_n + cb) * g->ho * g->wo * JP_VW;
            vf rows[7][15];
            #pragma GCC unroll 7
            for (int i = 0; i < n; i++) {
                vf d[7];
                load_row(d, n, plane, g->ho, g->wo, p.y0 + i, p.x0, 0);
                #pragma GCC unroll 7
                for (int j = 0; j < n; j++) sum = vf_add(sum, d[j]);
                grad_points(kind, rows[i], d); /* rows[i][j] = (dY A^T)[i][j] */
            }
            float *m = Mb + (size_t)t * g->co + cb * JP_VW;
            #pragma GCC unroll 15
            for (int j = 0; j < side; j++) {
                vf col[7], o[15];
                #pragma GCC unroll 7
                for (int i = 0; i < n; i++) col[i] = rows[i][j];
                grad_points(kind, o, col);
                #pragma GCC unroll 15
                for (int i = 0; i < side; i++) vf_store(m + (i * side + j) * ps, o[i]);
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

/* G^T x for the kind's forward: 3 taps from 6, 9 or 15 points. */
static inline void g_taps(int kind, vf o[3], const vf *x)
{
    if (kind == TILE_S1) gt6(o, x);
    else if (kind == TILE_S2) g9t(o, x);
    else g15t(o, x);
}

/* dw[co][ci] += G^T dU[.][ci][co] G for JP_VW output channels co0.. at once, G that of the
 * kind's forward (TILE_S1: 6x3, TILE_S2: G9, TILE_S2W: G15). */
static void weight_grad_out(int kind, const geom *g, float *dw, const float *dU, int ci, int co0)
{
    const int side = KIND_SIDE(kind);
    vf t[3][15], o[3][3];
    for (int j = 0; j < side; j++) { /* t = G^T X, one column of X at a time */
        vf col[15], r[3];
        for (int k = 0; k < side; k++) col[k] = vf_load(dU + ((size_t)(k * side + j) * g->ci + ci) * g->co + co0);
        g_taps(kind, r, col);
        for (int i = 0; i < 3; i++) t[i][j] = r[i];
    }
    for (int i = 0; i < 3; i++) g_taps(kind, o[i], t[i]); /* (G^T X) G = rows of t through G^T */
    float v[9][JP_VW];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) vf_store(v[i * 3 + j], o[i][j]);
    for (int l = 0; l < JP_VW; l++) {
        float *w = dw + ((size_t)(co0 + l) * g->ci + ci) * 9;
        for (int k = 0; k < 9; k++) w[k] += v[k][l];
    }
}

/* The transforms of the tiles [t0, t0 + nt) into V and Mb, channel blocks [ci0, ci1) of
 * the source and [co0, co1) of dY (whose sums go into dbias). */
static void wgrad_transforms(const geom *g, float *V, float *Mb, float *dbias, const float *src,
                             const float *ddst, int t0, int nt, int ci0, int ci1, int co0, int co1)
{
    if (g->stride == 1) {
        tile_inputs(TILE_S1, g, V, src, t0, nt, ci0, ci1);
        tile_grads(TILE_S1, g, Mb, dbias, ddst, t0, nt, co0, co1);
    } else if (g->tile == 4) {
        tile_inputs(TILE_S2, g, V, src, t0, nt, ci0, ci1);
        tile_grads(TILE_S2, g, Mb, dbias, ddst, t0, nt, co0, co1);
    } else {
        tile_inputs(TILE_S2W, g, V, src, t0, nt, ci0, ci1);
        tile_grads(TILE_S2W, g, Mb, dbias, ddst, t0, nt, co0, co1);
    }
}

/* dU[xi] (ci x co) (+)= V[xi]^T (ci x nt) . Mb[xi] (nt x co) for the points [x0, x1): A's
 * (r, k) = V[xi][k][r]. */
static void wgrad_products(const geom *g, float *dU, const float *V, const float *Mb, int nt, int x0, int x1,
                           int accumulate)
{
    for (int x = x0; x < x1; x++)
        gemm(g->ci, g->co, nt, V + x * point_stride(nt, g->ci), 1, g->ci, Mb + x * point_stride(nt, g->co), g->co,
             dU + (size_t)x * g->ci * g->co, g->co, accumulate);
}

/* Two ways, chosen by the plan (jp_wino_plan.wgrad_shared):
 * - shared: block by block of tiles, all threads on each block, the transforms split
 *   by channel blocks, then the products by points, each point's dU[xi] summed over
 *   the blocks in order by one thread (no copy of dU per thread; for wide layers,
 *   whose dU is beyond the caches);
 * - per thread: each thread its blocks and its own dU, then the copies summed in
 *   thread order (narrow layers, whose transforms are most of the work). */
void JP_VNAME(jp_wino_backward_weights)(const jp_wino_plan *p, float *dw_oihw, float *db, const float *ddst,
                              const float *src, void *scratch)
{
    JP_CHECK(p->wgrad_floats > 0);
    geom g = forward_geom(p);
    int npts = p->npts, ci_n = g.ci / JP_VW, co_n = g.co / JP_VW;
    size_t nu = (size_t)npts * g.ci * g.co, mb_at = npts * point_stride(p->block_w, g.ci);
    int nblocks = (p->tiles + p->block_w - 1) / p->block_w, team = 1;
    float *sum = (float *)scratch + (size_t)(p->wgrad_shared ? 1 : p->nthreads) * p->scratch_floats;
    if (p->wgrad_shared) {
        float *V = scratch;
        memset(sum + nu, 0, (size_t)g.co * sizeof(float));
#pragma omp parallel num_threads(p->nthreads)
        {
            int th = omp_get_thread_num(), n = omp_get_num_threads();
            for (int k = 0; k < nblocks; k++) {
                int t0 = k * p->block_w, nt = p->tiles - t0 < p->block_w ? p->tiles - t0 : p->block_w;
                wgrad_transforms(&g, V, V + mb_at, sum + nu, src, ddst, t0, nt, ci_n * th / n, ci_n * (th + 1) / n,
                                 co_n * th / n, co_n * (th + 1) / n);
#pragma omp barrier
                wgrad_products(&g, sum, V, V + mb_at, nt, npts * th / n, npts * (th + 1) / n, k > 0);
#pragma omp barrier
            }
        }
    } else {
#pragma omp parallel num_threads(p->nthreads)
        {
#pragma omp single
            team = omp_get_num_threads();
            float *dU = sum + (size_t)omp_get_thread_num() * p->wgrad_floats;
            float *V = (float *)scratch + (size_t)omp_get_thread_num() * p->scratch_floats;
            memset(dU, 0, p->wgrad_floats * sizeof(float));
#pragma omp for schedule(static)
            for (int k = 0; k < nblocks; k++) {
                int t0 = k * p->block_w, nt = p->tiles - t0 < p->block_w ? p->tiles - t0 : p->block_w;
                wgrad_transforms(&g, V, V + mb_at, dU + nu, src, ddst, t0, nt, 0, ci_n, 0, co_n);
                wgrad_products(&g, dU, V, V + mb_at, nt, 0, npts, 1);
            }
        }
        if (team > 1) { /* the threads' sums into the first, each element in thread order */
            long n = (long)p->wgrad_floats;
#pragma omp parallel for schedule(static) num_threads(p->nthreads)
            for (long i = 0; i < n; i++)
                for (int th = 1; th < team; th++) sum[i] += sum[(size_t)th * p->wgrad_floats + i];
        }
    }
    /* dw += G^T dU G per (co, ci) */
    if (db)
        for (int c = 0; c < g.co; c++) db[c] += sum[nu + c];
    if (!dw_oihw) return;
#pragma omp parallel for schedule(static) num_threads(p->nthreads)
    for (int ci = 0; ci < g.ci; ci++)
        for (int co0 = 0; co0 < g.co; co0 += JP_VW)
            weight_grad_out(g.stride == 1 ? TILE_S1 : g.tile == 4 ? TILE_S2 : TILE_S2W, &g, dw_oihw, sum, ci, co0);
}

/* u[xi][a][b] = (T g T^T)[xi] (side x side points, in strips: jp_wino_u_index) for every
 * kernel g = w[co][ci] (OIHW), with a = ci, b = co, or for backward-data (bwd) a = co,
 * b = ci and g rotated by 180 degrees; in double, JP_VW / 2 values of b at once
 * (consecutive in a strip, as the strips are multiples of 16 wide). Each sum of products
 * is rounded as (p0 + p1) + p2, with fused multiply-adds off: the values of the scalar
 * double code before it, to the bit (with FMAs, U moves by an ulp here and there and
 * test_train_step's class-conditional case drifts past its tolerance by iteration 3).
 * One strip row (a, up to JP_WINO_STRIP values of b) at a time, so that each point's
 * part of it is written whole: the points' matrices lie a power-of-two multiple of 4 KiB
 * apart, and half lines written to each of the 225 points in turn evicted each other
 * from L1 and L2 before the other half came (128->128 with 7x7 stride-2 tiles, forward
 * and backward-data, Zen 5 EPYC, 2 threads: 7.0 ms against 1.5 ms written whole). */
__attribute__((optimize("fp-contract=off"))) void JP_VNAME(jp_wino_weights)(const jp_wino_plan *p, float *u,
                                                                             const float *w, int bwd,
                                                                             const double (*T)[3], int side)
{
    enum { VD = JP_VW / 2, NCH = JP_WINO_STRIP / VD };
    int na = bwd ? p->cout : p->cin, nb = bwd ? p->cin : p->cout;
#pragma omp parallel for schedule(static) num_threads(p->nthreads)
    for (int a = 0; a < na; a++)
        for (int s0 = 0; s0 < nb; s0 += JP_WINO_STRIP) {
            int nch = jp_wino_strip_width(nb, s0) / VD;
            vd t[NCH][15][3]; /* T g for the strip's chunks of VD values of b */
            for (int c = 0; c < nch; c++) {
                vd g[9];
                for (int k = 0; k < 9; k++) {
                    double lanes[VD];
                    for (int l = 0; l < VD; l++) {
                        int b = s0 + c * VD + l, co = bwd ? a : b, ci = bwd ? b : a;
                        lanes[l] = w[((size_t)co * p->cin + ci) * 9 + (bwd ? 8 - k : k)];
                    }
                    g[k] = vd_load(lanes);
                }
                for (int i = 0; i < side; i++)
                    for (int j = 0; j < 3; j++)
                        t[c][i][j] = vd_add(vd_add(vd_mul(vd_set1(T[i][0]), g[j]), vd_mul(vd_set1(T[i][1]), g[3 + j])),
                                            vd_mul(vd_set1(T[i][2]), g[6 + j]));
            }
            float *ub = u + jp_wino_u_index(na, nb, a, s0);
            for (int i = 0; i < side; i++) /* (T g) T^T */
                for (int j = 0; j < side; j++) {
                    vd tj0 = vd_set1(T[j][0]), tj1 = vd_set1(T[j][1]), tj2 = vd_set1(T[j][2]);
                    float *o = ub + (size_t)(i * side + j) * na * nb;
                    for (int c = 0; c < nch; c++)
                        vd_store_ps(o + c * VD, vd_add(vd_add(vd_mul(t[c][i][0], tj0), vd_mul(t[c][i][1], tj1)),
                                                       vd_mul(t[c][i][2], tj2)));
                }
        }
}
