/* One vector of JP_VW floats, the channel block of the activation layout: 8 lanes with
 * AVX2 + FMA (nChw8c), 16 with AVX-512F (nChw16c). jempp's own kernels (winograd_kern.h,
 * bnact_fused_kern.h) are written once against these names and compiled twice, by
 * *_avx2.c (JP_VW 8, -mavx2 -mfma) and *_avx512.c (JP_VW 16, -mavx512f), so the code
 * the tests check on one kind of CPU is the code that runs on the other. The rest of
 * the library is built for baseline x86-64 and picks a width at run time
 * (ops/cpu_isa.h).
 *
 * vf: JP_VW floats; vd: JP_VW / 2 doubles (a vf's low or high half in double).
 * JP_VNAME(f) gives the width's own name for f (f_v8, f_v16).
 * Internal header: include only from a file compiled with the width's flags. */
#ifndef JEMPP_SIMD_H
#define JEMPP_SIMD_H

#include <immintrin.h>

#ifndef JP_VW
#error "define JP_VW (8 or 16) before including ops/simd.h"
#endif

#define JP_VCAT2(f, w) f##_v##w
#define JP_VCAT(f, w) JP_VCAT2(f, w)
#define JP_VNAME(f) JP_VCAT(f, JP_VW)

#if JP_VW == 8
#if !defined(__AVX2__) || !defined(__FMA__)
#error "JP_VW 8 needs -mavx2 -mfma"
#endif
typedef __m256 vf;
typedef __m256d vd;
#define vf_load(p) _mm256_loadu_ps(p)
#define vf_store(p, v) _mm256_storeu_ps(p, v)
#define vf_set1(x) _mm256_set1_ps(x)
#define vf_bcast(p) _mm256_broadcast_ss(p)
#define vf_zero() _mm256_setzero_ps()
#define vf_add(a, b) _mm256_add_ps(a, b)
#define vf_sub(a, b) _mm256_sub_ps(a, b)
#define vf_mul(a, b) _mm256_mul_ps(a, b)
#define vf_max(a, b) _mm256_max_ps(a, b)
#define vf_fmadd(a, b, c) _mm256_fmadd_ps(a, b, c)
#define vf_fmsub(a, b, c) _mm256_fmsub_ps(a, b, c)
/* y > 0 ? a : b, lane by lane */
static inline vf vf_if_pos(vf y, vf a, vf b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ));
}
#define vd_zero() _mm256_setzero_pd()
#define vd_set1(x) _mm256_set1_pd(x)
#define vd_load(p) _mm256_loadu_pd(p)
#define vd_add(a, b) _mm256_add_pd(a, b)
#define vd_mul(a, b) _mm256_mul_pd(a, b)
#define vd_fmadd(a, b, c) _mm256_fmadd_pd(a, b, c)
#define vd_store(p, v) _mm256_storeu_pd(p, v)
#define vd_store_ps(p, v) _mm_storeu_ps(p, _mm256_cvtpd_ps(v)) /* as JP_VW / 2 floats */
#define vf_lo_pd(v) _mm256_cvtps_pd(_mm256_castps256_ps128(v))
#define vf_hi_pd(v) _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))
/* the sum of the 8 lanes: ((0+4) + (2+6)) + ((1+5) + (3+7)) */
static inline float vf_hsum(vf v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

#elif JP_VW == 16
#if !defined(__AVX512F__)
#error "JP_VW 16 needs -mavx512f"
#endif
typedef __m512 vf;
typedef __m512d vd;
#define vf_load(p) _mm512_loadu_ps(p)
#define vf_store(p, v) _mm512_storeu_ps(p, v)
#define vf_set1(x) _mm512_set1_ps(x)
#define vf_bcast(p) _mm512_set1_ps(*(p))
#define vf_zero() _mm512_setzero_ps()
#define vf_add(a, b) _mm512_add_ps(a, b)
#define vf_sub(a, b) _mm512_sub_ps(a, b)
#define vf_mul(a, b) _mm512_mul_ps(a, b)
#define vf_max(a, b) _mm512_max_ps(a, b)
#define vf_fmadd(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vf_fmsub(a, b, c) _mm512_fmsub_ps(a, b, c)
static inline vf vf_if_pos(vf y, vf a, vf b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), b, a);
}
#define vd_zero() _mm512_setzero_pd()
#define vd_set1(x) _mm512_set1_pd(x)
#define vd_load(p) _mm512_loadu_pd(p)
#define vd_add(a, b) _mm512_add_pd(a, b)
#define vd_mul(a, b) _mm512_mul_pd(a, b)
#define vd_fmadd(a, b, c) _mm512_fmadd_pd(a, b, c)
#define vd_store(p, v) _mm512_storeu_pd(p, v)
#define vd_store_ps(p, v) _mm256_storeu_ps(p, _mm512_cvtpd_ps(v))
#define vf_lo_pd(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
#define vf_hi_pd(v) _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
/* the sum of the 16 lanes, halves added in a fixed order */
#define vf_hsum(v) _mm512_reduce_add_ps(v)

#else
#error "JP_VW must be 8 or 16"
#endif

#endif
