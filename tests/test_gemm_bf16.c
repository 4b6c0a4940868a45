/* The bf16 GEMM and conversions (kernels/cpu/gemm_bf16.h), one path per run:
 * `test_gemm_bf16 PATH` forces PATH and exits 77 ("skipped: no ...") where
 * this CPU lacks it, so CTest shows the path as skipped, never as passed.
 *
 * Checked on every path:
 * - conversion: round to nearest even, ties, denormals, NaN, infinities,
 *   against the bit rule written out here, and vector == scalar;
 * - products against a float64 reference over the same bf16 inputs, within
 *   float32 accumulation's bound (k * 2^-23 * sum |a||b|);
 * - bit-identical results to the portable path (AMX: to a repeat of
 *   itself, its instruction adding in its own order), and a row's result
 *   independent of how many rows and columns surround it (what makes rank
 *   counts and chunking invisible);
 * - odd k, partial tiles, k = 0, accumulate onto C, both packings;
 * - the packing itself, value for value against the layout written out
 *   here (both strides, odd k, partial panels, several blocks of pairs,
 *   NaN, infinities and denormals among the values);
 * - the bf16 linear over several conversion chunks, with and without bias,
 *   against float64 and row for row against one GEMM over all rows;
 * - the linear on a weight read in place (ctxpar_cpu_linear_bf16_rows, its
 *   rows in one or several pieces as a checkpoint holds them): bit for bit
 *   the packed weight's linear (AMX: within the float64 bound), through
 *   the vector token packing (in a multiple of 32) and the generic one,
 *   partial tiles and transposed blocks, and on VDPBF16PS with subnormal
 *   weights among them (the hardware flushes them as the packing does). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu_features.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/kernels_cpu.h"
#include "test_util.h"

static uint32_t bits_of(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}
static float float_of(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static void test_conversion(void) {
    /* value -> expected bf16 bits */
    const struct {
        uint32_t in;
        uint16_t out;
    } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1 */
        {0x3f808000u, 0x3f80}, /* tie, even below: stays */
        {0x3f818000u, 0x3f82}, /* tie, odd below: rounds up */
        {0x3f808001u, 0x3f81}, /* just above the tie */
        {0x3f807fffu, 0x3f80}, /* just below */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to infinity */
        {0x7f800000u, 0x7f80}, /* +inf */
        {0xff800000u, 0xff80}, /* -inf */
        {0x7fc00001u, 0x7fc0}, /* quiet NaN stays NaN */
        {0x7f800001u, 0x7fc0}, /* signalling NaN made quiet, not infinity */
        {0x00400000u, 0x0000}, /* denormal flushed */
        {0x80000001u, 0x8000}, /* negative denormal: signed zero */
        {0x00800000u, 0x0080}, /* smallest normal kept */
        {0xc0490fdbu, 0xc049}, /* -pi */
    };
    enum { N = sizeof cases / sizeof cases[0] };
    float in[N];
    ctxpar_bf16 out[N + 1];
    for (int i = 0; i < N; i++) {
        in[i] = float_of(cases[i].in);
        ASSERT_EQ_INT(ctxpar_bf16_from_f32(in[i]), cases[i].out);
    }
    /* the row converter (vector where the CPU has it) agrees, and pads an odd
     * row to even with a zero */
    _Static_assert(N % 2 == 0, "N - 1 columns must be odd");
    out[N - 1] = 0xffff;
    ctxpar_cpu_bf16_rows(out, N + 1, in, N, 1, N - 1);
    for (int i = 0; i < N - 1; i++) ASSERT_EQ_INT(out[i], cases[i].out);
    ASSERT_EQ_INT(out[N - 1], 0);
    /* random values over many binades: vector == scalar == the rule */
    enum { R = 4099 };
    float *x = malloc(sizeof(float) * R);
    ctxpar_bf16 *h = malloc(sizeof(ctxpar_bf16) * (R + 1));
    for (int i = 0; i < R; i++)
        x[i] = ldexpf(test_uniform(3, (uint64_t)i), (int)(test_uniform(4, (uint64_t)i) * 60));
    ctxpar_cpu_bf16_rows(h, R + 1, x, R, 1, R);
    int bad = 0;
    for (int i = 0; i < R; i++) {
        const uint32_t u = bits_of(x[i]);
        const uint16_t want = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        if (h[i] != want || ctxpar_bf16_from_f32(x[i]) != want) bad++;
        /* and the round trip is within half a bf16 ulp */
        const float back = ctxpar_bf16_to_f32(h[i]);
        if (fabsf(back - x[i]) > ldexpf(fabsf(x[i]), -8)) bad++;
    }
    ASSERT_EQ_INT(bad, 0);
    free(x), free(h);
}

