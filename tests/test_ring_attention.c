/* Ring attention over P ranks with uneven blocks equals attention over the
 * whole sequence (docs/design.md, "Parallel decomposition"): each rank
 * derives its rows of Q and K/V from (seed, global row), so it can also build
 * the full K/V itself and check its own queries against a naive
 * double-precision reference. Wrong-element counts are summed over ranks
 * (nccl-tests style).
 *
 * Besides inputs in [-2, 2], the cases drive the log-sum-exp merge where a
 * naive one breaks: every logit near +300 (lse in the hundreds, exp
 * overflows float32), every logit near -300 (exp underflows to 0), one
 * rank's block holding all the weight, one block lying ~600 below the
 * others, and an empty block (lse = -inf). ctxpar_ring_attention returns no
 * lse, so each rank also merges whole blocks in ring order (own block first,
 * then the blocks of rank-1, rank-2, ...) through the backend's attention and
 * merge and checks that lse and output against the reference.
 *
 * The ring merges granules of GRANULE keys along a tree fixed by the global
 * granule index, so its output must not depend on the split: in the cases
 * marked, rank 0 also runs the whole sequence as ONE rank and every rank's
 * rows must equal that run bit for bit.
 *
 * With bf16 products the ring keeps its partials in the kernel's tiles
 * (where the CPU has the VDPBF16PS kernel): every case then runs twice, with
 * the tiles and with the row kernel and rows' merge, and the outputs must be
 * the same bits on every rank; the tiled ring must also equal its one-rank
 * run. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "kernels/backend.h"
#include "runtime/stages/ring_attention.h"
#include "attention_reference.h"
#include "test_util.h"

enum { HEADS = 2, HEAD_DIM = 32, D = HEADS * HEAD_DIM, GRANULE = 6 };

/* Logit level of the pattern below: alpha^2 * sqrt(HEAD_DIM) = 300. */
#define PATTERN_LOGIT 300.0

/* How a case builds keys: queries and keys of rank r's block are
 * noise + alpha * sign(col) * dir, with dir = q_dir for queries and
 * key_dir(r) for keys; scale*q.k is then ~ 300 * q_dir * key_dir(r). */
typedef struct ring_case {
    const char *name;
    float q_dir;
    float (*key_dir)(int owner, int ranks);
    int empty_rank; /* a rank whose block has 0 rows, or -1 */
} ring_case;

static float dir_none(int owner, int ranks) { return 0.0f; }
static float dir_up(int owner, int ranks) { return 1.0f; }
static float dir_down(int owner, int ranks) { return -1.0f; }
static float dir_first_wins(int owner, int ranks) { return owner == 0 ? 1.0f : 0.0f; }
static float dir_last_wins(int owner, int ranks) { return owner == ranks - 1 ? 1.0f : 0.0f; }
static float dir_one_sunk(int owner, int ranks) { return owner == ranks / 2 ? -2.0f : 0.0f; }

static float pattern_sign(int col) {
    return test_uniform(77, (uint64_t)(col % HEAD_DIM + (col / HEAD_DIM) * 4096)) < 0 ? -1.0f
                                                                                      : 1.0f;
}

static float value(uint64_t stream, int64_t row, int64_t col) {
    return 2.0f * test_uniform(stream, (uint64_t)(row * 3 * D + col));
}

static void make_row(const ring_case *c, int owner, int ranks, int64_t row, float *q, float *k,
                     float *v) {
    const float alpha = (float)sqrt(PATTERN_LOGIT / sqrt((double)HEAD_DIM));
    const float k_dir = c->key_dir(owner, ranks);
    for (int col = 0; col < D; col++) {
        if (q) q[col] = value(1, row, col) + c->q_dir * alpha * pattern_sign(col);
        k[col] = value(2, row, col) + k_dir * alpha * pattern_sign(col);
        v[col] = value(3, row, col);
    }
}

/* Rank 0 runs ring attention over all rows on a one-rank ring and hands
 * each rank its rows; returns the elements of `out` that differ in any bit. */
/* The backend the ring runs with: the CPU's, or (bf16 cases) the CPU's with
 * bf16 attention, tiled or not. */
