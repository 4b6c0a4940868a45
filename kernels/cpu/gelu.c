/* GELU, tanh approximation, in place (the MLP activation of section 2.2).
 *
 * Design: 0.5 x (1 + tanh(u)) is rewritten as x / (1 + exp(-2u)), one
 * exponential and no cancellation: for u -> -inf exp overflows to inf and the
 * result is -0, for u -> +inf it is x, so no clamping is needed. */
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>

#include "base/cpu_features.h"
#include "kernels/cpu/exp_approx.h"

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
 * (built again for AVX-512 and for AVX2 + FMA, chosen at run time; the
 * file is compiled without trapping math, CMakeLists.txt, so AVX2 gets
 * selects instead of branches):
 * 1 + erf(z) = 2 - erfc(z) for z >= 0 and erfc(-z) for z < 0, with
 * erfc(a) = t*P(t)*exp(-a^2), t = 1/(1 + 0.3275911 a) (Abramowitz and Stegun
 * 7.1.26, |error| <= 1.5e-7), and exp from exp_approx.h. Computing erfc
 * directly keeps the tail of large negative x accurate in absolute terms
 * (no 1 - (1 - tiny)). */
static inline float gelu_erf_one(float x) {
    const float z = x * 0.70710678118654752f, a = z < 0.0f ? -z : z;
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = 1.061405429f;
    poly = poly * t - 1.453152027f;
    poly = poly * t + 1.421413741f;
    poly = poly * t - 0.284496736f;
    poly = poly * t + 0.254829592f;
    const float erfc_a = poly * t * ctxpar_exp_nonpositive(-a * a);
    const float one_plus_erf = z < 0.0f ? erfc_a : 2.0f - erfc_a;
    return 0.5f * x * one_plus_erf;
}

#define GELU_ERF_LOOP                                                \
    _Pragma("omp parallel for simd schedule(static) if (n > (1 << 16))") \
    for (int64_t i = 0; i < n; i++) x[i] = gelu_erf_one(x[i]);

__attribute__((target("avx512f,fma"))) static void gelu_erf_avx512(float *x, int64_t n) {
    GELU_ERF_LOOP
}

__attribute__((target("avx2,fma"))) static void gelu_erf_avx2(float *x, int64_t n) {
    GELU_ERF_LOOP
}

static void gelu_erf_portable(float *x, int64_t n) { GELU_ERF_LOOP }

void ctxpar_cpu_gelu_erf(float *x, int64_t n) {
    if (ctxpar_cpu_has(CTXPAR_CPU_AVX512F))
        gelu_erf_avx512(x, n);
    else if (ctxpar_cpu_has(CTXPAR_CPU_AVX2) && ctxpar_cpu_has(CTXPAR_CPU_FMA))
        gelu_erf_avx2(x, n);
    else
        gelu_erf_portable(x, n);
}
