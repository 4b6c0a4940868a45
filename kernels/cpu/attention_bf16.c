/* Tiled attention with bf16 products (--dtype bf16): QK^T and PV on
 * VDPBF16PS, the online softmax, the running sums and the output in float32
 * (docs/bf16.md). Same interface and result contract as ctxpar_cpu_attention.
 * The dispatcher at the end picks this kernel, or on AMX machines the flash
 * attention on the bf16 GEMM's tiles (attention_bf16_gemm.c).
 *
 * Design: the float32 kernel's shape (attention_avx512.c), S^T = K Q^T with
 * 16 queries per zmm, with the reduction of each product taken in pairs:
 * - QK reduces over the head dimension: the query tile is packed once as
 *   pairs (q[2e], q[2e+1]) per query, scaled into log2 units first, and K,
 *   converted to bf16 once per call, is read in place: a key's pair is one
 *   32-bit broadcast;
 * - PV reduces over keys: the probabilities of a key pair are packed per
 *   query after the exponential, and V is converted once per call into pairs
 *   of keys, so a dim's pair is one broadcast too and the conversion reads
 *   and writes whole rows (a per-dim transpose costs as much as the
 *   products at ViT shapes).
 * - Both are stored head-major, K as [head][key][dh] and V as
 *   [head][key pair][dh][2], so a tile's keys are one contiguous run. In the
 *   rows' own layout ([key][heads*dh]) consecutive keys were 2-4 KB apart,
 *   in a few L1 sets (Zen 5, ViT-L heads, the ring's 256-key granules: the
 *   head-major layout and the kept buffer below made a call 4-7% faster).
 * Odd key counts end in a zero pair. The float32 row sums add the unrounded
 * probabilities; PV multiplies their bf16 roundings. Where the CPU has no
 * AVX512-BF16 or the head dimension is odd, the float32 kernel runs instead.
 *
 * Ring attention calls a second form (ctxpar_cpu_attention_bf16_tiles): the
 * queries and the K/V come prepared, converted once for many calls, and the
 * output stays a tile's o^T, normalised where it was accumulated, with its
 * lse beside it; the ring merges those tiles and turns only the result back
 * into rows. Both forms run the same tile code, so their bits are equal. */
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu_features.h"
#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/gemm_bf16.h"

enum {
    BQ = CTXPAR_ATTENTION_TILE_ROWS, /* queries per work item: 4 zmm of 16 */
    BKV = 64, /* keys per softmax step (even: pairs never straddle steps) */
    RK = 6,   /* keys per QK micro-tile: 24 accumulators */
    RC = 4,   /* output dims per PV micro-tile: 16 accumulators */
};

typedef struct bf16_args {
    const float *q;
    int64_t ldq;
    /* NULL, or the queries prepared (ctxpar_cpu_attention_bf16_prepare_queries):
     * tile (head, q0 / BQ) at qp + (q0 / BQ * heads + head) * dh * BQ */
    const ctxpar_bf16 *qp;
    const ctxpar_bf16 *kb; /* [heads][n_kv][dh] */
    const ctxpar_bf16 *vt; /* [heads][n_kv_pairs][dh][2] */
    float *o, *lse; /* rows, or NULL when the output goes to tiles: */
    float *ot, *lt; /* [tile][head][dh][BQ] and [tile][head][BQ] (transformer_cpu.h) */
    int64_t ldo, n_q, n_kv, kv_pairs;
    int heads, dh;
    float scale;
} bf16_args;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "kernels/cpu/attention_exp2_avx512.h"
#include "kernels/cpu/transpose_avx512.h"

#define BF16_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512bf16,fma")))
#define BF16_INLINE static inline __attribute__((always_inline)) BF16_TARGET

