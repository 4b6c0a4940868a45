/* Tiled attention and its log-sum-exp merge against a naive double
 * reference, on every SIMD path this CPU supports: random inputs, logits of
 * +-80, one-hot rows, sizes around every tile edge, n_q != n_kv, packed qkv
 * rows (ld > heads*head_dim), n_kv == 0, and splits of the keys merged back
 * in any order, which is what ring attention does (docs/design.md, section
 * "Parallel decomposition").
 *
 * The regimes that break a naive softmax are driven on purpose: logits near
 * +300 and near -300 (exp overflows or underflows float32, so only a path
 * that subtracts the running maximum survives), key blocks where one block
 * holds all the weight, blocks whose logits lie hundreds below the others,
 * empty blocks (lse = -inf), and the merge kernel alone on lse values of
 * +-140. lse is checked against the double reference everywhere. */
#include "kernels/cpu/transformer_cpu.h"
#include "attention_reference.h"
#include "test_util.h"

#include <math.h>
#include <omp.h>
#include <string.h>

enum { FILL_RANDOM, FILL_LARGE, FILL_ONE_HOT, FILL_HUGE, FILL_NEGATIVE };

/* A fixed +-1 pattern per (head, dim): queries and keys built as
 * alpha*sign + noise have logits scale*q.k ~ alpha^2*sqrt(dh) with a spread
 * of a few units, so the softmax is well spread yet sits far from 0. */
static float pattern_sign(int hh, int d) { return test_uniform(77, (uint64_t)(hh * 4096 + d)) < 0 ? -1.0f : 1.0f; }

/* Adds alpha*sign(hh, d)*direction to rows [0, n) of x (width heads*dh);
 * direction +1 aligns with the queries, -1 opposes them, 0 leaves noise. */
static void add_pattern(float *x, int64_t ld, int64_t n, int heads, int dh, float alpha,
                        float direction) {
    for (int64_t i = 0; i < n; i++)
        for (int hh = 0; hh < heads; hh++)
            for (int d = 0; d < dh; d++)
                x[i * ld + hh * dh + d] += direction * alpha * pattern_sign(hh, d);
}

/* alpha with alpha^2*sqrt(dh) = |logit|: the logit level of the pattern. */
static float pattern_alpha(int dh, float logit) { return sqrtf(logit / sqrtf((float)dh)); }

struct attn_case {
    int64_t n_q, n_kv;
    int heads, dh;
    int packed; /* q, k, v interleaved in [n][3*heads*dh + pad] rows */
    int fill;
    int threads;
};

/* Builds inputs for `c` with seed `seed`; returns q, k, v pointers into one
 * block (freed by the caller through *block) and their strides. */
