/* Shared helpers for ctxpar's tests: typed assertions that print both values,
 * a tolerance comparison that reports the first mismatches and the max error
 * (abs_tol + rel_tol*|ref|, NaN/Inf always fail), and a seeded generator so a
 * test's data derive from (seed, index) and never from the clock. Header-only
 * so each test_<unit>.c stays a single file. */
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures = 0;

#define ASSERT_TRUE(cond)                                                          \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: ASSERT_TRUE(%s) failed\n", __FILE__, __LINE__, \
                    #cond);                                                        \
            test_failures++;                                                       \
        }                                                                          \
    } while (0)

#define ASSERT_EQ_INT(a, b)                                                             \
    do {                                                                                \
        long long va_ = (long long)(a), vb_ = (long long)(b);                           \
        if (va_ != vb_) {                                                               \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, __LINE__, \
                    #a, #b, va_, vb_);                                                  \
            test_failures++;                                                            \
        }                                                                               \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                                        \
    do {                                                                              \
        double va_ = (double)(a), vb_ = (double)(b);                                  \
        if (!(fabs(va_ - vb_) <= (tol))) {                                            \
            fprintf(stderr, "%s:%d: %s ~= %s failed: %.9g vs %.9g (tol %g)\n", __FILE__, \
                    __LINE__, #a, #b, va_, vb_, (double)(tol));                       \
            test_failures++;                                                          \
        }                                                                             \
    } while (0)

/* Compare got[] (float) with ref[] (double); returns the number of mismatches. */
static inline int64_t test_compare(const char *what, const float *got, const double *ref,
                                   int64_t n, double abs_tol, double rel_tol) {
    int64_t bad = 0;
    double max_err = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i];
        double err = fabs(g - r);
        if (!isfinite(g) || !isfinite(r) || err > abs_tol + rel_tol * fabs(r)) {
            if (bad < 5)
                fprintf(stderr, "  %s[%lld]: got %.9g want %.9g (err %.3g)\n", what,
                        (long long)i, g, r, err);
            bad++;
        }
        if (isfinite(err) && err > max_err) max_err = err;
    }
    if (bad) {
        fprintf(stderr, "%s: %lld of %lld elements mismatch, max err %.3g\n", what,
                (long long)bad, (long long)n, max_err);
        test_failures++;
    }
    return bad;
}

/* splitmix64: value i of stream `seed`, uniform in [-1, 1). */
static inline float test_uniform(uint64_t seed, uint64_t i) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static inline void test_fill(float *x, int64_t n, uint64_t seed, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = scale * test_uniform(seed, (uint64_t)i);
}

static inline int test_finish(const char *name) {
    if (test_failures) {
        fprintf(stderr, "%s: %d failure(s)\n", name, test_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}