static inline int32_t pair_at(const ctxpar_bf16 *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* 16 lanes of (lo, hi) as bf16 pairs: lo in the low half of each 32 bits.
 * One conversion of both (lo's 16 values, then hi's) and one shuffle that
 * interleaves them. */
BF16_INLINE __m512i pack_pairs(__m512 lo, __m512 hi) {
    const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    const __m512i interleave = _mm512_set_epi16(
        31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
        23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(interleave, both);
}

/* out[2c] = bf16(lo[c]), out[2c+1] = bf16(hi[c]) (0 without hi), c < n. */
BF16_TARGET static void pack_value_pairs(ctxpar_bf16 *out, const float *lo, const float *hi,
                                         int64_t n) {
    int64_t c = 0;
    for (; c + 16 <= n; c += 16)
        _mm512_storeu_si512(out + 2 * c, pack_pairs(_mm512_loadu_ps(lo + c),
                                                    hi ? _mm512_loadu_ps(hi + c)
                                                       : _mm512_setzero_ps()));
    for (; c < n; c++) {
        out[2 * c] = ctxpar_bf16_from_f32(lo[c]);
        out[2 * c + 1] = hi ? ctxpar_bf16_from_f32(hi[c]) : 0;
    }
}

/* The query tile as pairs qp[e][i] = (q[2e], q[2e+1]) of query i, scaled
 * into log2 units; rows past nq are zero. Per 16 queries and 32 dims, each
 * query's 32 scaled values become its 16 pairs in one VCVTNE2PS2BF16, and
 * the 16 x 16 pairs are transposed in registers onto the pair rows. The
 * same roundings as a scalar loop over ctxpar_bf16_from_f32 of q * qscale. */
BF16_TARGET static void pack_query_pairs(ctxpar_bf16 *qp, const bf16_args *a, int head,
                                         int64_t q0, int64_t nq, float qscale) {
    const int dh = a->dh;
    const __m512 s = _mm512_set1_ps(qscale);
    int32_t *pairs = (int32_t *)qp; /* [dh/2][BQ] */
    const float *qtile = a->q + q0 * a->ldq + (int64_t)head * dh;
    int c = 0;
    for (; c + 32 <= dh; c += 32)
        for (int i0 = 0; i0 < BQ; i0 += 16) {
            __m512i r[16];
            for (int j = 0; j < 16; j++) {
                const float *qrow = qtile + (i0 + j) * a->ldq + c;
                r[j] = i0 + j < nq ? (__m512i)_mm512_cvtne2ps_pbh(
                                         _mm512_mul_ps(_mm512_loadu_ps(qrow + 16), s),
                                         _mm512_mul_ps(_mm512_loadu_ps(qrow), s))
                                   : _mm512_setzero_si512();
            }
            ctxpar_transpose_16x16(r);
            for (int p = 0; p < 16; p++)
                _mm512_storeu_si512(pairs + (int64_t)(c / 2 + p) * BQ + i0, r[p]);
        }
    for (int64_t i = 0; i < BQ; i++) {
        const float *qrow = qtile + i * a->ldq;
        for (int e = c / 2; e < dh / 2; e++) {
            qp[(e * BQ + i) * 2] = i < nq ? ctxpar_bf16_from_f32(qrow[2 * e] * qscale) : 0;
            qp[(e * BQ + i) * 2 + 1] = i < nq ? ctxpar_bf16_from_f32(qrow[2 * e + 1] * qscale) : 0;
        }
    }
}

/* A query's natural-log lse from its running max (log2 units) and sum. */
BF16_INLINE float lse_of(float m, float l) { return m * 0.6931471805599453f + logf(l); }

/* Rows [0, rows) of the output, row i its dims scaled by inv[i]: o_t is
 * [dh][BQ], transposed 16 x 16 at a time; inv NULL: unscaled. */
BF16_TARGET static void store_rows(float *o, int64_t ldo, const float *o_t, const float *inv,
                                   int64_t rows, int dh) {
    for (int64_t i0 = 0; i0 < rows; i0 += 16) {
        const int n = rows - i0 < 16 ? (int)(rows - i0) : 16;
        int d = 0;
        for (; d + 16 <= dh; d += 16) {
            __m512i r[16];
            for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_si512(o_t + (d + j) * BQ + i0);
            ctxpar_transpose_16x16(r);
            for (int j = 0; j < n; j++)
                _mm512_storeu_ps(o + (i0 + j) * ldo + d,
                                 inv ? _mm512_mul_ps((__m512)r[j], _mm512_set1_ps(inv[i0 + j]))
                                     : (__m512)r[j]);
        }
        for (int j = 0; j < n; j++)
            for (int dd = d; dd < dh; dd++)
                o[(i0 + j) * ldo + dd] = inv ? o_t[dd * BQ + i0 + j] * inv[i0 + j]
                                             : o_t[dd * BQ + i0 + j];
    }
}

/* s^T rows [0, real) of keys k0 (rows dh apart) against the query tile
 * qp, into s (rows BQ apart), and their maxima into tmax: R rows computed
 * (a compile-time count where the caller passes one), rows past real
 * repeating the last. */
BF16_INLINE void qk_rows(const ctxpar_bf16 *k0, int dh, const ctxpar_bf16 *qp, const int R,
                         int real, float *s, __m512 tmax[4]) {
    const ctxpar_bf16 *krow[RK];
    for (int r = 0; r < R; r++) krow[r] = k0 + (r < real ? r : real - 1) * dh;
    __m512 acc[RK][4];
    for (int r = 0; r < R; r++)
        for (int w = 0; w < 4; w++) acc[r][w] = _mm512_setzero_ps();
    for (int e = 0; e < dh / 2; e++) {
        __m512bh qv[4];
        for (int w = 0; w < 4; w++) qv[w] = (__m512bh)_mm512_loadu_si512(qp + (e * BQ + 16 * w) * 2);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const __m512bh kv = (__m512bh)_mm512_set1_epi32(pair_at(krow[r] + 2 * e));
            for (int w = 0; w < 4; w++) acc[r][w] = _mm512_dpbf16_ps(acc[r][w], kv, qv[w]);
        }
    }
    for (int r = 0; r < real; r++)
        for (int w = 0; w < 4; w++) {
            _mm512_store_ps(s + r * BQ + 16 * w, acc[r][w]);
            tmax[w] = _mm512_max_ps(tmax[w], acc[r][w]);
        }
}

/* o^T rows [0, real) (rows BQ apart), rescaled by alpha, plus P V over np
 * key pairs: V's pairs of those dims at v (a key pair's dims 2*dh values
 * apart), P's packed pairs at pp. C rows computed (a compile-time count
 * where the caller passes one), rows past real from zero and not stored. */
BF16_INLINE void pv_rows(float *o, const ctxpar_bf16 *v, int dh, const ctxpar_bf16 *pp,
                         int64_t np, const __m512 alpha[4], const int C, int real) {
    const ctxpar_bf16 *vrow[RC];
    for (int c = 0; c < C; c++) vrow[c] = v + (c < real ? c : real - 1) * 2;
    __m512 acc[RC][4];
    for (int c = 0; c < C; c++)
        for (int w = 0; w < 4; w++)
            acc[c][w] = c < real ? _mm512_mul_ps(_mm512_loadu_ps(o + c * BQ + 16 * w), alpha[w])
                                 : _mm512_setzero_ps();
    for (int64_t jp = 0; jp < np; jp++) {
        __m512bh pv[4];
        for (int w = 0; w < 4; w++) pv[w] = (__m512bh)_mm512_load_si512(pp + (jp * BQ + 16 * w) * 2);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const __m512bh vv = (__m512bh)_mm512_set1_epi32(pair_at(vrow[c] + jp * 2 * dh));
            for (int w = 0; w < 4; w++) acc[c][w] = _mm512_dpbf16_ps(acc[c][w], vv, pv[w]);
        }
    }
    for (int c = 0; c < real; c++)
        for (int w = 0; w < 4; w++) _mm512_storeu_ps(o + c * BQ + 16 * w, acc[c][w]);
}

