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
 * Several sub-blocks share one key tile so K/V come from L2, not memory. */
#include "kernels/cpu/attention_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TARGET_512 __attribute__((target("avx512f,avx512dq,fma")))
#define INLINE_512 static inline __attribute__((always_inline)) TARGET_512

/* Tuned on a 2-core AMD EPYC (Zen 4, AVX-512 on 256-bit units) at head_dim
 * 32/64/128: 64 queries x 6 keys (QK) and 64 queries x 4 dims (PV) beat the
 * 48 x 8 / 48 x 8 shapes by ~15%; key tiles of 32, 64 or 128 and 2 vs 4
 * sub-blocks are within noise (docs/bench-attention.md). */
enum {
    W = 4,            /* zmm registers of queries per sub-block */
    SUB = 16 * W,     /* queries per sub-block */
    N_SUB = 4,        /* sub-blocks per query tile (share a key tile) */
    Q_TILE = SUB * N_SUB,
    KV_TILE = 64,     /* keys per softmax step: s^T is 16 KiB, half of L1 */
    RK = 6,           /* keys per QK micro-tile: 24 accumulators */
    RC = 4,           /* output dims per PV micro-tile: 16 accumulators */
};

INLINE_512 __m512 exp2_512(__m512 x) {
    /* x <= -127 (and -inf) flush to exactly 0; NaN propagates. */
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

/* s^T rows [0, R) of this micro-tile: keys k0[r*ldk], all SUB queries.
 * q_t is the sub-block's [dh][SUB] block. */
INLINE_512 void qk_micro(int R, const float *q_t, const float *k0, int64_t ldk, int dh,
                         float *s_t, __m512 tile_max[W]) {
    __m512 acc[RK][W];
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++) acc[r][w] = _mm512_setzero_ps();
    for (int d = 0; d < dh; d++) {
        __m512 qv[W];
        for (int w = 0; w < W; w++) qv[w] = _mm512_load_ps(q_t + d * SUB + 16 * w);
        for (int r = 0; r < R; r++) {
            const __m512 kb = _mm512_set1_ps(k0[r * ldk + d]);
            for (int w = 0; w < W; w++) acc[r][w] = _mm512_fmadd_ps(kb, qv[w], acc[r][w]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++) {
            _mm512_store_ps(s_t + r * SUB + 16 * w, acc[r][w]);
            tile_max[w] = _mm512_max_ps(tile_max[w], acc[r][w]);
        }
}

/* o^T rows [c, c+RC) of the sub-block += v[:, c..] p^T, after o^T *= alpha. */
INLINE_512 void pv_micro(float *o_t, const float *p_t, int64_t nk, const float *v0, int64_t ldv,
                         const __m512 alpha[W]) {
    __m512 acc[RC][W];
    for (int r = 0; r < RC; r++)
        for (int w = 0; w < W; w++)
            acc[r][w] = _mm512_mul_ps(_mm512_load_ps(o_t + r * SUB + 16 * w), alpha[w]);
    for (int64_t j = 0; j < nk; j++) {
        __m512 pv[W];
        for (int w = 0; w < W; w++) pv[w] = _mm512_load_ps(p_t + j * SUB + 16 * w);
        const float *vrow = v0 + j * ldv;
        for (int r = 0; r < RC; r++) {
            const __m512 vb = _mm512_set1_ps(vrow[r]);
            for (int w = 0; w < W; w++) acc[r][w] = _mm512_fmadd_ps(vb, pv[w], acc[r][w]);
        }
    }
    for (int r = 0; r < RC; r++)
        for (int w = 0; w < W; w++) _mm512_store_ps(o_t + r * SUB + 16 * w, acc[r][w]);
}

/* One key tile for one sub-block: QK, online softmax, PV. */
TARGET_512 static void sub_block_step(const float *q_t, float *o_t, float *s_t, float *row_max,
                                      float *row_sum, const float *k0, int64_t ldk,
                                      const float *v0, int64_t ldv, int64_t nk, int dh) {
    __m512 tile_max[W];
    for (int w = 0; w < W; w++) tile_max[w] = _mm512_set1_ps(-INFINITY);
    int64_t j = 0;
    for (; j + RK <= nk; j += RK) qk_micro(RK, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max);
    switch (nk - j) { /* the last keys of the tile in one narrower micro-tile */
    case 5: qk_micro(5, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    case 4: qk_micro(4, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    case 3: qk_micro(3, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    case 2: qk_micro(2, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    case 1: qk_micro(1, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    default: break;
    }

    __m512 m_new[W], alpha[W], sum[W];
    for (int w = 0; w < W; w++) {
        const __m512 m_old = _mm512_load_ps(row_max + 16 * w);
        m_new[w] = _mm512_max_ps(m_old, tile_max[w]);
        alpha[w] = exp2_512(_mm512_sub_ps(m_old, m_new[w]));
        _mm512_store_ps(row_max + 16 * w, m_new[w]);
        sum[w] = _mm512_setzero_ps();
    }
    for (j = 0; j < nk; j++)
        for (int w = 0; w < W; w++) {
            float *s = s_t + j * SUB + 16 * w;
            const __m512 p = exp2_512(_mm512_sub_ps(_mm512_load_ps(s), m_new[w]));
            _mm512_store_ps(s, p);
            sum[w] = _mm512_add_ps(sum[w], p);
        }
    for (int w = 0; w < W; w++) {
        const __m512 l = _mm512_load_ps(row_sum + 16 * w);
        _mm512_store_ps(row_sum + 16 * w, _mm512_fmadd_ps(l, alpha[w], sum[w]));
    }
    for (int c = 0; c < dh; c += RC) pv_micro(o_t + c * SUB, s_t, nk, v0 + c, ldv, alpha);
}

static int64_t avx512_scratch_floats(int head_dim) {
    return 2 * (int64_t)head_dim * Q_TILE + (int64_t)KV_TILE * SUB + 2 * Q_TILE;
}

TARGET_512 static void avx512_run_tile(const struct ctxpar_attention_args *a, int head,
                                       int64_t q_begin, int64_t q_count, float *scratch) {
    const int dh = a->head_dim;
    const int n_sub = (int)((q_count + SUB - 1) / SUB);
    float *q_t = scratch;                       /* [N_SUB][dh][SUB] */
    float *o_t = q_t + (int64_t)dh * Q_TILE;    /* [N_SUB][dh][SUB] */
    float *s_t = o_t + (int64_t)dh * Q_TILE;    /* [KV_TILE][SUB] */
    float *row_max = s_t + KV_TILE * SUB;       /* [Q_TILE] */
    float *row_sum = row_max + Q_TILE;          /* [Q_TILE] */
    const float qscale = a->scale * 1.4426950408889634f; /* logits in log2 units */

    /* Transposed, pre-scaled queries; lanes past q_count are zero (their
     * results are computed and dropped, cheaper than masking every FMA). */
    memset(q_t, 0, sizeof(float) * (size_t)dh * (size_t)(n_sub * SUB));
    for (int64_t i = 0; i < q_count; i++) {
        const float *qrow = a->q + (q_begin + i) * a->ldq + (int64_t)head * dh;
        float *dst = q_t + (i / SUB) * (int64_t)dh * SUB + i % SUB;
        for (int d = 0; d < dh; d++) dst[d * SUB] = qrow[d] * qscale;
    }
    memset(o_t, 0, sizeof(float) * (size_t)dh * (size_t)(n_sub * SUB));
    for (int i = 0; i < n_sub * SUB; i++) row_max[i] = -INFINITY, row_sum[i] = 0.0f;

    for (int64_t kv0 = 0; kv0 < a->n_kv; kv0 += KV_TILE) {
        const int64_t nk = a->n_kv - kv0 < KV_TILE ? a->n_kv - kv0 : KV_TILE;
        const float *k0 = a->k + kv0 * a->ldk + (int64_t)head * dh;
        const float *v0 = a->v + kv0 * a->ldv + (int64_t)head * dh;
        for (int s = 0; s < n_sub; s++)
            sub_block_step(q_t + (int64_t)s * dh * SUB, o_t + (int64_t)s * dh * SUB, s_t,
                           row_max + s * SUB, row_sum + s * SUB, k0, a->ldk, v0, a->ldv, nk,
                           dh);
    }

    for (int64_t i = 0; i < q_count; i++) {
        float *orow = a->o + (q_begin + i) * a->ldo + (int64_t)head * dh;
        const float *src = o_t + (i / SUB) * (int64_t)dh * SUB + i % SUB;
        const float inv_sum = 1.0f / row_sum[i];
        for (int d = 0; d < dh; d++) orow[d] = src[d * SUB] * inv_sum;
        a->lse[(int64_t)head * a->n_q + q_begin + i] =
            row_max[i] * 0.6931471805599453f + logf(row_sum[i]);
    }
}

const struct ctxpar_attention_path ctxpar_attention_path_avx512 = {
    "avx512", Q_TILE, avx512_scratch_floats, avx512_run_tile};

#else /* not x86-64 with GNU C: the path exists but is never supported */
static int64_t avx512_scratch_floats(int head_dim) { return 0; }
const struct ctxpar_attention_path ctxpar_attention_path_avx512 = {
    "avx512", 1, avx512_scratch_floats, 0};
#endif
