/* Tiled attention: the dispatcher (threads, scratch, choice of SIMD path)
 * and the portable C path that every SIMD path must agree with.
 *
 * Design: every path works on S^T = K Q^T, i.e. vectors run along QUERIES.
 * The softmax statistics (running max, running sum) are per query, so with
 * queries in the vector lanes they update with plain vertical max/add, never
 * a horizontal reduction; K and V are read in place with broadcasts, so no
 * path packs or transposes a K/V tile. Only the query tile is transposed
 * (once per tile, amortised over all keys) and the output transposed back.
 * Exponentials are 2^x of logits pre-scaled by scale*log2(e). Scratch per
 * thread is O(head_dim * q_tile + kv_tile * q_tile): nothing grows with n. */
#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu_features.h"

/* ---------------------------------------------------------------- portable */

enum {
    PORTABLE_Q_TILE = 64,  /* queries per work item: a row of S^T */
    PORTABLE_KV_TILE = 64, /* keys per softmax step */
};

static int64_t portable_scratch_floats(int head_dim) {
    return 2 * (int64_t)head_dim * PORTABLE_Q_TILE /* q^T, o^T */
           + (int64_t)PORTABLE_KV_TILE * PORTABLE_Q_TILE /* s^T, then p^T */
           + 4 * PORTABLE_Q_TILE;                         /* max, sum, tile max, alpha */
}

static void portable_run_tile(const struct ctxpar_attention_args *a, int head, int64_t q_begin,
                              int64_t q_count, float *scratch) {
    const int64_t dh = a->head_dim, nq = q_count, qt_ld = PORTABLE_Q_TILE;
    float *q_t = scratch;                   /* [dh][q_tile] */
    float *o_t = q_t + dh * qt_ld;          /* [dh][q_tile] */
    float *s_t = o_t + dh * qt_ld;          /* [kv_tile][q_tile] */
    float *row_max = s_t + (int64_t)PORTABLE_KV_TILE * qt_ld;
    float *row_sum = row_max + qt_ld, *tile_max = row_sum + qt_ld, *alpha = tile_max + qt_ld;
    const float qscale = a->scale * 1.4426950408889634f; /* logits in log2 units */

    for (int64_t i = 0; i < nq; i++) {
        const float *qrow = a->q + (q_begin + i) * a->ldq + head * dh;
        for (int64_t d = 0; d < dh; d++) q_t[d * qt_ld + i] = qrow[d] * qscale;
    }
    memset(o_t, 0, sizeof(float) * (size_t)(dh * qt_ld));
    for (int64_t i = 0; i < nq; i++) row_max[i] = -INFINITY, row_sum[i] = 0.0f;

    for (int64_t kv0 = 0; kv0 < a->n_kv; kv0 += PORTABLE_KV_TILE) {
        const int64_t nk = a->n_kv - kv0 < PORTABLE_KV_TILE ? a->n_kv - kv0 : PORTABLE_KV_TILE;
        for (int64_t i = 0; i < nq; i++) tile_max[i] = -INFINITY;
        for (int64_t j = 0; j < nk; j++) {
            const float *krow = a->k + (kv0 + j) * a->ldk + head * dh;
            float *srow = s_t + j * qt_ld;
            for (int64_t i = 0; i < nq; i++) srow[i] = 0.0f;
            for (int64_t d = 0; d < dh; d++) {
                const float kd = krow[d], *qrow = q_t + d * qt_ld;
                for (int64_t i = 0; i < nq; i++) srow[i] += kd * qrow[i];
            }
            for (int64_t i = 0; i < nq; i++) tile_max[i] = fmaxf(tile_max[i], srow[i]);
        }
        for (int64_t i = 0; i < nq; i++) {
            const float m_new = fmaxf(row_max[i], tile_max[i]);
            alpha[i] = ctxpar_exp2_scalar(row_max[i] - m_new);
            row_max[i] = m_new;
            row_sum[i] *= alpha[i];
        }
        for (int64_t j = 0; j < nk; j++) {
            float *srow = s_t + j * qt_ld;
            for (int64_t i = 0; i < nq; i++) {
                srow[i] = ctxpar_exp2_scalar(srow[i] - row_max[i]);
                row_sum[i] += srow[i];
            }
        }
        for (int64_t d = 0; d < dh; d++) {
            float *orow = o_t + d * qt_ld;
            for (int64_t i = 0; i < nq; i++) orow[i] *= alpha[i];
            for (int64_t j = 0; j < nk; j++) {
                const float vd = a->v[(kv0 + j) * a->ldv + head * dh + d];
                const float *prow = s_t + j * qt_ld;
                for (int64_t i = 0; i < nq; i++) orow[i] += vd * prow[i];
            }
        }
    }

    for (int64_t i = 0; i < nq; i++) {
        float *orow = a->o + (q_begin + i) * a->ldo + head * dh;
        const float inv_sum = 1.0f / row_sum[i];
        for (int64_t d = 0; d < dh; d++) orow[d] = o_t[d * qt_ld + i] * inv_sum;
        a->lse[(int64_t)head * a->n_q + q_begin + i] =
            row_max[i] * 0.6931471805599453f + logf(row_sum[i]);
    }
}