/* Per-thread scratch: q pairs [dh/2][BQ][2] bf16, p pairs [BKV/2][BQ][2]
 * bf16, s^T [BKV][BQ] and o^T [dh][BQ] float32. */
static int64_t scratch_bytes(int dh) {
    return (int64_t)dh * BQ * 2 + (int64_t)BKV * BQ * 2 + (int64_t)BKV * BQ * 4 +
           (int64_t)dh * BQ * 4;
}

BF16_TARGET static void run_tile(const bf16_args *a, int head, int64_t q0, int64_t nq,
                                 char *scratch) {
    const int dh = a->dh;
    ctxpar_bf16 *qp = (ctxpar_bf16 *)scratch;
    ctxpar_bf16 *pp = qp + (int64_t)dh * BQ;
    float *s_t = (float *)(pp + (int64_t)BKV * BQ);
    float *o_t = s_t + (int64_t)BKV * BQ;
    float *lt = NULL;
    if (a->ot) { /* accumulate in the output tile itself */
        const int64_t tile = q0 / BQ * a->heads + head;
        o_t = a->ot + tile * dh * BQ;
        lt = a->lt + tile * BQ;
    }
    const float qscale = a->scale * 1.4426950408889634f;
    const ctxpar_bf16 *kh = a->kb + (int64_t)head * a->n_kv * dh;
    const ctxpar_bf16 *vh = a->vt + (int64_t)head * a->kv_pairs * dh * 2;

    if (a->qp)
        qp = (ctxpar_bf16 *)a->qp + (q0 / BQ * a->heads + head) * dh * BQ;
    else
        pack_query_pairs(qp, a, head, q0, nq, qscale);
    memset(o_t, 0, sizeof(float) * (size_t)dh * BQ);
    __m512 m[4], l[4];
    for (int w = 0; w < 4; w++) m[w] = _mm512_set1_ps(-INFINITY), l[w] = _mm512_setzero_ps();

    for (int64_t kv0 = 0; kv0 < a->n_kv; kv0 += BKV) {
        const int64_t nk = a->n_kv - kv0 < BKV ? a->n_kv - kv0 : BKV;
        __m512 tmax[4];
        for (int w = 0; w < 4; w++) tmax[w] = _mm512_set1_ps(-INFINITY);
        /* QK: s^T rows of RK keys; a block's last 4 (64 = 10 x 6 + 4) in a
         * tile of their own rather than 6 rows with 2 repeated */
        for (int64_t j0 = 0; j0 < nk; j0 += RK) {
            const ctxpar_bf16 *k0 = kh + (kv0 + j0) * dh;
            float *s0 = s_t + j0 * BQ;
            if (nk - j0 >= RK)
                qk_rows(k0, dh, qp, RK, RK, s0, tmax);
            else if (nk - j0 == 4)
                qk_rows(k0, dh, qp, 4, 4, s0, tmax);
            else
                qk_rows(k0, dh, qp, RK, (int)(nk - j0), s0, tmax);
        }
        /* online softmax in float32 */
        __m512 alpha[4];
        for (int w = 0; w < 4; w++) {
            const __m512 m_new = _mm512_max_ps(m[w], tmax[w]);
            alpha[w] = ctxpar_exp2_512(_mm512_sub_ps(m[w], m_new));
            m[w] = m_new;
            l[w] = _mm512_mul_ps(l[w], alpha[w]);
        }
        /* the probabilities, summed in key order, packed per key pair */
        const int64_t np = (nk + 1) / 2;
        for (int64_t jp = 0; jp < np; jp++)
            for (int w = 0; w < 4; w++) {
                const __m512 lo =
                    ctxpar_exp2_512(_mm512_sub_ps(_mm512_load_ps(s_t + 2 * jp * BQ + 16 * w), m[w]));
                l[w] = _mm512_add_ps(l[w], lo);
                __m512 hi = _mm512_setzero_ps();
                if (2 * jp + 1 < nk) {
                    hi = ctxpar_exp2_512(
                        _mm512_sub_ps(_mm512_load_ps(s_t + (2 * jp + 1) * BQ + 16 * w), m[w]));
                    l[w] = _mm512_add_ps(l[w], hi);
                }
                _mm512_store_si512(pp + (jp * BQ + 16 * w) * 2, pack_pairs(lo, hi));
            }
        /* PV: o^T rows of RC dims (6 measured no faster) */
        const ctxpar_bf16 *v0 = vh + kv0 / 2 * dh * 2;
        for (int d0 = 0; d0 < dh; d0 += RC) {
            if (dh - d0 >= RC)
                pv_rows(o_t + d0 * BQ, v0 + d0 * 2, dh, pp, np, alpha, RC, RC);
            else
                pv_rows(o_t + d0 * BQ, v0 + d0 * 2, dh, pp, np, alpha, RC, dh - d0);
        }
    }
    /* a query's running max and sum, and its output's scale 1 / sum */
    float mv[BQ], lv[BQ], inv[BQ];
    for (int w = 0; w < 4; w++) {
        _mm512_storeu_ps(mv + 16 * w, m[w]), _mm512_storeu_ps(lv + 16 * w, l[w]);
        _mm512_storeu_ps(inv + 16 * w, _mm512_div_ps(_mm512_set1_ps(1.0f), l[w]));
    }
    if (lt) { /* the tile normalised in place, every lane (rows past nq too) */
        for (int d = 0; d < dh; d++)
            for (int w = 0; w < 4; w++)
                _mm512_storeu_ps(o_t + d * BQ + 16 * w,
                                 _mm512_mul_ps(_mm512_loadu_ps(o_t + d * BQ + 16 * w),
                                               _mm512_loadu_ps(inv + 16 * w)));
        for (int i = 0; i < BQ; i++) lt[i] = lse_of(mv[i], lv[i]);
        return;
    }
    /* o^T back to rows, 16 queries x 16 dims at a time in registers */
    for (int64_t i = 0; i < nq; i++) a->lse[(int64_t)head * a->n_q + q0 + i] = lse_of(mv[i], lv[i]);
    store_rows(a->o + q0 * a->ldo + (int64_t)head * dh, a->ldo, o_t, inv, nq, dh);
}

