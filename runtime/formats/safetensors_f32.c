/* Widening a safetensors tensor to float32 (see safetensors.h). Every source
 * type converts exactly or rounds once, so the SIMD paths must give the same
 * bits as the scalar loop: F16 goes through the CPU's own converter (F16C or
 * AVX-512), whose one liberty, quieting a signalling NaN, the scalar code
 * copies; BF16 is the top half of a float32, a 16-bit shift; F64 rounds to
 * nearest like a C cast. Paths are compiled with target attributes and chosen
 * at run time, so the library builds with generic flags. Large tensors are
 * cut into chunks that OpenMP threads convert independently. */
#include <stdint.h>
#include <string.h>

#include "base/cpu_features.h"
#include "runtime/formats/safetensors.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ST_X86 1
#endif

/* Below this many elements one thread converts; above, chunks of this size. */
#define ST_CHUNK_ELEMENTS (1 << 16)

static float st_f16_to_f32(uint16_t half) {
    uint32_t sign = (uint32_t)(half & 0x8000) << 16;
    uint32_t exponent = (half >> 10) & 0x1f;
    uint32_t mantissa = half & 0x3ff;
    uint32_t bits;
    if (exponent == 0x1f) {
        /* inf, or NaN with its payload and the quiet bit set, as F16C does */
        bits = sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x00400000u : 0);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {
        /* subnormal: mantissa x 2^-24, normal in float32 */
        int shift = 0;
        while (!(mantissa & 0x400)) {
            mantissa <<= 1;
            shift++;
        }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((mantissa & 0x3ff) << 13);
    }
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* The data section need not be aligned (a tensor may start at any byte
 * offset), so every path takes bytes and loads elements unaligned. */
static void st_f16_scalar(const unsigned char *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint16_t half;
        memcpy(&half, src + 2 * i, sizeof half);
        dst[i] = st_f16_to_f32(half);
    }
}

static void st_bf16_scalar(const unsigned char *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint16_t half;
        memcpy(&half, src + 2 * i, sizeof half);
        uint32_t bits = (uint32_t)half << 16;
        memcpy(&dst[i], &bits, sizeof bits);
    }
}

static void st_f64_scalar(const unsigned char *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double value;
        memcpy(&value, src + 8 * i, sizeof value);
        dst[i] = (float)value;
    }
}

#ifdef ST_X86
__attribute__((target("avx512f"))) static void st_f16_avx512(const unsigned char *src,
                                                              float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const void *)(src + 2 * i))));
    st_f16_scalar(src + 2 * i, dst + i, n - i);
}

__attribute__((target("avx,f16c"))) static void st_f16_f16c(const unsigned char *src,
                                                             float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const void *)(src + 2 * i))));
    st_f16_scalar(src + 2 * i, dst + i, n - i);
}

__attribute__((target("avx512f"))) static void st_bf16_avx512(const unsigned char *src,
                                                               float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const void *)(src + 2 * i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16)));
    }
    st_bf16_scalar(src + 2 * i, dst + i, n - i);
}

__attribute__((target("avx2"))) static void st_bf16_avx2(const unsigned char *src, float *dst,
                                                          int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const void *)(src + 2 * i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
    }
    st_bf16_scalar(src + 2 * i, dst + i, n - i);
}

__attribute__((target("avx512f"))) static void st_f64_avx512(const unsigned char *src,
                                                              float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm512_cvtpd_ps(_mm512_loadu_pd((const void *)(src + 8 * i))));
    st_f64_scalar(src + 8 * i, dst + i, n - i);
}

__attribute__((target("avx"))) static void st_f64_avx(const unsigned char *src, float *dst,
                                                      int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(dst + i, _mm256_cvtpd_ps(_mm256_loadu_pd((const void *)(src + 8 * i))));
    st_f64_scalar(src + 8 * i, dst + i, n - i);
}
#endif

/* Convert n elements with the fastest path this CPU runs for `dtype`. */
static void st_convert_range(ctxpar_st_dtype dtype, const void *src, float *dst, int64_t n) {
#ifdef ST_X86
    const int avx512 = ctxpar_cpu_has(CTXPAR_CPU_AVX512F);
    const int avx2 = ctxpar_cpu_has(CTXPAR_CPU_AVX2);
    const int f16c = ctxpar_cpu_has(CTXPAR_CPU_F16C) && ctxpar_cpu_has(CTXPAR_CPU_AVX);
    const int avx = ctxpar_cpu_has(CTXPAR_CPU_AVX);
#endif
    switch (dtype) {
    case CTXPAR_ST_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    case CTXPAR_ST_F16:
#ifdef ST_X86
        if (avx512) {
            st_f16_avx512(src, dst, n);
            return;
        }
        if (f16c) {
            st_f16_f16c(src, dst, n);
            return;
        }
#endif
        st_f16_scalar(src, dst, n);
        return;
    case CTXPAR_ST_BF16:
#ifdef ST_X86
        if (avx512) {
            st_bf16_avx512(src, dst, n);
            return;
        }
        if (avx2) {
            st_bf16_avx2(src, dst, n);
            return;
        }
#endif
        st_bf16_scalar(src, dst, n);
        return;
    case CTXPAR_ST_F64:
#ifdef ST_X86
        if (avx512) {
            st_f64_avx512(src, dst, n);
            return;
        }
        if (avx) {
            st_f64_avx(src, dst, n);
            return;
        }
#endif
        st_f64_scalar(src, dst, n);
        return;
    }
}

void ctxpar_safetensors_to_f32(const ctxpar_st_tensor *t, float *dst) {
    const int64_t count = t->count;
    const int64_t itemsize = t->bytes / (count ? count : 1);
    const unsigned char *src = t->data;
    if (count <= 0) return;
    if (count <= ST_CHUNK_ELEMENTS) {
        st_convert_range(t->dtype, src, dst, count);
        return;
    }
    const int64_t n_chunks = (count + ST_CHUNK_ELEMENTS - 1) / ST_CHUNK_ELEMENTS;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < n_chunks; c++) {
        int64_t first = c * ST_CHUNK_ELEMENTS;
        int64_t n = count - first < ST_CHUNK_ELEMENTS ? count - first : ST_CHUNK_ELEMENTS;
        st_convert_range(t->dtype, src + first * itemsize, dst + first, n);
    }
}

void ctxpar_safetensors_copy_bf16(const ctxpar_st_tensor *t, uint16_t *dst) {
    const unsigned char *src = t->data;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, src, (size_t)t->count * 2);
#else
    for (int64_t i = 0; i < t->count; i++)
        dst[i] = (uint16_t)(src[2 * i] | (unsigned)src[2 * i + 1] << 8);
#endif
}
