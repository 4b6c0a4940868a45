/* The AMX micro-kernel's tiling, checked on every machine: the kernel's body
 * (kernels/cpu/gemm_bf16_amx_micro.h) is compiled here against a C model of
 * the tile registers and run through the GEMM's own blocking loop. The
 * instructions themselves run in test_gemm_bf16_amx, which is skipped where
 * the CPU has no AMX; this test is what holds the strides, the panel
 * offsets, the k tail and the partial tiles on the machines that have none.
 *
 * The model's TDPBF16PS adds, per element, the even then the odd product of
 * each pair, pair after pair, rounding after each add (the order Intel's
 * intrinsics guide writes). The GEMM on the model must then equal, bit for
 * bit, a scalar loop in that order over each element's whole row and column
 * (any misplaced pair, row or column changes the bits), stay within float32
 * accumulation's bound of a float64 reference, and give a row the same bits
 * whether it is computed alone or among others. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_internal.h"
#include "test_util.h"

#include "amx_tile_model.h"

/* ---- the checks ---- */

static float *bf16_grid(int64_t count, uint64_t seed, float scale) {
    float *v = malloc(sizeof(float) * (size_t)(count ? count : 1));
    for (int64_t i = 0; i < count; i++)
        v[i] = ctxpar_bf16_to_f32(ctxpar_bf16_from_f32(scale * test_uniform(seed, (uint64_t)i)));
    return v;
}

/* C [m][n] = [C0 +] A W^T on the model (lda and ldc padded, so a stride
 * mistake reads or writes the wrong place). */
static float *model_gemm(int64_t m, int64_t n, int64_t k, const float *a, const float *w,
                         const float *c0) {
    const int64_t lda = (k + 1) / 2 * 2 + 6, ldc = n + 5;
    ctxpar_bf16 *ab = malloc(sizeof(ctxpar_bf16) * (size_t)(m * lda + 1));
    ctxpar_bf16 *bp = malloc(sizeof(ctxpar_bf16) * (size_t)(ctxpar_bf16_packed_count(k, n) + 1));
    float *c = malloc(sizeof(float) * (size_t)(m * ldc + 1));
    ctxpar_cpu_bf16_rows(ab, lda, a, k, m, k);
    ctxpar_bf16_pack_transposed(bp, w, k, n);
    for (int64_t i = 0; i < m * ldc; i++) c[i] = NAN;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = c0 ? c0[i * n + j] : NAN;
    ctxpar_gemm_bf16_blocked(micro_model, GEMM_AMX_MR, m, n, k, ab, lda, bp, c, ldc, c0 != NULL);
    float *out = malloc(sizeof(float) * (size_t)(m * n + 1));
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) out[i * n + j] = c[i * ldc + j];
        for (int64_t j = n; j < ldc; j++) ASSERT_TRUE(isnan(c[i * ldc + j]));
    }
    free(ab), free(bp), free(c);
    return out;
}

static void check(int64_t m, int64_t n, int64_t k, int accumulate) {
    float *a = bf16_grid(m * k, 31, 1.0f), *w = bf16_grid(n * k, 32, 0.5f);
    float *c0 = accumulate ? bf16_grid(m * n, 33, 2.0f) : NULL;
    float *got = model_gemm(m, n, k, a, w, c0);
    int64_t bad_bits = 0, bad_bound = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            /* the model's order: per pair, even product then odd */
            float ordered = c0 ? c0[i * n + j] : 0.0f;
            double exact = ordered, mag = fabs(exact);
            for (int64_t kk = 0; kk < k; kk++) {
                ordered += a[i * k + kk] * w[j * k + kk];
                exact += (double)a[i * k + kk] * w[j * k + kk];
                mag += fabs((double)a[i * k + kk] * w[j * k + kk]);
            }
            const float v = got[i * n + j];
            if (memcmp(&v, &ordered, sizeof v) != 0 && bad_bits++ < 3)
                fprintf(stderr, "  m%lld n%lld k%lld [%lld][%lld]: model %.9g, in order %.9g\n",
                        (long long)m, (long long)n, (long long)k, (long long)i, (long long)j, v,
                        ordered);
            if (!(fabs(v - exact) <= (double)(k + 1) * ldexp(1.0, -23) * mag + 1e-30))
                bad_bound++;
        }
    ASSERT_EQ_INT(bad_bits, 0);
    ASSERT_EQ_INT(bad_bound, 0);
    /* the last row alone gives the same bits as among the others */
    if (m > 1) {
        float *one = model_gemm(1, n, k, a + (m - 1) * k, w, c0 ? c0 + (m - 1) * n : NULL);
        ASSERT_EQ_INT(memcmp(one, got + (m - 1) * n, sizeof(float) * (size_t)n), 0);
        free(one);
    }
    free(a), free(w), free(c0), free(got);
}

int main(void) {
    /* whole tiles, partial rows and columns, k tails (odd k, k < 32, k not
     * a multiple of 32), several passes of GEMM_KCP pairs, k = 0 */
    const int64_t cases[][4] = {
        {32, 32, 32, 0},   {32, 32, 64, 1},  {1, 1, 1, 0},     {31, 33, 30, 0},
        {17, 16, 33, 1},   {96, 128, 96, 0}, {100, 70, 300, 1}, {97, 130, 1025, 0},
        {64, 64, 1056, 1}, {8, 40, 0, 0},    {8, 40, 0, 1},     {200, 300, 64, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(cases[i][0], cases[i][1], cases[i][2], (int)cases[i][3]);
    ASSERT_TRUE(prepared);
    return test_finish("test_gemm_bf16_amx_model");
}