#define HAVE_BF16_PATH 1
#else
#define HAVE_BF16_PATH 0
#endif

static int dp_supported(int head_dim) {
    return HAVE_BF16_PATH && head_dim % 2 == 0 && ctxpar_cpu_has(CTXPAR_CPU_AVX512_BF16) &&
           ctxpar_cpu_has(CTXPAR_CPU_AVX512DQ) && ctxpar_cpu_has(CTXPAR_CPU_AVX512BW);
}

/* A call's K, V and tile scratch in one buffer. Ring attention calls the
 * kernel once per granule of keys (a latent frame: 256 keys for V-JEPA 2),
 * thousands of times a run; a fresh malloc each time could go back to the
 * OS on free and come back as page faults. So calls made outside a parallel
 * region (the ring's, on the rank's main thread) keep one buffer of up to
 * CALL_BUFFER_KEEP bytes between calls (a kernel scratch, like the others
 * not counted by the runtime's allocator); larger requests, and calls from
 * inside a parallel region, allocate and free their own. Outside a parallel
 * region the kernel is therefore not reentrant: one caller thread, as in
 * the runtime. */
enum { CALL_BUFFER_KEEP = 16 << 20 };
static char *kept_buffer;
static int64_t kept_bytes;

static char *call_buffer_get(int64_t bytes) {
    if (omp_in_parallel() || bytes > CALL_BUFFER_KEEP)
        return aligned_alloc(64, (size_t)((bytes + 63) / 64 * 64));
    if (kept_bytes < bytes) {
        free(kept_buffer);
        kept_bytes = (bytes + 63) / 64 * 64;
        kept_buffer = aligned_alloc(64, (size_t)kept_bytes);
        if (!kept_buffer) kept_bytes = 0;
    }
    return kept_buffer;
}