static const ctxpar_backend *ring_backend;

static int64_t single_rank_mismatches(ctxpar_comm_t comm, const ring_case *c, const int64_t *rows,
                                      const int64_t *first_of, const float *out) {
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    const int64_t total = first_of[ranks], n = rows[rank];
    MPI_Comm world = ctxpar_comm_mpi(comm);
    float *single = NULL;
    if (rank == 0) {
        ctxpar_comm_t self;
        if (ctxpar_comm_init(&self, MPI_COMM_SELF) != CTXPAR_OK) MPI_Abort(world, 1);
        float *q = calloc((size_t)(total + 1) * D, sizeof(float));
        float *kv = calloc((size_t)(total + 1) * 2 * D, sizeof(float));
        single = calloc((size_t)(total + 1) * D, sizeof(float));
        for (int owner = 0; owner < ranks; owner++)
            for (int64_t j = first_of[owner]; j < first_of[owner + 1]; j++)
                make_row(c, owner, ranks, j, q + j * D, kv + j * 2 * D, kv + j * 2 * D + D);
        ctxpar_ring_stats stats = {0};
        ctxpar_ring_attention(ring_backend, self, q, D, kv, &total, GRANULE, HEADS, HEAD_DIM,
                              single, 200, &stats);
        ctxpar_comm_free(self);
        free(q), free(kv);
        for (int r = 1; r < ranks; r++)
            if (rows[r] > 0)
                MPI_Send(single + first_of[r] * D, (int)(rows[r] * D), MPI_FLOAT, r, 300, world);
    }
    float *mine = rank == 0 ? single : calloc((size_t)(n + 1) * D, sizeof(float));
    if (rank > 0 && n > 0)
        MPI_Recv(mine, (int)(n * D), MPI_FLOAT, 0, 300, world, MPI_STATUS_IGNORE);
    int64_t bad = 0;
    for (int64_t i = 0; i < n * D; i++) bad += memcmp(&mine[i], &out[i], sizeof(float)) != 0;
    if (bad)
        fprintf(stderr, "%s: rank %d: %lld of %lld outputs differ from the one-rank ring\n",
                c->name, rank, (long long)bad, (long long)(n * D));
    free(mine);
    return bad;
}

/* The bf16 ring with tiled partials against the same ring with rows, bit
 * for bit, and against its one-rank run. */
static int64_t run_bf16_case(ctxpar_comm_t comm, const ring_case *c, const int64_t *rows_in) {
    ctxpar_backend tiled = *ctxpar_backend_cpu(), plain = tiled;
    tiled.attention = plain.attention = tiled.attention_bf16;
    plain.attention_tiled = NULL;
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    int64_t rows[64], first_of[65];
    for (int r = 0; r < ranks; r++) rows[r] = r == c->empty_rank ? 0 : rows_in[r];
    first_of[0] = 0;
    for (int r = 0; r < ranks; r++) first_of[r + 1] = first_of[r] + rows[r];
    const int64_t n = rows[rank];
    float *q = calloc((size_t)(n + 1) * D, sizeof(float));
    float *kv = calloc((size_t)(n + 1) * 2 * D, sizeof(float));
    float *out = calloc((size_t)(n + 1) * D, sizeof(float));
    float *out_rows = calloc((size_t)(n + 1) * D, sizeof(float));
    for (int64_t i = 0; i < n; i++)
        make_row(c, rank, ranks, first_of[rank] + i, q + i * D, kv + i * 2 * D,
                 kv + i * 2 * D + D);
    ctxpar_ring_stats stats = {0};
    ctxpar_ring_attention(&tiled, comm, q, D, kv, rows, GRANULE, HEADS, HEAD_DIM, out, 100, &stats);
    ctxpar_ring_attention(&plain, comm, q, D, kv, rows, GRANULE, HEADS, HEAD_DIM, out_rows, 100,
                          &stats);
    int64_t bad = 0;
    for (int64_t i = 0; i < n * D; i++) bad += memcmp(&out[i], &out_rows[i], sizeof(float)) != 0;
    if (bad)
        fprintf(stderr, "%s (bf16): rank %d: %lld of %lld outputs differ between tiles and rows\n",
                c->name, rank, (long long)bad, (long long)(n * D));
    ring_backend = &tiled;
    bad += single_rank_mismatches(comm, c, rows, first_of, out);
    ring_backend = ctxpar_backend_cpu();
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_SUM, ctxpar_comm_mpi(comm));
    free(q), free(kv), free(out), free(out_rows);
    return bad;
}

