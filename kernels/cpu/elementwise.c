/* Element-wise VAE ops: temporal average pooling of frame pairs and the
 * residual add.
 *
 * Design: both are pure streaming over channel-major rows; OpenMP splits the
 * channels, and the inner loops are contiguous so the compiler vectorises
 * them. Each output value depends on fixed inputs only, so results do not
 * depend on the thread count. */
#include "kernels/cpu/kernels_cpu.h"

void ctxpar_cpu_pool_time2(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                           int64_t c, int64_t frames_out, int64_t hw) {
    /* Threads split channels only and frames run in increasing order, so y
     * may alias x (same cstride): frame t is written after frames 2t and
     * 2t+1 (both >= t) were read, and no other thread touches the channel. */
#pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t t = 0; t < frames_out; t++) {
            const float *a = x + ch * x_cstride + 2 * t * hw;
            const float *b = a + hw;
            float *out = y + ch * y_cstride + t * hw;
            for (int64_t i = 0; i < hw; i++) out[i] = 0.5f * (a[i] + b[i]);
        }
}

void ctxpar_cpu_add(float *y, int64_t y_cstride, const float *x, int64_t x_cstride, int64_t c,
                    int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        float *dst = y + ch * y_cstride;
        const float *src = x + ch * x_cstride;
        for (int64_t i = 0; i < n; i++) dst[i] += src[i];
    }
}
