/* Causal conv3d and stride-2 downsample throughput on the "small" preset's VAE
 * shapes at 256x256 (an 8-frame clip: 8, 4, 2, 2 frames at stages 0..3), next
 * to OpenBLAS sgemm on the equivalent GEMM shape (M=cout, K=cin*kt*kh*kw,
 * N=frames*h*w), the ceiling for any GEMM-based conv. Warm-up, then the median
 * and spread of --repeat runs, at 1 and 2 threads (OpenMP and OpenBLAS both
 * set). Human table on stdout plus one JSON line per row (prefix "{") for
 * bench/run_conv_bench.sh.
 *
 *   bench_conv [--threads N] [--repeat R] [--frames-scale S] */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu/conv3d_internal.h"
#include "kernels/cpu/kernels_cpu.h"

void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);

typedef struct conv_shape {
    const char *name;
    int64_t cin, cout;
    int kt, kh, kw;
    int64_t h, w, frames;
    int stride2; /* the per-frame 3x3 stride-2 downsample */
} conv_shape;

static const conv_shape shapes[] = {
    {"conv_in", 3, 32, 3, 3, 3, 256, 256, 8, 0},
    {"s0.conv", 32, 32, 3, 3, 3, 256, 256, 8, 0},
    {"s0.down", 32, 32, 1, 3, 3, 256, 256, 4, 1},
    {"s1.conv1", 32, 64, 3, 3, 3, 128, 128, 4, 0},
    {"s1.conv2", 64, 64, 3, 3, 3, 128, 128, 4, 0},
    {"s1.down", 64, 64, 1, 3, 3, 128, 128, 2, 1},
    {"s2.conv1", 64, 128, 3, 3, 3, 64, 64, 2, 0},
    {"s2.conv2", 128, 128, 3, 3, 3, 64, 64, 2, 0},
    {"s2.down", 128, 128, 1, 3, 3, 64, 64, 2, 1},
    {"s3.conv", 128, 128, 3, 3, 3, 32, 32, 2, 0},
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void sleep_s(double seconds) {
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct timing {
    double median, min, max;
} timing;

static timing summarise(double *t, int n) {
    qsort(t, n, sizeof(double), cmp_double);
    timing r = {n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[0], t[n - 1]};
    return r;
}

static void fill(float *x, int64_t n, unsigned seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) * (1.0f / 8388608.0f) - 1.0f;
    }
}

/* Output pixels per frame and FLOPs of one shape. */
static double shape_flops(const conv_shape *s) {
    int64_t out_hw = s->stride2 ? (s->h / 2) * (s->w / 2) : s->h * s->w;
    return 2.0 * s->cout * s->cin * s->kt * s->kh * s->kw * s->frames * out_hw;
}

static timing time_ours(const conv_shape *s, int repeat) {
    int64_t hw = s->h * s->w, n = s->frames * hw;
    int64_t out_n = s->stride2 ? s->frames * (s->h / 2) * (s->w / 2) : n;
    int64_t n_weight = s->cout * s->cin * s->kt * s->kh * s->kw;
    int64_t n_scratch = s->stride2 ? ctxpar_cpu_conv2d_stride2_scratch_floats(s->cin, s->h, s->w,
                                                                              s->frames)
                                   : ctxpar_cpu_conv3d_scratch_floats(s->cin, s->cout, s->kt,
                                                                      s->kh, s->kw, s->h, s->w,
                                                                      s->frames);
    float *x = malloc(sizeof(float) * s->cin * n);
    float *halo = malloc(sizeof(float) * (s->cin * (s->kt - 1) * hw + 1));
    float *y = malloc(sizeof(float) * s->cout * out_n);
    float *weight = malloc(sizeof(float) * n_weight), *bias = malloc(sizeof(float) * s->cout);
    float *scratch = malloc(sizeof(float) * n_scratch);
    fill(x, s->cin * n, 1), fill(halo, s->cin * (s->kt - 1) * hw, 2);
    fill(weight, n_weight, 3), fill(bias, s->cout, 4);
    memset(scratch, 0, sizeof(float) * n_scratch), memset(y, 0, sizeof(float) * s->cout * out_n);
    double t[64];
    for (int r = -1; r < repeat; r++) {
        double t0 = now_s();
        if (s->stride2)
            ctxpar_cpu_conv2d_stride2(x, n, y, out_n, weight, bias, s->cin, s->cout, s->h, s->w,
                                      0, 0, s->frames, scratch);
        else
            ctxpar_cpu_conv3d_causal(x, n, halo, y, out_n, weight, bias, s->cin, s->cout, s->kt,
                                     s->kh, s->kw, s->h, s->w, 0, s->frames, scratch);
        if (r >= 0) t[r] = now_s() - t0;
    }
    free(x), free(halo), free(y), free(weight), free(bias), free(scratch);
    return summarise(t, repeat);
}