/* A [m][k] and W [n][k] (the linear layout) as floats already on the bf16
 * grid, so the reference sees exactly the kernel's inputs. */
static float *bf16_grid(int64_t count, uint64_t seed, float scale) {
    float *v = malloc(sizeof(float) * (size_t)(count ? count : 1));
    for (int64_t i = 0; i < count; i++)
        v[i] = ctxpar_bf16_to_f32(ctxpar_bf16_from_f32(scale * test_uniform(seed, (uint64_t)i)));
    return v;
}

typedef struct gemm_case {
    int64_t m, n, k;
    int accumulate, pack_rows;
} gemm_case;

/* C = [C0 +] A W^T through the kernel; returns C [m][n] (ldc = n + 3). */
static float *run_gemm(const gemm_case *g, const float *a, const float *w, const float *c0) {
    const int64_t lda = (g->k + 1) / 2 * 2 + 2,
                  ldc = g->n + 3;
    ctxpar_bf16 *ab = malloc(sizeof(ctxpar_bf16) * (size_t)(g->m * lda + 1));
    ctxpar_bf16 *bp = malloc(sizeof(ctxpar_bf16) * (size_t)(ctxpar_bf16_packed_count(g->k, g->n) + 1));
    float *c = malloc(sizeof(float) * (size_t)(g->m * ldc + 1));
    ctxpar_cpu_bf16_rows(ab, lda, a, g->k, g->m, g->k);
    if (g->pack_rows) { /* B [k][n] row-major, i.e. W transposed first */
        float *b = malloc(sizeof(float) * (size_t)(g->k * g->n + 1));
        for (int64_t kk = 0; kk < g->k; kk++)
            for (int64_t j = 0; j < g->n; j++) b[kk * g->n + j] = w[j * g->k + kk];
        ctxpar_bf16_pack_rows(bp, b, g->n, g->k, g->n);
        free(b);
    } else {
        ctxpar_bf16_pack_transposed(bp, w, g->k, g->n);
    }
    for (int64_t i = 0; i < g->m * ldc; i++) c[i] = NAN; /* padding columns must stay so */
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) c[i * ldc + j] = c0 ? c0[i * g->n + j] : NAN;
    ctxpar_cpu_gemm_bf16(g->m, g->n, g->k, ab, lda, bp, c, ldc, g->accumulate);
    float *out = malloc(sizeof(float) * (size_t)(g->m * g->n + 1));
    for (int64_t i = 0; i < g->m; i++) {
        for (int64_t j = 0; j < g->n; j++) out[i * g->n + j] = c[i * ldc + j];
        for (int64_t j = g->n; j < ldc; j++) ASSERT_TRUE(isnan(c[i * ldc + j]));
    }
    free(ab), free(bp), free(c);
    return out;
}

/* b[(j/32)*kp*64 + (kk/2)*64 + (j%32)*2 + kk%2] = bf16(B(kk, j)), zeros in the padding. */
static void test_packing(int64_t k, int64_t n, int transposed) {
    const int64_t kp = (k + 1) / 2, count = ctxpar_bf16_packed_count(k, n);
    float *src = malloc(sizeof(float) * (size_t)(k * n + 1));
    for (int64_t i = 0; i < k * n; i++)
        src[i] = ldexpf(test_uniform(9, (uint64_t)i), (int)(test_uniform(10, (uint64_t)i) * 40));
    if (k * n > 3) src[1] = NAN, src[2] = -INFINITY, src[3] = float_of(0x00000007u);
    ctxpar_bf16 *got = malloc(sizeof(ctxpar_bf16) * (size_t)(count + 1));
    memset(got, 0xff, sizeof(ctxpar_bf16) * (size_t)(count + 1));
    /* transposed: W [n][k] (a linear's weight); else B [k][n] row-major */
    if (transposed)
        ctxpar_bf16_pack_transposed(got, src, k, n);
    else
        ctxpar_bf16_pack_rows(got, src, n, k, n);
    int64_t bad = 0;
    for (int64_t i = 0; i < count; i++) {
        const int64_t j = i / (kp * 64) * 32 + i % 64 / 2, kk = i % (kp * 64) / 64 * 2 + i % 2;
        const ctxpar_bf16 want =
            kk < k && j < n ? ctxpar_bf16_from_f32(transposed ? src[j * k + kk] : src[kk * n + j])
                            : 0;
        if (got[i] != want && bad++ < 3)
            fprintf(stderr, "  pack k=%lld n=%lld: value %lld (kk %lld, j %lld) is %04x, not %04x\n",
                    (long long)k, (long long)n, (long long)i, (long long)kk, (long long)j, got[i],
                    want);
    }
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(got[count], 0xffff); /* nothing past the packed size */
    free(src), free(got);
}

