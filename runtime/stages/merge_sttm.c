/* STTM's merge across ranks (see merge_sttm.h).
 *
 * Why the links are gathered: the reference's representatives are a
 * synchronous iteration over every link of the video, and it stops at a
 * fixed point that is not always the connected components, so a group's
 * extent can depend on links far away. Reproducing it exactly needs the
 * whole link list, which is small (two integers per link, at most a few
 * links per node), so every rank gathers it and runs the same iteration;
 * node features never leave their rank except for the boundary frame and
 * the partial sums of groups whose representative is elsewhere. */
#include "runtime/stages/merge_sttm.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/merge_cpu.h"
#include "runtime/core/memory.h"

/* A partial group sent to its representative's rank: fixed fields, then d doubles. */
typedef struct sttm_partial {
    int64_t rep, count, patches, t_end;
} sttm_partial;

static ctxpar_status alloc_doubles(double **out, int64_t count, const char *what) {
    *out = ctxpar_mem_alloc(sizeof(double) * (size_t)count, CTXPAR_MEM_MERGE, what);
    return *out ? CTXPAR_OK
                : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for %s (%lld values)", what,
                               (long long)count);
}

static int64_t partial_bytes(int64_t d) { return (int64_t)sizeof(sttm_partial) + 8 * d; }

/* The range holding g among ranges starting at first[0..n) (ascending): the
 * rank of a global node, or the local frame of a node. */
static int range_of(const int64_t *first, int n, int64_t g) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (first[mid] <= g)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static int compare_i64(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The distinct values below `before` among labels[0..n), ascending, into out;
 * returns how many. */
static int64_t distinct_before(const int64_t *labels, int64_t n, int64_t before, int64_t *out) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < before) out[m++] = labels[i];
    qsort(out, (size_t)m, sizeof *out, compare_i64);
    int64_t k = 0;
    for (int64_t i = 0; i < m; i++)
        if (k == 0 || out[k - 1] != out[i]) out[k++] = out[i];
    return k;
}

typedef struct sttm_state {
    int64_t d, n_frames, first_frame;
    int64_t n_nodes;           /* this rank's */
    ctxpar_sttm_node *nodes;   /* [capacity] */
    double *features;          /* [capacity][d] */
    int64_t *frame_start;      /* [n_frames + 1]: node range of each local frame */
    int64_t *links;            /* [2 * n_links] global (earlier, later) */
    int64_t n_links, links_cap;
} sttm_state;

static ctxpar_status add_links(sttm_state *s, const ctxpar_sttm_node *a, const double *fa,
                               int64_t na, int64_t a_first, const ctxpar_sttm_node *b,
                               const double *fb, int64_t nb, int64_t b_first, double tau_t,
                               double *scratch, int64_t *pairs) {
    const int64_t n = ctxpar_cpu_sttm_links(a, fa, na, b, fb, nb, s->d, tau_t, scratch, pairs);
    if (s->n_links + n > s->links_cap) {
        int64_t cap = 2 * (s->n_links + n) + 64;
        int64_t *grown = realloc(s->links, sizeof(int64_t) * 2 * (size_t)cap);
        if (!grown) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for STTM links");
        s->links = grown, s->links_cap = cap;
    }
    for (int64_t k = 0; k < n; k++) {
        s->links[2 * (s->n_links + k)] = a_first + pairs[2 * k];
        s->links[2 * (s->n_links + k) + 1] = b_first + pairs[2 * k + 1];
    }
    s->n_links += n;
    return CTXPAR_OK;
}

/* A failed exchange leaves neighbours waiting: it ends the job, as the
 * other stages' point-to-point failures do. Agreed failures (allocation)
 * return to every rank at once instead. */
#define EXCHANGE(call)                                   \
    do {                                                 \
        status = (call);                                 \
        if (status != CTXPAR_OK) ctxpar_comm_abort(comm, status); \
    } while (0)

