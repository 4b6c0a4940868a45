/* The bf16 attention kernels against the naive float64 attention
 * (attention_reference.h) on the same float inputs, one path per run:
 * `test_attention_bf16 avx512bf16` (attention_bf16.c; exits 77, "skipped:
 * no AVX512-BF16", where the CPU lacks it) and `test_attention_bf16 gemm`
 * (the flash attention on the bf16 GEMM, attention_bf16_gemm.c, which AMX
 * machines run; here on whatever path the GEMM takes, so on every CPU). The
 * gemm path also takes odd head dims, and a query's result must not depend
 * on the query count of the call; it runs once per softmax step this CPU
 * has (AVX-512, AVX2, scalar; "skipped" for the others).
 *
 * Bound: bf16 rounds q, k, v and p with relative error 2^-9 each, so an
 * output is off by about 2^-8 of the largest |v| it averages; the test holds
 * 1e-2 * max|v| on the outputs and 2e-2 on the log-sum-exp (logits of size
 * ~4 here), and separately asserts that the error is bf16's, not float32's,
 * so a kernel that quietly ran the float32 path fails. Shapes: odd key
 * counts (the zero pair), a last key block of one key, query counts off the
 * query tiles, head dims 32, 48, 64, 70 (off the 16-lane vector), 80 and
 * 128, several threads, strided rows (q, k, v in one qkv). On every path a
 * query's result must not depend on the other queries of the call (the
 * ring slices its queries). The ring's tiled form (queries and K/V
 * prepared once per block, partials kept and merged in tiles) gives the
 * same bits as the row kernel and the rows' merge, over two key sets and a
 * set of none. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/transformer_cpu.h"
#include "attention_reference.h"
#include "test_util.h"

static void run_case(int64_t n_q, int64_t n_kv, int heads, int dh, int threads) {
    const int64_t hd = (int64_t)heads * dh, ld = 3 * hd; /* q | k | v rows, as a qkv buffer */
    const int64_t rows = n_q > n_kv ? n_q : n_kv;
    float *qkv = malloc(sizeof(float) * (size_t)(rows * ld));
    test_fill(qkv, rows * ld, (uint64_t)(n_q * 131 + n_kv * 7 + dh), 1.0f);
    float *o = malloc(sizeof(float) * (size_t)(n_q * hd)), *lse = malloc(sizeof(float) * (size_t)(heads * n_q));
    double *o_ref = malloc(sizeof(double) * (size_t)(n_q * hd));
    double *lse_ref = malloc(sizeof(double) * (size_t)(heads * n_q));
    const float scale = 2.0f / sqrtf((float)dh); /* logits up to ~4: a softmax with contrast */
    omp_set_num_threads(threads);
    ctxpar_cpu_attention_bf16(qkv, ld, qkv + hd, ld, qkv + 2 * hd, ld, o, hd, lse, n_q, n_kv,
                              heads, dh, scale);
    ref_attention(qkv, ld, qkv + hd, ld, qkv + 2 * hd, ld, n_q, n_kv, heads, dh, scale, o_ref,
                  lse_ref);
    char what[96];
    snprintf(what, sizeof what, "bf16 attention n_q %lld n_kv %lld heads %d dh %d",
             (long long)n_q, (long long)n_kv, heads, dh);
    test_compare(what, o, o_ref, n_q * hd, 1e-2, 0.0);
    test_compare(what, lse, lse_ref, heads * n_q, 2e-2, 0.0);
    double worst = 0;
    for (int64_t i = 0; i < n_q * hd; i++) worst = fmax(worst, fabs(o[i] - o_ref[i]));
    if (n_kv > 8 && worst < 1e-5) {
        fprintf(stderr, "%s: max error %.3g is float32's, not bf16's\n", what, worst);
        test_failures++;
    }
    free(qkv), free(o), free(lse), free(o_ref), free(lse_ref);
}

