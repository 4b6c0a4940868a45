/* 2^x on 16 floats for the AVX-512 attention paths (attention_avx512.c, the
 * float32 kernel, and attention_bf16.c): the polynomial of
 * attention_internal.h, so both round alike. Internal to kernels/cpu;
 * include it after <immintrin.h> on x86-64 GNU C only. */
#pragma once
#include <immintrin.h>

#include "kernels/cpu/attention_internal.h"

/* x <= -127 (and -inf) flush to exactly 0; NaN propagates. */
static inline __attribute__((always_inline, target("avx512f,avx512dq,fma"))) __m512
ctxpar_exp2_512(__m512 x) {
    const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(CTXPAR_EXP2_MIN), _CMP_NLE_UQ);
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(CTXPAR_EXP2_C5);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CTXPAR_EXP2_C4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CTXPAR_EXP2_C3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CTXPAR_EXP2_C2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CTXPAR_EXP2_C1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CTXPAR_EXP2_C0));
    return _mm512_maskz_scalef_ps(live, p, n);
}