static void call_buffer_put(char *buffer) {
    if (buffer != kept_buffer) free(buffer);
}

static const char *forced; /* test hook: set between calls, never during one */

const char *ctxpar_cpu_attention_bf16_path(int head_dim) {
    if (forced) return !strcmp(forced, "avx512bf16") && !dp_supported(head_dim) ? NULL : forced;
    /* AMX: the GEMM's tiles; else VDPBF16PS; else none (the float32 kernel) */
    if (!strcmp(ctxpar_cpu_gemm_bf16_path(), "amx")) return "gemm";
    return dp_supported(head_dim) ? "avx512bf16" : NULL;
}

int ctxpar_cpu_attention_bf16_force_path(const char *path) {
    if (!path || !strcmp(path, "gemm") || (!strcmp(path, "avx512bf16") && dp_supported(64))) {
        forced = !path ? NULL : !strcmp(path, "gemm") ? "gemm" : "avx512bf16";
        return 0;
    }
    return -1;
}

/* Prepared K/V of n_kv keys (ctxpar_cpu_attention_bf16_prepare_kv): K as
 * [heads][n_kv][dh], then V as [heads][key pairs][dh][2], each part padded
 * to whole 64-byte lines so that a block's granules stay aligned. */
static int64_t kb_values(int64_t n_kv, int64_t hd) { return (n_kv * hd + 31) / 32 * 32; }
static int64_t kv_values(int64_t n_kv, int64_t hd) {
    return kb_values(n_kv, hd) + ((n_kv + 1) / 2 * 2 * hd + 31) / 32 * 32;
}

