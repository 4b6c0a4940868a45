/* What this CPU can run, read once from CPUID and the OS's saved-state mask
 * (XGETBV), so every kernel dispatches on the same answer whatever the
 * compiler: clang's __builtin_cpu_supports does not know every feature gcc's
 * does (f16c), and neither checks that the OS saves the AVX-512 state.
 *
 * CTXPAR_ISA caps what the kernels may use (docs/bf16.md): "avx2" hides every
 * AVX-512 feature, "avx512" hides AVX512-BF16 and AMX, "avx512bf16" hides
 * AMX, "amx" hides nothing. Every dispatch site asks ctxpar_cpu_has, so the
 * cap forces one path everywhere at once; tests use it to run each path the
 * machine has. */
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
    CTXPAR_CPU_AMX_TILE, /* tile registers, and Linux granted their state */
    CTXPAR_CPU_AMX_BF16,
    CTXPAR_CPU_FEATURE_COUNT
} ctxpar_cpu_feature;

/* 1 when the CPU has `feature`, the OS enables its registers and CTXPAR_ISA
 * does not hide it; 0 otherwise (always 0 off x86-64). Thread-safe; the first
 * call reads CPUID and CTXPAR_ISA (and asks Linux for the AMX tile state when
 * the CPU has AMX and the cap allows it). */
int ctxpar_cpu_has(ctxpar_cpu_feature feature);

/* The same, ignoring CTXPAR_ISA: what the hardware and the OS offer. */
int ctxpar_cpu_hardware_has(ctxpar_cpu_feature feature);

/* The best ISA level the kernels may use now: "amx", "avx512bf16", "avx512",
 * "avx2" or "baseline". */
const char *ctxpar_cpu_isa(void);

/* NULL when CTXPAR_ISA is unset or names a level this machine has; otherwise
 * a one-line reason ("CTXPAR_ISA=avx512bf16: this CPU has no AVX512-BF16"),
 * which the command line reports before any work. A bad value is otherwise
 * ignored (the machine's own best level stands). */
const char *ctxpar_cpu_isa_error(void);