const struct ctxpar_attention_path ctxpar_attention_path_portable = {
    "portable", PORTABLE_Q_TILE, portable_scratch_floats, portable_run_tile};

/* -------------------------------------------------------------- dispatcher */

static int path_supported(const struct ctxpar_attention_path *path) {
    if (!path->run_tile) return 0; /* SIMD path not compiled on this target */
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (path == &ctxpar_attention_path_avx512)
        return ctxpar_cpu_has(CTXPAR_CPU_AVX512F) && ctxpar_cpu_has(CTXPAR_CPU_AVX512DQ);
    if (path == &ctxpar_attention_path_avx2)
        return ctxpar_cpu_has(CTXPAR_CPU_AVX2) && ctxpar_cpu_has(CTXPAR_CPU_FMA);
#else
    if (path != &ctxpar_attention_path_portable) return 0;
#endif
    return 1;
}

/* Test hook only: set before calls, never concurrently with them. */
static const struct ctxpar_attention_path *forced_path = NULL;

static const struct ctxpar_attention_path *current_path(void) {
    if (forced_path) return forced_path;
    if (path_supported(&ctxpar_attention_path_avx512)) return &ctxpar_attention_path_avx512;
    if (path_supported(&ctxpar_attention_path_avx2)) return &ctxpar_attention_path_avx2;
    return &ctxpar_attention_path_portable;
}

const char *ctxpar_cpu_attention_isa(void) { return current_path()->name; }

int ctxpar_cpu_attention_force_isa(const char *isa) {
    static const struct ctxpar_attention_path *const all[] = {
        &ctxpar_attention_path_avx512, &ctxpar_attention_path_avx2,
        &ctxpar_attention_path_portable};
    if (!isa) {
        forced_path = NULL;
        return 0;
    }
    for (size_t p = 0; p < sizeof all / sizeof all[0]; p++)
        if (strcmp(isa, all[p]->name) == 0) {
            if (!path_supported(all[p])) return -1;
            forced_path = all[p];
            return 0;
        }
    return -1;
}

void ctxpar_cpu_attention(const float *q, int64_t ldq, const float *k, int64_t ldk,
                          const float *v, int64_t ldv, float *o, int64_t ldo, float *lse,
                          int64_t n_q, int64_t n_kv, int heads, int head_dim, float scale) {
    if (n_q <= 0 || heads <= 0) return;
    if (n_kv <= 0) { /* empty key set: the neutral element of the merge */
        for (int64_t i = 0; i < n_q; i++)
            memset(o + i * ldo, 0, sizeof(float) * (size_t)heads * (size_t)head_dim);
        for (int64_t r = 0; r < (int64_t)heads * n_q; r++) lse[r] = -INFINITY;
        return;
    }
    const struct ctxpar_attention_path *path = current_path();
    const struct ctxpar_attention_args args = {q,   k,   v,    o,    lse,   ldq,      ldk,
                                               ldv, ldo, n_q,  n_kv, heads, head_dim, scale};
    const int64_t n_tiles = (n_q + path->q_tile - 1) / path->q_tile;
    const int64_t n_items = n_tiles * heads;
    int n_threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (n_threads > n_items) n_threads = (int)n_items;
    /* One block for all threads, each share rounded to a cache line so no
     * two threads write the same line. */
    const int64_t share = (path->scratch_floats(head_dim) + 15) / 16 * 16;
    float *scratch = aligned_alloc(64, sizeof(float) * (size_t)(share * n_threads));
    if (!scratch) { /* a void kernel cannot return a status: poison the result */
        fprintf(stderr, "ctxpar_cpu_attention: out of memory for %lld bytes of scratch\n",
                (long long)(sizeof(float) * share * n_threads));
        for (int64_t i = 0; i < n_q; i++)
            for (int64_t c = 0; c < (int64_t)heads * head_dim; c++) o[i * ldo + c] = NAN;
        for (int64_t r = 0; r < (int64_t)heads * n_q; r++) lse[r] = NAN;
        return;
    }
    /* Items are head-major so threads working at the same time share one
     * head's K and V in the last-level cache. */
#pragma omp parallel num_threads(n_threads)
    {
        float *mine = scratch + share * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < n_items; item++) {
            const int head = (int)(item / n_tiles);
            const int64_t q_begin = (item % n_tiles) * path->q_tile;
            const int64_t q_count =
                n_q - q_begin < path->q_tile ? n_q - q_begin : path->q_tile;
            path->run_tile(&args, head, q_begin, q_count, mine);
        }
    }
    free(scratch);
}
