/* Distributed token merging equals the single-process reference for any rank
 * count. Each rank derives its frames' tokens from (seed, global token), so it
 * can also generate every frame and run the naive reference over the whole
 * video; it keeps the reference records whose t_start it owns and compares
 * them with its own output. The video has a static background (one chain per
 * node from frame 0 to the last frame, crossing every rank boundary), a part
 * that changes every 5 frames (chains ending inside and at rank edges), a
 * moving object and noise rows. Mismatch counts are summed over ranks. */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "merge_reference.h"
#include "runtime/stages/merge.h"
#include "test_util.h"

enum { H = 10, W = 12, D = 32 };

static float token_value(uint64_t seed, int t, int y, int x, int c) {
    const uint64_t token = ((uint64_t)t * H + y) * W + x;
    const float noise = test_uniform(seed + 1, token * D + c);
    const int obj_x = t % 7, obj_y = 4 + (t / 7) % 2; /* a 2x2 object moving right */
    if (y == H - 1 || (y >= obj_y && y < obj_y + 2 && x >= obj_x && x < obj_x + 2)) return noise;
    const int epoch = x >= 8 ? t / 5 : 0; /* the right part changes every 5 frames */
    const int block = (y / 4) * 3 + x / 4;
    return test_uniform(seed, (uint64_t)(block * 64 + epoch) * D + c) + 0.03f * noise;
}

static void fill_frames(uint64_t seed, int first, int count, float *out) {
    for (int t = first; t < first + count; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < D; c++)
                    out[(((int64_t)(t - first) * H + y) * W + x) * D + c] =
                        token_value(seed, t, y, x, c);
}

static int64_t run_case(ctxpar_comm_t comm, int T, double tau_s, double tau_t, int levels,
                        uint64_t seed) {
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    char name[96];
    snprintf(name, sizeof name, "T=%d tau %.2f/%.2f levels %d on %d ranks", T, tau_s, tau_t,
             levels, ranks);
    /* the plan's split: contiguous, the first T mod P ranks take one more */
    int64_t first_latent[64], n_latent[64];
    for (int r = 0, next = 0; r < ranks; r++) {
        n_latent[r] = T / ranks + (r < T % ranks);
        first_latent[r] = next;
        next += (int)n_latent[r];
    }
    ctxpar_plan plan = {0};
    plan.ranks = ranks;
    plan.latent_frames = T;
    plan.grid_h = H, plan.grid_w = W;
    plan.tokens_per_frame = H * W;
    plan.total_tokens = (int64_t)T * H * W;
    plan.first_latent = first_latent, plan.n_latent = n_latent;
    const int first = (int)first_latent[rank], count = (int)n_latent[rank];

    float *mine = malloc(sizeof(float) * (size_t)count * H * W * D);
    float *all = malloc(sizeof(float) * (size_t)T * H * W * D);
    fill_frames(seed, first, count, mine);
    fill_frames(seed, 0, T, all);
    ctxpar_merge_config config = {tau_s, tau_t, levels, CTXPAR_MERGE_QUADTREE, 1};
    ctxpar_merge_result result;
    int64_t bad = 0;
    if (ctxpar_merge_run(comm, &plan, &config, 0, mine, D, &result) != CTXPAR_OK) {
        fprintf(stderr, "%s: merge failed\n", name);
        bad = 1;
        goto reduce;
    }
    ref_record *ref;
    int64_t n_ref = ref_merge(all, T, H, W, D, levels, tau_s, tau_t, &ref), longest = 0;
    int64_t lo = 0;
    while (lo < n_ref && ref[lo].t_start < first) lo++;
    int64_t hi = lo;
    while (hi < n_ref && ref[hi].t_start < first + count) hi++;
    for (int64_t i = 0; i < n_ref; i++)
        if (ref[i].t_end - ref[i].t_start + 1 > longest) longest = ref[i].t_end - ref[i].t_start + 1;
    if (result.records.count != hi - lo) {
        fprintf(stderr, "%s: rank %d has %lld records, reference %lld\n", name, rank,
                (long long)result.records.count, (long long)(hi - lo));
        bad++;
    }
    double *want = malloc(sizeof(double) * D);
    for (int64_t i = 0; i < result.records.count && lo + i < hi; i++) {
        const ctxpar_records *g = &result.records;
        const ref_record *e = &ref[lo + i];
        if (g->t_start[i] != e->t_start || g->t_end[i] != e->t_end || g->level[i] != e->level ||
            g->y[i] != e->y || g->x[i] != e->x || g->size[i] != e->size) {
            if (bad < 5)
                fprintf(stderr, "%s: rank %d record %lld: got t %d-%d level %d (%d,%d) size %d, "
                        "want t %d-%d level %d (%d,%d) size %d\n", name, rank, (long long)i,
                        g->t_start[i], g->t_end[i], g->level[i], g->y[i], g->x[i], g->size[i],
                        e->t_start, e->t_end, e->level, e->y, e->x, e->size);
            bad++;
            continue;
        }
        memcpy(want, e->feature, sizeof(double) * D);
        bad += test_compare(name, result.features + i * D, want, D, 1e-6, 1e-4);
    }
    if (result.stats.records_out != n_ref || result.stats.longest_chain != longest ||
        result.stats.tokens_in != plan.total_tokens) {
        fprintf(stderr, "%s: stats records %lld (want %lld), longest %lld (want %lld)\n", name,
                (long long)result.stats.records_out, (long long)n_ref,
                (long long)result.stats.longest_chain, (long long)longest);
        bad++;
    }
    if (rank == 0 && tau_t < 1.0 && longest != T) {
        fprintf(stderr, "%s: test video lost its full-length chain (longest %lld)\n", name,
                (long long)longest);
        bad++;
    }
    free(want);
    ref_free(ref, n_ref);
    ctxpar_merge_result_free(&result);
reduce:
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_SUM, ctxpar_comm_mpi(comm));
    if (rank == 0 && bad) fprintf(stderr, "%s: %lld mismatches over all ranks\n", name, (long long)bad);
    free(mine), free(all);
    return bad;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    ctxpar_comm_t comm;
    if (ctxpar_comm_init(&comm, MPI_COMM_WORLD) != CTXPAR_OK) return 1;
    const int ranks = ctxpar_comm_size(comm);
    int64_t bad = 0;
    const int lengths[3] = {21, ranks, ranks + 3}; /* uneven, one frame per rank, mixed */
    for (int k = 0; k < 3; k++) {
        bad += run_case(comm, lengths[k], 0.9, 0.9, 2, 1);
        bad += run_case(comm, lengths[k], 0.95, 0.98, 3, 2);
    }
    bad += run_case(comm, 21, 1.0, 0.9, 2, 3); /* temporal only */
    bad += run_case(comm, 21, 0.9, 1.0, 2, 4); /* spatial only */
    bad += run_case(comm, 21, 0.9, 0.9, 0, 5); /* token chains */
    if (bad) test_failures++;
    int rc = test_finish("test_merge_mpi");
    ctxpar_comm_free(comm);
    MPI_Finalize();
    return rc;
}
