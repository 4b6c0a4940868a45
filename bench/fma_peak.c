/* The float32 FMA peak of this CPU, the yardstick for the conv kernels'
 * "% of peak" (docs/bench-conv.md), and the bf16 peaks the bf16 GEMM is
 * measured against (docs/bf16.md): VDPBF16PS (AVX512-BF16) and TDPBF16PS
 * (AMX), where the CPU has them.
 *
 * Design: each thread runs a loop of fused multiply-adds on NACC_* independent
 * accumulators (more than FMA latency x FMA ports, so the loop is bound by FMA
 * throughput, not latency), for 512-bit (AVX-512) and 256-bit (AVX2/FMA3)
 * vectors: a CPU that splits 512-bit operations into two halves shows the
 * same rate for both, one with full-width units shows twice the rate for
 * 512 bits. The loop body is asm-free intrinsics; the accumulators are summed
 * and printed so the compiler cannot drop the work. Median of --repeat runs at
 * 1 and 2 threads (OpenMP), and the best run, which is the figure a shared
 * machine's other load cannot inflate.
 *
 * FLOP counts: an FMA lane is 2; a VDPBF16PS lane is 4 (two products, two
 * adds), 64 per zmm instruction; a TDPBF16PS on 16 x 16 float32 tiles with
 * 32 bf16 values per row is 16*16*32*2 = 16384.
 *
 *   fma_peak [--repeat R] [--iters N] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* 512-bit: 24 of the 32 zmm registers; 256-bit: 12, so accumulators and the
 * two operands fit the 16 ymm registers of AVX2 without spilling. */
enum { NACC_512 = 24, NACC_256 = 12 };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* iters x NACC_512 FMAs of 16 lanes; returns a checksum. */
__attribute__((target("avx512f"), noinline)) static float fma_loop_512(long iters, float seed) {
    enum { NACC = NACC_512 };
    __m512 acc[NACC];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f * seed);
    for (int i = 0; i < NACC; i++) acc[i] = _mm512_set1_ps((float)i * seed);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < NACC; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < NACC; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

/* iters x NACC_256 FMAs of 8 lanes. */
__attribute__((target("avx2,fma"), noinline)) static float fma_loop_256(long iters, float seed) {
    enum { NACC = NACC_256 };
    __m256 acc[NACC];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f * seed);
    for (int i = 0; i < NACC; i++) acc[i] = _mm256_set1_ps((float)i * seed);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < NACC; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    __m256 s = acc[0];
    for (int i = 1; i < NACC; i++) s = _mm256_add_ps(s, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    float total = 0;
    for (int i = 0; i < 8; i++) total += lanes[i];
    return total;
}

/* iters x NACC_512 VDPBF16PS of 16 lanes (4 FLOP each). The operands are
 * small bf16 values so the sums stay finite. */
__attribute__((target("avx512f,avx512bf16"), noinline)) static float dp_loop_bf16(long iters,
                                                                                   float seed) {
    enum { NACC = NACC_512 };
    __m512 acc[NACC];
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3c003c00), /* (2^-7, 2^-7) */
        b = (__m512bh)_mm512_set1_epi32(0x33803380);          /* (2^-24, 2^-24) */
    for (int i = 0; i < NACC; i++) acc[i] = _mm512_set1_ps((float)i * seed);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < NACC; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < NACC; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

#if defined(__linux__) && (__GNUC__ >= 11 || defined(__clang__))
#define HAVE_AMX_PROBE 1
/* AMX: 4 accumulator tiles (16 rows x 16 float32), one A and one B tile (16
 * rows x 32 bf16), iters x 4 TDPBF16PS. ctxpar_cpu_has(AMX) has already
 * asked Linux for the tile state. */
__attribute__((target("amx-tile,amx-bf16"), noinline)) static float amx_loop(long iters,
                                                                               float seed) {
    struct {
        unsigned char palette, start_row, reserved[14];
        unsigned short colsb[16];
        unsigned char rows[16];
    } __attribute__((packed, aligned(64))) cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 6; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    static unsigned short ab[16 * 32] __attribute__((aligned(64)));
    for (int i = 0; i < 16 * 32; i++) ab[i] = 0x3c00; /* 2^-7 */
    float out[16 * 16] __attribute__((aligned(64)));
    for (int i = 0; i < 16 * 16; i++) out[i] = seed;
    _tile_loadd(0, out, 64);
    _tile_loadd(1, out, 64);
    _tile_loadd(2, out, 64);
    _tile_loadd(3, out, 64);
    _tile_loadd(4, ab, 64);
    _tile_loadd(5, ab, 64);
    for (long it = 0; it < iters; it++) {
        _tile_dpbf16ps(0, 4, 5);
        _tile_dpbf16ps(1, 4, 5);
        _tile_dpbf16ps(2, 4, 5);
        _tile_dpbf16ps(3, 4, 5);
    }
    float total = 0;
    for (int t = 0; t < 4; t++) {
        if (t == 0) _tile_stored(0, out, 64);
        if (t == 1) _tile_stored(1, out, 64);
        if (t == 2) _tile_stored(2, out, 64);
        if (t == 3) _tile_stored(3, out, 64);
        total += out[0];
    }
    _tile_release();
    return total;
}
#else
#define HAVE_AMX_PROBE 0
static float amx_loop(long iters, float seed) { return 0 * iters * seed; }
#endif