static void make_inputs(const struct attn_case *c, uint64_t seed, float **block, const float **q,
                        int64_t *ldq, const float **k, int64_t *ldk, const float **v,
                        int64_t *ldv) {
    const int64_t width = (int64_t)c->heads * c->dh;
    const int64_t n_max = c->n_q > c->n_kv ? c->n_q : c->n_kv;
    if (c->packed) {
        const int64_t ld = 3 * width + 5; /* odd padding: rows are not aligned */
        float *b = malloc(sizeof(float) * (size_t)(n_max * ld + 1));
        test_fill(b, n_max * ld + 1, seed, 1.0f);
        *block = b, *q = b, *k = b + width, *v = b + 2 * width;
        *ldq = *ldk = *ldv = ld;
    } else {
        const int64_t ld = width;
        float *b = malloc(sizeof(float) * (size_t)((c->n_q + 2 * c->n_kv) * ld + 1));
        test_fill(b, (c->n_q + 2 * c->n_kv) * ld + 1, seed, 1.0f);
        *block = b, *q = b, *k = b + c->n_q * ld, *v = b + (c->n_q + c->n_kv) * ld;
        *ldq = *ldk = *ldv = ld;
    }
    float *qw = (float *)*q, *kw = (float *)*k;
    /* scale*q.k has standard deviation amp^2/3 for uniform q, k: amp^2 = 80
     * puts the largest logits of a row near +-80. */
    const float amp = sqrtf(80.0f);
    if (c->fill == FILL_LARGE) {
        /* q.k/sqrt(dh) of order 80: the softmax is nearly one-hot and a path
         * that forgot the running max would overflow. */
        for (int64_t i = 0; i < c->n_q; i++)
            for (int64_t d = 0; d < width; d++) qw[i * *ldq + d] *= amp;
        for (int64_t j = 0; j < c->n_kv; j++)
            for (int64_t d = 0; d < width; d++) kw[j * *ldk + d] *= amp;
    } else if (c->fill == FILL_ONE_HOT) {
        /* q_i = a e_{i mod dh}, k_j = a e_{j mod dh}: row i puts logit 80 on
         * keys j == i (mod dh) and 0 everywhere else. */
        const float a = sqrtf(80.0f * sqrtf((float)c->dh));
        for (int64_t i = 0; i < c->n_q; i++)
            for (int hh = 0; hh < c->heads; hh++)
                for (int d = 0; d < c->dh; d++)
                    qw[i * *ldq + hh * c->dh + d] = d == (i + hh) % c->dh ? a : 0.0f;
        for (int64_t j = 0; j < c->n_kv; j++)
            for (int hh = 0; hh < c->heads; hh++)
                for (int d = 0; d < c->dh; d++)
                    kw[j * *ldk + hh * c->dh + d] = d == j % c->dh ? a : 0.0f;
    } else if (c->fill == FILL_HUGE || c->fill == FILL_NEGATIVE) {
        /* logits near +300 (lse in the hundreds: exp overflows float32) or
         * near -300 (every exp underflows to 0 in float32). */
        const float alpha = pattern_alpha(c->dh, 300.0f);
        add_pattern(qw, *ldq, c->n_q, c->heads, c->dh, alpha, 1.0f);
        add_pattern(kw, *ldk, c->n_kv, c->heads, c->dh, alpha,
                    c->fill == FILL_HUGE ? 1.0f : -1.0f);
    }
}

static void run_case(const char *isa, const struct attn_case *c, uint64_t seed) {
    float *block;
    const float *q, *k, *v;
    int64_t ldq, ldk, ldv;
    make_inputs(c, seed, &block, &q, &ldq, &k, &ldk, &v, &ldv);
    const int64_t width = (int64_t)c->heads * c->dh, ldo = width + 3;
    const float scale = 1.0f / sqrtf((float)c->dh);
    float *o = malloc(sizeof(float) * (size_t)(c->n_q * ldo));
    float *lse = malloc(sizeof(float) * (size_t)(c->heads * c->n_q));
    double *o_ref = malloc(sizeof(double) * (size_t)(c->n_q * width));
    double *lse_ref = malloc(sizeof(double) * (size_t)(c->heads * c->n_q));
    for (int64_t i = 0; i < c->n_q * ldo; i++) o[i] = 12345.0f; /* sentinel */

    omp_set_num_threads(c->threads);
    ctxpar_cpu_attention(q, ldq, k, ldk, v, ldv, o, ldo, lse, c->n_q, c->n_kv, c->heads, c->dh,
                         scale);
    ref_attention(q, ldq, k, ldk, v, ldv, c->n_q, c->n_kv, c->heads, c->dh, scale, o_ref,
                  lse_ref);

    char what[160];
    snprintf(what, sizeof what, "%s n_q=%lld n_kv=%lld heads=%d dh=%d packed=%d fill=%d thr=%d",
             isa, (long long)c->n_q, (long long)c->n_kv, c->heads, c->dh, c->packed, c->fill,
             c->threads);
    float *o_dense = malloc(sizeof(float) * (size_t)(c->n_q * width));
    int64_t sentinel_bad = 0;
    for (int64_t i = 0; i < c->n_q; i++) {
        memcpy(o_dense + i * width, o + i * ldo, sizeof(float) * (size_t)width);
        for (int64_t p = width; p < ldo; p++) sentinel_bad += o[i * ldo + p] != 12345.0f;
    }
    if (sentinel_bad) fprintf(stderr, "%s: wrote %lld padding elements\n", what, (long long)sentinel_bad);
    ASSERT_EQ_INT(sentinel_bad, 0);
    /* fp32 logits carry a relative error ~1e-7 * |logit|; at |logit| = 80
     * the softmax weights inherit ~1e-5, hence the looser large-logit
     * tolerance, and at |logit| = 300 (q.k summed from terms of ~40) ~1e-4. */
    const double o_tol = c->fill == FILL_RANDOM                                ? 2e-6
                         : (c->fill == FILL_HUGE || c->fill == FILL_NEGATIVE) ? 2e-4
                                                                               : 3e-5;
    char name[200];
    if (c->n_kv > 0) {
        snprintf(name, sizeof name, "o [%s]", what);
        test_compare(name, o_dense, o_ref, c->n_q * width, o_tol, 1e-4);
        snprintf(name, sizeof name, "lse [%s]", what);
        test_compare(name, lse, lse_ref, c->heads * c->n_q, 1e-5, 2e-6);
    } else {
        int64_t bad = 0;
        for (int64_t i = 0; i < c->n_q * width; i++) bad += o_dense[i] != 0.0f;
        for (int64_t r = 0; r < c->heads * c->n_q; r++) bad += lse[r] != -INFINITY;
        if (bad) fprintf(stderr, "%s: n_kv == 0 must give o = 0, lse = -inf\n", what);
        ASSERT_EQ_INT(bad, 0);
    }
    free(o_dense), free(o), free(lse), free(o_ref), free(lse_ref), free(block);
}

