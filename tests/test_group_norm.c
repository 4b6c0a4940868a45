/* GroupNorm: Chan's combine against a two-pass computation over the
 * concatenation (count-0 operands, very different means), per-group moments
 * against a double reference (also with groups not dividing channels), the
 * moments bit-identical with 1 and 2 OpenMP threads, and the normalisation
 * with non-trivial weight and bias, SiLU on and off, in place. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/kernels_cpu.h"
#include "kernels/cpu/exp_approx.h"
#include "test_util.h"

static ctxpar_moments two_pass(const double *v, int64_t n) {
    ctxpar_moments m = {(double)n, 0.0, 0.0};
    for (int64_t i = 0; i < n; i++) m.mean += v[i];
    if (n) m.mean /= (double)n;
    for (int64_t i = 0; i < n; i++) m.m2 += (v[i] - m.mean) * (v[i] - m.mean);
    return m;
}

static void expect_moments(const char *what, ctxpar_moments got, ctxpar_moments want) {
    if (got.count != want.count || fabs(got.mean - want.mean) > 1e-9 * (1 + fabs(want.mean)) ||
        fabs(got.m2 - want.m2) > 1e-9 * (1 + fabs(want.m2))) {
        fprintf(stderr, "%s: got (%g, %.15g, %.15g) want (%g, %.15g, %.15g)\n", what, got.count,
                got.mean, got.m2, want.count, want.mean, want.m2);
        test_failures++;
    }
}

static void test_combine(void) {
    enum { NA = 1000, NB = 37 };
    double all[NA + NB];
    for (int i = 0; i < NA; i++) all[i] = 1000.0 + test_uniform(1, i);       /* mean ~1e3 */
    for (int i = 0; i < NB; i++) all[NA + i] = -5.0 + 3.0 * test_uniform(2, i); /* mean -5 */
    ctxpar_moments a = two_pass(all, NA), b = two_pass(all + NA, NB);
    ctxpar_moments acc = a;
    ctxpar_moments_combine(&acc, &b);
    expect_moments("combine a+b", acc, two_pass(all, NA + NB));

    ctxpar_moments empty = {0, 0, 0};
    acc = empty;
    ctxpar_moments_combine(&acc, &b);
    expect_moments("combine 0+b", acc, b);
    acc = a;
    ctxpar_moments_combine(&acc, &empty);
    expect_moments("combine a+0", acc, a);
    acc = empty;
    ctxpar_moments_combine(&acc, &empty);
    ASSERT_EQ_INT(acc.count, 0);

    /* Many small pieces in order equal the whole. */
    acc = empty;
    for (int start = 0; start < NA + NB; start += 97) {
        int len = start + 97 <= NA + NB ? 97 : NA + NB - start;
        ctxpar_moments piece = two_pass(all + start, len);
        ctxpar_moments_combine(&acc, &piece);
    }
    expect_moments("combine pieces", acc, two_pass(all, NA + NB));
}

static void fill_channels(float *x, int64_t c, int64_t n, int64_t cstride, uint64_t seed) {
    for (int64_t ch = 0; ch < c; ch++) {
        test_fill(x + ch * cstride, n, seed + ch, 1.0f + ch % 3);
        for (int64_t i = 0; i < n; i++) x[ch * cstride + i] += (float)(ch * 0.7 - 3.0);
    }
}

static void reference_group_moments(const float *x, int64_t cstride, int64_t c, int64_t n,
                                    int groups, ctxpar_moments *out) {
    for (int g = 0; g < groups; g++) {
        int64_t ch0 = g * c / groups, ch1 = (g + 1) * c / groups;
        double *v = malloc(sizeof(double) * (ch1 - ch0) * n + 1);
        for (int64_t ch = ch0; ch < ch1; ch++)
            for (int64_t i = 0; i < n; i++) v[(ch - ch0) * n + i] = x[ch * cstride + i];
        out[g] = two_pass(v, (ch1 - ch0) * n);
        free(v);
    }
}

