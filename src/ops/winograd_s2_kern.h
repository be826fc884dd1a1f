/* The transforms of jempp's stride-2 Winograd (winograd.h: 9 points per axis for 4x4
 * tiles, 15 for 7x7 ones), for one vector width; included by winograd_kern.h, whose
 * drivers run them. Per axis, with F(4,2)'s matrices at points 0, 1, -1, 2, inf (G5 in
 * winograd.c):
 *   B5^T = [2 -1 -2  1 0]   A5^T = [1 1  1 1 0]
 *          [0 -2 -1  1 0]          [0 1 -1 2 0]
 *          [0  2 -3  1 0]          [0 1  1 4 0]
 *          [0 -1  0  1 0]          [0 1 -1 8 1]
 *          [0  2 -1 -2 1]
 * forward:   9 inputs s[k] = x[2 i0 - 1 + k] -> points (s1, s3, s5, s7, B5^T (s0, s2, s4, s6, s8))
 *            -> outputs y[i] = m[i] + (A5^T m[4..8])[i]
 * backward-data: 5 inputs dy[j0 + k] -> points (dy0..dy3, B5^T dy) -> outputs
 *            dx[2 j0 + 2k] = m[k], dx[2 j0 + 2k + 1] = (A5^T m[4..8])[k]
 * backward-weights: dY's 4 values -> points (dY, A5 dY). */

/* B5^T d for 5 vectors. */
static inline void bt5(vf o[5], const vf d[5])
{
    const vf two = vf_set1(2.f), mtwo = vf_set1(-2.f);
    vf d32 = vf_sub(d[3], d[2]);
    o[0] = vf_fmadd(two, vf_sub(d[0], d[2]), vf_sub(d[3], d[1]));
    o[1] = vf_fmadd(mtwo, d[1], d32);
    o[2] = vf_fmadd(two, vf_sub(d[1], d[2]), d32);
    o[3] = vf_sub(d[3], d[1]);
    o[4] = vf_fmadd(two, vf_sub(d[1], d[3]), vf_sub(d[4], d[2]));
}

/* A5^T m for 5 vectors: 4 outputs. */
static inline void at5(vf o[4], const vf m[5])
{
    vf s = vf_add(m[1], m[2]), d = vf_sub(m[1], m[2]);
    o[0] = vf_add(s, vf_add(m[0], m[3]));
    o[1] = vf_fmadd(vf_set1(2.f), m[3], d);
    o[2] = vf_fmadd(vf_set1(4.f), m[3], s);
    o[3] = vf_add(vf_fmadd(vf_set1(8.f), m[3], d), m[4]);
}

/* A5 d for 4 vectors: 5 points. */
static inline void a5(vf o[5], const vf d[4])
{
    vf s02 = vf_add(d[0], d[2]), s13 = vf_add(d[1], d[3]);
    o[0] = d[0];
    o[1] = vf_add(s02, s13);
    o[2] = vf_sub(s02, s13);
    o[3] = vf_fmadd(vf_set1(8.f), d[3], vf_fmadd(vf_set1(4.f), d[2], vf_fmadd(vf_set1(2.f), d[1], d[0])));
    o[4] = d[3];
}

/* G9^T x for 9 vectors: 3 taps (G9's rows: (0 1 0) four times, then (G5[p][0] 0 G5[p][1])
 * with G5 = [1/2 0; -1/2 -1/2; -1/6 1/6; 1/6 1/3; 0 1]). */
static inline void g9t(vf o[3], const vf x[9])
{
    const vf h = vf_set1(0.5f), s6 = vf_set1(1.f / 6), s3 = vf_set1(1.f / 3);
    vf d67 = vf_sub(x[7], x[6]);
    o[0] = vf_fmadd(h, vf_sub(x[4], x[5]), vf_mul(s6, d67));
    o[1] = vf_add(vf_add(x[0], x[1]), vf_add(x[2], x[3]));
    o[2] = vf_add(vf_fmadd(s6, x[6], vf_fmsub(s3, x[7], vf_mul(h, x[5]))), x[8]);
}