/* Packing a bf16 W [n][k] straight from its bf16 values gives the bits of
 * packing it widened to float32: every 16-bit pattern kind (normal,
 * subnormal, zero, infinity, quiet and signalling NaN), odd k, partial
 * panels. */
static void test_packing_from_bf16(int64_t k, int64_t n) {
    const int64_t count = ctxpar_bf16_packed_count(k, n);
    static const ctxpar_bf16 special[] = {0x0001, 0x8040, 0x0000, 0x8000, 0x7f80,
                                          0xff80, 0x7fc1, 0x7f81, 0xff81, 0x3f80};
    ctxpar_bf16 *w = malloc(sizeof(ctxpar_bf16) * (size_t)(k * n + 1));
    float *wide = malloc(sizeof(float) * (size_t)(k * n + 1));
    for (int64_t i = 0; i < k * n; i++) {
        /* any 16-bit pattern: test_uniform is in [-1, 1) */
        w[i] = (ctxpar_bf16)((test_uniform(21, (uint64_t)i) + 1.0f) * 32767.0f);
        if (i % 7 == 3) w[i] = special[(i / 7) % (int64_t)(sizeof special / sizeof special[0])];
        wide[i] = float_of((uint32_t)w[i] << 16);
    }
    ctxpar_bf16 *want = malloc(sizeof(ctxpar_bf16) * (size_t)(count + 1));
    ctxpar_bf16 *got = malloc(sizeof(ctxpar_bf16) * (size_t)(count + 1));
    memset(got, 0xff, sizeof(ctxpar_bf16) * (size_t)(count + 1));
    ctxpar_bf16_pack_transposed(want, wide, k, n);
    ctxpar_bf16_pack_transposed_bf16(got, w, k, n);
    int64_t bad = 0;
    for (int64_t i = 0; i < count; i++)
        if (got[i] != want[i] && bad++ < 3)
            fprintf(stderr, "  pack from bf16 k=%lld n=%lld: value %lld is %04x, not %04x\n",
                    (long long)k, (long long)n, (long long)i, got[i], want[i]);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(got[count], 0xffff); /* nothing past the packed size */
    free(w), free(wide), free(want), free(got);
}