static void prepare_kv(ctxpar_bf16 *kvp, const float *k, int64_t ldk, const float *v,
                       int64_t ldv, int64_t n_kv, int heads, int head_dim, int n_threads) {
#if HAVE_BF16_PATH
    const int64_t hd = (int64_t)heads * head_dim, pairs = (n_kv + 1) / 2;
    ctxpar_bf16 *kb = kvp, *vt = kvp + kb_values(n_kv, hd);
    for (int h = 0; h < heads; h++)
        ctxpar_cpu_bf16_rows(kb + h * n_kv * head_dim, head_dim, k + h * head_dim, ldk, n_kv,
                             head_dim);
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t p = 0; p < pairs; p++)
        for (int h = 0; h < heads; h++)
            pack_value_pairs(vt + (h * pairs + p) * head_dim * 2, v + 2 * p * ldv + h * head_dim,
                             2 * p + 1 < n_kv ? v + (2 * p + 1) * ldv + h * head_dim : NULL,
                             head_dim);
#else
    (void)kvp, (void)k, (void)ldk, (void)v, (void)ldv, (void)n_kv, (void)heads, (void)head_dim;
    (void)n_threads;
#endif
}

/* The VDPBF16PS kernel over every (head, query tile), with the queries
 * packed per tile or prepared (qp), K/V converted here or prepared (kvp),
 * the output as rows (o, lse) or tiles (ot, lt). Returns 0, having done
 * nothing, when its buffer cannot be had (the caller runs the float32
 * kernel, or reports it). */