/* The wide tile (winograd.h): 7 outputs per axis, F(7,2) on the odd inputs with 8
 * points (0, 1, -1, 2, -2, 1/2, -1/2, inf):
 *   B8^T = [-1   0  21/4    0  -21/4    0   1  0]   A8^T row i (i = 0..6): (0^i, 1, (-1)^i,
 *          [ 0   1     1 -17/4 -17/4    1   1  0]     2^i, (-2)^i, 2^-i, (-1/2)^i, [i = 6])
 *          [ 0  -1     1  17/4 -17/4   -1   1  0]
 *          [ 0 1/2   1/4  -5/2  -5/4    2   1  0]
 *          [ 0 -1/2  1/4   5/2  -5/4   -2   1  0]
 *          [ 0   2     4  -5/2    -5  1/2   1  0]
 *          [ 0  -2     4   5/2    -5 -1/2   1  0]
 *          [ 0  -1     0  21/4     0 -21/4  0  1] */

/* B8^T d for 8 vectors. */
static inline void bt8(vf o[8], const vf d[8])
{
    const vf c214 = vf_set1(21.f / 4), c174 = vf_set1(-17.f / 4), c52 = vf_set1(-5.f / 2), c54 = vf_set1(-5.f / 4),
             half = vf_set1(0.5f), quarter = vf_set1(0.25f), two = vf_set1(2.f), four = vf_set1(4.f),
             m5 = vf_set1(-5.f);
    o[0] = vf_add(vf_sub(d[6], d[0]), vf_mul(c214, vf_sub(d[2], d[4])));
    o[7] = vf_add(vf_sub(d[7], d[1]), vf_mul(c214, vf_sub(d[3], d[5])));
    vf a = vf_fmadd(c174, d[3], vf_add(d[1], d[5])), b = vf_fmadd(c174, d[4], vf_add(d[2], d[6]));
    o[1] = vf_add(b, a), o[2] = vf_sub(b, a);
    a = vf_fmadd(two, d[5], vf_fmadd(c52, d[3], vf_mul(half, d[1])));
    b = vf_add(d[6], vf_fmadd(c54, d[4], vf_mul(quarter, d[2])));
    o[3] = vf_add(b, a), o[4] = vf_sub(b, a);
    a = vf_fmadd(half, d[5], vf_fmadd(c52, d[3], vf_mul(two, d[1])));
    b = vf_add(d[6], vf_fmadd(m5, d[4], vf_mul(four, d[2])));
    o[5] = vf_add(b, a), o[6] = vf_sub(b, a);
}

/* A8^T m for 8 vectors: 7 outputs. */
static inline void at8(vf o[7], const vf m[8])
{
    vf s12 = vf_add(m[1], m[2]), d12 = vf_sub(m[1], m[2]), s34 = vf_add(m[3], m[4]), d34 = vf_sub(m[3], m[4]);
    vf s56 = vf_add(m[5], m[6]), d56 = vf_sub(m[5], m[6]);
    o[0] = vf_add(vf_add(m[0], s12), vf_add(s34, s56));
    o[1] = vf_fmadd(vf_set1(2.f), d34, vf_fmadd(vf_set1(1.f / 2), d56, d12));
    o[2] = vf_fmadd(vf_set1(4.f), s34, vf_fmadd(vf_set1(1.f / 4), s56, s12));
    o[3] = vf_fmadd(vf_set1(8.f), d34, vf_fmadd(vf_set1(1.f / 8), d56, d12));
    o[4] = vf_fmadd(vf_set1(16.f), s34, vf_fmadd(vf_set1(1.f / 16), s56, s12));
    o[5] = vf_fmadd(vf_set1(32.f), d34, vf_fmadd(vf_set1(1.f / 32), d56, d12));
    o[6] = vf_add(vf_fmadd(vf_set1(64.f), s34, vf_fmadd(vf_set1(1.f / 64), s56, s12)), m[7]);
}

/* A8 d for 7 vectors: 8 points. */
static inline void a8(vf o[8], const vf d[7])
{
    vf ev = vf_add(vf_add(d[0], d[2]), vf_add(d[4], d[6])), od = vf_add(vf_add(d[1], d[3]), d[5]);
    o[0] = d[0];
    o[1] = vf_add(ev, od);
    o[2] = vf_sub(ev, od);
    vf p = d[6], q = d[6]; /* Horner: sum 2^i d[i], sum 2^-i d[i] */
    for (int i = 5; i >= 0; i--) p = vf_fmadd(vf_set1(2.f), p, d[i]), q = vf_fmadd(vf_set1(0.5f), q, d[i]);
    vf pn = d[6], qn = d[6]; /* sum (-2)^i d[i], sum (-1/2)^i d[i] */
    for (int i = 5; i >= 0; i--) pn = vf_fmadd(vf_set1(-2.f), pn, d[i]), qn = vf_fmadd(vf_set1(-0.5f), qn, d[i]);
    o[3] = p, o[4] = pn, o[5] = q, o[6] = qn;
    o[7] = d[6];
}

