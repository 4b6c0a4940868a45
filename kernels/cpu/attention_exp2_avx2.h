/* 2^x on 8 floats for the AVX2 attention paths (attention_avx2.c, the
 * float32 kernel, and the softmax of attention_bf16_gemm.c): the polynomial
 * of attention_internal.h, so every path rounds alike. Internal to
 * kernels/cpu; include it after <immintrin.h> on x86-64 GNU C only. */
#pragma once
#include <immintrin.h>

#include "kernels/cpu/attention_internal.h"

static inline __attribute__((always_inline, target("avx2,fma"))) __m256
ctxpar_exp2_256(__m256 x) {
    /* x <= -127 (and -inf) flush to exactly 0; NaN propagates. */
    const __m256 live = _mm256_cmp_ps(x, _mm256_set1_ps(CTXPAR_EXP2_MIN), _CMP_NLE_UQ);
    const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(x, n);
    __m256 p = _mm256_set1_ps(CTXPAR_EXP2_C5);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CTXPAR_EXP2_C4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CTXPAR_EXP2_C3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CTXPAR_EXP2_C2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CTXPAR_EXP2_C1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CTXPAR_EXP2_C0));
    /* 2^n in the exponent field (n = -127 gives +0). Dead lanes hold garbage
     * (-inf converts to INT_MIN) and are ANDed to 0; NaN lanes stay live. */
    const __m256i bits =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    return _mm256_and_ps(y, live);
}
