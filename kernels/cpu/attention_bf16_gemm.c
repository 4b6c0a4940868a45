/* Attention with bf16 products as a flash attention on the bf16 GEMM: on
 * AMX machines QK^T and PV run on the matrix engine's tiles through the
 * GEMM's AMX micro-kernel, with the online softmax, its running max and sum
 * and the output in float32 (docs/bf16.md). Same interface and result
 * contract as ctxpar_cpu_attention_bf16 (attention_bf16.c).
 *
 * Design: K and V are converted once per call into the GEMM's packed B
 * layout, per head and block of GKV keys: K^T (head dims x keys) for S =
 * Q K^T and V (keys x head dims) for O += P V, so a block's products are two
 * GEMM calls that find their B ready. A work item is a head and a tile of GQ
 * queries: its queries are scaled into log2 units and rounded to bf16 once,
 * then each key block computes S (float32), updates each row's max and sum,
 * rescales the row's output, rounds P to bf16 and adds P V. The GEMM runs
 * single-threaded inside the items (OpenMP does not nest here). Every step
 * is per query row, and the GEMM's result for a row does not depend on the
 * rows beside it, so a query's output depends on its own row and the keys
 * only: not on the query count of the call (rank counts stay invisible).
 * The scalar exponential is the float32 kernels' (attention_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/transformer_cpu.h"

#ifdef _OPENMP
#include <omp.h>
#endif

enum {
    GQ = 64,   /* queries per work item */
    GKV = 128, /* keys per softmax step (even: pairs never straddle blocks) */
};

typedef struct gemm_args {
    const float *q;
    int64_t ldq;
    const ctxpar_bf16 *kt, *vb; /* per (head, block): packed K^T and V */
    int64_t kt_values, vb_values, blocks;
    float *o, *lse;
    int64_t ldo, n_q, n_kv;
    int dh;
    float scale;
} gemm_args;

/* Per-thread scratch, in bytes: q [GQ][ldq16] and p [GQ][ldp16] bf16, s
 * [GQ][GKV] and o [GQ][dh] float32, the rows' max and sum. */
static int64_t scratch_bytes(int dh) {
    const int64_t ldq16 = ctxpar_bf16_row_ld(dh), ldp16 = ctxpar_bf16_row_ld(GKV);
    return (GQ * (ldq16 + ldp16) * 2 + GQ * (GKV + (int64_t)dh + 2) * 4 + 63) / 64 * 64;
}

static void run_item(const gemm_args *a, int head, int64_t q0, int64_t nq, char *scratch) {
    const int dh = a->dh;
    const int64_t ldq16 = ctxpar_bf16_row_ld(dh), ldp16 = ctxpar_bf16_row_ld(GKV);
    ctxpar_bf16 *qb = (ctxpar_bf16 *)scratch, *pb = qb + GQ * ldq16;
    float *s = (float *)(pb + GQ * ldp16), *ot = s + GQ * GKV;
    float *m = ot + GQ * (int64_t)dh, *l = m + GQ;
    const float qscale = a->scale * 1.4426950408889634f; /* log2(e): exp2 below */
    for (int64_t i = 0; i < nq; i++) {
        const float *qrow = a->q + (q0 + i) * a->ldq + (int64_t)head * dh;
        for (int e = 0; e < dh; e++) qb[i * ldq16 + e] = ctxpar_bf16_from_f32(qrow[e] * qscale);
        for (int64_t e = dh; e < ldq16; e++) qb[i * ldq16 + e] = 0;
        m[i] = -INFINITY, l[i] = 0.0f;
    }
    memset(ot, 0, sizeof(float) * (size_t)(nq * dh));
    for (int64_t b = 0; b < a->blocks; b++) {
        const int64_t kv0 = b * GKV, nk = a->n_kv - kv0 < GKV ? a->n_kv - kv0 : GKV;
        const int64_t hb = (int64_t)head * a->blocks + b;
        ctxpar_cpu_gemm_bf16(nq, nk, dh, qb, ldq16, a->kt + hb * a->kt_values, s, GKV, 0);
        for (int64_t i = 0; i < nq; i++) {
            const float *srow = s + i * GKV;
            float row_max = -INFINITY;
            for (int64_t j = 0; j < nk; j++) row_max = srow[j] > row_max ? srow[j] : row_max;
            const float m_new = row_max > m[i] ? row_max : m[i];
            const float alpha = ctxpar_exp2_scalar(m[i] - m_new);
            float sum = l[i] * alpha;
            ctxpar_bf16 *prow = pb + i * ldp16;
            for (int64_t j = 0; j < nk; j++) {
                const float p = ctxpar_exp2_scalar(srow[j] - m_new);
                sum += p;
                prow[j] = ctxpar_bf16_from_f32(p);
            }
            for (int64_t j = nk; j < ldp16; j++) prow[j] = 0;
            float *orow = ot + i * dh;
            for (int c = 0; c < dh; c++) orow[c] *= alpha;
            m[i] = m_new, l[i] = sum;
        }
        ctxpar_cpu_gemm_bf16(nq, dh, nk, pb, ldp16, a->vb + hb * a->vb_values, ot, dh, 1);
    }
    for (int64_t i = 0; i < nq; i++) {
        float *orow = a->o + (q0 + i) * a->ldo + (int64_t)head * dh;
        const float inv = 1.0f / l[i];
        for (int c = 0; c < dh; c++) orow[c] = ot[i * dh + c] * inv;
        a->lse[(int64_t)head * a->n_q + q0 + i] = m[i] * 0.6931471805599453f + logf(l[i]);
    }
}