static int run_dp(const float *q, int64_t ldq, const ctxpar_bf16 *qp, const float *k,
                  int64_t ldk, const float *v, int64_t ldv, const ctxpar_bf16 *kvp, float *o,
                  int64_t ldo, float *lse, float *ot, float *lt, int64_t n_q, int64_t n_kv,
                  int heads, int head_dim, float scale) {
#if HAVE_BF16_PATH
    const int64_t hd = (int64_t)heads * head_dim, pairs = (n_kv + 1) / 2;
    int n_threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const int64_t n_tiles = (n_q + BQ - 1) / BQ, n_items = n_tiles * heads;
    if (n_threads > n_items) n_threads = (int)n_items;
    const int64_t share = (scratch_bytes(head_dim) + 63) / 64 * 64;
    /* [K/V, unless prepared][scratch], 64-byte aligned */
    const int64_t scratch_at = kvp ? 0 : (int64_t)sizeof(ctxpar_bf16) * kv_values(n_kv, hd);
    char *buffer = call_buffer_get(scratch_at + share * n_threads);
    if (!buffer) return 0;
    if (!kvp) {
        prepare_kv((ctxpar_bf16 *)buffer, k, ldk, v, ldv, n_kv, heads, head_dim, n_threads);
        kvp = (const ctxpar_bf16 *)buffer;
    }
    char *scratch = buffer + scratch_at;
    const bf16_args args = {.q = q, .ldq = ldq, .qp = qp, .kb = kvp,
                            .vt = kvp + kb_values(n_kv, hd), .o = o, .lse = lse, .ot = ot,
                            .lt = lt, .ldo = ldo, .n_q = n_q, .n_kv = n_kv, .kv_pairs = pairs,
                            .heads = heads, .dh = head_dim, .scale = scale};
#pragma omp parallel num_threads(n_threads)
    {
        char *mine = scratch + share * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < n_items; item++) {
            const int head = (int)(item / n_tiles);
            const int64_t q0 = (item % n_tiles) * BQ;
            run_tile(&args, head, q0, n_q - q0 < BQ ? n_q - q0 : BQ, mine);
        }
    }
    call_buffer_put(buffer);
    return 1;
#else
    (void)q, (void)ldq, (void)qp, (void)k, (void)ldk, (void)v, (void)ldv, (void)kvp, (void)o;
    (void)ldo, (void)lse, (void)ot, (void)lt, (void)n_q, (void)n_kv, (void)heads;
    (void)head_dim, (void)scale;
    return 0;
#endif
}

int64_t ctxpar_cpu_attention_bf16_queries_values(int64_t n_q, int heads, int head_dim) {
    const char *path = ctxpar_cpu_attention_bf16_path(head_dim);
    if (!path || strcmp(path, "avx512bf16") != 0 || n_q <= 0) return 0;
    return (n_q + BQ - 1) / BQ * heads * (int64_t)head_dim * BQ;
}

void ctxpar_cpu_attention_bf16_prepare_queries(ctxpar_bf16 *qp, const float *q, int64_t ldq,
                                               int64_t n_q, int heads, int head_dim,
                                               float scale) {
#if HAVE_BF16_PATH
    if (ctxpar_cpu_attention_bf16_queries_values(n_q, heads, head_dim) == 0) return;
    const int64_t n_tiles = (n_q + BQ - 1) / BQ, n_items = n_tiles * heads;
    const bf16_args args = {.q = q, .ldq = ldq, .n_q = n_q, .heads = heads, .dh = head_dim};
    const float qscale = scale * 1.4426950408889634f;
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (int64_t item = 0; item < n_items; item++) { /* tile-major, as the outputs */
        const int head = (int)(item % heads);
        const int64_t q0 = item / heads * BQ;
        pack_query_pairs(qp + item * head_dim * BQ, &args, head, q0,
                         n_q - q0 < BQ ? n_q - q0 : BQ, qscale);
    }
#else
    (void)qp, (void)q, (void)ldq, (void)n_q, (void)heads, (void)head_dim, (void)scale;
#endif
}

