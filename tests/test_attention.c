/* Tiled attention and its log-sum-exp merge against a naive double
 * reference, on every SIMD path this CPU supports: random inputs, logits of
 * +-80, one-hot rows, sizes around every tile edge, n_q != n_kv, packed qkv
 * rows (ld > heads*head_dim), n_kv == 0, and splits of the keys merged back
 * in any order, which is what ring attention does. */
#include "kernels/cpu/transformer_cpu.h"
#include "attention_reference.h"
#include "test_util.h"

#include <math.h>
#include <omp.h>
#include <string.h>

enum { FILL_RANDOM, FILL_LARGE, FILL_ONE_HOT };

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
     * the softmax weights inherit ~1e-5, hence the looser large-logit tolerance. */
    const double o_tol = c->fill == FILL_RANDOM ? 2e-6 : 3e-5;
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
 * with lse = -inf) must equal attention over all keys. */
static void run_merge_case(int64_t n_q, int64_t n_kv, int heads, int dh, const int64_t *cuts,
                           int n_blocks, int reverse, uint64_t seed) {
    const int64_t width = (int64_t)heads * dh;
    float *q = malloc(sizeof(float) * (size_t)(n_q * width));
    float *kv = malloc(sizeof(float) * (size_t)(2 * n_kv * width));
    test_fill(q, n_q * width, seed, 2.0f);
    test_fill(kv, 2 * n_kv * width, seed + 1, 2.0f);
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
    char name[160];
    snprintf(name, sizeof name, "merged o (n_q=%lld n_kv=%lld blocks=%d reverse=%d)",
             (long long)n_q, (long long)n_kv, n_blocks, reverse);
    test_compare(name, o_acc, o_ref, n_q * width, 5e-6, 1e-4);
    snprintf(name, sizeof name, "merged lse (n_q=%lld n_kv=%lld blocks=%d reverse=%d)",
             (long long)n_q, (long long)n_kv, n_blocks, reverse);
    test_compare(name, lse_acc, lse_ref, heads * n_q, 1e-5, 2e-6);
    free(q), free(kv), free(o_acc), free(lse_acc), free(o_blk), free(lse_blk), free(o_ref),
        free(lse_ref);
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
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            run_case(isas[p], &cases[c], 100 + c);
        {
            const int64_t two[] = {0, 120, 333}, three[] = {0, 1, 200, 333};
            const int64_t with_empty[] = {0, 150, 150, 333};
            run_merge_case(130, 333, 2, 64, two, 2, 0, 7);
            run_merge_case(130, 333, 2, 64, three, 3, 0, 8);
            run_merge_case(130, 333, 2, 64, three, 3, 1, 9);
            run_merge_case(61, 333, 3, 32, with_empty, 3, 1, 10);
        }
    }
    ctxpar_cpu_attention_force_isa(NULL);
    ASSERT_TRUE(tested >= 1);
    ASSERT_TRUE(ctxpar_cpu_attention_force_isa("sse9") == -1);
    printf("automatic attention path: %s\n", ctxpar_cpu_attention_isa());
    return test_finish("test_attention");
}