/* Keys split into blocks at `cuts`, each block attended separately and
 * merged (in the given order, starting from an accumulator of NaN garbage
 * with lse = -inf) must equal attention over all keys. With block_dir, the
 * queries carry the logit-300 pattern and block b's keys carry it times
 * block_dir[b]: +1 puts that block's logits near +300, -1 near -300, 0
 * leaves them near 0, so one block can dominate or lie far below the rest. */
static void run_merge_case(int64_t n_q, int64_t n_kv, int heads, int dh, const int64_t *cuts,
                           int n_blocks, int reverse, const float *block_dir, uint64_t seed) {
    const int64_t width = (int64_t)heads * dh;
    float *q = malloc(sizeof(float) * (size_t)(n_q * width));
    float *kv = malloc(sizeof(float) * (size_t)(2 * n_kv * width));
    test_fill(q, n_q * width, seed, 2.0f);
    test_fill(kv, 2 * n_kv * width, seed + 1, 2.0f);
    if (block_dir) {
        const float alpha = pattern_alpha(dh, 300.0f);
        add_pattern(q, width, n_q, heads, dh, alpha, 1.0f);
        for (int b = 0; b < n_blocks; b++)
            add_pattern(kv + cuts[b] * width, width, cuts[b + 1] - cuts[b], heads, dh, alpha,
                        block_dir[b]);
    }
    const float *k = kv, *v = kv + n_kv * width;
    const float scale = 1.0f / sqrtf((float)dh);
    float *o_acc = malloc(sizeof(float) * (size_t)(n_q * width));
    float *lse_acc = malloc(sizeof(float) * (size_t)(heads * n_q));
    float *o_blk = malloc(sizeof(float) * (size_t)(n_q * width));
    float *lse_blk = malloc(sizeof(float) * (size_t)(heads * n_q));
    for (int64_t i = 0; i < n_q * width; i++) o_acc[i] = NAN;
    for (int64_t r = 0; r < heads * n_q; r++) lse_acc[r] = -INFINITY;
    for (int b = 0; b < n_blocks; b++) {
        const int bb = reverse ? n_blocks - 1 - b : b;
        const int64_t j0 = cuts[bb], j1 = cuts[bb + 1];
        ctxpar_cpu_attention(q, width, k + j0 * width, width, v + j0 * width, width, o_blk, width,
                             lse_blk, n_q, j1 - j0, heads, dh, scale);
        ctxpar_cpu_attention_merge(o_acc, width, lse_acc, o_blk, width, lse_blk, n_q, heads, dh);
    }
    double *o_ref = malloc(sizeof(double) * (size_t)(n_q * width));
    double *lse_ref = malloc(sizeof(double) * (size_t)(heads * n_q));
    ref_attention(q, width, k, width, v, width, n_q, n_kv, heads, dh, scale, o_ref, lse_ref);
    char dirs[64] = "random";
    if (block_dir) {
        int at = snprintf(dirs, sizeof dirs, "dirs");
        for (int b = 0; b < n_blocks && at < (int)sizeof dirs - 4; b++)
            at += snprintf(dirs + at, sizeof dirs - (size_t)at, " %+.0f", block_dir[b]);
    }
    /* logits of +-300: ~1e-4 in the softmax weights (see run_case) */
    const double o_tol = block_dir ? 2e-4 : 5e-6;
    char name[200];
    snprintf(name, sizeof name, "merged o (n_q=%lld n_kv=%lld blocks=%d reverse=%d %s)",
             (long long)n_q, (long long)n_kv, n_blocks, reverse, dirs);
    test_compare(name, o_acc, o_ref, n_q * width, o_tol, 1e-4);
    snprintf(name, sizeof name, "merged lse (n_q=%lld n_kv=%lld blocks=%d reverse=%d %s)",
             (long long)n_q, (long long)n_kv, n_blocks, reverse, dirs);
    test_compare(name, lse_acc, lse_ref, heads * n_q, 1e-5, 2e-6);
    free(q), free(kv), free(o_acc), free(lse_acc), free(o_blk), free(lse_blk), free(o_ref),
        free(lse_ref);
}

