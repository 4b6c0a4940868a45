/* What this CPU can run, read once from CPUID and the OS's saved-state mask
 * (XGETBV), so every kernel dispatches on the same answer whatever the
 * compiler: clang's __builtin_cpu_supports does not know every feature gcc's
 * does (f16c), and neither checks that the OS saves the AVX-512 state. */
#pragma once

typedef enum ctxpar_cpu_feature {
    CTXPAR_CPU_AVX,
    CTXPAR_CPU_AVX2,
    CTXPAR_CPU_FMA,
    CTXPAR_CPU_F16C,
    CTXPAR_CPU_AVX512F,
    CTXPAR_CPU_AVX512DQ,
    CTXPAR_CPU_AVX512BW,
    CTXPAR_CPU_AVX512_BF16,
    CTXPAR_CPU_FEATURE_COUNT
} ctxpar_cpu_feature;

/* 1 when the CPU has `feature` and the OS enables its registers; 0 otherwise
 * (always 0 off x86-64). Thread-safe; the first call reads CPUID. */
int ctxpar_cpu_has(ctxpar_cpu_feature feature);