/* The last query alone gives the same bits as among the others. */
static void check_row_alone(int64_t n_q, int64_t n_kv, int heads, int dh) {
    const int64_t hd = (int64_t)heads * dh, ld = 3 * hd;
    const int64_t rows = n_q > n_kv ? n_q : n_kv;
    float *qkv = malloc(sizeof(float) * (size_t)(rows * ld));
    test_fill(qkv, rows * ld, 99, 1.0f);
    float *o = malloc(sizeof(float) * (size_t)(n_q * hd)), *lse = malloc(sizeof(float) * (size_t)(heads * n_q));
    float *o1 = malloc(sizeof(float) * (size_t)hd), *lse1 = malloc(sizeof(float) * (size_t)heads);
    const float scale = 1.0f / sqrtf((float)dh);
    ctxpar_cpu_attention_bf16(qkv, ld, qkv + hd, ld, qkv + 2 * hd, ld, o, hd, lse, n_q, n_kv,
                              heads, dh, scale);
    ctxpar_cpu_attention_bf16(qkv + (n_q - 1) * ld, ld, qkv + hd, ld, qkv + 2 * hd, ld, o1, hd,
                              lse1, 1, n_kv, heads, dh, scale);
    ASSERT_EQ_INT(memcmp(o1, o + (n_q - 1) * hd, sizeof(float) * (size_t)hd), 0);
    for (int h = 0; h < heads; h++) ASSERT_TRUE(lse1[h] == lse[h * n_q + n_q - 1]);
    free(qkv), free(o), free(lse), free(o1), free(lse1);
}

/* lse of tiles ([tile][head][64]) as the rows' [heads][n_q]. */
static void lse_tiles_to_rows(float *lse, const float *lse_tiles, int64_t n_q, int heads) {
    for (int64_t i = 0; i < n_q; i++)
        for (int h = 0; h < heads; h++)
            lse[h * n_q + i] = lse_tiles[(i / CTXPAR_ATTENTION_TILE_ROWS * heads + h) *
                                             CTXPAR_ATTENTION_TILE_ROWS +
                                         i % CTXPAR_ATTENTION_TILE_ROWS];
}

/* The ring's tiled form (queries and K/V prepared once, outputs kept in
 * tiles, merged there, turned into rows at the end) equals the row form
 * (plain calls, the rows' merge), bit for bit: each of two key sets (the
 * ring's granules, prepared one after the other) alone, their merge, and
 * merges with a side that saw no keys (lse -inf) both ways. Queries
 * strided in a qkv. */
