/* The transforms of jempp's stride-2 Winograd (winograd.h: 9 points per axis, 81 per
 * tile), for one vector width; included by winograd_kern.h, whose drivers run them.
 * Per axis, with F(4,2)'s matrices at points 0, 1, -1, 2, inf (winograd.c):
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

/* The forward's 9 points from 9 inputs. */
static inline void bt9(vf o[9], const vf s[9])
{
    const vf e[5] = {s[0], s[2], s[4], s[6], s[8]};
    o[0] = s[1], o[1] = s[3], o[2] = s[5], o[3] = s[7];
    bt5(o + 4, e);
}

/* The forward's 4 outputs from 9 points. */
static inline void at9(vf o[4], const vf m[9])
{
    at5(o, m + 4);
    #pragma GCC unroll 4
    for (int i = 0; i < 4; i++) o[i] = vf_add(o[i], m[i]);
}

/* Backward-data's 9 points from 5 values of dy. */
static inline void btb(vf o[9], const vf s[5])
{
    o[0] = s[0], o[1] = s[1], o[2] = s[2], o[3] = s[3];
    bt5(o + 4, s);
}

/* Backward-data's 8 outputs (even, odd, even, ...) from 9 points. */
static inline void atb(vf o[8], const vf m[9])
{
    vf odd[4];
    at5(odd, m + 4);
    #pragma GCC unroll 4
    for (int k = 0; k < 4; k++) o[2 * k] = m[k], o[2 * k + 1] = odd[k];
}

/* A9 d for 4 vectors: 9 points (d, A5 d). */
static inline void a9(vf o[9], const vf d[4])
{
    vf s02 = vf_add(d[0], d[2]), s13 = vf_add(d[1], d[3]);
    o[0] = d[0], o[1] = d[1], o[2] = d[2], o[3] = d[3];
    o[4] = d[0];
    o[5] = vf_add(s02, s13);
    o[6] = vf_sub(s02, s13);
    o[7] = vf_fmadd(vf_set1(8.f), d[3], vf_fmadd(vf_set1(4.f), d[2], vf_fmadd(vf_set1(2.f), d[1], d[0])));
    o[8] = d[3];
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
