/* Convolution throughput on the CogVideoX-2b VAE encoder's shapes for a
 * 9-frame 256x256 clip (frames per stage 9, 5, 3, 3 after the temporal
 * pooling of stages 0 and 1): the causal 3x3x3 convs, the 3x3 stride-2
 * downsamples (CogVideoX padding: right/bottom only, pad_begin = 0) and the
 * 1x1x1 shortcuts, next to OpenBLAS sgemm on the equivalent GEMM shape
 * (M=cout, K=cin*kt*kh*kw, N=frames*h_out*w_out), the ceiling for any
 * GEMM-based conv. Warm-up, then the median and spread of --repeat runs, at 1
 * and 2 threads (OpenMP and OpenBLAS both set). With --peak (the per-core FMA
 * peak from bench/fma_peak) each row also shows its % of peak. Human table on
 * stdout plus one JSON line per row (prefix "{") for bench/run_conv_bench.sh.
 *
 *   bench_conv [--threads N] [--repeat R] [--peak GFLOPS] [--max-frames F]
 *              [--only NAME[,NAME...]] [--no-sgemm] [--path PATH[,PATH...]]
 *
 * --path times the causal convs once per named path of
 * ctxpar_cpu_conv3d_causal, side by side in one run: auto (the dispatch's
 * choice, the default), direct, winograd (its automatic tile), winograd-f2,
 * winograd-f4, gemm (ctxpar_cpu_conv3d_force_path;
 * a shape the path does not support runs the automatic choice), and bf16
 * (--dtype bf16's conv, conv_bf16.h, on the bf16 GEMM's best path here: its
 * label names that path; on "avx512bf16" the causal 3x3x3 convs run as the
 * bf16 Winograd, elsewhere as the implicit GEMM). The other kinds of conv
 * run only with the first path and with bf16.
 *
 * --max-frames caps every shape's frame count (a rate per output frame, for
 * quick runs); the recorded numbers use the real counts. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu/conv3d_internal.h"
#include "kernels/cpu/conv_bf16.h"
#include "kernels/cpu/kernels_cpu.h"

void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);

enum conv_kind { CAUSAL3, STRIDE2, POINTWISE };

typedef struct conv_shape {
    const char *name;
    int64_t cin, cout;
    int kt, kh, kw;
    int64_t h, w, frames;
    enum conv_kind kind; /* STRIDE2: per-frame 3x3 stride 2; POINTWISE: 1x1x1 */
} conv_shape;

