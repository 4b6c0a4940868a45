/* MPI communicator (see comm.h). Errors are returned (MPI_ERRORS_RETURN on
 * our duplicate of the parent), so a failing call becomes a status with the
 * call's text and MPI's own message rather than a silent abort. */
#include "comm/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctxpar_comm {
    MPI_Comm world;
    MPI_Comm node;
    MPI_Comm leaders; /* the first rank of each node; MPI_COMM_NULL elsewhere */
    int rank, size, local_rank, local_size, node_count;
    ctxpar_comm_stats stats;
};

ctxpar_status ctxpar_mpi_error(int rc, const char *call, const char *file, int line) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0, rank = -1, initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", rc);
    return ctxpar_error(CTXPAR_ERR_MPI, "rank %d: %s:%d: %s failed: %s", rank, file, line, call,
                        msg);
}

ctxpar_status ctxpar_comm_init(ctxpar_comm_t *out, MPI_Comm parent) {
    ctxpar_comm_t comm = calloc(1, sizeof *comm);
    if (!comm) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory creating communicator");
    comm->world = MPI_COMM_NULL;
    comm->node = MPI_COMM_NULL;
    comm->leaders = MPI_COMM_NULL;
    *out = comm;
    CTXPAR_MPI_CHECK(MPI_Comm_dup(parent, &comm->world));
    CTXPAR_MPI_CHECK(MPI_Comm_set_errhandler(comm->world, MPI_ERRORS_RETURN));
    CTXPAR_MPI_CHECK(MPI_Comm_rank(comm->world, &comm->rank));
    CTXPAR_MPI_CHECK(MPI_Comm_size(comm->world, &comm->size));
    CTXPAR_MPI_CHECK(MPI_Comm_split_type(comm->world, MPI_COMM_TYPE_SHARED, comm->rank,
                                         MPI_INFO_NULL, &comm->node));
    CTXPAR_MPI_CHECK(MPI_Comm_rank(comm->node, &comm->local_rank));
    CTXPAR_MPI_CHECK(MPI_Comm_size(comm->node, &comm->local_size));
    int leader = comm->local_rank == 0;
    CTXPAR_MPI_CHECK(MPI_Allreduce(&leader, &comm->node_count, 1, MPI_INT, MPI_SUM, comm->world));
    CTXPAR_MPI_CHECK(MPI_Comm_split(comm->world, leader ? 0 : MPI_UNDEFINED, comm->rank,
                                    &comm->leaders));
    return CTXPAR_OK;
}

void ctxpar_comm_free(ctxpar_comm_t comm) {
    if (!comm) return;
    if (comm->leaders != MPI_COMM_NULL) MPI_Comm_free(&comm->leaders);
    if (comm->node != MPI_COMM_NULL) MPI_Comm_free(&comm->node);
    if (comm->world != MPI_COMM_NULL) MPI_Comm_free(&comm->world);
    free(comm);
}

int ctxpar_comm_rank(ctxpar_comm_t comm) { return comm->rank; }
int ctxpar_comm_size(ctxpar_comm_t comm) { return comm->size; }
int ctxpar_comm_local_rank(ctxpar_comm_t comm) { return comm->local_rank; }
int ctxpar_comm_local_size(ctxpar_comm_t comm) { return comm->local_size; }
int ctxpar_comm_node_count(ctxpar_comm_t comm) { return comm->node_count; }
MPI_Comm ctxpar_comm_mpi(ctxpar_comm_t comm) { return comm->world; }

ctxpar_status ctxpar_comm_agree(ctxpar_comm_t comm, ctxpar_status local) {
    int mine = local == CTXPAR_OK ? comm->size : comm->rank, first = 0;
    CTXPAR_MPI_CHECK(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm->world));
    if (first == comm->size) return CTXPAR_OK;
    /* The failing rank's status and message travel to everyone. */
    char detail[2048];
    int code = local;
    if (comm->rank == first) {
        if (first == 0)
            snprintf(detail, sizeof detail, "%s", ctxpar_error_detail());
        else
            snprintf(detail, sizeof detail, "rank %d: %s", first, ctxpar_error_detail());
    }
    CTXPAR_MPI_CHECK(MPI_Bcast(&code, 1, MPI_INT, first, comm->world));
    CTXPAR_MPI_CHECK(MPI_Bcast(detail, sizeof detail, MPI_CHAR, first, comm->world));
    if (comm->rank != first) {
        ctxpar_error_clear();
        ctxpar_error((ctxpar_status)code, "%s", detail);
    } else if (first != 0) {
        ctxpar_error_clear();
        ctxpar_error((ctxpar_status)code, "%s", detail);
    }
    return (ctxpar_status)code;
}

