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
 * V-JEPA 2's MLP); the tanh form above is off by about 1e-4 relative.
 *
 * libm's erff is scalar and costs ~12 ns an element, seconds on a long video's
 * MLPs, so the loop below is branch-free arithmetic the compiler vectorises
 * (built a second time for AVX-512 and chosen at run time):
 * 1 + erf(z) = 2 - erfc(z) for z >= 0 and erfc(-z) for z < 0, with
 * erfc(a) = t*P(t)*exp(-a^2), t = 1/(1 + 0.3275911 a) (Abramowitz and Stegun
 * 7.1.26, |error| <= 1.5e-7), and exp by range reduction to [-ln2/2, ln2/2]
 * and a degree-6 polynomial. Computing erfc directly keeps the tail of large
 * negative x accurate in absolute terms (no 1 - (1 - tiny)). */
static inline float exp_neg(float v) { /* exp(v) for v <= 0 */
    v = v < -87.0f ? -87.0f : v;
    /* round to nearest by the 1.5*2^23 trick (|v*log2 e| < 2^22): vectorises, roundf does not */
    const float n = (v * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (v - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        int i;
        float f;
    } scale = {.i = ((int)n + 127) << 23};
    return p * scale.f;
}

static inline float gelu_erf_one(float x) {
    const float z = x * 0.70710678118654752f, a = z < 0.0f ? -z : z;
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = 1.061405429f;
    poly = poly * t - 1.453152027f;
    poly = poly * t + 1.421413741f;
    poly = poly * t - 0.284496736f;
    poly = poly * t + 0.254829592f;
    const float erfc_a = poly * t * exp_neg(-a * a);
    const float one_plus_erf = z < 0.0f ? erfc_a : 2.0f - erfc_a;
    return 0.5f * x * one_plus_erf;
}

#define GELU_ERF_LOOP                                                \
    _Pragma("omp parallel for simd schedule(static) if (n > (1 << 16))") \
    for (int64_t i = 0; i < n; i++) x[i] = gelu_erf_one(x[i]);

__attribute__((target("avx512f,fma"))) static void gelu_erf_avx512(float *x, int64_t n) {
    GELU_ERF_LOOP
}

static void gelu_erf_portable(float *x, int64_t n) { GELU_ERF_LOOP }

void ctxpar_cpu_gelu_erf(float *x, int64_t n) {
    if (__builtin_cpu_supports("avx512f"))
        gelu_erf_avx512(x, n);
    else
        gelu_erf_portable(x, n);
}