/* Kept equal to bench/conv_torch.py. */
static const conv_shape shapes[] = {
    {"conv_in", 3, 128, 3, 3, 3, 256, 256, 9, CAUSAL3},
    {"s0.conv", 128, 128, 3, 3, 3, 256, 256, 9, CAUSAL3},
    {"s0.down", 128, 128, 1, 3, 3, 256, 256, 5, STRIDE2},
    {"s1.conv1", 128, 256, 3, 3, 3, 128, 128, 5, CAUSAL3},
    {"s1.conv2", 256, 256, 3, 3, 3, 128, 128, 5, CAUSAL3},
    {"s1.skip", 128, 256, 1, 1, 1, 128, 128, 5, POINTWISE},
    {"s1.down", 256, 256, 1, 3, 3, 128, 128, 3, STRIDE2},
    {"s2.conv", 256, 256, 3, 3, 3, 64, 64, 3, CAUSAL3},
    {"s2.down", 256, 256, 1, 3, 3, 64, 64, 3, STRIDE2},
    {"s3.conv1", 256, 512, 3, 3, 3, 32, 32, 3, CAUSAL3},
    {"s3.conv2", 512, 512, 3, 3, 3, 32, 32, 3, CAUSAL3},
    {"s3.skip", 256, 512, 1, 1, 1, 32, 32, 3, POINTWISE},
    {"conv_out", 512, 32, 3, 3, 3, 32, 32, 3, CAUSAL3},
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

/* Wall-clock median, min and max, and the median process CPU time (all
 * threads): on a shared machine the CPU time of a 1-thread run is the time it
 * actually held a core, so flops / cpu is its on-core rate even when other
 * jobs take turns on the same core. */
typedef struct timing {
    double median, min, max, cpu;
} timing;

static double median_of(double *t, int n) {
    qsort(t, n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static timing summarise(double *t, double *cpu, int n) {
    timing r;
    r.median = median_of(t, n);
    r.min = t[0], r.max = t[n - 1];
    r.cpu = median_of(cpu, n);
    return r;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void fill(float *x, int64_t n, unsigned seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) * (1.0f / 8388608.0f) - 1.0f;
    }
}

static int64_t out_hw_of(const conv_shape *s) {
    return s->kind == STRIDE2 ? (s->h / 2) * (s->w / 2) : s->h * s->w;
}

static double shape_flops(const conv_shape *s) {
    return 2.0 * s->cout * s->cin * s->kt * s->kh * s->kw * s->frames * out_hw_of(s);
}

/* The bf16 conv's shape for a bench shape. */
static ctxpar_conv_bf16_shape bf16_shape(const conv_shape *s) {
    if (s->kind == STRIDE2)
        return (ctxpar_conv_bf16_shape){s->cin, s->cout, 1, 3, 3, 2, 0, 0,
                                        s->h, s->w, s->h / 2, s->w / 2};
    if (s->kind == POINTWISE)
        return (ctxpar_conv_bf16_shape){s->cin, s->cout, 1, 1, 1, 1, 0, 0, s->h, s->w, s->h, s->w};
    return (ctxpar_conv_bf16_shape){s->cin, s->cout, s->kt, s->kh, s->kw, 1, s->kh / 2,
                                    s->kw / 2, s->h, s->w, s->h, s->w};
}

/* Which path a causal conv of this shape takes under the current forcing. */
static const char *path_label(const conv_shape *s, int bf16) {
    static char label[32];
    if (bf16) {
        snprintf(label, sizeof label, "bf16-%s", ctxpar_cpu_gemm_bf16_path());
        return label;
    }
    return s->kind == CAUSAL3
               ? ctxpar_cpu_conv3d_path_name(s->cin, s->cout, s->kt, s->kh, s->kw, s->h, s->w)
               : "-";
}

static timing time_ours(const conv_shape *s, int repeat, int bf16) {
    int64_t hw = s->h * s->w, n = s->frames * hw;
    int64_t out_n = s->frames * out_hw_of(s);
    int64_t n_weight = s->cout * s->cin * s->kt * s->kh * s->kw;
    const ctxpar_conv_bf16_shape b16 = bf16_shape(s);
    int64_t n_scratch =
        bf16 ? ctxpar_cpu_conv_bf16_scratch_floats(&b16, 0)
        : s->kind == STRIDE2   ? ctxpar_cpu_conv2d_stride2_scratch_floats(s->cin, s->h, s->w,
                                                                        s->frames)
        : s->kind == CAUSAL3 ? ctxpar_cpu_conv3d_scratch_floats(s->cin, s->cout, s->kt, s->kh,
                                                                s->kw, s->h, s->w, s->frames)
                             : 1;
    float *x = malloc(sizeof(float) * s->cin * n);
    float *halo = malloc(sizeof(float) * (s->cin * (s->kt - 1) * hw + 1));
    float *y = malloc(sizeof(float) * s->cout * out_n);
    float *weight = malloc(sizeof(float) * n_weight), *bias = malloc(sizeof(float) * s->cout);
    float *scratch = malloc(sizeof(float) * n_scratch);
    fill(x, s->cin * n, 1), fill(halo, s->cin * (s->kt - 1) * hw, 2);
    fill(weight, n_weight, 3), fill(bias, s->cout, 4);
    memset(scratch, 0, sizeof(float) * n_scratch), memset(y, 0, sizeof(float) * s->cout * out_n);
    ctxpar_bf16 *packed = NULL; /* converted once, as the runtime does per node */
    if (bf16) {
        packed = malloc(sizeof(ctxpar_bf16) * (size_t)ctxpar_cpu_conv_bf16_weight_values(
                                                   s->cin, s->cout, s->kt, s->kh, s->kw));
        ctxpar_cpu_conv_bf16_pack_weight(packed, weight, s->cin, s->cout, s->kt, s->kh, s->kw);
    }
    double t[64], cpu[64];
    for (int r = -1; r < repeat; r++) {
        double t0 = now_s(), c0 = cpu_s();
        if (bf16)
            ctxpar_cpu_conv_bf16(x, n, halo, y, out_n, packed, bias, &b16, 0, s->frames, 0,
                                 NULL, scratch);
        else if (s->kind == STRIDE2)
            ctxpar_cpu_conv2d_stride2(x, n, y, out_n, weight, bias, s->cin, s->cout, s->h, s->w,
                                      0, 0, s->frames, scratch);
        else if (s->kind == POINTWISE)
            ctxpar_cpu_conv1x1(x, n, y, out_n, weight, bias, s->cin, s->cout, s->frames, hw);
        else
            ctxpar_cpu_conv3d_causal(x, n, halo, y, out_n, weight, bias, s->cin, s->cout, s->kt,
                                     s->kh, s->kw, s->h, s->w, 0, s->frames, scratch);
        if (r >= 0) t[r] = now_s() - t0, cpu[r] = cpu_s() - c0;
    }
    free(x), free(halo), free(y), free(weight), free(bias), free(scratch), free(packed);
    return summarise(t, cpu, repeat);
}

/* sgemm on M=cout, K=cin*kt*kh*kw, N=out columns; N is capped so B stays under
 * 2^26 floats (a rate, so a column subset measures the same thing). */
static timing time_sgemm(const conv_shape *s, int repeat, int64_t *n_used) {
    int64_t m = s->cout, k = s->cin * s->kt * s->kh * s->kw;
    int64_t n = s->frames * out_hw_of(s);
    if (n * k > (1 << 26)) n = (1 << 26) / k;
    *n_used = n;
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
    float *c = malloc(sizeof(float) * m * n);
    fill(a, m * k, 5), fill(b, k * n, 6), memset(c, 0, sizeof(float) * m * n);
    double t[64], cpu[64];
    for (int r = -1; r < repeat; r++) {
        double t0 = now_s(), c0 = cpu_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                    (int)k, b, (int)n, 0.0f, c, (int)n);
        if (r >= 0) t[r] = now_s() - t0, cpu[r] = cpu_s() - c0;
    }
    free(a), free(b), free(c);
    return summarise(t, cpu, repeat);
}

/* Is name in the comma-separated list (NULL: every name)? */
static int selected(const char *list, const char *name) {
    if (!list) return 1;
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && !strncmp(p, name, n)) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int thread_counts[2] = {1, 2}, n_thread_counts = 2, repeat = 5, with_sgemm = 1;
    double peak = 0;
    int64_t max_frames = 0;
    const char *only = NULL, *path_list = "auto";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            thread_counts[0] = atoi(argv[++i]);
            n_thread_counts = 1;
        } else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--peak") && i + 1 < argc) {
            peak = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--max-frames") && i + 1 < argc) {
            max_frames = atoll(argv[++i]);
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--path") && i + 1 < argc) {
            path_list = argv[++i];
        } else if (!strcmp(argv[i], "--no-sgemm")) {
            with_sgemm = 0;
        } else {
            fprintf(stderr,
                    "usage: %s [--threads N] [--repeat R] [--peak GFLOPS] [--max-frames F] "
                    "[--only NAME[,NAME...]] [--no-sgemm] [--path PATH[,PATH...]]\n",
                    argv[0]);
            return 2;
        }
    }
    if (repeat < 1 || repeat > 64) {
        fprintf(stderr, "bench_conv: --repeat must be 1..64, got %d\n", repeat);
        return 2;
    }
    enum { N_SHAPES = sizeof shapes / sizeof shapes[0], MAX_PATHS = 4 };
    char path_buf[64];
    const char *paths[MAX_PATHS];
    int n_paths = 0;
    snprintf(path_buf, sizeof path_buf, "%s", path_list);
    for (char *tok = strtok(path_buf, ","); tok && n_paths < MAX_PATHS; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "auto") && strcmp(tok, "bf16") && ctxpar_cpu_conv3d_force_path(tok) != 0) {
            fprintf(stderr, "bench_conv: --path %s: unknown or not on this CPU "
                            "(auto, direct, winograd, winograd-f2, winograd-f4, gemm, bf16)\n",
                    tok);
            return 2;
        }
        paths[n_paths++] = tok;
    }
    ctxpar_cpu_conv3d_force_path(NULL);
    conv_shape run[N_SHAPES];
    int n_run = 0;
    for (int si = 0; si < N_SHAPES; si++) {
        if (!selected(only, shapes[si].name)) continue;
        run[n_run] = shapes[si];
        if (max_frames > 0 && run[n_run].frames > max_frames) run[n_run].frames = max_frames;
        n_run++;
    }
    printf("# bench_conv: ctxpar causal conv3d / stride-2 conv / 1x1 conv vs OpenBLAS sgemm\n");
    printf("# %s; repeat %d after 1 warm-up; median [min, max]\n", openblas_get_config(), repeat);
    printf("# GFLOP = 2*cout*cin*kt*kh*kw*frames*h_out*w_out; sgemm: M=cout K=cin*kt*kh*kw "
           "N=frames*h_out*w_out (N capped so B < 2^26 floats)\n");
    if (peak > 0) printf("# %%peak = GFLOP/s / (%.1f GFLOP/s per core x threads)\n", peak);
    printf("# cpu: GFLOP per second of process CPU time (1 thread: the on-core rate, "
           "robust to other jobs)\n");
    printf("# GFLOP/s of every path counts the direct convolution's FLOPs (Winograd: the "
           "effective rate)\n");
    printf("# %-3s %-9s %-9s %4s %4s %-5s %-9s %3s %7s %9s %19s %8s %6s %6s %8s\n", "thr",
           "shape", "path", "cin", "cout", "k", "in hxw", "T", "GFLOP", "ms", "[min, max]",
           "GFLOP/s", "%peak", "cpu", "sgemm");
    for (int ti = 0; ti < n_thread_counts; ti++) {
        int threads = thread_counts[ti];
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
        /* All ctxpar rows first, then all sgemm rows after a pause: OpenBLAS's
         * idle threads spin for a while after a call and would steal the
         * cores from the OpenMP threads of the next conv on a small machine.
         * (The 1x1 rows call OpenBLAS too when the conv does.) */
        timing ours[MAX_PATHS][N_SHAPES], gemm[N_SHAPES];
        const char *label[MAX_PATHS][N_SHAPES];
        int64_t n_sgemm[N_SHAPES];
        /* Paths interleaved per shape, so a burst of load from other jobs
         * hits them alike. */
        for (int si = 0; si < n_run; si++)
            for (int pi = 0; pi < n_paths; pi++) {
                const int bf16 = !strcmp(paths[pi], "bf16");
                if (pi > 0 && !bf16 && run[si].kind != CAUSAL3) continue;
                ctxpar_cpu_conv3d_force_path(strcmp(paths[pi], "auto") && !bf16 ? paths[pi] : NULL);
                label[pi][si] = strdup(path_label(&run[si], bf16));
                ours[pi][si] = time_ours(&run[si], repeat, bf16);
            }
        ctxpar_cpu_conv3d_force_path(NULL);
        sleep_s(0.5);
        for (int si = 0; si < n_run; si++)
            if (with_sgemm) gemm[si] = time_sgemm(&run[si], repeat, &n_sgemm[si]);
        if (with_sgemm) sleep_s(0.5);
        for (int pi = 0; pi < n_paths; pi++)
        for (int si = 0; si < n_run; si++) {
            const conv_shape *s = &run[si];
            if (pi > 0 && strcmp(paths[pi], "bf16") && s->kind != CAUSAL3) continue;
            double flops = shape_flops(s);
            double k_sgemm = (double)s->cin * s->kt * s->kh * s->kw;
            double gemm_rate =
                with_sgemm ? 2.0 * s->cout * k_sgemm * n_sgemm[si] / gemm[si].median * 1e-9 : 0;
            double rate = flops / ours[pi][si].median * 1e-9;
            double pct = peak > 0 ? 100.0 * rate / (peak * threads) : 0;
            double cpu_rate = flops / ours[pi][si].cpu * 1e-9;
            char kernel[16], size[16];
            snprintf(kernel, sizeof kernel, "%dx%dx%d", s->kt, s->kh, s->kw);
            snprintf(size, sizeof size, "%lldx%lld%s", (long long)s->h, (long long)s->w,
                     s->kind == STRIDE2 ? "/2" : "");
            printf("  %-3d %-9s %-9s %4lld %4lld %-5s %-9s %3lld %7.2f %9.2f [%8.2f, %8.2f] %8.1f "
                   "%6.1f %6.1f %8.1f\n",
                   threads, s->name, label[pi][si], (long long)s->cin, (long long)s->cout, kernel, size,
                   (long long)s->frames, flops * 1e-9, ours[pi][si].median * 1e3, ours[pi][si].min * 1e3,
                   ours[pi][si].max * 1e3, rate, pct, cpu_rate, gemm_rate);
            printf("{\"bench\":\"conv\",\"impl\":\"ctxpar\",\"path\":\"%s\",\"threads\":%d,"
                   "\"shape\":\"%s\",\"frames\":%lld,\"gflop\":%.4f,\"ms\":%.4f,\"ms_min\":%.4f,\"ms_max\":%.4f,"
                   "\"gflops\":%.2f,\"pct_peak\":%.1f,\"cpu_gflops\":%.2f,"
                   "\"sgemm_gflops\":%.2f}\n",
                   label[pi][si], threads, s->name, (long long)s->frames, flops * 1e-9,
                   ours[pi][si].median * 1e3,
                   ours[pi][si].min * 1e3, ours[pi][si].max * 1e3, rate, pct, cpu_rate, gemm_rate);
        }
        fflush(stdout);
    }
    return 0;
}