_Noreturn void ctxpar_comm_abort(ctxpar_comm_t comm, ctxpar_status status) {
    int rank = comm ? comm->rank : 0;
    fprintf(stderr, "ctxpar: rank %d: error: %s\n", rank, ctxpar_error_detail());
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1); /* exit 1: an error (2 is kept for usage errors) */
    abort();
}

ctxpar_status ctxpar_comm_barrier(ctxpar_comm_t comm) {
    CTXPAR_MPI_CHECK(MPI_Barrier(comm->world));
    return CTXPAR_OK;
}

ctxpar_status ctxpar_comm_bcast(ctxpar_comm_t comm, void *buf, int64_t bytes, int root) {
    /* MPI counts are int: large weight blobs go in pieces. */
    const int64_t piece = (int64_t)1 << 30;
    for (int64_t off = 0; off < bytes; off += piece) {
        int n = (int)(bytes - off < piece ? bytes - off : piece);
        CTXPAR_MPI_CHECK(MPI_Bcast((char *)buf + off, n, MPI_BYTE, root, comm->world));
    }
    if (comm->rank == root) comm->stats.bytes_sent += bytes;
    return CTXPAR_OK;
}

ctxpar_status ctxpar_comm_allreduce_max_f64(ctxpar_comm_t comm, double *values, int count) {
    CTXPAR_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_MAX, comm->world));
    return CTXPAR_OK;
}

ctxpar_status ctxpar_comm_allreduce_sum_i64(ctxpar_comm_t comm, int64_t *values, int count) {
    CTXPAR_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_INT64_T, MPI_SUM, comm->world));
    return CTXPAR_OK;
}

ctxpar_status ctxpar_comm_allreduce_max_i64(ctxpar_comm_t comm, int64_t *values, int count) {
    CTXPAR_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_INT64_T, MPI_MAX, comm->world));
    return CTXPAR_OK;
}

ctxpar_status ctxpar_comm_allgather_i64(ctxpar_comm_t comm, const int64_t *local, int64_t count,
                                        int64_t **all, int64_t *total) {
    *all = NULL;
    *total = 0;
    int64_t *counts = calloc((size_t)comm->size, sizeof *counts);
    int *icounts = calloc((size_t)comm->size, sizeof *icounts);
    int *displs = calloc((size_t)comm->size, sizeof *displs);
    ctxpar_status status = counts && icounts && displs ? CTXPAR_OK : CTXPAR_ERR_NO_MEMORY;
    status = ctxpar_comm_agree(comm, status);
    if (status == CTXPAR_OK) {
        counts[comm->rank] = count;
        status = ctxpar_comm_allreduce_sum_i64(comm, counts, comm->size);
    }
    int64_t sum = 0;
    for (int r = 0; status == CTXPAR_OK && r < comm->size; r++) {
        if (sum + counts[r] > 0x7fffffff)
            status = ctxpar_error(CTXPAR_ERR_PLAN, "allgather of %lld values: more than MPI's "
                                  "int counts take", (long long)(sum + counts[r]));
        icounts[r] = (int)counts[r], displs[r] = (int)sum;
        sum += counts[r];
    }
    if (status == CTXPAR_OK) {
        *all = malloc(sizeof(int64_t) * (size_t)(sum > 0 ? sum : 1));
        if (!*all) status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory gathering %lld "
                                         "values", (long long)sum);
    }
    status = ctxpar_comm_agree(comm, status); /* no rank enters the gather alone */
    if (status == CTXPAR_OK) {
        int rc = MPI_Allgatherv(local, (int)count, MPI_INT64_T, *all, icounts, displs,
                                MPI_INT64_T, comm->world);
        if (rc != MPI_SUCCESS)
            status = ctxpar_mpi_error(rc, "MPI_Allgatherv", __FILE__, __LINE__);
        comm->stats.bytes_sent += count * (int64_t)sizeof(int64_t) * (comm->size - 1);
    }
    free(counts), free(icounts), free(displs);
    if (status != CTXPAR_OK) {
        free(*all);
        *all = NULL;
        return status;
    }
    *total = sum;
    return CTXPAR_OK;
}