static void test_moments_and_apply(int64_t c, int64_t n, int groups, uint64_t seed) {
    char what[96];
    snprintf(what, sizeof what, "group norm c%lld n%lld g%d", (long long)c, (long long)n, groups);
    int64_t cstride = n + 5;
    float *x = calloc(c * cstride, sizeof(float));
    fill_channels(x, c, n, cstride, seed);
    ctxpar_moments got1[64], got2[64], want[64];
    omp_set_num_threads(1);
    ctxpar_cpu_group_moments(x, cstride, c, n, groups, got1);
    omp_set_num_threads(2);
    ctxpar_cpu_group_moments(x, cstride, c, n, groups, got2);
    if (memcmp(got1, got2, sizeof(ctxpar_moments) * groups) != 0) {
        fprintf(stderr, "%s: moments differ between 1 and 2 threads\n", what);
        test_failures++;
    }
    reference_group_moments(x, cstride, c, n, groups, want);
    for (int g = 0; g < groups; g++) expect_moments(what, got2[g], want[g]);

    float *weight = malloc(sizeof(float) * c), *bias = malloc(sizeof(float) * c);
    for (int64_t ch = 0; ch < c; ch++) {
        weight[ch] = 1.0f + 0.5f * test_uniform(seed + 50, ch);
        bias[ch] = 0.8f * test_uniform(seed + 51, ch);
    }
    const float eps = 1e-6f;
    double *ref = malloc(sizeof(double) * c * n);
    float *y = malloc(sizeof(float) * c * n);
    for (int silu = 0; silu <= 1; silu++) {
        for (int64_t ch = 0; ch < c; ch++) {
            int g = 0;
            while ((g + 1) * c / groups <= ch) g++;
            double inv_std = 1.0 / sqrt(want[g].m2 / want[g].count + eps);
            for (int64_t i = 0; i < n; i++) {
                double v = (x[ch * cstride + i] - want[g].mean) * inv_std * weight[ch] + bias[ch];
                ref[ch * n + i] = silu ? v / (1.0 + exp(-v)) : v;
            }
        }
        /* Dense output (y_cstride n) from strided input. */
        ctxpar_cpu_group_norm_apply(y, n, x, cstride, c, n, groups, got2, weight, bias, eps, silu);
        test_compare(silu ? "group norm + silu" : "group norm", y, ref, c * n, 1e-5, 1e-5);
        /* In place. */
        float *xin = malloc(sizeof(float) * c * cstride);
        memcpy(xin, x, sizeof(float) * c * cstride);
        ctxpar_cpu_group_norm_apply(xin, cstride, xin, cstride, c, n, groups, got2, weight, bias,
                                    eps, silu);
        for (int64_t ch = 0; ch < c; ch++) memcpy(y + ch * n, xin + ch * cstride, n * sizeof(float));
        test_compare("group norm in place", y, ref, c * n, 1e-5, 1e-5);
        free(xin);
    }
    free(x), free(weight), free(bias), free(ref), free(y);
}

/* The vectorisable SiLU over its whole range: tails where exp(-|v|)
 * underflows or is clamped, zero, and a dense sweep; relative error against
 * double (absolute near zero, where SiLU crosses). */
static void test_silu_range(void) {
    double worst = 0.0;
    for (int i = -240000; i <= 240000; i++) {
        float v = (float)i * 5e-4f; /* -120 .. 120 */
        double want = (double)v / (1.0 + exp(-(double)v));
        double err = fabs((double)ctxpar_silu(v) - want) / fmax(fabs(want), 1e-30);
        if (fabs(want) < 1e-30) err = fabs((double)ctxpar_silu(v));
        worst = fmax(worst, err);
    }
    printf("test_group_norm: silu relative error over [-120, 120]: %.3g\n", worst);
    if (!(worst < 1e-6)) {
        fprintf(stderr, "silu: relative error %.3g over [-120, 120] (want < 1e-6)\n", worst);
        test_failures++;
    }
    const float big[] = {-1e30f, -200.0f, -88.0f, 0.0f, 88.0f, 200.0f, 1e30f};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        float got = ctxpar_silu(big[i]);
        float want = big[i] > 0 ? big[i] : 0.0f;
        if (!(fabsf(got - want) <= 1e-6f * fabsf(want) + 1e-30f)) {
            fprintf(stderr, "silu(%g) = %g, want %g\n", big[i], got, want);
            test_failures++;
        }
    }
}

int main(void) {
    test_combine();
    test_silu_range();
    test_moments_and_apply(16, 1000, 4, 1);
    test_moments_and_apply(32, 4099, 8, 2);   /* n not a multiple of the 8 lanes */
    test_moments_and_apply(10, 333, 4, 3);    /* groups do not divide channels */
    test_moments_and_apply(64, 20000, 8, 4);
    return test_finish("test_group_norm");
}
