/* Ring attention (docs/design.md section 3): attention of this rank's queries over
 * the keys and values of EVERY rank, holding only the local block plus one
 * block in flight. Each of the P steps computes the local queries against the
 * K/V block in hand while that block travels on to rank+1 and the next one
 * arrives from rank-1 (double buffered). Partial results, one per granule of
 * keys, merge through their log-sum-exp in fp32 along a tree fixed by the
 * global granule index, so the result does not depend on the rank count.
 * Blocks may differ in size (uneven shards): every rank knows all block
 * sizes from the plan, so receives are posted with exact lengths. The kernel is run in query slices with MPI progress driven between
 * them, so the transfer really happens under the compute. */
#pragma once
#include <stdint.h>

#include "comm/comm.h"
#include "kernels/backend.h"

typedef struct ctxpar_ring_stats {
    double seconds_compute; /* attention kernel and merge */
    double seconds_wait;    /* blocked on the exchange after compute finished */
    double seconds_exchange;/* posted-to-complete time of the exchanges */
    int64_t bytes_sent;
    double flops;           /* 4 * n_q * n_kv * head_dim * heads summed over steps */
} ctxpar_ring_stats;

/* q: [n_local][ldq], this rank's queries (RoPE applied). kv: [n_local][2*d]
 * with d = heads*head_dim, K in columns [0, d) and V in [d, 2d) (RoPE applied
 * to K). block_rows[r]: rows of rank r's block, a multiple of granule_rows.
 * granule_rows: keys per leaf of the merge tree; for results independent of
 * the rank count it must not depend on it (the transformer passes the tokens
 * of one latent frame). out: [n_local][d]. Tag space [tag, tag + P) is used.
 * Errors in the middle of the ring end the job. */
ctxpar_status ctxpar_ring_attention(const ctxpar_backend *backend, ctxpar_comm_t comm,
                                    const float *q, int64_t ldq, const float *kv,
                                    const int64_t *block_rows, int64_t granule_rows, int heads,
                                    int head_dim, float *out, int tag, ctxpar_ring_stats *stats);

/* Bytes of the bf16 attention's prepared inputs: the rank's queries and
 * its own block of K/V (an upper bound; the ring allocates them
 * where the backend prepares any). */
int64_t ctxpar_ring_prepared_bytes(int64_t n_local, int64_t granule_rows, int heads,
                                   int head_dim);

/* Query rows of each partial result the ring holds: n_local rounded up to
 * whole tiles of the tiled form (CTXPAR_ATTENTION_TILE_ROWS). */
int64_t ctxpar_ring_partial_rows(int64_t n_local);

/* Partial results rank `rank` holds at once ([n_local][d] each, plus lse):
 * the most tree nodes alive during its ring, from the block sizes alone. */
int ctxpar_ring_tree_slots(const int64_t *block_rows, int ranks, int64_t granule_rows, int rank);

/* Bytes of the list of one block's steps (kernels and merges), the other
 * allocation of the ring beside the K/V buffers and the tree's partials. */
int64_t ctxpar_ring_steps_bytes(int64_t max_block_rows, int64_t granule_rows, int tree_slots);
