/* GELU, tanh approximation, in place (the MLP activation of section 2.2).
 *
 * Design: 0.5 x (1 + tanh(u)) is rewritten as x / (1 + exp(-2u)), one
 * exponential and no cancellation: for u -> -inf exp overflows to inf and the
 * result is -0, for u -> +inf it is x, so no clamping is needed. */
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>

void ctxpar_cpu_gelu(float *x, int64_t n) {
    const float k0 = 0.7978845608028654f; /* sqrt(2/pi) */
    const float k1 = 0.044715f;
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        const float u = k0 * (v + k1 * v * v * v);
        x[i] = v / (1.0f + expf(-2.0f * u));
    }
}

/* GELU with the exact erf: 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's default,
 * V-JEPA 2's MLP); the tanh form above is off by about 1e-4 relative. */
void ctxpar_cpu_gelu_erf(float *x, int64_t n) {
    const float inv_sqrt2 = 0.70710678118654752f;
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * inv_sqrt2));
}