ctxpar_status ctxpar_merge_sttm_run(ctxpar_comm_t comm, const ctxpar_plan *plan,
                                    const ctxpar_merge_config *config, const float *features,
                                    int64_t d, ctxpar_merge_result *out) {
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    const double t0 = MPI_Wtime();
    const int64_t gh = plan->grid_h, gw = plan->grid_w, tpf = plan->tokens_per_frame;
    const int temporal = config->temporal_threshold > 0; /* the reference's switch */
    sttm_state s = {.d = d, .n_frames = plan->n_latent[rank],
                    .first_frame = plan->first_latent[rank]};
    double *scratch = NULL, *prev_features = NULL;
    ctxpar_sttm_node *prev_nodes = NULL;
    int64_t *pairs = NULL, *all_links = NULL, *node_first = NULL, *rep = NULL, *rep_scratch = NULL;
    int64_t *send_bytes = NULL, *recv_bytes = NULL, *foreign = NULL, *others = NULL;
    char *send = NULL, *recv = NULL;
    ctxpar_status status = CTXPAR_OK;
    memset(out, 0, sizeof *out);
    out->dim = d;

    /* ---- local: every frame's nodes, and the links between local frames ---- */
    const int64_t capacity = s.n_frames * tpf;
    s.nodes = ctxpar_mem_alloc(sizeof *s.nodes * (size_t)(capacity + 1), CTXPAR_MEM_MERGE,
                               "STTM nodes");
    s.frame_start = ctxpar_mem_alloc(sizeof(int64_t) * (size_t)(s.n_frames + 1), CTXPAR_MEM_MERGE,
                                     "STTM frames");
    pairs = ctxpar_mem_alloc(sizeof(int64_t) * 2 * (size_t)(tpf * tpf + 1), CTXPAR_MEM_MERGE,
                             "STTM pairs");
    prev_nodes = ctxpar_mem_alloc(sizeof *prev_nodes * (size_t)(tpf + 1), CTXPAR_MEM_MERGE,
                                  "STTM boundary nodes");
    if (!s.nodes || !s.frame_start || !pairs || !prev_nodes) status = CTXPAR_ERR_NO_MEMORY;
    if (status == CTXPAR_OK)
        status = alloc_doubles(&s.features, (capacity + 1) * d, "STTM node features");
    if (status == CTXPAR_OK)
        status = alloc_doubles(
            &scratch, ctxpar_cpu_sttm_scratch_doubles(gh, gw, d, config->root_level) + 2 * d,
            "STTM scratch");
    if (status == CTXPAR_OK)
        status = alloc_doubles(&prev_features, (tpf + 1) * d, "STTM boundary features");
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    for (int64_t f = 0; f < s.n_frames; f++) {
        s.frame_start[f] = s.n_nodes;
        const int64_t n = ctxpar_cpu_sttm_frame(features + f * tpf * d, gh, gw, d,
                                                config->root_level, config->spatial_threshold,
                                                scratch, s.nodes + s.n_nodes,
                                                s.features + s.n_nodes * d);
        s.n_nodes += n;
    }
    s.frame_start[s.n_frames] = s.n_nodes;

    /* ---- global node numbering, and the boundary frame from rank-1 ---- */
    int64_t my_first = 0, n_total = 0, prev_count = 0;
    EXCHANGE(ctxpar_comm_exscan_i64(comm, s.n_nodes, &my_first, &n_total));
    {
        const int next = rank + 1 < ranks ? rank + 1 : MPI_PROC_NULL;
        const int prev = rank > 0 ? rank - 1 : MPI_PROC_NULL;
        const int64_t last_first = s.frame_start[s.n_frames - 1];
        int64_t last_count = s.n_nodes - last_first;
        ctxpar_comm_exchange ex;
        EXCHANGE(ctxpar_comm_sendrecv_begin(comm, &last_count, sizeof last_count, next,
                                                   &prev_count, sizeof prev_count, prev, 700,
                                                   &ex));
        EXCHANGE(ctxpar_comm_exchange_end(comm, &ex));
        EXCHANGE(ctxpar_comm_sendrecv_begin(
            comm, s.nodes + last_first, (int64_t)sizeof *s.nodes * last_count, next, prev_nodes,
            (int64_t)sizeof *prev_nodes * prev_count, prev, 701, &ex));
        EXCHANGE(ctxpar_comm_exchange_end(comm, &ex));
        EXCHANGE(ctxpar_comm_sendrecv_begin(
            comm, s.features + last_first * d, 8 * d * last_count, next, prev_features,
            8 * d * prev_count, prev, 702, &ex));
        EXCHANGE(ctxpar_comm_exchange_end(comm, &ex));
    }

    /* ---- links: (previous rank's last frame, my first), then my consecutive frames ---- */
    if (temporal) {
        double *link_scratch = scratch; /* the frames are built: the pyramid is free */
        if (rank > 0)
            status = add_links(&s, prev_nodes, prev_features, prev_count, my_first - prev_count,
                               s.nodes, s.features, s.frame_start[1], my_first,
                               config->temporal_threshold, link_scratch, pairs);
        for (int64_t f = 0; f + 1 < s.n_frames && status == CTXPAR_OK; f++) {
            const int64_t a = s.frame_start[f], b = s.frame_start[f + 1];
            status = add_links(&s, s.nodes + a, s.features + a * d, b - a, my_first + a,
                               s.nodes + b, s.features + b * d, s.frame_start[f + 2] - b,
                               my_first + b, config->temporal_threshold, link_scratch, pairs);
        }
    }
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    int64_t n_link_values = 0;
    CTXPAR_TRY_GOTO(ctxpar_comm_allgather_i64(comm, s.links, 2 * s.n_links, &all_links,
                                              &n_link_values));
    int64_t first_of_rank = my_first;
    CTXPAR_TRY_GOTO(ctxpar_comm_allgather_i64(comm, &first_of_rank, 1, &node_first,
                                              &(int64_t){0}));

    /* ---- the reference's representatives, the same on every rank ---- */
    const int64_t n_links = n_link_values / 2;
    rep = malloc(sizeof(int64_t) * (size_t)(n_total > 0 ? n_total : 1));
    rep_scratch = malloc(sizeof(int64_t) * (size_t)(n_total + n_links + 1));
    status = rep && rep_scratch ? CTXPAR_OK
                                : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for %lld "
                                               "STTM labels", (long long)n_total);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    ctxpar_cpu_sttm_representatives(n_total, all_links, n_links, rep, rep_scratch);

    /* ---- partial sums to the representatives' ranks ---- */
    /* Both sides count alike: for every rank, the distinct representatives
     * of its nodes that lie before its first node, ascending (so grouped by
     * their owner in rank order); each is one partial. */
    send_bytes = calloc((size_t)ranks, sizeof(int64_t));
    recv_bytes = calloc((size_t)ranks, sizeof(int64_t));
    foreign = malloc(sizeof(int64_t) * (size_t)(n_total + 1));
    others = malloc(sizeof(int64_t) * (size_t)(n_total + 1));
    if (!send_bytes || !recv_bytes || !foreign || !others) status = CTXPAR_ERR_NO_MEMORY;
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    const int64_t pb = partial_bytes(d);
    /* this rank's list, kept in foreign[]; every rank's counted through others[] */
    const int64_t n_mine = distinct_before(rep + my_first, s.n_nodes, my_first, foreign);
    for (int64_t k = 0; k < n_mine; k++) send_bytes[range_of(node_first, ranks, foreign[k])] += pb;
    for (int q = 0; q < ranks; q++) {
        const int64_t begin = node_first[q], end = q + 1 < ranks ? node_first[q + 1] : n_total;
        if (q <= rank) continue; /* a node's representative is never after it */
        const int64_t n = distinct_before(rep + begin, end - begin, begin, others);
        for (int64_t k = 0; k < n; k++)
            if (range_of(node_first, ranks, others[k]) == rank) recv_bytes[q] += pb;
    }
    int64_t send_total = n_mine * pb, recv_total = 0;
    for (int q = 0; q < ranks; q++) recv_total += recv_bytes[q];
    send = calloc(1, (size_t)(send_total + 1));
    recv = calloc(1, (size_t)(recv_total + 1));
    if (!send || !recv) status = CTXPAR_ERR_NO_MEMORY;
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    for (int64_t k = 0; k < n_mine; k++) ((sttm_partial *)(send + k * pb))->rep = foreign[k];
    for (int64_t i = 0; i < s.n_nodes; i++) {
        const int64_t r = rep[my_first + i];
        if (r >= my_first) continue;
        int64_t lo = 0, hi = n_mine - 1; /* r is in the list: find it */
        while (lo < hi) {
            const int64_t mid = (lo + hi) / 2;
            if (foreign[mid] < r)
                lo = mid + 1;
            else
                hi = mid;
        }
        sttm_partial *p = (sttm_partial *)(send + lo * pb);
        const ctxpar_sttm_node *n = &s.nodes[i];
        double *sum = (double *)(p + 1);
        for (int64_t c = 0; c < d; c++) sum[c] += s.features[i * d + c];
        p->count++;
        p->patches += (int64_t)(n->y1 - n->y0) * (n->x1 - n->x0);
        const int64_t t = s.first_frame + range_of(s.frame_start, (int)s.n_frames, i);
        if (t > p->t_end) p->t_end = t;
    }
    EXCHANGE(ctxpar_comm_alltoallv(comm, send, send_bytes, recv, recv_bytes));

    /* ---- this rank's groups: representatives it holds, in node order ---- */
    {
        int64_t n_groups = 0;
        for (int64_t i = 0; i < s.n_nodes; i++) n_groups += rep[my_first + i] == my_first + i;
        int32_t *ints = ctxpar_mem_alloc(
            (size_t)(n_groups > 0 ? n_groups : 1) * 6 * sizeof(int32_t), CTXPAR_MEM_OUTPUT,
            "token records");
        double *sums = NULL;
        int64_t *slot = malloc(sizeof(int64_t) * (size_t)(s.n_nodes + 1));
        int64_t *counts = calloc((size_t)(n_groups + 1), sizeof(int64_t));
        status = ints && slot && counts ? CTXPAR_OK : CTXPAR_ERR_NO_MEMORY;
        if (status == CTXPAR_OK)
            status = alloc_doubles(&sums, (n_groups + 1) * d, "STTM group sums");
        if (status == CTXPAR_OK)
            status = ctxpar_mem_alloc_floats(&out->features, (n_groups + 1) * d,
                                             CTXPAR_MEM_OUTPUT, "token features");
        status = ctxpar_comm_agree(comm, status);
        if (status != CTXPAR_OK) {
            ctxpar_mem_free(ints), ctxpar_mem_free(sums), free(slot), free(counts);
            goto fail;
        }
        memset(sums, 0, sizeof(double) * (size_t)((n_groups + 1) * d));
        ctxpar_records *rec = &out->records;
        rec->count = n_groups;
        rec->t_start = ints, rec->t_end = ints + n_groups, rec->level = ints + 2 * n_groups;
        rec->y = ints + 3 * n_groups, rec->x = ints + 4 * n_groups, rec->size = ints + 5 * n_groups;
        int64_t k = 0;
        for (int64_t i = 0; i < s.n_nodes; i++) {
            if (rep[my_first + i] != my_first + i) continue;
            const ctxpar_sttm_node *n = &s.nodes[i];
            const int64_t t = s.first_frame + range_of(s.frame_start, (int)s.n_frames, i);
            slot[i] = k;
            rec->t_start[k] = rec->t_end[k] = (int32_t)t;
            rec->level[k] = n->depth;
            rec->y[k] = n->y0, rec->x[k] = n->x0, rec->size[k] = 0;
            k++;
        }
        for (int64_t i = 0; i < s.n_nodes; i++) {
            const int64_t r = rep[my_first + i];
            if (r < my_first) continue;
            const int64_t g = slot[r - my_first];
            const ctxpar_sttm_node *n = &s.nodes[i];
            for (int64_t c = 0; c < d; c++) sums[g * d + c] += s.features[i * d + c];
            counts[g]++;
            rec->size[g] += (n->y1 - n->y0) * (n->x1 - n->x0);
            const int64_t t = s.first_frame + range_of(s.frame_start, (int)s.n_frames, i);
            if (t > rec->t_end[g]) rec->t_end[g] = (int32_t)t;
        }
        for (int64_t o = 0; o < recv_total; o += pb) {
            const sttm_partial *p = (const sttm_partial *)(recv + o);
            const int64_t g = slot[p->rep - my_first];
            const double *sum = (const double *)(p + 1);
            for (int64_t c = 0; c < d; c++) sums[g * d + c] += sum[c];
            counts[g] += p->count;
            rec->size[g] += (int32_t)p->patches;
            if (p->t_end > rec->t_end[g]) rec->t_end[g] = (int32_t)p->t_end;
        }
        for (int64_t g = 0; g < n_groups; g++)
            for (int64_t c = 0; c < d; c++)
                out->features[g * d + c] = (float)(sums[g * d + c] / (double)counts[g]);
        ctxpar_mem_free(sums), free(slot), free(counts);
        EXCHANGE(ctxpar_merge_count(comm, plan, out));
    }
    out->stats.seconds = MPI_Wtime() - t0;

fail:
    if (status != CTXPAR_OK) ctxpar_merge_result_free(out);
    free(send), free(recv), free(send_bytes), free(recv_bytes), free(foreign);
    free(others);
    free(rep), free(rep_scratch), free(all_links), free(node_first), free(s.links);
    ctxpar_mem_free(pairs), ctxpar_mem_free(prev_nodes), ctxpar_mem_free(prev_features);
    ctxpar_mem_free(scratch), ctxpar_mem_free(s.features), ctxpar_mem_free(s.frame_start);
    ctxpar_mem_free(s.nodes);
    return status;
}