/* sgemm on M=cout, K=cin*kt*kh*kw, N=out columns; N is capped so B stays under
 * 2^26 floats (a rate, so a column subset measures the same thing). */
static timing time_sgemm(const conv_shape *s, int repeat, int64_t *n_used) {
    int64_t m = s->cout, k = s->cin * s->kt * s->kh * s->kw;
    int64_t n = s->stride2 ? s->frames * (s->h / 2) * (s->w / 2) : s->frames * s->h * s->w;
    if (n * k > (1 << 26)) n = (1 << 26) / k;
    *n_used = n;
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
    float *c = malloc(sizeof(float) * m * n);
    fill(a, m * k, 5), fill(b, k * n, 6), memset(c, 0, sizeof(float) * m * n);
    double t[64];
    for (int r = -1; r < repeat; r++) {
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                    (int)k, b, (int)n, 0.0f, c, (int)n);
        if (r >= 0) t[r] = now_s() - t0;
    }
    free(a), free(b), free(c);
    return summarise(t, repeat);
}

int main(int argc, char **argv) {
    int thread_counts[2] = {1, 2}, n_thread_counts = 2, repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            thread_counts[0] = atoi(argv[++i]);
            n_thread_counts = 1;
        } else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--threads N] [--repeat R]\n", argv[0]);
            return 2;
        }
    }
    if (repeat < 1 || repeat > 64) {
        fprintf(stderr, "bench_conv: --repeat must be 1..64, got %d\n", repeat);
        return 2;
    }
    printf("# bench_conv: ctxpar causal conv3d / stride-2 conv vs OpenBLAS sgemm\n");
    printf("# %s; repeat %d after 1 warm-up; median [min, max]\n", openblas_get_config(), repeat);
    printf("# conv path: %s\n", ctxpar_cpu_conv3d_have_avx512() ? "AVX-512 direct" : "im2col + sgemm");
    printf("# GFLOP = 2*cout*cin*kt*kh*kw*frames*h_out*w_out; sgemm: M=cout K=cin*kt*kh*kw "
           "N=frames*h_out*w_out (N capped so B < 2^26 floats)\n");
    printf("# %-3s %-9s %4s %4s %-5s %-9s %3s %7s %9s %17s %8s %8s\n", "thr", "shape", "cin",
           "cout", "k", "in hxw", "T", "GFLOP", "ms", "[min, max]", "GFLOP/s", "sgemm");
    for (int ti = 0; ti < n_thread_counts; ti++) {
        int threads = thread_counts[ti];
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
        /* All ctxpar rows first, then all sgemm rows after a pause: OpenBLAS's
         * idle threads spin for a while after a call and would steal the
         * cores from the OpenMP threads of the next conv on a small machine. */
        enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };
        timing ours[N_SHAPES], gemm[N_SHAPES];
        int64_t n_sgemm[N_SHAPES];
        for (int si = 0; si < N_SHAPES; si++) ours[si] = time_ours(&shapes[si], repeat);
        sleep_s(0.5);
        for (int si = 0; si < N_SHAPES; si++) gemm[si] = time_sgemm(&shapes[si], repeat, &n_sgemm[si]);
        sleep_s(0.5);
        for (int si = 0; si < N_SHAPES; si++) {
            const conv_shape *s = &shapes[si];
            double flops = shape_flops(s);
            double k_sgemm = (double)s->cin * s->kt * s->kh * s->kw;
            double gemm_rate = 2.0 * s->cout * k_sgemm * n_sgemm[si] / gemm[si].median * 1e-9;
            char kernel[16], size[16];
            snprintf(kernel, sizeof kernel, "%dx%dx%d", s->kt, s->kh, s->kw);
            snprintf(size, sizeof size, "%lldx%lld%s", (long long)s->h, (long long)s->w,
                     s->stride2 ? "/2" : "");
            printf("  %-3d %-9s %4lld %4lld %-5s %-9s %3lld %7.2f %9.2f [%7.2f, %7.2f] %8.1f %8.1f\n",
                   threads, s->name, (long long)s->cin, (long long)s->cout, kernel, size,
                   (long long)s->frames, flops * 1e-9, ours[si].median * 1e3, ours[si].min * 1e3,
                   ours[si].max * 1e3, flops / ours[si].median * 1e-9, gemm_rate);
            printf("{\"bench\":\"conv\",\"impl\":\"ctxpar\",\"threads\":%d,\"shape\":\"%s\","
                   "\"gflop\":%.4f,\"ms\":%.4f,\"ms_min\":%.4f,\"ms_max\":%.4f,"
                   "\"gflops\":%.2f,\"sgemm_gflops\":%.2f}\n",
                   threads, s->name, flops * 1e-9, ours[si].median * 1e3, ours[si].min * 1e3,
                   ours[si].max * 1e3, flops / ours[si].median * 1e-9, gemm_rate);
        }
        fflush(stdout);
    }
    return 0;
}