void ctxpar_cpu_attention_bf16_gemm(const float *q, int64_t ldq, const float *k, int64_t ldk,
                                    const float *v, int64_t ldv, float *o, int64_t ldo,
                                    float *lse, int64_t n_q, int64_t n_kv, int heads,
                                    int head_dim, float scale) {
    const int64_t blocks = (n_kv + GKV - 1) / GKV;
    const int64_t kt_values = ctxpar_bf16_packed_count(head_dim, GKV);
    const int64_t vb_values = ctxpar_bf16_packed_count(GKV, head_dim);
    const int64_t n_pieces = (int64_t)heads * blocks;
    ctxpar_bf16 *kt = malloc(sizeof(ctxpar_bf16) * (size_t)(n_pieces * kt_values + 1));
    ctxpar_bf16 *vb = malloc(sizeof(ctxpar_bf16) * (size_t)(n_pieces * vb_values + 1));
    int n_threads = 1;
#ifdef _OPENMP
    n_threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#endif
    const int64_t n_tiles = (n_q + GQ - 1) / GQ, n_items = n_tiles * heads;
    if (n_threads > n_items) n_threads = (int)(n_items > 0 ? n_items : 1);
    const int64_t share = scratch_bytes(head_dim);
    char *scratch = aligned_alloc(64, (size_t)(share * n_threads));
    if (!kt || !vb || !scratch) {
        /* out of memory: the float32 kernel needs less */
        free(kt), free(vb), free(scratch);
        ctxpar_cpu_attention(q, ldq, k, ldk, v, ldv, o, ldo, lse, n_q, n_kv, heads, head_dim,
                             scale);
        return;
    }
    for (int64_t piece = 0; piece < n_pieces; piece++) {
        const int head = (int)(piece / blocks);
        const int64_t kv0 = piece % blocks * GKV, nk = n_kv - kv0 < GKV ? n_kv - kv0 : GKV;
        const float *kh = k + kv0 * ldk + (int64_t)head * head_dim;
        const float *vh = v + kv0 * ldv + (int64_t)head * head_dim;
        /* K^T: B(e, j) = K[kv0 + j][head, e]; V: B(j, c) = V[kv0 + j][head, c] */
        ctxpar_bf16_pack_strided(kt + piece * kt_values, kh, 1, ldk, head_dim, nk);
        ctxpar_bf16_pack_strided(vb + piece * vb_values, vh, ldv, 1, nk, head_dim);
    }
    const gemm_args args = {q,  ldq,       kt,   vb,  kt_values, vb_values, blocks, o,
                            lse, ldo, n_q, n_kv, head_dim, scale};
#pragma omp parallel num_threads(n_threads)
    {
        int me = 0;
#ifdef _OPENMP
        me = omp_get_thread_num();
#endif
        char *mine = scratch + share * me;
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < n_items; item++) {
            const int head = (int)(item / n_tiles);
            const int64_t q0 = (item % n_tiles) * GQ;
            run_item(&args, head, q0, n_q - q0 < GQ ? n_q - q0 : GQ, mine);
        }
    }
    free(kt), free(vb), free(scratch);
}
