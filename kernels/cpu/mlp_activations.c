/* The vision towers' MLP activations: QuickGELU (Qwen2-VL, CLIP) and the
 * gated SiLU of a SwiGLU MLP (Qwen2.5-VL).
 *
 * Design: both are one exponential of a non-positive argument per element
 * (exp_approx.h), built three times (AVX-512, AVX2 + FMA, portable) and
 * chosen at run time like gelu.c. The gated form reads fc1's [gate | up]
 * row and writes a row half as wide to a separate buffer, so rows stay
 * independent for threads. */
#include "kernels/cpu/transformer_cpu.h"

#include "base/cpu_features.h"
#include "kernels/cpu/exp_approx.h"

/* x * sigmoid(1.702 x) = silu(1.702 x) / 1.702 */
static inline float quick_gelu_one(float x) {
    return ctxpar_silu(1.702f * x) * (1.0f / 1.702f);
}

#define QUICK_GELU_LOOP                                                      \
    _Pragma("omp parallel for simd schedule(static) if (n > (1 << 16))") \
    for (int64_t i = 0; i < n; i++) x[i] = quick_gelu_one(x[i]);

__attribute__((target("avx512f,fma"))) static void quick_gelu_avx512(float *x, int64_t n) {
    QUICK_GELU_LOOP
}
__attribute__((target("avx2,fma"))) static void quick_gelu_avx2(float *x, int64_t n) {
    QUICK_GELU_LOOP
}
static void quick_gelu_portable(float *x, int64_t n) { QUICK_GELU_LOOP }

void ctxpar_cpu_quick_gelu(float *x, int64_t n) {
    if (ctxpar_cpu_has(CTXPAR_CPU_AVX512F))
        quick_gelu_avx512(x, n);
    else if (ctxpar_cpu_has(CTXPAR_CPU_AVX2) && ctxpar_cpu_has(CTXPAR_CPU_FMA))
        quick_gelu_avx2(x, n);
    else
        quick_gelu_portable(x, n);
}

#define SILU_GATE_LOOP                                                      \
    _Pragma("omp parallel for schedule(static) if (n * f > (1 << 16))")   \
    for (int64_t i = 0; i < n; i++) {                                       \
        const float *gate = x + i * 2 * f, *up = gate + f;                  \
        float *yr = y + i * f;                                              \
        _Pragma("omp simd") for (int64_t j = 0; j < f; j++) yr[j] = ctxpar_silu(gate[j]) * up[j]; \
    }

__attribute__((target("avx512f,fma"))) static void silu_gate_avx512(float *y, const float *x,
                                                                   int64_t n, int64_t f) {
    SILU_GATE_LOOP
}
__attribute__((target("avx2,fma"))) static void silu_gate_avx2(float *y, const float *x,
                                                              int64_t n, int64_t f) {
    SILU_GATE_LOOP
}
static void silu_gate_portable(float *y, const float *x, int64_t n, int64_t f) { SILU_GATE_LOOP }

void ctxpar_cpu_silu_gate(float *y, const float *x, int64_t n, int64_t f) {
    if (ctxpar_cpu_has(CTXPAR_CPU_AVX512F))
        silu_gate_avx512(y, x, n, f);
    else if (ctxpar_cpu_has(CTXPAR_CPU_AVX2) && ctxpar_cpu_has(CTXPAR_CPU_FMA))
        silu_gate_avx2(y, x, n, f);
    else
        silu_gate_portable(y, x, n, f);
}
