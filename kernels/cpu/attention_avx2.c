/* AVX2+FMA path of the tiled attention, for x86 CPUs without AVX-512; the
 * same algorithm as attention_avx512.c (read that file's comment) with
 * function target attributes and a run-time choice by the dispatcher.
 *
 * Design: the micro-tiles shrink to fit 16 ymm registers: 24 queries (3 ymm)
 * x 4 keys (QK) or x 4 output dims (PV) = 12 accumulators, 3 loads and one
 * broadcast register. 2^x builds the power of two in the exponent bits
 * because AVX2 has no scalef. */
#include "kernels/cpu/attention_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TARGET_256 __attribute__((target("avx2,fma")))
#define INLINE_256 static inline __attribute__((always_inline)) TARGET_256

enum {
    W = 3,            /* ymm registers of queries per sub-block */
    SUB = 8 * W,      /* queries per sub-block */
    N_SUB = 8,        /* sub-blocks per query tile (share a key tile) */
    Q_TILE = SUB * N_SUB,
    KV_TILE = 64,     /* keys per softmax step */
    RK = 4,           /* keys per QK micro-tile */
    RC = 4,           /* output dims per PV micro-tile */
};

INLINE_256 __m256 exp2_256(__m256 x) {
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

/* s^T rows [0, R) of this micro-tile: keys k0[r*ldk], all SUB queries.
 * q_t is the sub-block's [dh][SUB] block. */
INLINE_256 void qk_micro(int R, const float *q_t, const float *k0, int64_t ldk, int dh,
                         float *s_t, __m256 tile_max[W]) {
    __m256 acc[RK][W];
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++) acc[r][w] = _mm256_setzero_ps();
    for (int d = 0; d < dh; d++) {
        __m256 qv[W];
        for (int w = 0; w < W; w++) qv[w] = _mm256_load_ps(q_t + d * SUB + 8 * w);
        for (int r = 0; r < R; r++) {
            const __m256 kb = _mm256_set1_ps(k0[r * ldk + d]);
            for (int w = 0; w < W; w++) acc[r][w] = _mm256_fmadd_ps(kb, qv[w], acc[r][w]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++) {
            _mm256_store_ps(s_t + r * SUB + 8 * w, acc[r][w]);
            tile_max[w] = _mm256_max_ps(tile_max[w], acc[r][w]);
        }
}

/* o^T rows [c, c+RC) of the sub-block += v[:, c..] p^T, after o^T *= alpha. */
INLINE_256 void pv_micro(float *o_t, const float *p_t, int64_t nk, const float *v0, int64_t ldv,
                         const __m256 alpha[W]) {
    __m256 acc[RC][W];
    for (int r = 0; r < RC; r++)
        for (int w = 0; w < W; w++)
            acc[r][w] = _mm256_mul_ps(_mm256_load_ps(o_t + r * SUB + 8 * w), alpha[w]);
    for (int64_t j = 0; j < nk; j++) {
        __m256 pv[W];
        for (int w = 0; w < W; w++) pv[w] = _mm256_load_ps(p_t + j * SUB + 8 * w);
        const float *vrow = v0 + j * ldv;
        for (int r = 0; r < RC; r++) {
            const __m256 vb = _mm256_set1_ps(vrow[r]);
            for (int w = 0; w < W; w++) acc[r][w] = _mm256_fmadd_ps(vb, pv[w], acc[r][w]);
        }
    }
    for (int r = 0; r < RC; r++)
        for (int w = 0; w < W; w++) _mm256_store_ps(o_t + r * SUB + 8 * w, acc[r][w]);
}

/* One key tile for one sub-block: QK, online softmax, PV. */
TARGET_256 static void sub_block_step(const float *q_t, float *o_t, float *s_t, float *row_max,
                                      float *row_sum, const float *k0, int64_t ldk,
                                      const float *v0, int64_t ldv, int64_t nk, int dh) {
    __m256 tile_max[W];
    for (int w = 0; w < W; w++) tile_max[w] = _mm256_set1_ps(-INFINITY);
    int64_t j = 0;
    for (; j + RK <= nk; j += RK) qk_micro(RK, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max);
    switch (nk - j) { /* the last keys of the tile in one narrower micro-tile */
    case 3: qk_micro(3, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    case 2: qk_micro(2, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    case 1: qk_micro(1, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    default: break;
    }

    __m256 m_new[W], alpha[W], sum[W];
    for (int w = 0; w < W; w++) {
        const __m256 m_old = _mm256_load_ps(row_max + 8 * w);
        m_new[w] = _mm256_max_ps(m_old, tile_max[w]);
        alpha[w] = exp2_256(_mm256_sub_ps(m_old, m_new[w]));
        _mm256_store_ps(row_max + 8 * w, m_new[w]);
        sum[w] = _mm256_setzero_ps();
    }
    for (j = 0; j < nk; j++)
        for (int w = 0; w < W; w++) {
            float *s = s_t + j * SUB + 8 * w;
            const __m256 p = exp2_256(_mm256_sub_ps(_mm256_load_ps(s), m_new[w]));
            _mm256_store_ps(s, p);
            sum[w] = _mm256_add_ps(sum[w], p);
        }
    for (int w = 0; w < W; w++) {
        const __m256 l = _mm256_load_ps(row_sum + 8 * w);
        _mm256_store_ps(row_sum + 8 * w, _mm256_fmadd_ps(l, alpha[w], sum[w]));
    }
    for (int c = 0; c < dh; c += RC) pv_micro(o_t + c * SUB, s_t, nk, v0 + c, ldv, alpha);
}

static int64_t avx2_scratch_floats(int head_dim) {
    return 2 * (int64_t)head_dim * Q_TILE + (int64_t)KV_TILE * SUB + 2 * Q_TILE;
}

TARGET_256 static void avx2_run_tile(const struct ctxpar_attention_args *a, int head,
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

const struct ctxpar_attention_path ctxpar_attention_path_avx2 = {
    "avx2", Q_TILE, avx2_scratch_floats, avx2_run_tile};

#else /* not x86-64 with GNU C: the path exists but is never supported */
static int64_t avx2_scratch_floats(int head_dim) { return 0; }
const struct ctxpar_attention_path ctxpar_attention_path_avx2 = {
    "avx2", 1, avx2_scratch_floats, 0};
#endif