/* The merge kernel alone, on partial results whose lse values sit around
 * +-140: exp(140) overflows float32 and exp(-140) underflows to 0, so a
 * merge that forms exp(lse) without subtracting the larger lse gives inf,
 * 0/0 or -inf here. Pairs include equal values, one side far above the
 * other, one side -inf (an empty block), both -inf, and a NaN on either
 * side (which must reach the row). */
static void run_merge_kernel_lse(void) {
    enum { HEADS = 2, DH = 32, WIDTH = HEADS * DH };
    static const float pairs[][2] = {
        {140.0f, 140.0f},   {140.0f, 139.25f},   {-140.0f, -140.0f}, {-140.0f, -141.5f},
        {140.0f, -140.0f},  {-140.0f, 140.0f},   {0.5f, 140.0f},     {-139.0f, 0.0f},
        {88.75f, 88.75f},   {-104.0f, -103.5f},  {141.0f, 141.0f},   {-141.0f, -138.0f},
        {-INFINITY, 140.0f}, {140.0f, -INFINITY}, {-INFINITY, -140.0f}, {-140.0f, -INFINITY},
        {-INFINITY, -INFINITY}, {NAN, 1.0f}, {1.0f, NAN},
    };
    const int n_pairs = (int)(sizeof pairs / sizeof pairs[0]);
    const int64_t n_q = 3 * n_pairs; /* every pair three times, at both heads */
    float *o_acc = malloc(sizeof(float) * (size_t)(n_q * WIDTH));
    float *o_blk = malloc(sizeof(float) * (size_t)(n_q * WIDTH));
    float *lse_acc = malloc(sizeof(float) * (size_t)(HEADS * n_q));
    float *lse_blk = malloc(sizeof(float) * (size_t)(HEADS * n_q));
    double *o_ref = malloc(sizeof(double) * (size_t)(n_q * WIDTH));
    double *lse_ref = malloc(sizeof(double) * (size_t)(HEADS * n_q));
    char *is_nan = malloc((size_t)(HEADS * n_q));
    test_fill(o_acc, n_q * WIDTH, 41, 1.0f);
    test_fill(o_blk, n_q * WIDTH, 42, 1.0f);
    for (int64_t i = 0; i < n_q; i++)
        for (int hh = 0; hh < HEADS; hh++) {
            const int p = (int)((i + hh) % n_pairs);
            const double la = pairs[p][0], lb = pairs[p][1];
            is_nan[hh * n_q + i] = isnan(la) || isnan(lb);
            lse_acc[hh * n_q + i] = pairs[p][0];
            lse_blk[hh * n_q + i] = pairs[p][1];
            const double hi = la > lb ? la : lb;
            const double lse = hi == -INFINITY ? -INFINITY : hi + log(exp(la - hi) + exp(lb - hi));
            const double wa = hi == -INFINITY ? 1.0 : exp(la - lse);
            const double wb = hi == -INFINITY ? 0.0 : exp(lb - lse);
            lse_ref[hh * n_q + i] = lse;
            for (int d = 0; d < DH; d++) {
                const int64_t at = i * WIDTH + hh * DH + d;
                o_ref[at] = wa * o_acc[at] + wb * o_blk[at];
            }
        }
    ctxpar_cpu_attention_merge(o_acc, WIDTH, lse_acc, o_blk, WIDTH, lse_blk, n_q, HEADS, DH);
    /* a NaN lse (either side) makes its row's lse and outputs NaN: checked
     * here, then those rows are set to the reference for the comparisons */
    int64_t nan_lost = 0;
    for (int64_t i = 0; i < n_q; i++)
        for (int hh = 0; hh < HEADS; hh++) {
            if (!is_nan[hh * n_q + i]) continue;
            nan_lost += !isnan(lse_acc[hh * n_q + i]);
            lse_acc[hh * n_q + i] = 0.0f, lse_ref[hh * n_q + i] = 0.0;
            for (int d = 0; d < DH; d++) {
                const int64_t at = i * WIDTH + hh * DH + d;
                nan_lost += !isnan(o_acc[at]);
                o_acc[at] = 0.0f, o_ref[at] = 0.0;
            }
        }
    if (nan_lost) fprintf(stderr, "merge kernel: %lld values lost a NaN lse\n", (long long)nan_lost);
    ASSERT_EQ_INT(nan_lost, 0);
    test_compare("merge kernel o (lse +-140)", o_acc, o_ref, n_q * WIDTH, 2e-5, 1e-5);
    /* rows with both sides -inf must stay -inf; test_compare fails on any
     * non-finite value, so those rows are checked on their own. */
    int64_t bad_inf = 0;
    for (int64_t r = 0; r < HEADS * n_q; r++)
        if (lse_ref[r] == -INFINITY) {
            bad_inf += lse_acc[r] != -INFINITY;
            lse_acc[r] = 0.0f, lse_ref[r] = 0.0;
        }
    if (bad_inf) fprintf(stderr, "merge kernel: %lld rows with both lse -inf changed\n", (long long)bad_inf);
    ASSERT_EQ_INT(bad_inf, 0);
    test_compare("merge kernel lse (lse +-140)", lse_acc, lse_ref, HEADS * n_q, 1e-6, 1e-6);
    free(o_acc), free(o_blk), free(lse_acc), free(lse_blk), free(o_ref), free(lse_ref);
    free(is_nan);
}

