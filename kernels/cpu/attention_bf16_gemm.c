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
 * The exponential is the float32 kernels' polynomial (attention_internal.h)
 * on 16 or 8 lanes where the CPU has AVX-512 or AVX2: on AMX the tiles make
 * both products a few thousand cycles per block, so a scalar softmax step
 * (8192 exponentials per 64 x 128 block) would be most of the time. The
 * row's sum is taken lane-wise then over the lanes in a fixed order, so a
 * query's result still depends on its row only; each path's sum has its
 * own order, so the paths' bits differ (tested against float64, and each
 * against itself across query counts). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu_features.h"
#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/transformer_cpu.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "kernels/cpu/attention_exp2_avx2.h"
#include "kernels/cpu/attention_exp2_avx512.h"
#define HAVE_VECTOR_SOFTMAX 1
#else
#define HAVE_VECTOR_SOFTMAX 0
#endif

enum {
    GQ = 64,   /* queries per work item */
    GKV = 128, /* keys per softmax step (even: pairs never straddle blocks) */
};

/* One softmax step of a query row: s holds the row's nk scores (log2
 * units) and becomes P = 2^(s - m_new) in place; *m (the running max) and
 * *l (the running sum) are updated. Returns alpha = 2^(m_old - m_new), the
 * factor of the row's output so far. */
typedef float (*softmax_step_fn)(float *s, int64_t nk, float *m, float *l);

typedef struct gemm_args {
    const float *q;
    int64_t ldq;
    const ctxpar_bf16 *kt, *vb; /* per (head, block): packed K^T and V */
    int64_t kt_values, vb_values, blocks;
    float *o, *lse;
    int64_t ldo, n_q, n_kv;
    int dh;
    float scale;
    softmax_step_fn softmax_step;
} gemm_args;

/* Per-thread scratch, in bytes: q [GQ][ldq16] and p [GQ][ldp16] bf16, s
 * [GQ][GKV] and o [GQ][dh] float32, the rows' max and sum. */
static int64_t scratch_bytes(int dh) {
    const int64_t ldq16 = ctxpar_bf16_row_ld(dh), ldp16 = ctxpar_bf16_row_ld(GKV);
    return (GQ * (ldq16 + ldp16) * 2 + GQ * (GKV + (int64_t)dh + 2) * 4 + 63) / 64 * 64;
}

static float softmax_step_scalar(float *s, int64_t nk, float *m, float *l) {
    float row_max = -INFINITY;
    for (int64_t j = 0; j < nk; j++) row_max = s[j] > row_max ? s[j] : row_max;
    const float m_new = row_max > *m ? row_max : *m;
    const float alpha = ctxpar_exp2_scalar(*m - m_new);
    float sum = 0.0f;
    for (int64_t j = 0; j < nk; j++) {
        s[j] = ctxpar_exp2_scalar(s[j] - m_new);
        sum += s[j];
    }
    *m = m_new, *l = *l * alpha + sum;
    return alpha;
}

#if HAVE_VECTOR_SOFTMAX
/* The vector steps: lanes of max and of the sum, then the lanes in order;
 * the row's tail (nk not a multiple of the width) in scalar code. */
