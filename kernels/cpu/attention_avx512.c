/* AVX-512 path of the tiled attention (one work item = one head x one query
 * tile), compiled with function target attributes so the library builds with
 * generic flags and the dispatcher picks this path only on CPUs that have it.
 *
 * Design: S^T = K Q^T with 16 queries per zmm register. A query tile is split
 * into sub-blocks of 64 queries (4 registers); for every key tile each
 * sub-block runs three passes that stay in L1:
 *   QK  6 keys x 64 queries of S^T in 24 accumulators: per head dimension,
 *       4 loads of q^T and 6 broadcasts of k (read in place, never packed);
 *       the tile max is a vertical max of the accumulators;
 *   exp p = 2^(s - m_new) in place, running sum added vertically;
 *   PV  4 output dims x 64 queries of o^T in 16 accumulators, rescaled by
 *       alpha as they are loaded: 4 loads of p^T and 4 broadcasts of v.
 * Several sub-blocks share one key tile so K/V come from L2, not memory.
 * The loops are attention_tile.h's, shared with the AVX2 path; this file
 * holds what differs: the register width, the tile shape and 2^x. */
#include "kernels/cpu/attention_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/cpu/attention_exp2_avx512.h"

#define ATT_TARGET __attribute__((target("avx512f,avx512dq,fma")))
#define ATT_INLINE static inline __attribute__((always_inline)) ATT_TARGET

/* Tuned on a 2-core AMD EPYC (Zen 4, AVX-512 on 256-bit units) at head_dim
 * 32/64/128: 64 queries x 6 keys (QK) and 64 queries x 4 dims (PV) beat the
 * 48 x 8 / 48 x 8 shapes by ~15%; key tiles of 32, 64 or 128 and 2 vs 4
 * sub-blocks are within noise (docs/bench-attention.md). */
#define ATT_W       4  /* zmm registers of queries per sub-block */
#define ATT_N_SUB   4  /* sub-blocks per query tile (share a key tile) */
#define ATT_KV_TILE 64 /* keys per softmax step: s^T is 16 KiB, half of L1 */
#define ATT_RK      6  /* keys per QK micro-tile: 24 accumulators */
#define ATT_RC      4  /* output dims per PV micro-tile: 16 accumulators */

#define ATT_VEC __m512
#define ATT_LANES 16
#define ATT_ZERO() _mm512_setzero_ps()
#define ATT_SET1(x) _mm512_set1_ps(x)
#define ATT_LOAD(p) _mm512_load_ps(p)
#define ATT_STORE(p, v) _mm512_store_ps(p, v)
#define ATT_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define ATT_MUL(a, b) _mm512_mul_ps(a, b)
#define ATT_ADD(a, b) _mm512_add_ps(a, b)
#define ATT_SUB(a, b) _mm512_sub_ps(a, b)
#define ATT_MAX(a, b) _mm512_max_ps(a, b)
#define ATT_EXP2(x) ctxpar_exp2_512(x)
#define ATT_FN(name) avx512_##name
#define ATT_PATH ctxpar_attention_path_avx512
#define ATT_PATH_NAME "avx512"
#include "kernels/cpu/attention_tile.h"

#else /* not x86-64 with GNU C: the path exists but is never supported */
static int64_t avx512_scratch_floats(int head_dim) { return 0; }
const struct ctxpar_attention_path ctxpar_attention_path_avx512 = {
    "avx512", 1, avx512_scratch_floats, 0};
#endif