ctxpar_status ctxpar_comm_alltoallv(ctxpar_comm_t comm, const void *send,
                                    const int64_t *send_bytes, void *recv,
                                    const int64_t *recv_bytes) {
    int *sc = calloc((size_t)comm->size, sizeof *sc), *sd = calloc((size_t)comm->size, sizeof *sd);
    int *rc = calloc((size_t)comm->size, sizeof *rc), *rd = calloc((size_t)comm->size, sizeof *rd);
    ctxpar_status status = sc && sd && rc && rd ? CTXPAR_OK : CTXPAR_ERR_NO_MEMORY;
    int64_t s_at = 0, r_at = 0;
    for (int r = 0; status == CTXPAR_OK && r < comm->size; r++) {
        if (s_at + send_bytes[r] > 0x7fffffff || r_at + recv_bytes[r] > 0x7fffffff)
            status = ctxpar_error(CTXPAR_ERR_PLAN, "rank %d: an exchange of more than 2 GiB",
                                  comm->rank);
        sc[r] = (int)send_bytes[r], sd[r] = (int)s_at, s_at += send_bytes[r];
        rc[r] = (int)recv_bytes[r], rd[r] = (int)r_at, r_at += recv_bytes[r];
    }
    /* every rank takes part even after a local error (zero counts), so none waits */
    if (status != CTXPAR_OK)
        for (int r = 0; r < comm->size; r++) sc[r] = sd[r] = rc[r] = rd[r] = 0;
    const char empty = 0;
    int mpi = sc && rc ? MPI_Alltoallv(send ? send : &empty, sc, sd, MPI_BYTE,
                                       recv ? recv : (void *)&empty, rc, rd, MPI_BYTE,
                                       comm->world)
                       : MPI_SUCCESS;
    if (status == CTXPAR_OK && mpi != MPI_SUCCESS)
        status = ctxpar_mpi_error(mpi, "MPI_Alltoallv", __FILE__, __LINE__);
    comm->stats.bytes_sent += s_at - (send_bytes ? send_bytes[comm->rank] : 0);
    free(sc), free(sd), free(rc), free(rd);
    return status;
}

ctxpar_status ctxpar_comm_exscan_i64(ctxpar_comm_t comm, int64_t local, int64_t *offset,
                                     int64_t *total) {
    int64_t before = 0, sum = 0;
    CTXPAR_MPI_CHECK(MPI_Exscan(&local, &before, 1, MPI_INT64_T, MPI_SUM, comm->world));
    if (comm->rank == 0) before = 0; /* MPI leaves rank 0's result undefined */
    CTXPAR_MPI_CHECK(MPI_Allreduce(&local, &sum, 1, MPI_INT64_T, MPI_SUM, comm->world));
    *offset = before;
    if (total) *total = sum;
    return CTXPAR_OK;
}

/* Gather `count` values from every rank to all (out has size*count entries, rank order). */
static ctxpar_status allgather_f64(ctxpar_comm_t comm, const double *local, int count,
                                   double *out) {
    CTXPAR_MPI_CHECK(MPI_Allgather(local, count, MPI_DOUBLE, out, count, MPI_DOUBLE, comm->world));
    comm->stats.bytes_sent += (int64_t)count * (int64_t)sizeof(double) * (comm->size - 1);
    return CTXPAR_OK;
}

ctxpar_status ctxpar_comm_combine_moments(ctxpar_comm_t comm, ctxpar_moments *moments,
                                          int count) {
    int n = 3 * count;
    double *all = malloc(sizeof(double) * (size_t)n * (size_t)comm->size);
    if (!all) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory gathering moments");
    double *mine = malloc(sizeof(double) * (size_t)n);
    if (!mine) {
        free(all);
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory gathering moments");
    }
    for (int g = 0; g < count; g++) {
        mine[3 * g] = moments[g].count;
        mine[3 * g + 1] = moments[g].mean;
        mine[3 * g + 2] = moments[g].m2;
    }
    ctxpar_status status = allgather_f64(comm, mine, n, all);
    if (status == CTXPAR_OK) {
        for (int g = 0; g < count; g++) {
            ctxpar_moments acc = {0, 0, 0};
            for (int r = 0; r < comm->size; r++) {
                const double *m = all + (size_t)r * n + 3 * g;
                ctxpar_moments part = {m[0], m[1], m[2]};
                ctxpar_moments_combine(&acc, &part);
            }
            moments[g] = acc;
        }
    }
    free(mine);
    free(all);
    return status;
}

