/* Ring attention over P ranks with uneven blocks equals attention over the
 * whole sequence: each rank derives its rows of Q and K/V from (seed, global
 * row), so it can also build the full K/V itself and check its own queries
 * against a naive double-precision reference. Wrong-element counts are summed
 * over ranks (nccl-tests style). */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "kernels/backend.h"
#include "runtime/ring_attention.h"
#include "attention_reference.h"
#include "test_util.h"

enum { HEADS = 2, HEAD_DIM = 32, D = HEADS * HEAD_DIM };

static float value(uint64_t stream, int64_t row, int64_t col) {
    return 2.0f * test_uniform(stream, (uint64_t)(row * 3 * D + col));
}

static int64_t run_case(ctxpar_comm_t comm, const int64_t *rows, const char *name) {
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    int64_t first = 0, total = 0;
    for (int r = 0; r < ranks; r++) {
        if (r < rank) first += rows[r];
        total += rows[r];
    }
    const int64_t n = rows[rank];
    float *q = calloc((size_t)(n + 1) * D, sizeof(float));
    float *kv = calloc((size_t)(n + 1) * 2 * D, sizeof(float));
    float *out = calloc((size_t)(n + 1) * D, sizeof(float));
    double *ref = calloc((size_t)(n + 1) * D, sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < D; c++) {
            q[i * D + c] = value(1, first + i, c);
            kv[i * 2 * D + c] = value(2, first + i, c);
            kv[i * 2 * D + D + c] = value(3, first + i, c);
        }
    ctxpar_ring_stats stats = {0};
    ctxpar_ring_attention(ctxpar_backend_cpu(), comm, q, D, kv, rows, HEADS, HEAD_DIM, out, 100,
                          &stats);
    /* naive reference over all rows of all ranks */
    float *kv_all = malloc(sizeof(float) * (size_t)(total + 1) * 2 * D);
    double *lse_ref = malloc(sizeof(double) * (size_t)(n + 1) * HEADS);
    for (int64_t j = 0; j < total; j++)
        for (int c = 0; c < D; c++) {
            kv_all[j * 2 * D + c] = value(2, j, c);
            kv_all[j * 2 * D + D + c] = value(3, j, c);
        }
    ref_attention(q, D, kv_all, 2 * D, kv_all + D, 2 * D, n, total, HEADS, HEAD_DIM,
                  1.0 / sqrt((double)HEAD_DIM), ref, lse_ref);
    int64_t bad = n > 0 ? test_compare(name, out, ref, n * D, 1e-5, 1e-4) : 0;
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_SUM, ctxpar_comm_mpi(comm));
    if (rank == 0 && ranks > 1 && stats.bytes_sent == 0) {
        fprintf(stderr, "%s: no K/V bytes sent on a multi-rank ring\n", name);
        bad++;
    }
    free(kv_all), free(lse_ref);
    free(q), free(kv), free(out), free(ref);
    return bad;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    ctxpar_comm_t comm;
    if (ctxpar_comm_init(&comm, MPI_COMM_WORLD) != CTXPAR_OK) return 1;
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    int64_t rows[64];
    int64_t bad = 0;
    for (int r = 0; r < ranks; r++) rows[r] = 150;
    bad += run_case(comm, rows, "equal blocks");
    for (int r = 0; r < ranks; r++) rows[r] = 1 + 97 * r + (r % 2) * 600; /* uneven, one of 1 row */
    bad += run_case(comm, rows, "uneven blocks");
    ctxpar_comm_free(comm);
    MPI_Finalize();
    if (rank == 0) {
        if (bad) fprintf(stderr, "test_ring_attention (%d ranks): %lld wrong elements\n", ranks,
                         (long long)bad);
        else printf("test_ring_attention (%d ranks): ok\n", ranks);
    }
    return bad ? 1 : 0;
}