void ctxpar_cpu_attention_bf16(const float *q, int64_t ldq, const float *k, int64_t ldk,
                               const float *v, int64_t ldv, float *o, int64_t ldo, float *lse,
                               int64_t n_q, int64_t n_kv, int heads, int head_dim, float scale) {
    const char *path = ctxpar_cpu_attention_bf16_path(head_dim);
    if (n_q > 0 && heads > 0 && n_kv > 0 && path && !strcmp(path, "gemm")) {
        ctxpar_cpu_attention_bf16_gemm(q, ldq, k, ldk, v, ldv, o, ldo, lse, n_q, n_kv, heads,
                                       head_dim, scale);
        return;
    }
    if (n_q > 0 && heads > 0 && n_kv > 0 && path && !strcmp(path, "avx512bf16") &&
        run_dp(q, ldq, NULL, k, ldk, v, ldv, NULL, o, ldo, lse, NULL, NULL, n_q, n_kv, heads,
               head_dim, scale))
        return;
    /* no bf16 unit, or out of memory: the float32 kernel needs less */
    ctxpar_cpu_attention(q, ldq, k, ldk, v, ldv, o, ldo, lse, n_q, n_kv, heads, head_dim, scale);
}

int64_t ctxpar_cpu_attention_bf16_kv_values(int64_t n_kv, int heads, int head_dim) {
    return kv_values(n_kv, (int64_t)heads * head_dim);
}

void ctxpar_cpu_attention_bf16_prepare_kv(ctxpar_bf16 *kvp, const float *k, int64_t ldk,
                                          const float *v, int64_t ldv, int64_t n_kv, int heads,
                                          int head_dim) {
    prepare_kv(kvp, k, ldk, v, ldv, n_kv, heads, head_dim,
               omp_in_parallel() ? 1 : omp_get_max_threads());
}

int ctxpar_cpu_attention_bf16_tiles(const float *q, int64_t ldq, const ctxpar_bf16 *qp,
                                    const ctxpar_bf16 *kvp, float *o_tiles, float *lse_tiles,
                                    int64_t n_q, int64_t n_kv, int heads, int head_dim,
                                    float scale) {
    if (ctxpar_cpu_attention_bf16_queries_values(n_q, heads, head_dim) == 0) return 0;
    const int64_t tiles = (n_q + BQ - 1) / BQ * heads;
    if (n_kv <= 0) { /* no keys: o = 0, lse = -inf, as the row kernels give */
        memset(o_tiles, 0, sizeof(float) * (size_t)(tiles * head_dim * BQ));
        for (int64_t i = 0; i < tiles * BQ; i++) lse_tiles[i] = -INFINITY;
        return 1;
    }
    return run_dp(q, ldq, qp, NULL, 0, NULL, 0, kvp, NULL, 0, NULL, o_tiles, lse_tiles, n_q, n_kv,
                  heads, head_dim, scale);
}

void ctxpar_cpu_attention_tiles_to_rows(float *o, int64_t ldo, const float *o_tiles, int64_t n_q,
                                        int heads, int head_dim) {
    const int64_t n_tiles = (n_q + BQ - 1) / BQ, items = n_tiles * heads;
#pragma omp parallel for schedule(static) \
    if (!omp_in_parallel() && n_q * heads * head_dim > (1 << 16))
    for (int64_t item = 0; item < items; item++) {
        const int64_t i0 = item / heads * BQ, rows = n_q - i0 < BQ ? n_q - i0 : BQ;
        const int head = (int)(item % heads);
        const float *tile = o_tiles + item * head_dim * BQ;
        float *dst = o + i0 * ldo + (int64_t)head * head_dim;
#if HAVE_BF16_PATH
        if (dp_supported(2)) {
            store_rows(dst, ldo, tile, NULL, rows, head_dim);
            continue;
        }
#endif
        for (int64_t i = 0; i < rows; i++)
            for (int dd = 0; dd < head_dim; dd++) dst[i * ldo + dd] = tile[dd * BQ + i];
    }
}