#define SOFTMAX_STEP(NAME, TARGET, VEC, W, LOADU, STOREU, SET1, MAX, SUB, ADD, EXP2)          \
    __attribute__((target(TARGET))) static float NAME(float *s, int64_t nk, float *m,        \
                                                      float *l) {                            \
        VEC vmax = SET1(-INFINITY);                                                          \
        int64_t j = 0;                                                                       \
        for (; j + W <= nk; j += W) vmax = MAX(vmax, LOADU(s + j));                          \
        float lanes[W];                                                                      \
        STOREU(lanes, vmax);                                                                 \
        float row_max = -INFINITY;                                                           \
        for (int i = 0; i < W; i++) row_max = lanes[i] > row_max ? lanes[i] : row_max;       \
        for (; j < nk; j++) row_max = s[j] > row_max ? s[j] : row_max;                       \
        const float m_new = row_max > *m ? row_max : *m;                                     \
        const float alpha = ctxpar_exp2_scalar(*m - m_new);                                  \
        const VEC vm = SET1(m_new);                                                          \
        VEC vsum = SET1(0.0f);                                                               \
        for (j = 0; j + W <= nk; j += W) {                                                   \
            const VEC p = EXP2(SUB(LOADU(s + j), vm));                                       \
            STOREU(s + j, p);                                                                \
            vsum = ADD(vsum, p);                                                             \
        }                                                                                    \
        STOREU(lanes, vsum);                                                                 \
        float sum = 0.0f;                                                                    \
        for (int i = 0; i < W; i++) sum += lanes[i];                                         \
        for (; j < nk; j++) {                                                                \
            s[j] = ctxpar_exp2_scalar(s[j] - m_new);                                         \
            sum += s[j];                                                                     \
        }                                                                                    \
        *m = m_new, *l = *l * alpha + sum;                                                   \
        return alpha;                                                                        \
    }
SOFTMAX_STEP(softmax_step_avx2, "avx2,fma", __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps,
             _mm256_set1_ps, _mm256_max_ps, _mm256_sub_ps, _mm256_add_ps, ctxpar_exp2_256)
SOFTMAX_STEP(softmax_step_avx512, "avx512f,avx512dq,fma", __m512, 16, _mm512_loadu_ps,
             _mm512_storeu_ps, _mm512_set1_ps, _mm512_max_ps, _mm512_sub_ps, _mm512_add_ps,
             ctxpar_exp2_512)
#undef SOFTMAX_STEP
#endif

/* The steps, best first; NULL where not compiled or not on this CPU. */
static softmax_step_fn softmax_step_named(const char *name) {
#if HAVE_VECTOR_SOFTMAX
    if (!strcmp(name, "avx512"))
        return ctxpar_cpu_has(CTXPAR_CPU_AVX512F) && ctxpar_cpu_has(CTXPAR_CPU_AVX512DQ)
                   ? softmax_step_avx512
                   : NULL;
    if (!strcmp(name, "avx2"))
        return ctxpar_cpu_has(CTXPAR_CPU_AVX2) && ctxpar_cpu_has(CTXPAR_CPU_FMA)
                   ? softmax_step_avx2
                   : NULL;
#endif
    return !strcmp(name, "scalar") ? softmax_step_scalar : NULL;
}

static softmax_step_fn forced_softmax; /* test hook: set between calls */

int ctxpar_attention_bf16_gemm_force_softmax(const char *name) {
    softmax_step_fn step = name ? softmax_step_named(name) : NULL;
    if (name && !step) return -1;
    forced_softmax = step;
    return 0;
}

static softmax_step_fn softmax_step_for_cpu(void) {
    if (forced_softmax) return forced_softmax;
    softmax_step_fn step = softmax_step_named("avx512");
    if (!step) step = softmax_step_named("avx2");
    return step ? step : softmax_step_scalar;
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
        ctxpar_cpu_gemm_bf16_serial(nq, nk, dh, qb, ldq16, a->kt + hb * a->kt_values, s, GKV, 0);
        for (int64_t i = 0; i < nq; i++) {
            float *srow = s + i * GKV;
            const float alpha = a->softmax_step(srow, nk, &m[i], &l[i]);
            ctxpar_bf16 *prow = pb + i * ldp16;
            ctxpar_bf16_convert(prow, srow, nk);
            for (int64_t j = nk; j < ldp16; j++) prow[j] = 0;
            float *orow = ot + i * dh;
            for (int c = 0; c < dh; c++) orow[c] *= alpha;
        }
        ctxpar_cpu_gemm_bf16_serial(nq, dh, nk, pb, ldp16, a->vb + hb * a->vb_values, ot, dh, 1);
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
    const gemm_args args = {q,   ldq, kt,   vb,       kt_values, vb_values, blocks, o,
                            lse, ldo, n_q, n_kv, head_dim, scale, softmax_step_for_cpu()};
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