static void check_tiles(int64_t n_q, int64_t n_kv, int heads, int dh) {
    const int64_t hd = (int64_t)heads * dh, ld = 3 * hd;
    const int64_t rows = n_q > 2 * n_kv ? n_q : 2 * n_kv;
    float *qkv = malloc(sizeof(float) * (size_t)(rows * ld));
    test_fill(qkv, rows * ld, 17, 1.0f);
    const int64_t values = ctxpar_cpu_attention_bf16_queries_values(n_q, heads, dh);
    const int dp = !strcmp(ctxpar_cpu_attention_bf16_path(dh), "avx512bf16");
    ASSERT_TRUE(dp ? values >= n_q * hd : values == 0);
    if (!values) { /* the gemm path has no tiled form: the ring calls the row kernel */
        free(qkv);
        return;
    }
    const int64_t padded = (n_q + CTXPAR_ATTENTION_TILE_ROWS - 1) / CTXPAR_ATTENTION_TILE_ROWS * CTXPAR_ATTENTION_TILE_ROWS;
    ctxpar_bf16 *qp = malloc(sizeof(ctxpar_bf16) * (size_t)values);
    ctxpar_cpu_attention_bf16_prepare_queries(qp, qkv, ld, n_q, heads, dh, 0.125f);
    float *o[3], *lse[3], *ot[3], *lt[3];
    for (int i = 0; i < 3; i++) {
        o[i] = malloc(sizeof(float) * (size_t)(n_q * hd));
        lse[i] = malloc(sizeof(float) * (size_t)(heads * n_q));
        ot[i] = malloc(sizeof(float) * (size_t)(padded * hd));
        lt[i] = malloc(sizeof(float) * (size_t)(padded * heads));
    }
    float *o_got = malloc(sizeof(float) * (size_t)(n_q * hd)), *lse_got = malloc(sizeof(float) * (size_t)(heads * n_q));
#define SAME_AS(i)                                                                          \
    do {                                                                                    \
        ctxpar_cpu_attention_tiles_to_rows(o_got, hd, ot[i], n_q, heads, dh);               \
        lse_tiles_to_rows(lse_got, lt[i], n_q, heads);                                      \
        ASSERT_EQ_INT(memcmp(o_got, o[i], sizeof(float) * (size_t)(n_q * hd)), 0);          \
        ASSERT_EQ_INT(memcmp(lse_got, lse[i], sizeof(float) * (size_t)(heads * n_q)), 0);   \
    } while (0)
    /* both key sets prepared one after the other in one buffer, as a
     * block's granules are */
    const int64_t kv_values = ctxpar_cpu_attention_bf16_kv_values(n_kv, heads, dh);
    ASSERT_TRUE(kv_values % 32 == 0 && kv_values >= 2 * n_kv * hd);
    ctxpar_bf16 *kvp = aligned_alloc(64, sizeof(ctxpar_bf16) * (size_t)(2 * kv_values));
    for (int set = 0; set < 2; set++) {
        const float *k = qkv + set * n_kv * ld + hd, *v = qkv + set * n_kv * ld + 2 * hd;
        ctxpar_cpu_attention_bf16(qkv, ld, k, ld, v, ld, o[set], hd, lse[set], n_q, n_kv, heads,
                                  dh, 0.125f);
        ctxpar_cpu_attention_bf16_prepare_kv(kvp + set * kv_values, k, ld, v, ld, n_kv, heads, dh);
        ASSERT_TRUE(ctxpar_cpu_attention_bf16_tiles(qkv, ld, qp, kvp + set * kv_values, ot[set],
                                                    lt[set], n_q, n_kv, heads, dh, 0.125f));
        SAME_AS(set);
    }
    /* no keys: zeros and -inf, as the row kernels give */
    ctxpar_cpu_attention_bf16(qkv, ld, qkv + hd, ld, qkv + 2 * hd, ld, o[2], hd, lse[2], n_q, 0,
                              heads, dh, 0.125f);
    ASSERT_TRUE(ctxpar_cpu_attention_bf16_tiles(qkv, ld, qp, kvp, ot[2], lt[2], n_q, 0, heads, dh,
                                                0.125f));
    SAME_AS(2);
    /* set 0 <- set 1; then the empty one into it (nothing changes); then
     * it into the empty one (taken as it is) */
    ctxpar_cpu_attention_merge(o[0], hd, lse[0], o[1], hd, lse[1], n_q, heads, dh);
    ctxpar_cpu_attention_merge_tiles(ot[0], lt[0], ot[1], lt[1], n_q, heads, dh);
    SAME_AS(0);
    ctxpar_cpu_attention_merge(o[0], hd, lse[0], o[2], hd, lse[2], n_q, heads, dh);
    ctxpar_cpu_attention_merge_tiles(ot[0], lt[0], ot[2], lt[2], n_q, heads, dh);
    SAME_AS(0);
    ctxpar_cpu_attention_merge(o[2], hd, lse[2], o[0], hd, lse[0], n_q, heads, dh);
    ctxpar_cpu_attention_merge_tiles(ot[2], lt[2], ot[0], lt[0], n_q, heads, dh);
    SAME_AS(2);
#undef SAME_AS
    for (int i = 0; i < 3; i++) free(o[i]), free(lse[i]), free(ot[i]), free(lt[i]);
    free(qkv), free(qp), free(kvp), free(o_got), free(lse_got);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "avx512bf16";
    if (ctxpar_cpu_attention_bf16_force_path(path) != 0) {
        printf("skipped: no AVX512-BF16 (the %s bf16 attention would hand over to the float32 "
               "kernel)\n", path);
        return 77;
    }
    printf("bf16 attention path %s (bf16 GEMM path %s)\n", ctxpar_cpu_attention_bf16_path(64),
           ctxpar_cpu_gemm_bf16_path());
    const char *const steps[] = {"avx512", "avx2", "scalar"};
    const int n_steps = !strcmp(path, "gemm") ? 3 : 1;
    for (int i = 0; i < n_steps; i++) {
        if (!strcmp(path, "gemm")) {
            if (ctxpar_attention_bf16_gemm_force_softmax(steps[i]) != 0) {
                printf("softmax step %s: skipped (not on this CPU)\n", steps[i]);
                continue;
            }
            printf("softmax step %s\n", steps[i]);
        }
        run_case(100, 77, 2, 32, 1);
        run_case(64, 64, 2, 64, 2);
        run_case(130, 301, 3, 64, 2);
        run_case(5, 1, 1, 64, 1);
        run_case(70, 129, 2, 80, 2);
        run_case(200, 256, 2, 128, 2);
        run_case(61, 65, 3, 48, 2);  /* a key block of one key */
        run_case(97, 200, 2, 70, 1); /* a head dim off the 16-lane vector */
        if (!strcmp(path, "gemm")) run_case(66, 300, 2, 33, 2); /* odd head dim: the GEMM pads its pairs */
        check_row_alone(70, 200, 2, 64);
        check_row_alone(53, 77, 2, 80);
    }
    check_tiles(130, 100, 3, 64); /* query tiles of 64, the last partial */
    check_tiles(40, 33, 2, 70);
    check_tiles(64, 256, 16, 64); /* a V-JEPA 2 ViT-L granule, one tile */
    ctxpar_attention_bf16_gemm_force_softmax(NULL);
    return test_finish("test_attention_bf16");
}