static void test_gemm(const gemm_case *g) {
    float *a = bf16_grid(g->m * g->k, 11, 1.0f), *w = bf16_grid(g->n * g->k, 12, 0.5f);
    float *c0 = g->accumulate ? bf16_grid(g->m * g->n, 13, 2.0f) : NULL;
    float *got = run_gemm(g, a, w, c0);
    double *ref = malloc(sizeof(double) * (size_t)(g->m * g->n + 1));
    int64_t bad = 0;
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            double s = c0 ? c0[i * g->n + j] : 0.0, mag = fabs(s);
            for (int64_t kk = 0; kk < g->k; kk++) {
                const double p = (double)a[i * g->k + kk] * w[j * g->k + kk];
                s += p, mag += fabs(p);
            }
            ref[i * g->n + j] = s;
            const double bound = (double)(g->k + 1) * ldexp(1.0, -23) * mag + 1e-30;
            if (!(fabs(got[i * g->n + j] - s) <= bound)) {
                if (bad++ < 5)
                    fprintf(stderr, "  m%lld n%lld k%lld [%lld][%lld]: got %.9g want %.9g\n",
                            (long long)g->m, (long long)g->n, (long long)g->k, (long long)i,
                            (long long)j, got[i * g->n + j], s);
            }
        }
    ASSERT_EQ_INT(bad, 0);

    /* bit-identical to the portable path; AMX, whose TDPBF16PS adds in its
     * own order, to itself on a repeat */
    const char *path = ctxpar_cpu_gemm_bf16_path();
    char saved[32];
    snprintf(saved, sizeof saved, "%s", path);
    const int own_order = !strcmp(saved, "amx");
    if (!own_order) ctxpar_cpu_gemm_bf16_force_path("portable");
    float *port = run_gemm(g, a, w, c0);
    ctxpar_cpu_gemm_bf16_force_path(saved);
    ASSERT_EQ_INT(memcmp(port, got, sizeof(float) * (size_t)(g->m * g->n)), 0);

    /* the last row alone, and the first 5 columns alone, give the same bits */
    if (g->m > 1 && g->n > 5) {
        gemm_case row = *g;
        row.m = 1;
        float *one = run_gemm(&row, a + (g->m - 1) * g->k, w, c0 ? c0 + (g->m - 1) * g->n : NULL);
        ASSERT_EQ_INT(memcmp(one, got + (g->m - 1) * g->n, sizeof(float) * (size_t)g->n), 0);
        free(one);
    }
    free(a), free(w), free(c0), free(got), free(ref), free(port);
}

/* ctxpar_cpu_gemm_bf16_bias: the bits of C filled with the bias, then
 * accumulated onto; k = 0 leaves C = bias. */
static void test_gemm_bias(int64_t m, int64_t n, int64_t k) {
    float *a = bf16_grid(m * k + 1, 31, 1.0f), *w = bf16_grid(n * k + 1, 32, 0.5f);
    float *bias = bf16_grid(n, 33, 2.0f);
    const int64_t lda = ctxpar_bf16_row_ld(k);
    ctxpar_bf16 *ab = malloc(sizeof(ctxpar_bf16) * (size_t)(m * lda + 1));
    ctxpar_bf16 *bp = malloc(sizeof(ctxpar_bf16) * (size_t)(ctxpar_bf16_packed_count(k, n) + 1));
    ctxpar_cpu_bf16_rows(ab, lda, a, k, m, k);
    ctxpar_bf16_pack_transposed(bp, w, k, n);
    float *got = malloc(sizeof(float) * (size_t)(m * n)), *want = malloc(sizeof(float) * (size_t)(m * n));
    for (int64_t i = 0; i < m * n; i++) got[i] = NAN, want[i] = bias[i % n];
    ctxpar_cpu_gemm_bf16_bias(m, n, k, ab, lda, bp, bias, got, n);
    ctxpar_cpu_gemm_bf16(m, n, k, ab, lda, bp, want, n, 1);
    ASSERT_EQ_INT(memcmp(got, want, sizeof(float) * (size_t)(m * n)), 0);
    free(a), free(w), free(bias), free(ab), free(bp), free(got), free(want);
}

/* Outputs of y = x W^T + b off float64 by more than float32 accumulation's
 * bound (in + 1) * 2^-23 * sum |terms|; w16: W as the GEMM sees it (bf16). */
static int64_t outside_f64_bound(const float *y, const float *x, const ctxpar_bf16 *w16,
                                 const float *b, int64_t n, int64_t in, int64_t out) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0, mag = fabs(s);
            for (int64_t k = 0; k < in; k++) {
                const double p = (double)ctxpar_bf16_to_f32(ctxpar_bf16_from_f32(x[i * in + k])) *
                                 ctxpar_bf16_to_f32(w16[o * in + k]);
                s += p, mag += fabs(p);
            }
            if (!(fabs(y[i * out + o] - s) <= (double)(in + 1) * ldexp(1.0, -23) * mag + 1e-30))
                bad++;
        }
    return bad;
}

