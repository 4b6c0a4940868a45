/* AVX2+FMA path of the tiled attention, for x86 CPUs without AVX-512; the
 * same algorithm as attention_avx512.c (read that file's comment) with
 * function target attributes and a run-time choice by the dispatcher.
 *
 * Design: the micro-tiles shrink to fit 16 ymm registers: 24 queries (3 ymm)
 * x 4 keys (QK) or x 4 output dims (PV) = 12 accumulators, 3 loads and one
 * broadcast register. 2^x builds the power of two in the exponent bits
 * because AVX2 has no scalef. The loops are attention_tile.h's, shared with
 * the AVX-512 path; this file holds what differs: width, tile shape, 2^x. */
#include "kernels/cpu/attention_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define ATT_TARGET __attribute__((target("avx2,fma")))
#define ATT_INLINE static inline __attribute__((always_inline)) ATT_TARGET
#define ATT_W       3  /* ymm registers of queries per sub-block */
#define ATT_N_SUB   8  /* sub-blocks per query tile (share a key tile) */
#define ATT_KV_TILE 64 /* keys per softmax step */
#define ATT_RK      4  /* keys per QK micro-tile */
#define ATT_RC      4  /* output dims per PV micro-tile */

ATT_INLINE __m256 exp2_256(__m256 x) {
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

#define ATT_VEC __m256
#define ATT_LANES 8
#define ATT_ZERO() _mm256_setzero_ps()
#define ATT_SET1(x) _mm256_set1_ps(x)
#define ATT_LOAD(p) _mm256_load_ps(p)
#define ATT_STORE(p, v) _mm256_store_ps(p, v)
#define ATT_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define ATT_MUL(a, b) _mm256_mul_ps(a, b)
#define ATT_ADD(a, b) _mm256_add_ps(a, b)
#define ATT_SUB(a, b) _mm256_sub_ps(a, b)
#define ATT_MAX(a, b) _mm256_max_ps(a, b)
#define ATT_EXP2(x) exp2_256(x)
#define ATT_FN(name) avx2_##name
#define ATT_PATH ctxpar_attention_path_avx2
#define ATT_PATH_NAME "avx2"
#include "kernels/cpu/attention_tile.h"

#else /* not x86-64 with GNU C: the path exists but is never supported */
static int64_t avx2_scratch_floats(int head_dim) { return 0; }
const struct ctxpar_attention_path ctxpar_attention_path_avx2 = {
    "avx2", 1, avx2_scratch_floats, 0};
#endif
