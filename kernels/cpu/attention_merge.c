/* Log-sum-exp merge of two partial attention results over disjoint key
 * sets: the step that makes ring attention exact whatever the order and the
 * sizes of the K/V blocks that arrive.
 *
 * Design: each input is already normalised (o = sum p v / sum p) and carries
 * its lse, so with hi = max(lse_acc, lse_blk), lo = the other and
 * e = exp(lo - hi) <= 1, the merged lse is hi + log1p(e) and the weights
 * are 1 / (1 + e) for the larger side and e / (1 + e) for the smaller:
 * nothing overflows. lse = -inf means "no keys" and is handled explicitly,
 * so that an accumulator that was never written (garbage o) cannot leak NaN.
 *
 * Why weights first, rows second: the ring merges a granule of keys into
 * every query row many times a layer, so one exp and one log1p per row
 * cost more than the row's 64-value blend when they are libm calls (3-4
 * scalar calls a row were an eighth of the bf16 attention's time at ViT-L
 * shapes). Here a block of 64 rows first gets its weights from inline,
 * branch-free exp (exp_approx.h) and log1p (log1p_unit below), a loop the
 * compiler vectorises, built once for AVX-512 and once for any x86-64 and
 * chosen with the attention kernels' path; then each row is blended. A
 * block's heads run one after another, so its rows of both outputs are
 * read while in cache, whole lines at a time. The weights of a row depend
 * only on its own two lse values, so the result is the same whatever the
 * block, the thread count or the rank count. */
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu/exp_approx.h"

enum { MERGE_BLOCK = 64 }; /* rows whose weights are formed together */

/* log(1 + e) for e in [0, 1]: 2 atanh(s) with s = e / (2 + e) <= 1/3, the
 * odd series to s^15 (the next term is below 1.2e-8 of the sum), so small
 * e keeps its full relative precision (no 1 + e rounding). */
static inline float log1p_unit(float e) {
    const float s = e / (2.0f + e), s2 = s * s;
    float p = 1.0f / 15.0f;
    p = p * s2 + 1.0f / 13.0f;
    p = p * s2 + 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}

/* Weights and merged lse of n rows. Rows where either side is -inf get
 * values the blend below never reads; a NaN lse makes the row's weights
 * and lse NaN. */
#define MERGE_WEIGHTS_BODY                                                     \
    for (int64_t r = 0; r < n; r++) {                                          \
        const float a = la[r], b = lb[r];                                      \
        const float hi = a > b ? a : b, lo = a > b ? b : a;                    \
        const float d = lo - hi;  /* <= 0; -inf or NaN where a side is -inf */ \
        const float poison = d - d; /* 0, or NaN to pass a NaN lse on */        \
        const float e = ctxpar_exp_nonpositive(d == d ? d : -87.0f);            \
        const float s = 1.0f / (1.0f + e);                                      \
        wa[r] = (a > b ? s : e * s) + poison;                                   \
        wb[r] = (a > b ? e * s : s) + poison;                                   \
        l_new[r] = hi + log1p_unit(e) + poison;                                 \
    }

static void merge_weights_generic(const float *la, const float *lb, int64_t n, float *wa,
                                  float *wb, float *l_new) {
    MERGE_WEIGHTS_BODY
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,fma"))) static void merge_weights_avx512(const float *la,
                                                                        const float *lb,
                                                                        int64_t n, float *wa,
                                                                        float *wb, float *l_new) {
    MERGE_WEIGHTS_BODY
}
#endif

typedef void (*merge_weights_fn)(const float *, const float *, int64_t, float *, float *,
                                 float *);

/* The attention kernels' path decides (so forcing it, CTXPAR_ISA or a
 * test, exercises both builds of the weights). */
static merge_weights_fn pick_weights(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (!strcmp(ctxpar_cpu_attention_isa(), "avx512")) return merge_weights_avx512;
#endif
    return merge_weights_generic;
}

/* One value's merge as ctxpar_cpu_attention_merge forms it: the weights of
 * weights(), or the block's value where the accumulator saw no keys, or the
 * accumulator's where the block saw none. */
static inline float blend(float oa, float ob, float wa, float wb, float la, float lb) {
    return lb == -INFINITY ? oa : la == -INFINITY ? ob : wa * oa + wb * ob;
}

