/* Benchmark of the bf16 GEMM (kernels/cpu/gemm_bf16.h) against OpenBLAS
 * sgemm on the same shapes, and against the machine's VDPBF16PS peak
 * (bench/fma_peak), for the bf16 closing figures (docs/bf16.md).
 *
 * Design: both products are timed the same way in the same process (one
 * warm-up, --repeat runs, median), so their ratio is side by side on a noisy
 * machine. The default shapes are the run's own: V-JEPA 2 ViT-L's linears on
 * 2048 tokens (qkv 1024 -> 3072, fc1 1024 -> 4096, fc2 4096 -> 1024) and a
 * CogVideoX VAE conv as a GEMM (128 output channels, 128 x 9 inputs, one
 * 256 x 256 frame). FLOPs = 2 m n k for both. The bf16 time includes
 * converting A to bf16 (what a linear pays per call); B is packed once
 * outside the timing, as the run packs weights once.
 *
 *   bench_gemm_bf16 [--threads 1,2] [--repeat 5] [--path NAME] [--shape MxNxK] */
#include "kernels/cpu/gemm_bf16.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cpu_features.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct shape {
    const char *name;
    int64_t m, n, k;
} shape;

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

int main(int argc, char **argv) {
    int repeat = 5, threads_list[4] = {1, 2}, n_threads = 2;
    shape custom = {"custom", 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            n_threads = 0;
            for (char *tok = strtok(argv[++i], ","); tok && n_threads < 4; tok = strtok(NULL, ","))
                threads_list[n_threads++] = atoi(tok);
        } else if (!strcmp(argv[i], "--path") && i + 1 < argc) {
            if (ctxpar_cpu_gemm_bf16_force_path(argv[++i]) != 0) {
                fprintf(stderr, "bench_gemm_bf16: path %s unknown or unsupported here\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            long long m, n, k;
            if (sscanf(argv[++i], "%lldx%lldx%lld", &m, &n, &k) != 3 || m < 1 || n < 1 || k < 1) {
                fprintf(stderr, "bench_gemm_bf16: --shape wants MxNxK\n");
                return 2;
            }
            custom.m = m, custom.n = n, custom.k = k;
        } else {
            fprintf(stderr,
                    "usage: %s [--threads 1,2] [--repeat R] [--path NAME] [--shape MxNxK]\n",
                    argv[0]);
            return 2;
        }
    }
    if (repeat < 1 || repeat > 64) {
        fprintf(stderr, "bench_gemm_bf16: --repeat must be 1..64\n");
        return 2;
    }
    const shape defaults[] = {
        {"vit-l qkv", 2048, 3072, 1024},
        {"vit-l fc1", 2048, 4096, 1024},
        {"vit-l fc2", 2048, 1024, 4096},
        {"vae conv 128x1152 256^2", 128, 65536, 1152},
    };
    const shape *shapes = custom.m ? &custom : defaults;
    const int n_shapes = custom.m ? 1 : (int)(sizeof defaults / sizeof defaults[0]);

    printf("# bench_gemm_bf16: path %s, ISA %s, median of %d after 1 warm-up\n",
           ctxpar_cpu_gemm_bf16_path(), ctxpar_cpu_isa(), repeat);
    printf("# %-24s %7s %12s %12s %8s\n", "shape (m x n x k)", "threads", "bf16 GFLOP/s",
           "sgemm GFLOP/s", "ratio");
    for (int s = 0; s < n_shapes; s++) {
        const shape *sh = &shapes[s];
        const int64_t lda = ctxpar_bf16_row_ld(sh->k);
        float *a = malloc(sizeof(float) * (size_t)(sh->m * sh->k));
        float *w = malloc(sizeof(float) * (size_t)(sh->n * sh->k));
        float *c = malloc(sizeof(float) * (size_t)(sh->m * sh->n));
        ctxpar_bf16 *ab = malloc(sizeof(ctxpar_bf16) * (size_t)(sh->m * lda));
        ctxpar_bf16 *bp = malloc(sizeof(ctxpar_bf16) * (size_t)ctxpar_bf16_packed_count(sh->k, sh->n));
        if (!a || !w || !c || !ab || !bp) {
            fprintf(stderr, "bench_gemm_bf16: out of memory\n");
            return 1;
        }
        for (int64_t i = 0; i < sh->m * sh->k; i++) a[i] = (float)((i * 7919) % 2001 - 1000) * 1e-3f;
        for (int64_t i = 0; i < sh->n * sh->k; i++) w[i] = (float)((i * 104729) % 2001 - 1000) * 1e-3f;
        ctxpar_bf16_pack_transposed(bp, w, sh->k, sh->n);
        const double flops = 2.0 * (double)sh->m * (double)sh->n * (double)sh->k;
        for (int ti = 0; ti < n_threads; ti++) {
            omp_set_num_threads(threads_list[ti]);
            openblas_set_num_threads(threads_list[ti]);
            double tb[64], ts[64];
            for (int r = -1; r < repeat; r++) {
                double t0 = now_s();
                ctxpar_cpu_bf16_rows(ab, lda, a, sh->k, sh->m, sh->k);
                ctxpar_cpu_gemm_bf16(sh->m, sh->n, sh->k, ab, lda, bp, c, sh->n, 0);
                double t1 = now_s();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)sh->m, (int)sh->n,
                            (int)sh->k, 1.0f, a, (int)sh->k, w, (int)sh->k, 0.0f, c, (int)sh->n);
                double t2 = now_s();
                if (r >= 0) tb[r] = t1 - t0, ts[r] = t2 - t1;
            }
            const double gb = flops / median(tb, repeat) * 1e-9;
            const double gs = flops / median(ts, repeat) * 1e-9;
            char label[64];
            snprintf(label, sizeof label, "%s", sh->name);
            printf("  %-24s %7d %12.1f %12.1f %8.2f\n", label, threads_list[ti], gb, gs, gb / gs);
            printf("{\"bench\":\"gemm_bf16\",\"shape\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,"
                   "\"threads\":%d,\"path\":\"%s\",\"bf16_gflops\":%.2f,\"sgemm_gflops\":%.2f}\n",
                   sh->name, (long long)sh->m, (long long)sh->n, (long long)sh->k,
                   threads_list[ti], ctxpar_cpu_gemm_bf16_path(), gb, gs);
            fflush(stdout);
        }
        free(a), free(w), free(c), free(ab), free(bp);
    }
    return 0;
}
