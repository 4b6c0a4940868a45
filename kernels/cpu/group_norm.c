/* GroupNorm statistics and application.
 *
 * Design: statistics must be bit-identical whatever the thread count and
 * mergeable across ranks, so each channel's moments are computed by exactly
 * one thread, two-pass (mean, then sum of squared deviations) in double with
 * a fixed 8-lane summation pattern (vectorisable, order independent of
 * threads), and channels are merged into their group in channel order with
 * Chan's parallel update (base/moments.c). The runtime merges ranks the same way, in rank
 * order. Applying the norm folds mean, variance, weight and bias into one
 * scale and shift per channel; its SiLU is exp_approx.h's, a loop built
 * for AVX-512 and for any x86-64 and chosen at run time (libm's scalar expf
 * was most of the VAE's normalisation time). */
#include "kernels/cpu/kernels_cpu.h"

#include <math.h>

#include "base/cpu_features.h"
#include "kernels/cpu/exp_approx.h"

enum { MOMENT_LANES = 8 };

static ctxpar_moments channel_moments(const float *x, int64_t n) {
    ctxpar_moments m = {(double)n, 0.0, 0.0};
    if (n == 0) return m;
    double lane[MOMENT_LANES] = {0};
    int64_t n_main = n - n % MOMENT_LANES;
    for (int64_t i = 0; i < n_main; i += MOMENT_LANES)
        for (int k = 0; k < MOMENT_LANES; k++) lane[k] += (double)x[i + k];
    double sum = 0.0;
    for (int64_t i = n_main; i < n; i++) sum += (double)x[i];
    for (int k = 0; k < MOMENT_LANES; k++) sum += lane[k];
    double mean = sum / (double)n;

    for (int k = 0; k < MOMENT_LANES; k++) lane[k] = 0.0;
    for (int64_t i = 0; i < n_main; i += MOMENT_LANES)
        for (int k = 0; k < MOMENT_LANES; k++) {
            double d = (double)x[i + k] - mean;
            lane[k] += d * d;
        }
    double m2 = 0.0;
    for (int64_t i = n_main; i < n; i++) {
        double d = (double)x[i] - mean;
        m2 += d * d;
    }
    for (int k = 0; k < MOMENT_LANES; k++) m2 += lane[k];
    m.mean = mean;
    m.m2 = m2;
    return m;
}

void ctxpar_cpu_group_moments(const float *x, int64_t cstride, int64_t c, int64_t n, int groups,
                              ctxpar_moments *out) {
    for (int g = 0; g < groups; g++) out[g] = (ctxpar_moments){0.0, 0.0, 0.0};
    if (c <= 0) return;
    /* One slot per channel: each is filled by one thread, the merge below is
     * sequential, so the thread count cannot change a single bit. A VLA keeps
     * the kernel allocation-free; c is a channel count (hundreds at most). */
    ctxpar_moments per_channel[c];
#pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) per_channel[ch] = channel_moments(x + ch * cstride, n);
    for (int g = 0; g < groups; g++) {
        int64_t ch_begin = g * c / groups, ch_end = (g + 1) * c / groups;
        for (int64_t ch = ch_begin; ch < ch_end; ch++)
            ctxpar_moments_combine(&out[g], &per_channel[ch]);
    }
}

void ctxpar_cpu_group_norm_scale_shift(int64_t c, int groups, const ctxpar_moments *moments,
                                       const float *weight, const float *bias, float eps,
                                       float *scale, float *shift) {
    for (int64_t ch = 0; ch < c; ch++) {
        /* Group g holds channels [g*c/groups, (g+1)*c/groups), also when
         * groups does not divide c. */
        int64_t g = ch * groups / c;
        while ((g + 1) * c / groups <= ch) g++;
        while (g * c / groups > ch) g--;
        double var = moments[g].count > 0.0 ? moments[g].m2 / moments[g].count : 0.0;
        double inv_std = 1.0 / sqrt(var + (double)eps);
        scale[ch] = (float)(weight[ch] * inv_std);
        shift[ch] = (float)(bias[ch] - moments[g].mean * weight[ch] * inv_std);
    }
}

#define APPLY_LOOP                                                            \
    if (silu) {                                                               \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) dst[i] =          \
            ctxpar_silu(src[i] * scale + shift);                              \
    } else {                                                                  \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) dst[i] =          \
            src[i] * scale + shift;                                           \
    }

__attribute__((target("avx512f,fma"))) static void apply_avx512(float *dst, const float *src,
                                                                int64_t n, float scale,
                                                                float shift, int silu) {
    APPLY_LOOP
}

__attribute__((target("avx2,fma"))) static void apply_avx2(float *dst, const float *src,
                                                            int64_t n, float scale, float shift,
                                                            int silu) {
    APPLY_LOOP
}

static void apply_portable(float *dst, const float *src, int64_t n, float scale, float shift,
                           int silu) {
    APPLY_LOOP
}

typedef void (*apply_fn)(float *, const float *, int64_t, float, float, int);

/* One choice for the pass and for the convs that fold it in (same bits). */
static apply_fn apply_for_cpu(void) {
    if (ctxpar_cpu_has(CTXPAR_CPU_AVX512F)) return apply_avx512;
    if (ctxpar_cpu_has(CTXPAR_CPU_AVX2) && ctxpar_cpu_has(CTXPAR_CPU_FMA)) return apply_avx2;
    return apply_portable;
}

void ctxpar_cpu_scale_shift_silu(float *y, const float *x, int64_t n, float scale, float shift) {
    apply_for_cpu()(y, x, n, scale, shift, 1);
}

void ctxpar_cpu_group_norm_apply(float *y, int64_t y_cstride, const float *x, int64_t x_cstride,
                                 int64_t c, int64_t n, int groups, const ctxpar_moments *moments,
                                 const float *weight, const float *bias, float eps, int silu) {
    if (c <= 0) return;
    const apply_fn apply = apply_for_cpu();
    float scale[c], shift[c]; /* a VLA: c is a channel count */
    ctxpar_cpu_group_norm_scale_shift(c, groups, moments, weight, bias, eps, scale, shift);
#pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++)
        apply(y + ch * y_cstride, x + ch * x_cstride, n, scale[ch], shift[ch], silu);
}
