/* The AVX-512 micro-kernels of the bf16 GEMM, compiled with function target
 * attributes so the library builds with generic flags and the dispatcher
 * (gemm_bf16.c) picks them only on CPUs that have them.
 *
 * Design: a 12 x 32 tile of C lives in 24 zmm accumulators. Per pair of the
 * reduction, two 64-byte loads fetch 32 columns' pairs of B, and each row's
 * A pair (32 bits) is broadcast against them.
 * - avx512bf16: one VDPBF16PS per accumulator does both products and both
 *   adds, in the order every path keeps (gemm_bf16.h).
 * - avx512: for CPUs without AVX512-BF16, the same arithmetic with each bf16
 *   widened to float32 by a shift or a mask. Products of bf16 values are
 *   exact in float32, so the two FMAs (odd element first) round exactly as
 *   VDPBF16PS's two adds do.
 * Rows past `rows` repeat the last row's A and are not stored, so a partial
 * tile does the same arithmetic per element as a full one. */
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))
#define W_TARGET __attribute__((target("avx512f,avx512bw")))

static inline int32_t pair_at(const ctxpar_bf16 *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __mmask16 lane_mask(int cols, int first) {
    const int n = cols - first;
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* The shared frame of both kernels: row pointers, masks, the load and the
 * store of the accumulators; STEP(p) updates all of them for pair p. */
#define MICRO_BODY(STEP)                                                       \
    const ctxpar_bf16 *ar[GEMM_MR];                                                          \
    for (int i = 0; i < GEMM_MR; i++) ar[i] = a + (int64_t)(i < rows ? i : rows - 1) * lda; \
    const __mmask16 m0 = lane_mask(cols, 0), m1 = lane_mask(cols, 16);                       \
    __m512 acc0[GEMM_MR], acc1[GEMM_MR];                                                     \
    _Pragma("GCC unroll 12") for (int i = 0; i < GEMM_MR; i++) {                             \
        const int live = load_c && i < rows;                                                 \
        acc0[i] = live ? _mm512_maskz_loadu_ps(m0, c + i * ldc) : _mm512_setzero_ps();       \
        acc1[i] = live ? _mm512_maskz_loadu_ps(m1, c + i * ldc + 16) : _mm512_setzero_ps();  \
    }                                                                                        \
    for (int64_t p = 0; p < kp; p++) {                                                       \
        STEP(p)                                                                              \
    }                                                                                        \
    _Pragma("GCC unroll 12") for (int i = 0; i < GEMM_MR; i++) {                             \
        if (i >= rows) break;                                                                \
        _mm512_mask_storeu_ps(c + i * ldc, m0, acc0[i]);                                     \
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc1[i]);                                \
    }

#define DP_STEP(p)                                                                   \
    const ctxpar_bf16 *bp = b + (p) * 2 * GEMM_NR;                                       \
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp);                            \
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + 32);                       \
    _Pragma("GCC unroll 12") for (int i = 0; i < GEMM_MR; i++) {                     \
        const __m512bh av = (__m512bh)_mm512_set1_epi32(pair_at(ar[i] + 2 * (p)));   \
        acc0[i] = _mm512_dpbf16_ps(acc0[i], av, b0);                                 \
        acc1[i] = _mm512_dpbf16_ps(acc1[i], av, b1);                                 \
    }

BF16_TARGET static void micro_avx512bf16(int64_t kp, const ctxpar_bf16 *a, int64_t lda, int rows,
                                         const ctxpar_bf16 *b, float *c, int64_t ldc,
                                         int cols, int load_c) {
    MICRO_BODY(DP_STEP)
}

#define WIDE_STEP(p)                                                                      \
    const ctxpar_bf16 *bp = b + (p) * 2 * GEMM_NR;                                            \
    const __m512i hi_mask = _mm512_set1_epi32((int32_t)0xffff0000u);                      \
    const __m512i r0 = _mm512_loadu_si512(bp), r1 = _mm512_loadu_si512(bp + 32);          \
    const __m512 b0h = _mm512_castsi512_ps(_mm512_and_si512(r0, hi_mask));                \
    const __m512 b0l = _mm512_castsi512_ps(_mm512_slli_epi32(r0, 16));                    \
    const __m512 b1h = _mm512_castsi512_ps(_mm512_and_si512(r1, hi_mask));                \
    const __m512 b1l = _mm512_castsi512_ps(_mm512_slli_epi32(r1, 16));                    \
    _Pragma("GCC unroll 12") for (int i = 0; i < GEMM_MR; i++) {                          \
        const uint32_t u = (uint32_t)pair_at(ar[i] + 2 * (p));                            \
        const __m512 ah = _mm512_castsi512_ps(_mm512_set1_epi32((int32_t)(u & 0xffff0000u))); \
        const __m512 al = _mm512_castsi512_ps(_mm512_set1_epi32((int32_t)(u << 16)));     \
        acc0[i] = _mm512_fmadd_ps(al, b0l, _mm512_fmadd_ps(ah, b0h, acc0[i]));            \
        acc1[i] = _mm512_fmadd_ps(al, b1l, _mm512_fmadd_ps(ah, b1h, acc1[i]));            \
    }

W_TARGET static void micro_avx512(int64_t kp, const ctxpar_bf16 *a, int64_t lda, int rows,
                                  const ctxpar_bf16 *b, float *c, int64_t ldc, int cols,
                                  int load_c) {
    MICRO_BODY(WIDE_STEP)
}

BF16_TARGET static void convert_avx512bf16(ctxpar_bf16 *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)h);
    }
    for (; i < n; i++) dst[i] = ctxpar_bf16_from_f32(src[i]);
}

const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_avx512bf16 = micro_avx512bf16;
const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_avx512 = micro_avx512;
void (*const ctxpar_bf16_convert_avx512bf16)(ctxpar_bf16 *, const float *,
                                             int64_t) = convert_avx512bf16;

#else /* not x86-64 with GNU C: only the portable path exists */
const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_avx512bf16 = 0;
const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_avx512 = 0;
void (*const ctxpar_bf16_convert_avx512bf16)(ctxpar_bf16 *, const float *, int64_t) = 0;
#endif
