/* GroupNorm statistics and application, plus Chan's moments combine.
 *
 * Design: statistics must be bit-identical whatever the thread count and
 * mergeable across ranks, so each channel's moments are computed by exactly
 * one thread, two-pass (mean, then sum of squared deviations) in double with
 * a fixed 8-lane summation pattern (vectorisable, order independent of
 * threads), and channels are merged into their group in channel order with
 * Chan's parallel update. The runtime merges ranks the same way, in rank
 * order. Applying the norm folds mean, variance, weight and bias into one
 * scale and shift per channel. */
#include "kernels/cpu/kernels_cpu.h"

#include <math.h>

void ctxpar_moments_combine(ctxpar_moments *acc, const ctxpar_moments *b) {
    if (b->count == 0.0) return;
    if (acc->count == 0.0) {
        *acc = *b;
        return;
    }
    double count = acc->count + b->count;
    double delta = b->mean - acc->mean;
    acc->mean += delta * (b->count / count);
    acc->m2 += b->m2 + delta * delta * (acc->count * b->count / count);
    acc->count = count;
}

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

void ctxpar_cpu_group_norm_apply(float *y, int64_t y_cstride, const float *x, int64_t x_cstride,
                                 int64_t c, int64_t n, int groups, const ctxpar_moments *moments,
                                 const float *weight, const float *bias, float eps, int silu) {
#pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        /* Group g holds channels [g*c/groups, (g+1)*c/groups), also when
         * groups does not divide c. */
        int64_t g = ch * groups / c;
        while ((g + 1) * c / groups <= ch) g++;
        while (g * c / groups > ch) g--;
        double var = moments[g].count > 0.0 ? moments[g].m2 / moments[g].count : 0.0;
        double inv_std = 1.0 / sqrt(var + (double)eps);
        float scale = (float)(weight[ch] * inv_std);
        float shift = (float)(bias[ch] - moments[g].mean * weight[ch] * inv_std);
        const float *src = x + ch * x_cstride;
        float *dst = y + ch * y_cstride;
        if (silu) {
            for (int64_t i = 0; i < n; i++) {
                float v = src[i] * scale + shift;
                dst[i] = v / (1.0f + expf(-v));
            }
        } else {
            for (int64_t i = 0; i < n; i++) dst[i] = src[i] * scale + shift;
        }
    }
}
