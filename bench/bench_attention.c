/* Benchmark of the tiled attention kernel against its ceiling, OpenBLAS
 * sgemm doing the same two matrix products per head (S = Q K^T into an
 * N x N buffer, then O = S V), at the same shapes and thread counts.
 *
 * Design: the peer is timed the same way in the same process (warm-up,
 * repeats, median, min, max), so the ratio is side by side on a noisy
 * machine. Peak memory is VmHWM, reset through /proc/self/clear_refs before
 * each measured phase, so the kernel's peak is not hidden under the sgemm
 * buffer of an earlier phase. FLOPs = 4 * N^2 * head_dim * heads for both
 * (softmax not counted). The cpu% column (process CPU time over wall time x
 * threads, all timed runs) shows when another process took the cores.
 *
 *   bench_attention [--n 4096,8192,16384] [--threads 1,2] [--heads 8]
 *                   [--head-dim 64] [--repeat 5] [--warmup 1] [--isa NAME]
 *                   [--no-sgemm] [--json FILE] */
#include "kernels/cpu/transformer_cpu.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t which) {
    struct timespec ts;
    clock_gettime(which, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

/* VmHWM (peak resident set) of this process in MiB, or -1. */
static double peak_rss_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1.0;
    char line[256];
    double kib = -1.0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kib = atof(line + 6);
    fclose(f);
    return kib < 0 ? -1.0 : kib / 1024.0;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0); returns 0 on success. */
static int reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int parse_list(const char *s, int64_t *out, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        out[n++] = strtoll(s, &end, 10);
        if (end == s) return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

struct stats {
    double median, min, max;
};

static struct stats summarize(double *t, int n) {
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    struct stats s = {n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[0], t[n - 1]};
    return s;
}

struct shape {
    int64_t n;
    int heads, dh;
    const float *q, *k, *v;
    float *o, *lse;
};

static void run_kernel(const struct shape *s) {
    const int64_t ld = (int64_t)s->heads * s->dh;
    ctxpar_cpu_attention(s->q, ld, s->k, ld, s->v, ld, s->o, ld, s->lse, s->n, s->n, s->heads,
                         s->dh, 1.0f / sqrtf((float)s->dh));
}

static void run_sgemm(const struct shape *s, float *scores) {
    const int64_t ld = (int64_t)s->heads * s->dh;
    for (int hh = 0; hh < s->heads; hh++) {
        const int64_t off = (int64_t)hh * s->dh;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->n, (int)s->n, s->dh,
                    1.0f / sqrtf((float)s->dh), s->q + off, (int)ld, s->k + off, (int)ld, 0.0f,
                    scores, (int)s->n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->n, s->dh, (int)s->n, 1.0f,
                    scores, (int)s->n, s->v + off, (int)ld, 0.0f, s->o + off, (int)ld);
    }
}

