/* The communicator: everything that crosses ranks goes through here, so the
 * pipeline never calls MPI directly, every call is checked, and the bytes and
 * waiting time are counted for the summary.
 *
 * Two kinds of failure. A rank that fails between stages reports it at the
 * next ctxpar_comm_agree(): every rank learns the first failing rank's status
 * and message, and all return together (no one is left in a collective). A
 * rank that fails inside a stage where its neighbours wait on point-to-point
 * messages (halo or ring exchange) cannot be waited for; it calls
 * ctxpar_comm_abort(), which prints its message and ends the job. NCCL for
 * device buffers plugs in behind the same calls when the CUDA backend comes. */
#pragma once
#include <mpi.h>
#include <stdint.h>

#include "base/moments.h"
#include "base/status.h"

typedef struct ctxpar_comm *ctxpar_comm_t;

typedef struct ctxpar_comm_stats {
    int64_t bytes_sent;     /* point-to-point and collective payload sent by this rank */
    double wait_seconds;    /* time blocked waiting for messages that compute did not hide */
    double exchange_seconds;/* time from posting an exchange to its completion */
} ctxpar_comm_stats;

/* Checked MPI call inside comm/ (returns CTXPAR_ERR_MPI with rank, file:line,
 * the call and MPI's message). */
#define CTXPAR_MPI_CHECK(call)                                                \
    do {                                                                      \
        int mpi_rc_ = (call);                                                 \
        if (mpi_rc_ != MPI_SUCCESS) return ctxpar_mpi_error(mpi_rc_, #call, __FILE__, __LINE__); \
    } while (0)
ctxpar_status ctxpar_mpi_error(int rc, const char *call, const char *file, int line);

ctxpar_status ctxpar_comm_init(ctxpar_comm_t *out, MPI_Comm parent);
void ctxpar_comm_free(ctxpar_comm_t comm);

int ctxpar_comm_rank(ctxpar_comm_t comm);
int ctxpar_comm_size(ctxpar_comm_t comm);
int ctxpar_comm_local_rank(ctxpar_comm_t comm); /* rank among the ranks of this node */
int ctxpar_comm_local_size(ctxpar_comm_t comm);
int ctxpar_comm_node_count(ctxpar_comm_t comm);
MPI_Comm ctxpar_comm_mpi(ctxpar_comm_t comm);

/* Collective: returns CTXPAR_OK when every rank passed OK; otherwise every
 * rank returns the status of the lowest failing rank, and that rank's
 * message becomes the local error detail (prefixed "rank R: " when R != 0). */
ctxpar_status ctxpar_comm_agree(ctxpar_comm_t comm, ctxpar_status local);

/* Print "ctxpar: rank R: error: <detail>" and end the whole job (MPI_Abort). */
_Noreturn void ctxpar_comm_abort(ctxpar_comm_t comm, ctxpar_status status);

ctxpar_status ctxpar_comm_barrier(ctxpar_comm_t comm);
ctxpar_status ctxpar_comm_bcast(ctxpar_comm_t comm, void *buf, int64_t bytes, int root);
ctxpar_status ctxpar_comm_allreduce_max_f64(ctxpar_comm_t comm, double *values, int count);
ctxpar_status ctxpar_comm_allreduce_sum_i64(ctxpar_comm_t comm, int64_t *values, int count);
ctxpar_status ctxpar_comm_allreduce_max_i64(ctxpar_comm_t comm, int64_t *values, int count);
/* Every rank's `count` values, concatenated in rank order into *all (malloc'd,
 * the caller frees it), and their number. */
ctxpar_status ctxpar_comm_allgather_i64(ctxpar_comm_t comm, const int64_t *local, int64_t count,
                                        int64_t **all, int64_t *total);
/* Personalised exchange: send_bytes[q] bytes to rank q (blocks laid out in
 * rank order in `send`), recv_bytes[q] from rank q into `recv` (in rank
 * order). Both sides must agree on every size. */
ctxpar_status ctxpar_comm_alltoallv(ctxpar_comm_t comm, const void *send,
                                    const int64_t *send_bytes, void *recv,
                                    const int64_t *recv_bytes);
/* Exclusive prefix sum over ranks (rank 0 gets 0) and the total. */
ctxpar_status ctxpar_comm_exscan_i64(ctxpar_comm_t comm, int64_t local, int64_t *offset,
                                     int64_t *total);

/* Moments of every rank combined in rank order 0..P-1, so all ranks hold the
 * bit-identical global result (exact GroupNorm). In-place on `moments`. */
ctxpar_status ctxpar_comm_combine_moments(ctxpar_comm_t comm, ctxpar_moments *moments,
                                          int count);

/* A non-blocking exchange with neighbours (conv-cache halos, ring K/V
 * blocks): begin, compute what does not need it, end. */
typedef struct ctxpar_comm_exchange {
    MPI_Request requests[2];
    int n_requests;
    double posted_at;
} ctxpar_comm_exchange;
/* Send to `dest` / receive from `src` (either may be MPI_PROC_NULL). */
ctxpar_status ctxpar_comm_sendrecv_begin(ctxpar_comm_t comm, const void *send, int64_t send_bytes,
                                         int dest, void *recv, int64_t recv_bytes, int src,
                                         int tag, ctxpar_comm_exchange *ex);
/* Drive MPI progress without blocking (call from inside long compute). */
void ctxpar_comm_exchange_poke(ctxpar_comm_exchange *ex);
ctxpar_status ctxpar_comm_exchange_end(ctxpar_comm_t comm, ctxpar_comm_exchange *ex);

void ctxpar_comm_get_stats(ctxpar_comm_t comm, ctxpar_comm_stats *out);

/* One buffer per node, shared by the node's ranks (an MPI shared-memory
 * window): model weights are held once per node, not once per rank. The
 * node's first rank fills it; ctxpar_comm_node_sync() then publishes the
 * writes to the node's other ranks. Collective over all ranks. */
typedef struct ctxpar_node_buffer {
    MPI_Win window;
    void *data;
    int64_t bytes;
} ctxpar_node_buffer;
ctxpar_status ctxpar_comm_node_alloc(ctxpar_comm_t comm, int64_t bytes, ctxpar_node_buffer *out);
/* Barrier over the node with a memory fence: the leader's writes become visible. */
ctxpar_status ctxpar_comm_node_sync(ctxpar_comm_t comm, ctxpar_node_buffer *buffer);
void ctxpar_comm_node_free(ctxpar_node_buffer *buffer);
/* Broadcast from world rank 0 to the first rank of every node (the ranks that
 * fill node buffers). Collective over all ranks; others pass through. */
ctxpar_status ctxpar_comm_bcast_leaders(ctxpar_comm_t comm, void *buf, int64_t bytes);