static void test_linear(int64_t n, int64_t in, int64_t out, int with_bias) {
    float *x = malloc(sizeof(float) * (size_t)(n * in)), *w = malloc(sizeof(float) * (size_t)(out * in));
    float *b = malloc(sizeof(float) * (size_t)out), *y = malloc(sizeof(float) * (size_t)(n * out));
    test_fill(x, n * in, 21, 1.0f), test_fill(w, out * in, 22, 0.3f), test_fill(b, out, 23, 0.5f);
    ctxpar_bf16 *packed = malloc(sizeof(ctxpar_bf16) * (size_t)ctxpar_bf16_packed_count(in, out));
    ctxpar_bf16 *scratch =
        malloc(sizeof(ctxpar_bf16) * (size_t)ctxpar_cpu_linear_bf16_scratch_values(in));
    ctxpar_bf16_pack_transposed(packed, w, in, out);
    ctxpar_cpu_linear_bf16(y, x, n, in, out, packed, with_bias ? b : NULL, scratch);
    ctxpar_bf16 *w16 = malloc(sizeof(ctxpar_bf16) * (size_t)(out * in));
    for (int64_t i = 0; i < out * in; i++) w16[i] = ctxpar_bf16_from_f32(w[i]);
    ASSERT_EQ_INT(outside_f64_bound(y, x, w16, with_bias ? b : NULL, n, in, out), 0);
    free(w16);
    /* the chunking is invisible: one GEMM over all rows gives the same bits */
    const int64_t lda = ctxpar_bf16_row_ld(in);
    ctxpar_bf16 *all = malloc(sizeof(ctxpar_bf16) * (size_t)(n * lda));
    float *y2 = malloc(sizeof(float) * (size_t)(n * out));
    ctxpar_cpu_bf16_rows(all, lda, x, in, n, in);
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) y2[i * out + o] = with_bias ? b[o] : 0.0f;
    ctxpar_cpu_gemm_bf16(n, out, in, all, lda, packed, y2, out, 1);
    ASSERT_EQ_INT(memcmp(y, y2, sizeof(float) * (size_t)(n * out)), 0);
    free(x), free(w), free(b), free(y), free(packed), free(scratch), free(all), free(y2);
}

/* The in-place linear against the packed one: the same bits (AMX: each
 * within float32's bound of float64, as test_linear). pieces divides out;
 * subnormals: bf16 subnormal weights, which the packing flushes to zero and
 * VDPBF16PS treats as zero (a path that kept them would differ: rows of
 * them alone give a nonzero result without a bias). */
