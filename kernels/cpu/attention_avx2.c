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

#include "kernels/cpu/attention_exp2_avx2.h"

#define ATT_TARGET __attribute__((target("avx2,fma")))
#define ATT_INLINE static inline __attribute__((always_inline)) ATT_TARGET
#define ATT_W       3  /* ymm registers of queries per sub-block */
#define ATT_N_SUB   8  /* sub-blocks per query tile (share a key tile) */
#define ATT_KV_TILE 64 /* keys per softmax step */
#define ATT_RK      4  /* keys per QK micro-tile */
#define ATT_RC      4  /* output dims per PV micro-tile */

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
#define ATT_EXP2(x) ctxpar_exp2_256(x)
#define ATT_FN(name) avx2_##name
#define ATT_PATH ctxpar_attention_path_avx2
#define ATT_PATH_NAME "avx2"
#include "kernels/cpu/attention_tile.h"

#else /* not x86-64 with GNU C: the path exists but is never supported */
static int64_t avx2_scratch_floats(int head_dim) { return 0; }
const struct ctxpar_attention_path ctxpar_attention_path_avx2 = {
    "avx2", 1, avx2_scratch_floats, 0};
#endif
