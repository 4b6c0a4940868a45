/* Row-wise LayerNorm of the transformer blocks (eps 1e-6, affine).
 *
 * Design: two passes over each row (mean, then the sum of squared
 * deviations) instead of E[x^2] - E[x]^2, which cancels badly when the
 * activations carry a large common offset; rows are independent, so threads
 * split rows and `omp simd` lets the compiler vectorise the reductions. */
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>

void ctxpar_cpu_layer_norm(float *y, const float *x, int64_t n, int64_t d, const float *weight,
                           const float *bias, float eps) {
#pragma omp parallel for schedule(static) if (n * d > (1 << 15))
    for (int64_t i = 0; i < n; i++) {
        const float *xr = x + i * d;
        float *yr = y + i * d; /* may alias xr: both statistics are read first */
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t c = 0; c < d; c++) sum += xr[c];
        const float mean = sum / (float)d;
        float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
        for (int64_t c = 0; c < d; c++) sq += (xr[c] - mean) * (xr[c] - mean);
        const float inv_std = 1.0f / sqrtf(sq / (float)d + eps);
        for (int64_t c = 0; c < d; c++) yr[c] = (xr[c] - mean) * inv_std * weight[c] + bias[c];
    }
}
