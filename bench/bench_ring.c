/* Ring attention benchmark: the same total problem (N tokens, heads, head
 * dim) split over however many ranks mpirun starts, so "2 ranks x 1 thread"
 * and "1 rank x 2 threads" compare directly. Reports the median and spread of
 * the slowest rank's time over repeats, GFLOP/s with the formula, bytes sent,
 * and the share of the exchange hidden under compute. Data derive from
 * (seed, global row), as in the tests. Keys are merged in granules of G
 * rows (default 256, one latent frame of a 256x256 ViT); ranks get whole
 * granules, so N is rounded down to a multiple of G. dtype bf16 runs the
 * kernel with bf16 products (--dtype bf16), f32 (default) the float32 one.
 *
 *   mpirun -np P bench_ring [N] [heads] [head_dim] [repeats] [G] [f32|bf16]
 *   (OMP_NUM_THREADS sets threads) */
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "kernels/backend.h"
#include "kernels/cpu/transformer_cpu.h"
#include "runtime/stages/ring_attention.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    ctxpar_comm_t comm;
    if (ctxpar_comm_init(&comm, MPI_COMM_WORLD) != CTXPAR_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    const int64_t n_asked = argc > 1 ? atoll(argv[1]) : 16384;
    const int heads = argc > 2 ? atoi(argv[2]) : 8, head_dim = argc > 3 ? atoi(argv[3]) : 64;
    const int repeats = argc > 4 ? atoi(argv[4]) : 5;
    const int64_t granule = argc > 5 ? atoll(argv[5]) : 256;
    const int bf16 = argc > 6 && strcmp(argv[6], "bf16") == 0;
    ctxpar_backend backend = *ctxpar_backend_cpu();
    if (bf16) backend.attention = backend.attention_bf16;
    const int64_t d = (int64_t)heads * head_dim, granules = n_asked / granule;
    const int64_t n_total = granules * granule;
    int64_t *rows = calloc((size_t)ranks, sizeof(int64_t));
    for (int r = 0; r < ranks; r++)
        rows[r] = granule * (granules / ranks + (r < granules % ranks ? 1 : 0));
    const int64_t n = rows[rank];
    float *q = malloc(sizeof(float) * (size_t)(n * d)), *kv = malloc(sizeof(float) * (size_t)(n * 2 * d));
    float *out = malloc(sizeof(float) * (size_t)(n * d));
    for (int64_t i = 0; i < n * d; i++) q[i] = (float)sin(0.001 * (double)(i + rank * 7919));
    for (int64_t i = 0; i < n * 2 * d; i++) kv[i] = (float)cos(0.0013 * (double)(i + rank * 104729));

    double *times = calloc((size_t)repeats, sizeof(double));
    ctxpar_ring_stats last = {0};
    for (int it = -1; it < repeats; it++) { /* it = -1: warm-up */
        ctxpar_ring_stats stats = {0};
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        ctxpar_ring_attention(&backend, comm, q, d, kv, rows, granule, heads,
                              head_dim, out, 10, &stats);
        double t = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (it >= 0) times[it] = t;
        last = stats;
    }
    double wait = last.seconds_wait, exch = last.seconds_exchange;
    MPI_Allreduce(MPI_IN_PLACE, &wait, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &exch, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    qsort(times, (size_t)repeats, sizeof(double), cmp_double);
    double median = times[repeats / 2];
    double flops = 4.0 * (double)n_total * (double)n_total * (double)d;
    if (rank == 0) {
        printf("# bench_ring: N=%lld G=%lld heads=%d head_dim=%d dtype=%s ranks=%d "
               "threads/rank=%d isa=%s\n",
               (long long)n_total, (long long)granule, heads, head_dim, bf16 ? "bf16" : "f32",
               ranks, omp_get_max_threads(), ctxpar_cpu_attention_isa());
        printf("%6s %8s %10s %10s %10s %12s %14s %12s\n", "ranks", "threads", "median_s",
               "min_s", "max_s", "GFLOP/s", "MiB_sent/rank", "hidden");
        printf("%6d %8d %10.3f %10.3f %10.3f %12.1f %14.1f %11.0f%%\n", ranks,
               omp_get_max_threads(), median, times[0], times[repeats - 1], flops / median / 1e9,
               (double)last.bytes_sent / (1 << 20), exch > 0 ? 100.0 * (1.0 - wait / exch) : 100.0);
        printf("{\"bench\":\"ring\",\"n\":%lld,\"granule\":%lld,\"heads\":%d,\"head_dim\":%d,"
               "\"dtype\":\"%s\",\"ranks\":%d,"
               "\"threads\":%d,\"median_s\":%.6f,\"gflops\":%.2f,\"hidden\":%.4f}\n",
               (long long)n_total, (long long)granule, heads, head_dim, bf16 ? "bf16" : "f32", ranks, omp_get_max_threads(), median,
               flops / median / 1e9, exch > 0 ? 1.0 - wait / exch : 1.0);
        printf("# GFLOP/s = 4*N^2*heads*head_dim / median (slowest rank)\n");
    }
    free(times), free(q), free(kv), free(out), free(rows);
    ctxpar_comm_free(comm);
    MPI_Finalize();
    return 0;
}
