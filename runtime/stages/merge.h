/* Token merging across ranks (docs/design.md section 2.3, docs/merge.md): each
 * latent frame is merged spatially by a quadtree (kernels/cpu/merge_cpu.h),
 * nodes with the same key in consecutive frames are chained temporally, and a
 * chain becomes one record owned by the rank holding its first frame.
 *
 * Each rank streams over its own frames once, keeping only the previous
 * frame's nodes and the sums of the chains still open, so merge memory is a
 * few frames whatever the rank's frame count. Chains that cross ranks are
 * resolved afterwards with two neighbour passes: every rank hands its last
 * frame's nodes to rank+1 (all at once), then partial sums of chains that
 * continue from an earlier rank travel back rank by rank from P-1 to 0, each
 * rank adding its own part before passing it on, so a chain may span any
 * number of ranks. Link decisions use the same double-precision node features
 * on every rank, so the records do not depend on the rank count. */
#pragma once
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/model/config.h"
#include "runtime/stages/plan_data.h"
#include "runtime/stages/tokens.h"

typedef struct ctxpar_merge_stats {
    int64_t tokens_in;     /* whole video */
    int64_t records_out;   /* whole video */
    int64_t longest_chain; /* latent frames of the longest record, whole video */
    int64_t bytes_sent;    /* this rank's merge messages */
    double seconds;        /* this rank, local pass and chain resolution */
    double seconds_resolve;/* this rank, the cross-rank part (waiting included) */
} ctxpar_merge_stats;

typedef struct ctxpar_merge_result {
    ctxpar_records records; /* this rank's records in output order (t_start, y, x) */
    float *features;        /* [records.count][dim], mean of the tokens each record covers */
    int64_t dim;
    ctxpar_merge_stats stats;
} ctxpar_merge_result;

/* Collective. features: this rank's tokens [plan->n_latent[rank] * tokens_per_frame][d],
 * rows in global token order. no_merge: one record per token (level 0, size 1)
 * with the tokens' features, exactly as written without merging. Records and
 * features are counted under CTXPAR_MEM_OUTPUT, scratch under CTXPAR_MEM_MERGE.
 * An allocation failure on any rank is agreed before any neighbour waits. */
ctxpar_status ctxpar_merge_run(ctxpar_comm_t comm, const ctxpar_plan *plan,
                               const ctxpar_merge_config *config, int no_merge,
                               const float *features, int64_t d, ctxpar_merge_result *out);
void ctxpar_merge_result_free(ctxpar_merge_result *result);

/* Collective: the whole video's counts in out->stats (tokens in, records
 * out, the longest record in latent frames) from every rank's records. */
ctxpar_status ctxpar_merge_count(ctxpar_comm_t comm, const ctxpar_plan *plan,
                                 ctxpar_merge_result *out);