typedef enum probe { PROBE_FMA512, PROBE_FMA256, PROBE_BF16_DP, PROBE_AMX } probe;

static const char *const probe_names[] = {"512", "256", "bf16dp", "amx"};

/* GFLOP/s of all threads together (2 FLOP per FMA lane): median of repeat,
 * and in *best the fastest run (the ceiling; other load only slows runs). */
static double measure(probe which, int threads, long iters, int repeat, double *checksum,
                      double *best) {
    double t[64];
    for (int r = -1; r < repeat; r++) {
        double sum = 0, t0 = now_s();
#pragma omp parallel num_threads(threads) reduction(+ : sum)
        {
            const float seed = 1.0f + omp_get_thread_num();
            switch (which) {
            case PROBE_FMA512: sum += fma_loop_512(iters, seed); break;
            case PROBE_FMA256: sum += fma_loop_256(iters, seed); break;
            case PROBE_BF16_DP: sum += dp_loop_bf16(iters, seed); break;
            case PROBE_AMX: sum += amx_loop(iters / 16, seed); break;
            }
        }
        double dt = now_s() - t0;
        if (r >= 0) t[r] = dt;
        *checksum += sum;
    }
    qsort(t, repeat, sizeof(double), cmp_double);
    double median = repeat % 2 ? t[repeat / 2] : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);
    double flops = 0;
    switch (which) {
    case PROBE_FMA512: flops = 2.0 * 16 * NACC_512 * (double)iters; break;
    case PROBE_FMA256: flops = 2.0 * 8 * NACC_256 * (double)iters; break;
    case PROBE_BF16_DP: flops = 4.0 * 16 * NACC_512 * (double)iters; break;
    case PROBE_AMX: flops = 16384.0 * 4 * (double)(iters / 16); break;
    }
    flops *= threads;
    *best = flops / t[0] * 1e-9;
    return flops / median * 1e-9;
}

int main(int argc, char **argv) {
    int repeat = 7;
    long iters = 20000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
            iters = atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--repeat R] [--iters N]\n", argv[0]);
            return 2;
        }
    }
    if (repeat < 1 || repeat > 64 || iters < 1) {
        fprintf(stderr, "fma_peak: --repeat must be 1..64 and --iters positive\n");
        return 2;
    }
    const int have[4] = {
        ctxpar_cpu_has(CTXPAR_CPU_AVX512F), ctxpar_cpu_has(CTXPAR_CPU_FMA),
        ctxpar_cpu_has(CTXPAR_CPU_AVX512_BF16),
        HAVE_AMX_PROBE && ctxpar_cpu_has(CTXPAR_CPU_AMX_TILE) &&
            ctxpar_cpu_has(CTXPAR_CPU_AMX_BF16)};
    printf("# fma_peak: float32 FMA, %d (512-bit) / %d (256-bit) independent accumulators; "
           "bf16 VDPBF16PS on %d; AMX TDPBF16PS on 4 tiles; %ld iterations per thread "
           "(AMX: /16), median of %d after 1 warm-up\n",
           NACC_512, NACC_256, NACC_512, iters, repeat);
    printf("# %-6s %7s %10s %14s %10s\n", "vector", "threads", "GFLOP/s", "GFLOP/s/thread",
           "best");
    double checksum = 0;
    for (int which = PROBE_FMA512; which <= PROBE_AMX; which++) {
        if (!have[which]) {
            printf("  %-6s unsupported on this CPU\n", probe_names[which]);
            continue;
        }
        for (int threads = 1; threads <= 2; threads++) {
            double best, rate = measure((probe)which, threads, iters, repeat, &checksum, &best);
            printf("  %-6s %7d %10.1f %14.1f %10.1f\n", probe_names[which], threads, rate,
                   rate / threads, best);
            if (which <= PROBE_FMA256)
                printf("{\"bench\":\"fma_peak\",\"bits\":%s,\"threads\":%d,"
                       "\"gflops\":%.2f,\"best_gflops\":%.2f}\n",
                       probe_names[which], threads, rate, best);
            else
                printf("{\"bench\":\"fma_peak\",\"unit\":\"%s\",\"threads\":%d,"
                       "\"gflops\":%.2f,\"best_gflops\":%.2f}\n",
                       probe_names[which], threads, rate, best);
            fflush(stdout);
        }
    }
    printf("# checksum %g\n", checksum);
    return 0;
}

#else
int main(void) {
    fprintf(stderr, "fma_peak: needs x86-64 and GCC or Clang\n");
    return 1;
}
#endif