int main(int argc, char **argv) {
    int64_t sizes[16] = {4096, 8192, 16384}, threads[16] = {1, 2};
    int n_sizes = 3, n_threads = 2, heads = 8, dh = 64, repeat = 5, warmup = 1, do_sgemm = 1;
    const char *isa = NULL, *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-sgemm")) do_sgemm = 0;
        else if (!val) goto usage;
        else if (!strcmp(a, "--n")) n_sizes = parse_list(argv[++i], sizes, 16);
        else if (!strcmp(a, "--threads")) n_threads = parse_list(argv[++i], threads, 16);
        else if (!strcmp(a, "--heads")) heads = atoi(argv[++i]);
        else if (!strcmp(a, "--head-dim")) dh = atoi(argv[++i]);
        else if (!strcmp(a, "--repeat")) repeat = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup")) warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--isa")) isa = argv[++i];
        else if (!strcmp(a, "--json")) json_path = argv[++i];
        else goto usage;
    }
    if (n_sizes < 1 || n_threads < 1 || heads < 1 || dh < 16 || dh % 16 || repeat < 1 ||
        warmup < 0)
        goto usage;
    if (isa && ctxpar_cpu_attention_force_isa(isa) != 0) {
        fprintf(stderr, "bench_attention: path '%s' is unknown or not supported on this CPU "
                        "(try avx512, avx2 or portable)\n", isa);
        return 2;
    }
    FILE *json = json_path ? fopen(json_path, "w") : NULL;
    if (json_path && !json) {
        fprintf(stderr, "bench_attention: cannot write %s\n", json_path);
        return 2;
    }

    printf("# bench_attention: tiled attention (path %s) vs OpenBLAS sgemm (%s)\n",
           ctxpar_cpu_attention_isa(), openblas_get_config());
    printf("# heads %d, head_dim %d, warmup %d, repeat %d; GFLOP/s = 4*N^2*head_dim*heads / "
           "median time\n", heads, dh, warmup, repeat);
    printf("# peak = VmHWM of the process during that phase (inputs included; reset %s)\n",
           reset_peak_rss() == 0 ? "per phase" : "NOT possible: cumulative");
    printf("%-8s %6s %3s  %10s %10s %10s %9s %10s %5s\n", "impl", "N", "thr", "median_s",
           "min_s", "max_s", "GFLOP/s", "peak_MiB", "cpu%");

    for (int si = 0; si < n_sizes; si++) {
        const int64_t n = sizes[si], width = (int64_t)heads * dh;
        float *qkv = malloc(sizeof(float) * (size_t)(3 * n * width));
        float *o = malloc(sizeof(float) * (size_t)(n * width));
        float *lse = malloc(sizeof(float) * (size_t)(n * heads));
        if (!qkv || !o || !lse) {
            fprintf(stderr, "bench_attention: out of memory at N=%lld\n", (long long)n);
            return 1;
        }
        for (int64_t i = 0; i < 3 * n * width; i++)
            qkv[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
        memset(o, 0, sizeof(float) * (size_t)(n * width));
        const struct shape s = {n, heads, dh, qkv, qkv + n * width, qkv + 2 * n * width, o, lse};
        const double flops = 4.0 * (double)n * (double)n * dh * heads;
        double *times = malloc(sizeof(double) * (size_t)repeat);

        for (int ti = 0; ti < n_threads; ti++) {
            const int thr = (int)threads[ti];
            for (int impl = 0; impl < 1 + do_sgemm; impl++) {
                float *scores = NULL;
                reset_peak_rss();
                if (impl == 1) {
                    scores = malloc(sizeof(float) * (size_t)(n * n));
                    if (!scores) {
                        fprintf(stderr, "bench_attention: no memory for the %lld^2 sgemm buffer\n",
                                (long long)n);
                        break;
                    }
                    memset(scores, 0, sizeof(float) * (size_t)(n * n));
                }
                omp_set_num_threads(thr);
                openblas_set_num_threads(thr);
                double cpu_s = 0.0, wall_s = 0.0;
                for (int r = -warmup; r < repeat; r++) {
                    const double t0 = now_s(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
                    if (impl == 0) run_kernel(&s);
                    else run_sgemm(&s, scores);
                    if (r >= 0) {
                        times[r] = now_s() - t0;
                        wall_s += times[r];
                        cpu_s += clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
                    }
                }
                const double cpu_pct = 100.0 * cpu_s / (wall_s * thr);
                const double peak = peak_rss_mib();
                free(scores);
                const struct stats st = summarize(times, repeat);
                const char *name = impl == 0 ? "ctxpar" : "sgemm";
                printf("%-8s %6lld %3d  %10.4f %10.4f %10.4f %9.1f %10.1f %5.0f\n", name,
                       (long long)n, thr, st.median, st.min, st.max, flops / st.median * 1e-9,
                       peak, cpu_pct);
                fflush(stdout);
                if (json)
                    fprintf(json,
                            "{\"impl\":\"%s\",\"path\":\"%s\",\"n\":%lld,\"heads\":%d,"
                            "\"head_dim\":%d,\"threads\":%d,\"repeat\":%d,\"median_s\":%.6f,"
                            "\"min_s\":%.6f,\"max_s\":%.6f,\"gflops\":%.2f,\"peak_mib\":%.1f,"
                            "\"cpu_pct\":%.0f}\n",
                            name, impl == 0 ? ctxpar_cpu_attention_isa() : "openblas",
                            (long long)n, heads, dh, thr, repeat, st.median, st.min, st.max,
                            flops / st.median * 1e-9, peak, cpu_pct);
            }
        }
        free(times), free(qkv), free(o), free(lse);
    }
    if (json) fclose(json);
    return 0;

usage:
    fprintf(stderr, "usage: bench_attention [--n 4096,8192,16384] [--threads 1,2] [--heads 8] "
                    "[--head-dim 64 (multiple of 16)] [--repeat 5] [--warmup 1] [--isa avx512|"
                    "avx2|portable] [--no-sgemm] [--json FILE]\n");
    return 2;
}