int main(void) {
    static const char *const isas[] = {"portable", "avx2", "avx512"};
    int tested = 0;
    for (size_t p = 0; p < sizeof isas / sizeof isas[0]; p++) {
        if (ctxpar_cpu_attention_force_isa(isas[p]) != 0) {
            printf("attention path %s: not supported on this CPU, skipped\n", isas[p]);
            continue;
        }
        ASSERT_TRUE(strcmp(ctxpar_cpu_attention_isa(), isas[p]) == 0);
        tested++;
        const struct attn_case cases[] = {
            /* n_q, n_kv, heads, dh, packed, fill, threads */
            {100, 77, 2, 32, 0, FILL_RANDOM, 1},
            {100, 77, 2, 64, 0, FILL_RANDOM, 1},
            {100, 77, 2, 128, 0, FILL_RANDOM, 1},
            {100, 77, 2, 80, 0, FILL_RANDOM, 1}, /* ViT-H's head dim (V-JEPA 2) */
            {193, 131, 3, 80, 1, FILL_RANDOM, 2},
            {150, 333, 2, 80, 0, FILL_LARGE, 1},
            {1, 1, 1, 64, 0, FILL_RANDOM, 1},
            {1, 300, 2, 64, 0, FILL_RANDOM, 1},
            {300, 1, 2, 32, 0, FILL_RANDOM, 1},
            /* around the sub-block (24/48), query tile (64/192) and key tile (64) edges */
            {47, 63, 1, 64, 0, FILL_RANDOM, 1},
            {48, 64, 1, 64, 0, FILL_RANDOM, 1},
            {49, 65, 1, 64, 0, FILL_RANDOM, 1},
            {191, 129, 1, 32, 0, FILL_RANDOM, 1},
            {192, 128, 1, 32, 0, FILL_RANDOM, 1},
            {193, 131, 1, 32, 0, FILL_RANDOM, 1},
            {385, 200, 3, 64, 1, FILL_RANDOM, 2},
            {130, 250, 4, 128, 1, FILL_RANDOM, 2},
            {70, 90, 2, 48, 1, FILL_RANDOM, 1}, /* any multiple of 16 */
            {150, 333, 2, 64, 0, FILL_LARGE, 1},
            {150, 333, 2, 128, 1, FILL_LARGE, 2},
            {97, 200, 2, 32, 0, FILL_ONE_HOT, 1},
            {97, 200, 2, 64, 1, FILL_ONE_HOT, 1},
            {50, 0, 2, 64, 1, FILL_RANDOM, 1},
            /* lse near +300 and near -300: float32 exp overflows / underflows */
            {150, 333, 2, 64, 0, FILL_HUGE, 1},
            {130, 250, 2, 128, 1, FILL_HUGE, 2},
            {150, 333, 2, 64, 0, FILL_NEGATIVE, 1},
            {97, 200, 2, 32, 1, FILL_NEGATIVE, 1},
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            run_case(isas[p], &cases[c], 100 + c);
        {
            const int64_t two[] = {0, 120, 333}, three[] = {0, 1, 200, 333};
            const int64_t with_empty[] = {0, 150, 150, 333};
            run_merge_case(130, 333, 2, 64, two, 2, 0, NULL, 7);
            run_merge_case(130, 333, 2, 64, three, 3, 0, NULL, 8);
            run_merge_case(130, 333, 2, 64, three, 3, 1, NULL, 9);
            run_merge_case(61, 333, 3, 32, with_empty, 3, 1, NULL, 10);
            /* every block near +300; every block near -300 */
            static const float all_up[] = {1, 1, 1}, all_down[] = {-1, -1, -1};
            run_merge_case(130, 333, 2, 64, three, 3, 0, all_up, 11);
            run_merge_case(130, 333, 2, 64, three, 3, 1, all_down, 12);
            /* one block holds all the weight (lse ~300 against ~6), merged
             * first or last; one block ~600 below the others; an empty one */
            static const float first_wins[] = {1, 0, 0}, last_wins[] = {0, 0, 1};
            static const float one_sunk[] = {0, -1, 0}, sunk_and_empty[] = {-1, 0, 1};
            run_merge_case(130, 333, 2, 64, three, 3, 0, first_wins, 13);
            run_merge_case(130, 333, 2, 64, three, 3, 0, last_wins, 14);
            run_merge_case(61, 333, 3, 32, three, 3, 1, one_sunk, 15);
            run_merge_case(61, 333, 3, 32, with_empty, 3, 0, sunk_and_empty, 16);
        }
        run_merge_kernel_lse(); /* the merge's weights follow the forced path */
    }
    ctxpar_cpu_attention_force_isa(NULL);
    ASSERT_TRUE(tested >= 1);
    ASSERT_TRUE(ctxpar_cpu_attention_force_isa("sse9") == -1);
    printf("automatic attention path: %s\n", ctxpar_cpu_attention_isa());
    return test_finish("test_attention");
}
