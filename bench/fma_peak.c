/* The float32 FMA peak of this CPU, the yardstick for the conv kernels'
 * "% of peak" (docs/bench-conv.md).
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

/* GFLOP/s of all threads together (2 FLOP per FMA lane): median of repeat,
 * and in *best the fastest run (the ceiling; other load only slows runs). */
static double measure(int width, int threads, long iters, int repeat, double *checksum,
                      double *best) {
    double t[64];
    for (int r = -1; r < repeat; r++) {
        double sum = 0, t0 = now_s();
#pragma omp parallel num_threads(threads) reduction(+ : sum)
        sum += width == 512 ? fma_loop_512(iters, 1.0f + omp_get_thread_num())
                            : fma_loop_256(iters, 1.0f + omp_get_thread_num());
        double dt = now_s() - t0;
        if (r >= 0) t[r] = dt;
        *checksum += sum;
    }
    qsort(t, repeat, sizeof(double), cmp_double);
    double median = repeat % 2 ? t[repeat / 2] : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);
    double nacc = width == 512 ? NACC_512 : NACC_256;
    double flops = 2.0 * (width / 32) * nacc * (double)iters * threads;
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
    int have512 = ctxpar_cpu_has(CTXPAR_CPU_AVX512F), have256 = ctxpar_cpu_has(CTXPAR_CPU_FMA);
    printf("# fma_peak: float32 FMA, %d (512-bit) / %d (256-bit) independent accumulators, "
           "%ld iterations per thread, median of %d after 1 warm-up\n", NACC_512, NACC_256, iters,
           repeat);
    printf("# %-6s %7s %10s %14s %10s\n", "vector", "threads", "GFLOP/s", "GFLOP/s/thread",
           "best");
    double checksum = 0;
    for (int width = 512; width >= 256; width -= 256) {
        if ((width == 512 && !have512) || (width == 256 && !have256)) {
            printf("  %-6d unsupported on this CPU\n", width);
            continue;
        }
        for (int threads = 1; threads <= 2; threads++) {
            double best, rate = measure(width, threads, iters, repeat, &checksum, &best);
            printf("  %-6d %7d %10.1f %14.1f %10.1f\n", width, threads, rate, rate / threads,
                   best);
            printf("{\"bench\":\"fma_peak\",\"bits\":%d,\"threads\":%d,\"gflops\":%.2f,"
                   "\"best_gflops\":%.2f}\n",
                   width, threads, rate, best);
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
