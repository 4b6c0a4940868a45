/* exp and SiLU as branch-free float arithmetic the compiler vectorises.
 *
 * libm's expf is a scalar call (~10 ns an element here), which made SiLU the
 * larger part of every GroupNorm pass and GELU seconds on long videos. These
 * inline versions reduce the argument to r in [-ln2/2, ln2/2] (v = n ln2 + r,
 * n rounded by the 1.5*2^23 trick, which vectorises where roundf does not),
 * take a degree-6 polynomial for exp(r) (relative error ~2e-7) and scale by
 * 2^n through the exponent bits. Callers build their loops twice, once with
 * target("avx512f,fma"), and pick at run time. */
#pragma once

/* exp(v) for v <= 0 (-87 and below give exp(-87), about 1.6e-38). */
static inline float ctxpar_exp_nonpositive(float v) {
    v = v < -87.0f ? -87.0f : v;
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

/* SiLU, v * sigmoid(v), with one exponential of a non-positive argument:
 * sigmoid(v) = 1 / (1 + e) for v >= 0 and e / (1 + e) for v < 0, e = exp(-|v|).
 * No overflow at either end; relative error ~3e-7 against double. */
static inline float ctxpar_silu(float v) {
    const float a = v < 0.0f ? -v : v;
    const float e = ctxpar_exp_nonpositive(-a);
    const float sig = (v < 0.0f ? e : 1.0f) / (1.0f + e);
    /* below -87 the true value is under 1e-35 in magnitude: 0 (the clamped
     * exponential would give v * 1.6e-38, not small for huge |v|) */
    return v < -87.0f ? 0.0f : v * sig;
}
