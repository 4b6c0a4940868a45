/* The AVX2 micro-kernel of the bf16 GEMM, for CPUs without AVX-512 (Zen 3
 * and older): bf16 widened to float32 by a shift or a mask, then FMAs, so
 * --dtype bf16 runs at float32 FMA speed there instead of the portable C
 * loop's. Compiled with a function target attribute; the dispatcher
 * (gemm_bf16.c) picks it where CPUID reports AVX2 and FMA.
 *
 * Design: the 32-column panel in two halves of 16 columns; per half, a
 * 4 x 16 tile of C in 8 ymm accumulators, B's 16 column pairs of a
 * reduction pair in 2 loads widened to 4 registers, each row's A pair
 * broadcast as two. Products of bf16 values are exact in float32, so the
 * two FMAs per pair (odd element first) round exactly as the portable
 * kernel's two adds: the same bits (gemm_bf16.h). Rows past `rows` repeat
 * the last row's A and are not stored, so a partial tile does the same
 * arithmetic per element as a full one. */
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#define AVX2_TARGET __attribute__((target("avx2,fma")))

static inline int32_t pair_at(const ctxpar_bf16 *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Lanes 0..n-1 set (n clamped to 0..8). */
AVX2_TARGET static inline __m256i lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AVX2_TARGET static void micro_avx2(int64_t kp, const ctxpar_bf16 *a, int64_t lda, int rows,
                                   const ctxpar_bf16 *b, float *c, int64_t ldc, int cols,
                                   int load_c) {
    const ctxpar_bf16 *ar[GEMM_AVX2_MR];
    for (int i = 0; i < GEMM_AVX2_MR; i++) ar[i] = a + (int64_t)(i < rows ? i : rows - 1) * lda;
    const __m256i hi_mask = _mm256_set1_epi32((int32_t)0xffff0000u);
    for (int c0 = 0; c0 < cols; c0 += 16) {
        const __m256i m0 = lanes(cols - c0), m1 = lanes(cols - c0 - 8);
        __m256 acc0[GEMM_AVX2_MR], acc1[GEMM_AVX2_MR];
        for (int i = 0; i < GEMM_AVX2_MR; i++) {
            const int live = load_c && i < rows;
            acc0[i] = live ? _mm256_maskload_ps(c + i * ldc + c0, m0) : _mm256_setzero_ps();
            acc1[i] = live ? _mm256_maskload_ps(c + i * ldc + c0 + 8, m1) : _mm256_setzero_ps();
        }
        const ctxpar_bf16 *bp = b + 2 * c0;
        for (int64_t p = 0; p < kp; p++, bp += 2 * GEMM_NR) {
            const __m256i r0 = _mm256_loadu_si256((const __m256i *)bp);
            const __m256i r1 = _mm256_loadu_si256((const __m256i *)(bp + 16));
            const __m256 b0h = _mm256_castsi256_ps(_mm256_and_si256(r0, hi_mask));
            const __m256 b0l = _mm256_castsi256_ps(_mm256_slli_epi32(r0, 16));
            const __m256 b1h = _mm256_castsi256_ps(_mm256_and_si256(r1, hi_mask));
            const __m256 b1l = _mm256_castsi256_ps(_mm256_slli_epi32(r1, 16));
            for (int i = 0; i < GEMM_AVX2_MR; i++) {
                const uint32_t u = (uint32_t)pair_at(ar[i] + 2 * p);
                const __m256 ah = _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)(u & 0xffff0000u)));
                const __m256 al = _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)(u << 16)));
                acc0[i] = _mm256_fmadd_ps(al, b0l, _mm256_fmadd_ps(ah, b0h, acc0[i]));
                acc1[i] = _mm256_fmadd_ps(al, b1l, _mm256_fmadd_ps(ah, b1h, acc1[i]));
            }
        }
        for (int i = 0; i < rows; i++) {
            _mm256_maskstore_ps(c + i * ldc + c0, m0, acc0[i]);
            _mm256_maskstore_ps(c + i * ldc + c0 + 8, m1, acc1[i]);
        }
    }
}

const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_avx2 = micro_avx2;

#else /* not x86-64 with GNU C */
const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_avx2 = 0;
#endif
