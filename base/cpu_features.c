/* CPUID feature bits (see cpu_features.h). Leaf 1: ECX bits 12 FMA, 28 AVX,
 * 29 F16C, 27 OSXSAVE; leaf 7 subleaf 0: EBX bits 5 AVX2, 16 AVX512F,
 * 17 AVX512DQ, 30 AVX512BW, EDX bits 22 AMX-BF16, 24 AMX-TILE; leaf 7
 * subleaf 1: EAX bit 5 AVX512_BF16. XCR0 bits 1-2 (SSE, AVX state) gate the
 * AVX features, bits 5-7 (opmask, ZMM) the AVX-512 ones, bits 17-18
 * (TILECFG, TILEDATA) AMX, which Linux also hands out only on request
 * (arch_prctl ARCH_REQ_XCOMP_PERM): a process that touches the tiles without
 * it dies of SIGILL. */
#include "base/cpu_features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static int hardware[CTXPAR_CPU_FEATURE_COUNT];
static int allowed[CTXPAR_CPU_FEATURE_COUNT];
static char isa_error[160];
static int detected;

static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Linux >= 5.16 keeps the 8 KiB tile state off until a process asks. */
static int request_amx_state(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return 0;
#endif
}

static void detect_hardware(int want_amx) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const int osxsave = (c >> 27) & 1;
    const uint64_t xcr = osxsave ? xcr0() : 0;
    const int avx_os = (xcr & 0x6) == 0x6, avx512_os = avx_os && (xcr & 0xe0) == 0xe0;
    const int amx_os = (xcr & 0x60000) == 0x60000;
    hardware[CTXPAR_CPU_AVX] = avx_os && ((c >> 28) & 1);
    hardware[CTXPAR_CPU_FMA] = avx_os && ((c >> 12) & 1);
    hardware[CTXPAR_CPU_F16C] = avx_os && ((c >> 29) & 1);
    unsigned max = __get_cpuid_max(0, 0);
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        hardware[CTXPAR_CPU_AVX2] = avx_os && ((b >> 5) & 1);
        hardware[CTXPAR_CPU_AVX512F] = avx512_os && ((b >> 16) & 1);
        hardware[CTXPAR_CPU_AVX512DQ] = avx512_os && ((b >> 17) & 1);
        hardware[CTXPAR_CPU_AVX512BW] = avx512_os && ((b >> 30) & 1);
        const int amx_tile = amx_os && ((d >> 24) & 1), amx_bf16 = amx_os && ((d >> 22) & 1);
        const unsigned subleaves = a;
        if (subleaves >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            hardware[CTXPAR_CPU_AVX512_BF16] = avx512_os && ((a >> 5) & 1);
        }
        /* With AMX hidden by CTXPAR_ISA nothing touches the tiles: report the
         * hardware (ctxpar_cpu_hardware_has) without asking Linux. */
        if (amx_tile && (!want_amx || request_amx_state())) {
            hardware[CTXPAR_CPU_AMX_TILE] = 1;
            hardware[CTXPAR_CPU_AMX_BF16] = amx_bf16;
        }
    }
}

/* The ISA levels, best first, and the features each one adds. */
typedef struct isa_level {
    const char *name, *missing; /* missing: how the error names it */
    ctxpar_cpu_feature first, last; /* features [first, last] belong to this level */
} isa_level;

static const isa_level levels[] = {
    {"amx", "AMX-BF16", CTXPAR_CPU_AMX_TILE, CTXPAR_CPU_AMX_BF16},
    {"avx512bf16", "AVX512-BF16", CTXPAR_CPU_AVX512_BF16, CTXPAR_CPU_AVX512_BF16},
    {"avx512", "AVX-512", CTXPAR_CPU_AVX512F, CTXPAR_CPU_AVX512BW},
    {"avx2", "AVX2 and FMA", CTXPAR_CPU_AVX, CTXPAR_CPU_F16C},
};
enum { N_LEVELS = sizeof levels / sizeof levels[0] };

static int level_present(int l) {
    if (l == 0) return hardware[CTXPAR_CPU_AMX_TILE] && hardware[CTXPAR_CPU_AMX_BF16];
    if (l == 1) return hardware[CTXPAR_CPU_AVX512_BF16];
    if (l == 2) return hardware[CTXPAR_CPU_AVX512F] && hardware[CTXPAR_CPU_AVX512DQ] &&
                       hardware[CTXPAR_CPU_AVX512BW];
    return hardware[CTXPAR_CPU_AVX2] && hardware[CTXPAR_CPU_FMA];
}

static void detect(void) {
    const char *cap = getenv("CTXPAR_ISA");
    int cap_level = -1; /* index into levels; -1: no cap */
    if (cap && *cap) {
        for (int l = 0; l < N_LEVELS; l++)
            if (!strcmp(cap, levels[l].name)) cap_level = l;
        if (cap_level < 0)
            snprintf(isa_error, sizeof isa_error,
                     "CTXPAR_ISA=%s: unknown; use amx, avx512bf16, avx512 or avx2", cap);
    }
    detect_hardware(cap_level <= 0);
    if (cap_level >= 0 && !level_present(cap_level)) {
        snprintf(isa_error, sizeof isa_error, "CTXPAR_ISA=%s: this CPU has no %s", cap,
                 levels[cap_level].missing);
        cap_level = -1;
    }
    memcpy(allowed, hardware, sizeof allowed);
    if (cap_level > 0) /* hide every level above the cap */
        for (int l = 0; l < cap_level; l++)
            for (int f = levels[l].first; f <= (int)levels[l].last; f++) allowed[f] = 0;
}

static void ensure_detected(void) {
    if (!__atomic_load_n(&detected, __ATOMIC_ACQUIRE)) {
        detect(); /* idempotent: racing first calls write the same values */
        __atomic_store_n(&detected, 1, __ATOMIC_RELEASE);
    }
}

int ctxpar_cpu_has(ctxpar_cpu_feature feature) {
    ensure_detected();
    return feature >= 0 && feature < CTXPAR_CPU_FEATURE_COUNT ? allowed[feature] : 0;
}

int ctxpar_cpu_hardware_has(ctxpar_cpu_feature feature) {
    ensure_detected();
    return feature >= 0 && feature < CTXPAR_CPU_FEATURE_COUNT ? hardware[feature] : 0;
}

const char *ctxpar_cpu_isa(void) {
    ensure_detected();
    if (allowed[CTXPAR_CPU_AMX_TILE] && allowed[CTXPAR_CPU_AMX_BF16]) return "amx";
    if (allowed[CTXPAR_CPU_AVX512_BF16]) return "avx512bf16";
    if (allowed[CTXPAR_CPU_AVX512F] && allowed[CTXPAR_CPU_AVX512DQ] &&
        allowed[CTXPAR_CPU_AVX512BW])
        return "avx512";
    if (allowed[CTXPAR_CPU_AVX2] && allowed[CTXPAR_CPU_FMA]) return "avx2";
    return "baseline";
}

const char *ctxpar_cpu_isa_error(void) {
    ensure_detected();
    return isa_error[0] ? isa_error : NULL;
}
#else
int ctxpar_cpu_has(ctxpar_cpu_feature feature) {
    (void)feature;
    return 0;
}
int ctxpar_cpu_hardware_has(ctxpar_cpu_feature feature) {
    (void)feature;
    return 0;
}
const char *ctxpar_cpu_isa(void) { return "baseline"; }
const char *ctxpar_cpu_isa_error(void) {
    const char *cap = getenv("CTXPAR_ISA");
    return cap && *cap ? "CTXPAR_ISA: this build has no x86-64 kernels" : NULL;
}
#endif