static int64_t run_case(ctxpar_comm_t comm, const ring_case *c, const int64_t *rows_in,
                        int check_single_rank) {
    const ctxpar_backend *cpu = ctxpar_backend_cpu();
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    int64_t rows[64], first_of[65];
    for (int r = 0; r < ranks; r++) rows[r] = r == c->empty_rank ? 0 : rows_in[r];
    first_of[0] = 0;
    for (int r = 0; r < ranks; r++) first_of[r + 1] = first_of[r] + rows[r];
    const int64_t first = first_of[rank], total = first_of[ranks], n = rows[rank];
    const float scale = 1.0f / sqrtf((float)HEAD_DIM);

    float *q = calloc((size_t)(n + 1) * D, sizeof(float));
    float *kv = calloc((size_t)(n + 1) * 2 * D, sizeof(float));
    float *out = calloc((size_t)(n + 1) * D, sizeof(float));
    double *ref = calloc((size_t)(n + 1) * D, sizeof(double));
    for (int64_t i = 0; i < n; i++)
        make_row(c, rank, ranks, first + i, q + i * D, kv + i * 2 * D, kv + i * 2 * D + D);
    ctxpar_ring_stats stats = {0};
    ctxpar_ring_attention(cpu, comm, q, D, kv, rows, GRANULE, HEADS, HEAD_DIM, out, 100, &stats);

    /* naive reference over all rows of all ranks */
    float *kv_all = malloc(sizeof(float) * (size_t)(total + 1) * 2 * D);
    double *lse_ref = malloc(sizeof(double) * (size_t)(n + 1) * HEADS);
    for (int owner = 0; owner < ranks; owner++)
        for (int64_t j = first_of[owner]; j < first_of[owner + 1]; j++)
            make_row(c, owner, ranks, j, NULL, kv_all + j * 2 * D, kv_all + j * 2 * D + D);
    ref_attention(q, D, kv_all, 2 * D, kv_all + D, 2 * D, n, total, HEADS, HEAD_DIM, scale, ref,
                  lse_ref);

    /* Whole blocks merged in ring order with the backend: own block, then
     * rank-1's, rank-2's, ...; gives an lse to check. */
    float *o_acc = malloc(sizeof(float) * (size_t)(n + 1) * D);
    float *o_blk = malloc(sizeof(float) * (size_t)(n + 1) * D);
    float *lse_acc = malloc(sizeof(float) * (size_t)(n + 1) * HEADS);
    float *lse_blk = malloc(sizeof(float) * (size_t)(n + 1) * HEADS);
    for (int64_t r = 0; r < n * HEADS; r++) lse_acc[r] = -INFINITY;
    for (int step = 0; step < ranks; step++) {
        const int owner = ((rank - step) % ranks + ranks) % ranks;
        const float *k_blk = kv_all + first_of[owner] * 2 * D;
        cpu->attention(q, D, k_blk, 2 * D, k_blk + D, 2 * D, o_blk, D, lse_blk, n, rows[owner],
                       HEADS, HEAD_DIM, scale);
        cpu->attention_merge(o_acc, D, lse_acc, o_blk, D, lse_blk, n, HEADS, HEAD_DIM);
    }

    /* Inputs in [-2, 2]: logits of a few units, fp32 errors ~1e-6. Logits
     * of +-300 are dot products of terms ~50 in fp32, ~1e-4 off, and the
     * softmax weights inherit that relative error (measured: max 1.2e-4 on
     * o, 1.2e-4 on lse in test_attention's cases of the same level). */
    const int huge = c->key_dir != dir_none;
    const double o_abs = huge ? 3e-4 : 1e-5, lse_abs = huge ? 3e-4 : 1e-5;
    char name[160];
    int64_t bad = 0;
    if (n > 0) {
        snprintf(name, sizeof name, "%s: ring o", c->name);
        bad += test_compare(name, out, ref, n * D, o_abs, 1e-4);
        snprintf(name, sizeof name, "%s: replayed o", c->name);
        bad += test_compare(name, o_acc, ref, n * D, o_abs, 1e-4);
        snprintf(name, sizeof name, "%s: replayed lse", c->name);
        bad += test_compare(name, lse_acc, lse_ref, n * HEADS, lse_abs, 2e-6);
    }
    if (check_single_rank) bad += single_rank_mismatches(comm, c, rows, first_of, out);
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_SUM, ctxpar_comm_mpi(comm));
    if (rank == 0 && ranks > 1 && stats.bytes_sent == 0) {
        fprintf(stderr, "%s: no K/V bytes sent on a multi-rank ring\n", c->name);
        bad++;
    }
    free(kv_all), free(lse_ref), free(o_acc), free(o_blk), free(lse_acc), free(lse_blk);
    free(q), free(kv), free(out), free(ref);
    return bad;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    ctxpar_comm_t comm;
    if (ctxpar_comm_init(&comm, MPI_COMM_WORLD) != CTXPAR_OK) return 1;
    ring_backend = ctxpar_backend_cpu();
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    int64_t equal[64], uneven[64];
    for (int r = 0; r < ranks; r++) {
        equal[r] = 25 * GRANULE;
        /* rank 0: one granule; odd ranks: more rows than the ring's query
         * slice (1024), so a rank's queries run in two slices, the last
         * partial, and the one-rank run of the whole sequence in three */
        uneven[r] = GRANULE * (1 + 16 * r + (r % 2) * 175);
    }
    const ring_case plain = {"random inputs", 0.0f, dir_none, -1};
    const ring_case cases[] = {
        {"logits near +300", 1.0f, dir_up, -1},
        {"logits near -300", 1.0f, dir_down, -1},
        {"rank 0's block holds all the weight", 1.0f, dir_first_wins, -1},
        {"the last rank's block holds all the weight", 1.0f, dir_last_wins, -1},
        {"one block ~600 below the rest", 1.0f, dir_one_sunk, -1},
        {"an empty block among logits near +300", 1.0f, dir_up, ranks > 1 ? 1 : -1},
    };
    int64_t bad = 0;
    char name[96];
    bad += run_case(comm, &plain, equal, 1);
    ring_case uneven_plain = plain;
    uneven_plain.name = "random inputs, uneven blocks";
    bad += run_case(comm, &uneven_plain, uneven, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ring_case c = cases[i];
        snprintf(name, sizeof name, "%s, uneven blocks", cases[i].name);
        c.name = name;
        /* bit identity where the merge weights are extreme, and with a hole */
        bad += run_case(comm, &c, uneven, i == 0 || i == 4 || i == 5);
    }
    /* Rank 0's uneven block is a single granule: the dominating block
     * again, with 25 granules. */
    const ring_case first_equal = {"rank 0's block holds all the weight, equal blocks", 1.0f,
                                   dir_first_wins, -1};
    bad += run_case(comm, &first_equal, equal, 0);
    if (ctxpar_cpu_attention_bf16_queries_values(1, HEADS, HEAD_DIM) > 0) {
        bad += run_bf16_case(comm, &plain, equal);
        bad += run_bf16_case(comm, &uneven_plain, uneven);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) bad += run_bf16_case(comm, &cases[i], uneven);
    } else if (rank == 0) {
        printf("bf16 ring with tiled partials: skipped (no VDPBF16PS attention on this CPU)\n");
    }
    ctxpar_comm_free(comm);
    MPI_Finalize();
    if (rank == 0) {
        if (bad) fprintf(stderr, "test_ring_attention (%d ranks): %lld wrong elements\n", ranks,
                         (long long)bad);
        else printf("test_ring_attention (%d ranks): ok\n", ranks);
    }
    return bad ? 1 : 0;
}