/* G15^T x for 15 vectors: 3 taps (G15's rows: (0 1 0) seven times, then
 * (G8[p][0] 0 G8[p][1]) with G8 = [-1 0; -2/9 -2/9; -2/9 2/9; 1/90 1/45; 1/90 -1/45;
 * 32/45 16/45; 32/45 -16/45; 0 1]). */
static inline void g15t(vf o[3], const vf x[15])
{
    vf s12 = vf_add(x[8], x[9]), d12 = vf_sub(x[8], x[9]), s34 = vf_add(x[10], x[11]), d34 = vf_sub(x[10], x[11]);
    vf s56 = vf_add(x[12], x[13]), d56 = vf_sub(x[12], x[13]);
    o[0] = vf_fmadd(vf_set1(32.f / 45), s56, vf_fmadd(vf_set1(1.f / 90), s34, vf_fmsub(vf_set1(-2.f / 9), s12, x[7])));
    vf e = vf_add(vf_add(x[0], x[1]), vf_add(x[2], x[3]));
    o[1] = vf_add(e, vf_add(vf_add(x[4], x[5]), x[6]));
    o[2] = vf_add(vf_fmadd(vf_set1(16.f / 45), d56, vf_fmadd(vf_set1(1.f / 45), d34, vf_mul(vf_set1(-2.f / 9), d12))),
                  x[14]);
}

/* Per axis, for a tile of m outputs (4 or 7; m constant where inlined): the odd inputs'
 * F(m,2) transforms. */
static inline __attribute__((always_inline)) void odd_points(int m, vf *o, const vf *d)
{
    if (m == 4) bt5(o, d);
    else bt8(o, d);
}

static inline __attribute__((always_inline)) void odd_outputs(int m, vf *o, const vf *p)
{
    if (m == 4) at5(o, p);
    else at8(o, p);
}

/* The forward's 2m + 1 points from 2m + 1 inputs s[k] = x[2 i0 - 1 + k]: the even
 * inputs s[2i + 1] as they are, then the odd ones s[2i] through F(m,2). */
static inline __attribute__((always_inline)) void s2_points(int m, vf *o, const vf *s)
{
    vf e[8];
    #pragma GCC unroll 8
    for (int i = 0; i <= m; i++) e[i] = s[2 * i];
    #pragma GCC unroll 7
    for (int i = 0; i < m; i++) o[i] = s[2 * i + 1];
    odd_points(m, o + m, e);
}

/* The forward's m outputs from 2m + 1 points: y[i] = p[i] + (A^T p[m..])[i]. */
static inline __attribute__((always_inline)) void s2_outputs(int m, vf *o, const vf *p)
{
    odd_outputs(m, o, p + m);
    #pragma GCC unroll 7
    for (int i = 0; i < m; i++) o[i] = vf_add(o[i], p[i]);
}

/* Backward-data's 2m + 1 points from m + 1 values of dy: dy[0..m-1], then B^T dy. */
static inline __attribute__((always_inline)) void s2b_points(int m, vf *o, const vf *s)
{
    #pragma GCC unroll 7
    for (int i = 0; i < m; i++) o[i] = s[i];
    odd_points(m, o + m, s);
}

/* Backward-data's 2m outputs (even, odd, even, ...) from 2m + 1 points. */
static inline __attribute__((always_inline)) void s2b_outputs(int m, vf *o, const vf *p)
{
    vf odd[7];
    odd_outputs(m, odd, p + m);
    #pragma GCC unroll 7
    for (int k = 0; k < m; k++) o[2 * k] = p[k], o[2 * k + 1] = odd[k];
}

/* Backward-weights: dY's m values to 2m + 1 points (dY, A dY). */
static inline __attribute__((always_inline)) void s2_grad_points(int m, vf *o, const vf *d)
{
    #pragma GCC unroll 7
    for (int i = 0; i < m; i++) o[i] = d[i];
    if (m == 4) a5(o + m, d);
    else a8(o + m, d);
}
