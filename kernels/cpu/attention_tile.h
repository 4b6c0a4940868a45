/* The tiled attention's SIMD body, written once over vector macros and
 * compiled once per instruction set: attention_avx512.c and attention_avx2.c
 * define the macros below and include this file; nothing else does. Read
 * attention_avx512.c's comment for the algorithm.
 *
 * Design: only what truly differs between the ISAs stays in their files:
 * the register width, the tile shape that fits their register file, and 2^x
 * (AVX-512 has scalef and mask registers, AVX2 builds the exponent bits).
 * The loops, the online softmax and the scratch layout are here, so a fix
 * or a change of algorithm lands on every path at once.
 *
 * The includer defines, before including:
 *   ATT_VEC, ATT_LANES        the vector type and its float lanes
 *   ATT_TARGET, ATT_INLINE    the target attribute; static always-inline + it
 *   ATT_ZERO() ATT_SET1(x) ATT_LOAD(p) ATT_STORE(p, v) ATT_FMA(a, b, c)
 *   ATT_MUL ATT_ADD ATT_SUB ATT_MAX   (aligned loads and stores)
 *   ATT_EXP2(x)               2^x with CTXPAR_EXP2_* (attention_internal.h)
 *   ATT_W, ATT_N_SUB, ATT_KV_TILE, ATT_RK (4 to 6), ATT_RC   the tile shape
 *   ATT_FN(name)              a static name of this path (avx2_##name)
 *   ATT_PATH, ATT_PATH_NAME   the path's symbol and name */
#if !defined(ATT_VEC) || !defined(ATT_RK) || ATT_RK < 4 || ATT_RK > 6
#error "attention_tile.h: define the vector macros and a tile shape (ATT_RK 4..6) first"
#endif

enum {
    W = ATT_W,             /* registers of queries per sub-block */
    SUB = ATT_LANES * W,   /* queries per sub-block */
    N_SUB = ATT_N_SUB,     /* sub-blocks per query tile (share a key tile) */
    Q_TILE = SUB * N_SUB,
    KV_TILE = ATT_KV_TILE, /* keys per softmax step */
    RK = ATT_RK,           /* keys per QK micro-tile */
    RC = ATT_RC,           /* output dims per PV micro-tile */
};

/* s^T rows [0, R) of this micro-tile: keys k0[r*ldk], all SUB queries.
 * q_t is the sub-block's [dh][SUB] block. */
ATT_INLINE void qk_micro(int R, const float *q_t, const float *k0, int64_t ldk, int dh,
                         float *s_t, ATT_VEC tile_max[W]) {
    ATT_VEC acc[RK][W];
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++) acc[r][w] = ATT_ZERO();
    for (int d = 0; d < dh; d++) {
        ATT_VEC qv[W];
        for (int w = 0; w < W; w++) qv[w] = ATT_LOAD(q_t + d * SUB + ATT_LANES * w);
        for (int r = 0; r < R; r++) {
            const ATT_VEC kb = ATT_SET1(k0[r * ldk + d]);
            for (int w = 0; w < W; w++) acc[r][w] = ATT_FMA(kb, qv[w], acc[r][w]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++) {
            ATT_STORE(s_t + r * SUB + ATT_LANES * w, acc[r][w]);
            tile_max[w] = ATT_MAX(tile_max[w], acc[r][w]);
        }
}

/* o^T rows [c, c+RC) of the sub-block += v[:, c..] p^T, after o^T *= alpha. */
ATT_INLINE void pv_micro(float *o_t, const float *p_t, int64_t nk, const float *v0, int64_t ldv,
                         const ATT_VEC alpha[W]) {
    ATT_VEC acc[RC][W];
    for (int r = 0; r < RC; r++)
        for (int w = 0; w < W; w++)
            acc[r][w] = ATT_MUL(ATT_LOAD(o_t + r * SUB + ATT_LANES * w), alpha[w]);
    for (int64_t j = 0; j < nk; j++) {
        ATT_VEC pv[W];
        for (int w = 0; w < W; w++) pv[w] = ATT_LOAD(p_t + j * SUB + ATT_LANES * w);
        const float *vrow = v0 + j * ldv;
        for (int r = 0; r < RC; r++) {
            const ATT_VEC vb = ATT_SET1(vrow[r]);
            for (int w = 0; w < W; w++) acc[r][w] = ATT_FMA(vb, pv[w], acc[r][w]);
        }
    }
    for (int r = 0; r < RC; r++)
        for (int w = 0; w < W; w++) ATT_STORE(o_t + r * SUB + ATT_LANES * w, acc[r][w]);
}

/* One key tile for one sub-block: QK, online softmax, PV. */
ATT_TARGET static void sub_block_step(const float *q_t, float *o_t, float *s_t, float *row_max,
                                      float *row_sum, const float *k0, int64_t ldk,
                                      const float *v0, int64_t ldv, int64_t nk, int dh) {
    ATT_VEC tile_max[W];
    for (int w = 0; w < W; w++) tile_max[w] = ATT_SET1(-INFINITY);
    int64_t j = 0;
    for (; j + RK <= nk; j += RK) qk_micro(RK, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max);
    switch (nk - j) { /* the last keys of the tile in one narrower micro-tile */
#if ATT_RK > 5
    case 5: qk_micro(5, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
#endif
#if ATT_RK > 4
    case 4: qk_micro(4, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
#endif
    case 3: qk_micro(3, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    case 2: qk_micro(2, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    case 1: qk_micro(1, q_t, k0 + j * ldk, ldk, dh, s_t + j * SUB, tile_max); break;
    default: break;
    }

    ATT_VEC m_new[W], alpha[W], sum[W];
    for (int w = 0; w < W; w++) {
        const ATT_VEC m_old = ATT_LOAD(row_max + ATT_LANES * w);
        m_new[w] = ATT_MAX(m_old, tile_max[w]);
        alpha[w] = ATT_EXP2(ATT_SUB(m_old, m_new[w]));
        ATT_STORE(row_max + ATT_LANES * w, m_new[w]);
        sum[w] = ATT_ZERO();
    }
    for (j = 0; j < nk; j++)
        for (int w = 0; w < W; w++) {
            float *s = s_t + j * SUB + ATT_LANES * w;
            const ATT_VEC p = ATT_EXP2(ATT_SUB(ATT_LOAD(s), m_new[w]));
            ATT_STORE(s, p);
            sum[w] = ATT_ADD(sum[w], p);
        }
    for (int w = 0; w < W; w++) {
        const ATT_VEC l = ATT_LOAD(row_sum + ATT_LANES * w);
        ATT_STORE(row_sum + ATT_LANES * w, ATT_FMA(l, alpha[w], sum[w]));
    }
    for (int c = 0; c < dh; c += RC) pv_micro(o_t + c * SUB, s_t, nk, v0 + c, ldv, alpha);
}

static int64_t ATT_FN(scratch_floats)(int head_dim) {
    return 2 * (int64_t)head_dim * Q_TILE + (int64_t)KV_TILE * SUB + 2 * Q_TILE;
}

ATT_TARGET static void ATT_FN(run_tile)(const struct ctxpar_attention_args *a, int head,
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

const struct ctxpar_attention_path ATT_PATH = {ATT_PATH_NAME, Q_TILE, ATT_FN(scratch_floats),
                                              ATT_FN(run_tile)};