void ctxpar_cpu_attention_merge(float *o_acc, int64_t ld_acc, float *lse_acc, const float *o_blk,
                                int64_t ld_blk, const float *lse_blk, int64_t n_q, int heads,
                                int head_dim) {
    const merge_weights_fn weights = pick_weights();
    const int64_t blocks = (n_q + MERGE_BLOCK - 1) / MERGE_BLOCK, items = blocks * heads;
#pragma omp parallel for schedule(static) if (n_q * heads * head_dim > (1 << 16))
    for (int64_t item = 0; item < items; item++) {
        const int64_t i0 = item / heads * MERGE_BLOCK, hh = item % heads;
        const int64_t n = n_q - i0 < MERGE_BLOCK ? n_q - i0 : MERGE_BLOCK;
        float *la = lse_acc + hh * n_q + i0; /* lse is head-major: [heads][n_q] */
        const float *lb = lse_blk + hh * n_q + i0;
        float wa[MERGE_BLOCK], wb[MERGE_BLOCK], l_new[MERGE_BLOCK];
        weights(la, lb, n, wa, wb, l_new);
        for (int64_t r = 0; r < n; r++) {
            const int64_t i = i0 + r;
            float *oa = o_acc + i * ld_acc + hh * head_dim;
            const float *ob = o_blk + i * ld_blk + hh * head_dim;
            if (lb[r] == -INFINITY) continue; /* the block saw no keys: nothing to add */
            if (la[r] == -INFINITY) {         /* first block: take it as it is */
                for (int d = 0; d < head_dim; d++) oa[d] = ob[d];
                la[r] = lb[r];
                continue;
            }
            const float xa = wa[r], xb = wb[r];
            for (int d = 0; d < head_dim; d++) oa[d] = xa * oa[d] + xb * ob[d];
            la[r] = l_new[r];
        }
    }
}

/* The tiles' merge (transformer_cpu.h): the same weights, products and sums
 * per query as the rows' above, with a tile's 64 queries across the lanes.
 * The AVX-512 blend multiplies and adds with explicit rounding so that the
 * compiler cannot fuse them into one FMA, which the rows' blend (built for
 * any x86-64) never does: the same bits either way. */
enum { TILE = CTXPAR_ATTENTION_TILE_ROWS };

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static void blend_tile_avx512(float *oa, const float *ob,
                                                                 const float *wa, const float *wb,
                                                                 float *la, const float *lb,
                                                                 const float *l_new, int dh) {
    enum { R = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };
    for (int w = 0; w < TILE; w += 16) {
        const __m512 a_lse = _mm512_loadu_ps(la + w), b_lse = _mm512_loadu_ps(lb + w);
        const __m512 ninf = _mm512_set1_ps(-INFINITY);
        const __mmask16 skip = _mm512_cmp_ps_mask(b_lse, ninf, _CMP_EQ_OQ);
        const __mmask16 take = _mm512_cmp_ps_mask(a_lse, ninf, _CMP_EQ_OQ) & (__mmask16)~skip;
        const __m512 xa = _mm512_loadu_ps(wa + w), xb = _mm512_loadu_ps(wb + w);
        for (int d = 0; d < dh; d++) {
            const __m512 va = _mm512_loadu_ps(oa + d * TILE + w);
            const __m512 vb = _mm512_loadu_ps(ob + d * TILE + w);
            __m512 r = _mm512_add_round_ps(_mm512_mul_round_ps(xa, va, R),
                                           _mm512_mul_round_ps(xb, vb, R), R);
            r = _mm512_mask_mov_ps(_mm512_mask_mov_ps(r, skip, va), take, vb);
            _mm512_storeu_ps(oa + d * TILE + w, r);
        }
        __m512 l = _mm512_loadu_ps(l_new + w);
        l = _mm512_mask_mov_ps(_mm512_mask_mov_ps(l, skip, a_lse), take, b_lse);
        _mm512_storeu_ps(la + w, l);
    }
}
#endif

void ctxpar_cpu_attention_merge_tiles(float *o_acc, float *lse_acc, const float *o_blk,
                                      const float *lse_blk, int64_t n_q, int heads,
                                      int head_dim) {
    const merge_weights_fn weights = pick_weights();
    const int64_t items = (n_q + TILE - 1) / TILE * heads;
#if defined(__x86_64__) && defined(__GNUC__)
    const int vector = weights == merge_weights_avx512;
#endif
#pragma omp parallel for schedule(static) if (n_q * heads * head_dim > (1 << 16))
    for (int64_t item = 0; item < items; item++) {
        float *oa = o_acc + item * head_dim * TILE, *la = lse_acc + item * TILE;
        const float *ob = o_blk + item * head_dim * TILE, *lb = lse_blk + item * TILE;
        float wa[TILE], wb[TILE], l_new[TILE];
        weights(la, lb, TILE, wa, wb, l_new);
#if defined(__x86_64__) && defined(__GNUC__)
        if (vector) {
            blend_tile_avx512(oa, ob, wa, wb, la, lb, l_new, head_dim);
            continue;
        }
#endif
        for (int d = 0; d < head_dim; d++)
            for (int r = 0; r < TILE; r++)
                oa[d * TILE + r] =
                    blend(oa[d * TILE + r], ob[d * TILE + r], wa[r], wb[r], la[r], lb[r]);
        for (int r = 0; r < TILE; r++)
            la[r] = lb[r] == -INFINITY ? la[r] : la[r] == -INFINITY ? lb[r] : l_new[r];
    }
}
