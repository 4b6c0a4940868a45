/* Ring attention (see ring_attention.h). */
#include "runtime/stages/ring_attention.h"

#include <math.h>
#include <mpi.h>
#include <string.h>

#include "runtime/core/memory.h"

/* Query rows per kernel call: small enough that MPI is driven often during a
 * step, large enough that the kernel's threads stay busy. */
#define RING_QUERY_SLICE 512

ctxpar_status ctxpar_ring_attention(const ctxpar_backend *backend, ctxpar_comm_t comm,
                                    const float *q, int64_t ldq, const float *kv,
                                    const int64_t *block_rows, int heads, int head_dim,
                                    float *out, int tag, ctxpar_ring_stats *stats) {
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    const int64_t d = (int64_t)heads * head_dim, ld_kv = 2 * d;
    const int64_t n_q = block_rows[rank];
    const float scale = 1.0f / sqrtf((float)head_dim);
    int64_t max_rows = 0;
    for (int r = 0; r < ranks; r++)
        if (block_rows[r] > max_rows) max_rows = block_rows[r];

    ctxpar_status status = CTXPAR_OK;
    float *kv_buf[2] = {NULL, NULL}, *o_blk = NULL, *lse_acc = NULL, *lse_blk = NULL;
    float *lse_slice = NULL;
    int64_t q_rows = n_q > 0 ? n_q : 1;
    if (ranks > 1) {
        CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&kv_buf[0], max_rows * ld_kv,
                                                CTXPAR_MEM_TRANSFORMER, "ring K/V buffer"));
        CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&kv_buf[1], max_rows * ld_kv,
                                                CTXPAR_MEM_TRANSFORMER, "ring K/V buffer"));
        CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&o_blk, q_rows * d, CTXPAR_MEM_TRANSFORMER,
                                                "ring partial output"));
        CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&lse_blk, q_rows * heads, CTXPAR_MEM_TRANSFORMER,
                                                "ring partial lse"));
    }
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&lse_acc, q_rows * heads, CTXPAR_MEM_TRANSFORMER,
                                            "ring lse"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&lse_slice, (int64_t)RING_QUERY_SLICE * heads,
                                            CTXPAR_MEM_TRANSFORMER, "ring lse slice"));

    const float *kv_cur = kv;
    int next_buf = 0;
    for (int step = 0; step < ranks; step++) {
        const int owner = ((rank - step) % ranks + ranks) % ranks;
        const int64_t n_kv = block_rows[owner];
        ctxpar_comm_exchange ex = {.n_requests = 0};
        float *kv_next = NULL;
        if (step + 1 < ranks) {
            /* Pass on the block in hand; receive the one rank-1 holds now. */
            const int incoming = ((rank - step - 1) % ranks + ranks) % ranks;
            kv_next = kv_buf[next_buf];
            CTXPAR_TRY_GOTO(ctxpar_comm_sendrecv_begin(
                comm, kv_cur, n_kv * ld_kv * (int64_t)sizeof(float), (rank + 1) % ranks, kv_next,
                block_rows[incoming] * ld_kv * (int64_t)sizeof(float),
                (rank - 1 + ranks) % ranks, tag + step, &ex));
            stats->bytes_sent += n_kv * ld_kv * (int64_t)sizeof(float);
        }
        double t0 = MPI_Wtime();
        for (int64_t i0 = 0; i0 < n_q; i0 += RING_QUERY_SLICE) {
            int64_t rows = n_q - i0 < RING_QUERY_SLICE ? n_q - i0 : RING_QUERY_SLICE;
            /* lse is [heads][n_q]: a query slice is a strided set of rows, so the
             * kernel writes a compact [heads][rows] slice that is scattered back. */
            float *dst_o = step == 0 ? out + i0 * d : o_blk + i0 * d;
            backend->attention(q + i0 * ldq, ldq, kv_cur, ld_kv, kv_cur + d, ld_kv, dst_o, d,
                               lse_slice, rows, n_kv, heads, head_dim, scale);
            float *lse_dst = step == 0 ? lse_acc : lse_blk;
            for (int hh = 0; hh < heads; hh++)
                memcpy(lse_dst + hh * n_q + i0, lse_slice + hh * rows,
                       (size_t)rows * sizeof(float));
            ctxpar_comm_exchange_poke(&ex);
        }
        if (step > 0)
            backend->attention_merge(out, d, lse_acc, o_blk, d, lse_blk, n_q, heads, head_dim);
        double t1 = MPI_Wtime();
        stats->seconds_compute += t1 - t0;
        stats->flops += 4.0 * (double)n_q * (double)n_kv * (double)d;
        if (kv_next) {
            CTXPAR_TRY_GOTO(ctxpar_comm_exchange_end(comm, &ex));
            stats->seconds_wait += MPI_Wtime() - t1;
            stats->seconds_exchange += MPI_Wtime() - ex.posted_at;
            kv_cur = kv_next;
            next_buf ^= 1;
        }
    }

fail:
    ctxpar_mem_free(kv_buf[0]);
    ctxpar_mem_free(kv_buf[1]);
    ctxpar_mem_free(o_blk);
    ctxpar_mem_free(lse_blk);
    ctxpar_mem_free(lse_acc);
    ctxpar_mem_free(lse_slice);
    if (status != CTXPAR_OK) ctxpar_comm_abort(comm, status);
    return status;
}
