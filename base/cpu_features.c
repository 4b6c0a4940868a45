/* CPUID feature bits (see cpu_features.h). Leaf 1: ECX bits 12 FMA, 28 AVX,
 * 29 F16C, 27 OSXSAVE; leaf 7 subleaf 0: EBX bits 5 AVX2, 16 AVX512F,
 * 17 AVX512DQ, 30 AVX512BW; leaf 7 subleaf 1: EAX bit 5 AVX512_BF16. XCR0
 * bits 1-2 (SSE, AVX state) gate the AVX features, bits 5-7 (opmask, ZMM)
 * the AVX-512 ones. */
#include "base/cpu_features.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <stdint.h>

static int features[CTXPAR_CPU_FEATURE_COUNT];
static int detected;

static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect(void) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const int osxsave = (c >> 27) & 1;
    const uint64_t xcr = osxsave ? xcr0() : 0;
    const int avx_os = (xcr & 0x6) == 0x6, avx512_os = avx_os && (xcr & 0xe0) == 0xe0;
    features[CTXPAR_CPU_AVX] = avx_os && ((c >> 28) & 1);
    features[CTXPAR_CPU_FMA] = avx_os && ((c >> 12) & 1);
    features[CTXPAR_CPU_F16C] = avx_os && ((c >> 29) & 1);
    unsigned max = __get_cpuid_max(0, 0);
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        features[CTXPAR_CPU_AVX2] = avx_os && ((b >> 5) & 1);
        features[CTXPAR_CPU_AVX512F] = avx512_os && ((b >> 16) & 1);
        features[CTXPAR_CPU_AVX512DQ] = avx512_os && ((b >> 17) & 1);
        features[CTXPAR_CPU_AVX512BW] = avx512_os && ((b >> 30) & 1);
        const unsigned subleaves = a;
        if (subleaves >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            features[CTXPAR_CPU_AVX512_BF16] = avx512_os && ((a >> 5) & 1);
        }
    }
}

int ctxpar_cpu_has(ctxpar_cpu_feature feature) {
    if (!__atomic_load_n(&detected, __ATOMIC_ACQUIRE)) {
        detect(); /* idempotent: racing first calls write the same values */
        __atomic_store_n(&detected, 1, __ATOMIC_RELEASE);
    }
    return feature >= 0 && feature < CTXPAR_CPU_FEATURE_COUNT ? features[feature] : 0;
}
#else
int ctxpar_cpu_has(ctxpar_cpu_feature feature) {
    (void)feature;
    return 0;
}
#endif
