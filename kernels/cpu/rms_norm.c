/* Row-wise RMSNorm (T5 / Qwen2.5-VL): y = x / sqrt(mean(x^2) + eps) * w.
 *
 * Design: the reference computes in float32 with no mean subtraction, so a
 * single pass suffices; rows are independent, threads split rows and the
 * reduction is left to `omp simd`, as in layer_norm.c. */
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>

void ctxpar_cpu_rms_norm(float *y, const float *x, int64_t n, int64_t d, const float *weight,
                         float eps) {
#pragma omp parallel for schedule(static) if (n * d > (1 << 15))
    for (int64_t i = 0; i < n; i++) {
        const float *xr = x + i * d;
        float *yr = y + i * d; /* may alias xr: the statistic is read first */
        float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
        for (int64_t c = 0; c < d; c++) sq += xr[c] * xr[c];
        const float inv_rms = 1.0f / sqrtf(sq / (float)d + eps);
        for (int64_t c = 0; c < d; c++) yr[c] = xr[c] * inv_rms * weight[c];
    }
}