ctxpar_status ctxpar_comm_sendrecv_begin(ctxpar_comm_t comm, const void *send, int64_t send_bytes,
                                         int dest, void *recv, int64_t recv_bytes, int src,
                                         int tag, ctxpar_comm_exchange *ex) {
    ex->n_requests = 0;
    ex->posted_at = MPI_Wtime();
    if (send_bytes > INT32_MAX || recv_bytes > INT32_MAX)
        return ctxpar_error(CTXPAR_ERR_UNSUPPORTED, "a single message of more than 2 GiB");
    if (src != MPI_PROC_NULL && recv_bytes > 0)
        CTXPAR_MPI_CHECK(MPI_Irecv(recv, (int)recv_bytes, MPI_BYTE, src, tag, comm->world,
                                   &ex->requests[ex->n_requests++]));
    if (dest != MPI_PROC_NULL && send_bytes > 0) {
        CTXPAR_MPI_CHECK(MPI_Isend(send, (int)send_bytes, MPI_BYTE, dest, tag, comm->world,
                                   &ex->requests[ex->n_requests++]));
        comm->stats.bytes_sent += send_bytes;
    }
    return CTXPAR_OK;
}

void ctxpar_comm_exchange_poke(ctxpar_comm_exchange *ex) {
    int done = 0;
    if (ex->n_requests > 0) MPI_Testall(ex->n_requests, ex->requests, &done, MPI_STATUSES_IGNORE);
}

ctxpar_status ctxpar_comm_exchange_end(ctxpar_comm_t comm, ctxpar_comm_exchange *ex) {
    if (ex->n_requests == 0) return CTXPAR_OK;
    double start = MPI_Wtime();
    CTXPAR_MPI_CHECK(MPI_Waitall(ex->n_requests, ex->requests, MPI_STATUSES_IGNORE));
    double end = MPI_Wtime();
    comm->stats.wait_seconds += end - start;
    comm->stats.exchange_seconds += end - ex->posted_at;
    ex->n_requests = 0;
    return CTXPAR_OK;
}

void ctxpar_comm_get_stats(ctxpar_comm_t comm, ctxpar_comm_stats *out) { *out = comm->stats; }

/* ---- node-shared buffers ---- */

ctxpar_status ctxpar_comm_node_alloc(ctxpar_comm_t comm, int64_t bytes, ctxpar_node_buffer *out) {
    memset(out, 0, sizeof *out);
    out->window = MPI_WIN_NULL;
    /* The leader holds all of it; the others map the leader's segment. */
    MPI_Aint mine = comm->local_rank == 0 ? (MPI_Aint)(bytes > 0 ? bytes : 1) : 0;
    void *base = NULL;
    CTXPAR_MPI_CHECK(MPI_Win_allocate_shared(mine, 1, MPI_INFO_NULL, comm->node, &base,
                                             &out->window));
    MPI_Aint size = 0;
    int disp_unit = 0;
    CTXPAR_MPI_CHECK(MPI_Win_shared_query(out->window, 0, &size, &disp_unit, &out->data));
    out->bytes = bytes;
    return CTXPAR_OK;
}

ctxpar_status ctxpar_comm_node_sync(ctxpar_comm_t comm, ctxpar_node_buffer *buffer) {
    CTXPAR_MPI_CHECK(MPI_Win_fence(0, buffer->window));
    CTXPAR_MPI_CHECK(MPI_Barrier(comm->node));
    CTXPAR_MPI_CHECK(MPI_Win_fence(0, buffer->window));
    return CTXPAR_OK;
}

void ctxpar_comm_node_free(ctxpar_node_buffer *buffer) {
    if (buffer->window != MPI_WIN_NULL) MPI_Win_free(&buffer->window);
    buffer->data = NULL;
}

ctxpar_status ctxpar_comm_bcast_leaders(ctxpar_comm_t comm, void *buf, int64_t bytes) {
    if (comm->leaders == MPI_COMM_NULL || comm->node_count == 1) return CTXPAR_OK;
    /* MPI counts are int: send in pieces below 2 GiB. */
    const int64_t piece = (int64_t)1 << 30;
    for (int64_t off = 0; off < bytes; off += piece) {
        int n = (int)(bytes - off < piece ? bytes - off : piece);
        CTXPAR_MPI_CHECK(MPI_Bcast((char *)buf + off, n, MPI_BYTE, 0, comm->leaders));
    }
    if (comm->rank == 0) comm->stats.bytes_sent += bytes;
    return CTXPAR_OK;
}