static void test_linear_rows(int64_t n, int64_t in, int64_t out, int pieces, int with_bias,
                             int subnormals) {
    float *x = malloc(sizeof(float) * (size_t)(n * in)), *wf = malloc(sizeof(float) * (size_t)(out * in));
    float *b = malloc(sizeof(float) * (size_t)out);
    float *y = malloc(sizeof(float) * (size_t)(n * out)), *want = malloc(sizeof(float) * (size_t)(n * out));
    test_fill(x, n * in, 41, 1.0f), test_fill(wf, out * in, 42, 0.3f), test_fill(b, out, 43, 0.5f);
    /* the checkpoint's rows, pieces of out / pieces rows each apart in memory */
    const int64_t piece_rows = out / pieces;
    ctxpar_bf16 *file = malloc(sizeof(ctxpar_bf16) * (size_t)(out * in + pieces * 37));
    ctxpar_bf16 *w = malloc(sizeof(ctxpar_bf16) * (size_t)(out * in));
    ctxpar_bf16_rows rows = {{NULL}, pieces};
    for (int64_t i = 0; i < out * in; i++) {
        w[i] = ctxpar_bf16_from_f32(wf[i]);
        /* every 7th weight, and all of every 5th row (where nothing larger hides them) */
        if (subnormals && (i % 7 == 3 || (i / in) % 5 == 2))
            w[i] = (ctxpar_bf16)(0x0001u + (i % 5) * 0x11u + (i & 8 ? 0x8000u : 0));
    }
    for (int p = 0; p < pieces; p++) {
        rows.piece[p] = file + p * (piece_rows * in + 37) + 1; /* odd offsets: unaligned rows */
        memcpy((ctxpar_bf16 *)rows.piece[p], w + p * piece_rows * in,
               sizeof(ctxpar_bf16) * (size_t)(piece_rows * in));
    }
    ctxpar_bf16 *packed = malloc(sizeof(ctxpar_bf16) * (size_t)ctxpar_bf16_packed_count(in, out));
    ctxpar_bf16 *scratch =
        malloc(sizeof(ctxpar_bf16) * (size_t)ctxpar_cpu_linear_bf16_scratch_values(in));
    ctxpar_bf16_pack_transposed_bf16(packed, w, in, out);
    ctxpar_cpu_linear_bf16(want, x, n, in, out, packed, with_bias ? b : NULL, scratch);
    for (int64_t i = 0; i < n * out; i++) y[i] = NAN;
    ctxpar_cpu_linear_bf16_rows(y, x, n, in, out, &rows, with_bias ? b : NULL, scratch);
    if (strcmp(ctxpar_cpu_gemm_bf16_path(), "amx") != 0) {
        int64_t differ = 0;
        for (int64_t i = 0; i < n * out; i++) differ += bits_of(y[i]) != bits_of(want[i]);
        ASSERT_EQ_INT(differ, 0);
    } else { /* AMX: its own order; the packing's flushed weights */
        for (int64_t i = 0; i < out * in; i++) w[i] = ctxpar_bf16_round_trip(w[i]);
        ASSERT_EQ_INT(outside_f64_bound(y, x, w, with_bias ? b : NULL, n, in, out), 0);
    }
    free(x), free(wf), free(b), free(y), free(want), free(file), free(w), free(packed), free(scratch);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "portable";
    if (ctxpar_cpu_gemm_bf16_force_path(path) != 0) {
        printf("skipped: no %s on this CPU (best ISA: %s)\n",
               !strcmp(path, "avx512bf16") ? "AVX512-BF16"
               : !strcmp(path, "avx512")   ? "AVX-512"
               : !strcmp(path, "amx")      ? "AMX"
               : !strcmp(path, "avx2")     ? "AVX2/FMA"
                                           : path,
               ctxpar_cpu_isa());
        return 77;
    }
    printf("bf16 GEMM path %s\n", ctxpar_cpu_gemm_bf16_path());
    test_conversion();
    const int64_t packs[][2] = {{1, 1}, {2, 32}, {63, 33}, {64, 64}, {65, 100}, {129, 31}, {300, 70}};
    for (size_t i = 0; i < sizeof packs / sizeof packs[0]; i++)
        for (int transposed = 0; transposed < 2; transposed++)
            test_packing(packs[i][0], packs[i][1], transposed);
    for (size_t i = 0; i < sizeof packs / sizeof packs[0]; i++)
        test_packing_from_bf16(packs[i][0], packs[i][1]);
    const gemm_case cases[] = {
        {1, 1, 1, 0, 0},       {12, 32, 256, 0, 0},   {13, 33, 257, 0, 0},
        {5, 7, 3, 1, 0},       {100, 70, 300, 1, 1},  {97, 130, 1025, 0, 1},
        {8, 40, 0, 0, 0},      {8, 40, 0, 1, 0},      {200, 300, 64, 0, 0},
        {3, 1000, 50, 1, 1},   {64, 64, 1024, 0, 0}, {33, 65, 48, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_gemm(&cases[i]);
    test_linear(2 * CTXPAR_LINEAR_BF16_ROWS + 5, 70, 50, 1);
    test_linear(200, 40, 300, 1); /* the bias over several column blocks */
    test_gemm_bias(200, 300, 70);
    test_gemm_bias(13, 33, 0);
    test_linear(CTXPAR_LINEAR_BF16_ROWS + 1, 129, 33, 0);
    /* in place: tokens over several chunks and partial blocks; rows over
     * several blocks and pieces (a stacked qkv), k a multiple of 32 (vector
     * token packing) or not, and over one pass of the reduction */
    test_linear_rows(2 * CTXPAR_LINEAR_BF16_ROWS + 5, 64, 3 * 100, 3, 1, 0);
    test_linear_rows(77, 40, 200, 2, 0, 0);
    test_linear_rows(130, 1056, 50, 1, 1, 0);
    test_linear_rows(33, 6, 31, 1, 1, 0);
    test_linear_rows(200, 96, 3 * 64, 3, 1, 0);
    if (!strcmp(ctxpar_cpu_gemm_bf16_path(), "avx512bf16"))
        test_linear_rows(50, 64, 40, 2, 0, 1); /* VDPBF16PS flushes subnormal weights */
    return test_finish("test_gemm_bf16");
}
