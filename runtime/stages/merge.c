/* Token merging across ranks (see merge.h and docs/merge.md).
 *
 * Local pass: frames in order; each frame's quadtree nodes either continue the
 * chain of the node with the same key in the previous frame or open a new
 * record. Records are created in (t_start, y, x) order, which is the output
 * order, so a record's index is fixed when it opens and its feature is written
 * when it closes. The records opened at the rank's first frame are a prefix of
 * the list; some of them turn out to continue a chain from the previous rank,
 * are dropped from this rank's output, and their partial sums go back.
 *
 * Cross-rank: (1) forward, all ranks at once: last frame's nodes (keys and
 * double features) to rank+1; (2) backward, P-1 down to 0: a rank receives
 * from rank+1 the partial sums of the chains that continue its last frame,
 * closes its open chains with them, then sends rank-1 the partial sums of its
 * first-frame chains that continue rank-1's. Messages: a count, then the keys,
 * then the double sums (no packing copies). */
#include "runtime/stages/merge.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/merge_cpu.h"
#include "runtime/core/memory.h"

enum { TAG_FWD_COUNT = 7101, TAG_FWD_KEYS, TAG_FWD_FEATURES, TAG_BWD_COUNT, TAG_BWD_META,
       TAG_BWD_SUMS };

/* One frame's nodes and the chains they belong to. */
typedef struct frame_nodes {
    int64_t n;
    int32_t *key;      /* [n][3]: level, y, x */
    double *feature;   /* [n][d] this frame's node features */
    double *sum;       /* [n][d] sum of the chain's node features so far */
    int64_t *record;   /* [n] the chain's record index */
    int64_t *frames;   /* [n] frames in the chain so far */
    int32_t *linked;   /* [n] continued by the next frame */
} frame_nodes;

typedef struct merge_state {
    const ctxpar_plan *plan;
    int64_t d, tpf, first_latent, n_latent;
    double tau_t;
    /* output, grown by doubling */
    int64_t count, capacity;
    int32_t *rec_int;  /* [capacity][6]: t_start, t_end, level, y, x, size */
    float *rec_feature;
    /* first-frame chains: keys, features, partial sums once closed */
    int64_t n_first;
    int32_t *first_key;
    double *first_feature, *first_sum;
    int64_t *first_frames, *first_t_end;
    frame_nodes a, b;
    int32_t *node_at; /* [tpf] node index of the previous frame's node at token, or -1 */
    double *quadtree_scratch;
    int64_t quadtree_scratch_n;
    int32_t *quad_level, *quad_y, *quad_x;
} merge_state;

static ctxpar_status grow_output(merge_state *s) {
    int64_t cap = s->capacity ? 2 * s->capacity : s->tpf * 2;
    const int64_t limit = s->tpf * s->n_latent;
    if (cap > limit) cap = limit;
    if (cap < 1) cap = 1;
    int32_t *ints = ctxpar_mem_alloc((size_t)cap * 6 * sizeof(int32_t), CTXPAR_MEM_OUTPUT,
                                     "merge records");
    float *feats = ctxpar_mem_alloc((size_t)(cap * s->d) * sizeof(float), CTXPAR_MEM_OUTPUT,
                                    "merged features");
    if (!ints || !feats) {
        ctxpar_mem_free(ints);
        ctxpar_mem_free(feats);
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for %lld merged records",
                            (long long)cap);
    }
    if (s->count) {
        memcpy(ints, s->rec_int, (size_t)s->count * 6 * sizeof(int32_t));
        memcpy(feats, s->rec_feature, (size_t)(s->count * s->d) * sizeof(float));
    }
    ctxpar_mem_free(s->rec_int);
    ctxpar_mem_free(s->rec_feature);
    s->rec_int = ints;
    s->rec_feature = feats;
    s->capacity = cap;
    return CTXPAR_OK;
}

static void close_chain(merge_state *s, int64_t record, int64_t t_end, int64_t frames,
                        const double *sum) {
    int32_t *r = s->rec_int + record * 6;
    r[1] = (int32_t)t_end;
    r[5] = (int32_t)(frames << (2 * r[2]));
    float *f = s->rec_feature + record * s->d;
    for (int64_t i = 0; i < s->d; i++) f[i] = (float)(sum[i] / (double)frames);
    if (record < s->n_first) {
        memcpy(s->first_sum + record * s->d, sum, sizeof(double) * (size_t)s->d);
        s->first_frames[record] = frames;
        s->first_t_end[record] = t_end;
    }
}

static int links(const merge_state *s, const int32_t *key_a, const double *feature_a,
                 const int32_t *key_b, const double *feature_b) {
    return key_a[0] == key_b[0] && ctxpar_merge_threshold_on(s->tau_t) &&
           ctxpar_cpu_cosine(feature_a, feature_b, s->d) >= s->tau_t;
}

/* The local pass over this rank's frames; on return s->b holds the last frame's
 * nodes with their open chains (not yet closed). */
static ctxpar_status local_pass(merge_state *s, const float *tokens, int levels, double tau_s) {
    const int64_t d = s->d, tpf = s->tpf, grid_w = s->plan->grid_w;
    frame_nodes *prev = &s->a, *cur = &s->b;
    prev->n = 0;
    for (int64_t i = 0; i < s->n_latent; i++) {
        const int64_t t = s->first_latent + i;
        cur->n = ctxpar_cpu_quadtree_frame(tokens + i * tpf * d, s->plan->grid_h, grid_w, d,
                                           levels, tau_s, s->quad_level, s->quad_y, s->quad_x,
                                           cur->feature, s->quadtree_scratch);
        for (int64_t k = 0; k < prev->n; k++) prev->linked[k] = 0;
        for (int64_t j = 0; j < cur->n; j++) {
            int32_t *key = cur->key + 3 * j;
            key[0] = s->quad_level[j], key[1] = s->quad_y[j], key[2] = s->quad_x[j];
            const double *feature = cur->feature + j * d;
            double *sum = cur->sum + j * d;
            const int64_t k = i > 0 ? s->node_at[key[1] * grid_w + key[2]] : -1;
            if (k >= 0 && links(s, key, feature, prev->key + 3 * k, prev->feature + k * d)) {
                prev->linked[k] = 1;
                cur->record[j] = prev->record[k];
                cur->frames[j] = prev->frames[k] + 1;
                const double *prev_sum = prev->sum + k * d;
                for (int64_t c = 0; c < d; c++) sum[c] = prev_sum[c] + feature[c];
            } else {
                if (s->count == s->capacity) CTXPAR_TRY(grow_output(s));
                int32_t *r = s->rec_int + s->count * 6;
                r[0] = r[1] = (int32_t)t;
                r[2] = key[0], r[3] = key[1], r[4] = key[2], r[5] = 1 << (2 * key[0]);
                cur->record[j] = s->count++;
                cur->frames[j] = 1;
                memcpy(sum, feature, sizeof(double) * (size_t)d);
            }
        }
        for (int64_t k = 0; k < prev->n; k++)
            if (!prev->linked[k])
                close_chain(s, prev->record[k], t - 1, prev->frames[k], prev->sum + k * d);
        if (i == 0) { /* every first-frame node opened a record: records 0..n_first-1 */
            s->n_first = cur->n;
            memcpy(s->first_key, cur->key, sizeof(int32_t) * 3 * (size_t)cur->n);
            memcpy(s->first_feature, cur->feature, sizeof(double) * (size_t)(cur->n * d));
        }
        for (int64_t k = 0; k < prev->n; k++)
            s->node_at[prev->key[3 * k + 1] * grid_w + prev->key[3 * k + 2]] = -1;
        for (int64_t j = 0; j < cur->n; j++)
            s->node_at[cur->key[3 * j + 1] * grid_w + cur->key[3 * j + 2]] = (int32_t)j;
        frame_nodes swap = *prev;
        *prev = *cur;
        *cur = swap;
    }
    /* the last frame is in prev (= s->a after the final swap); keep it in s->b */
    frame_nodes last = s->a;
    s->a = s->b;
    s->b = last;
    return CTXPAR_OK;
}

static ctxpar_status exchange(ctxpar_comm_t comm, const void *send, int64_t send_bytes, int dest,
                              void *recv, int64_t recv_bytes, int src, int tag) {
    ctxpar_comm_exchange ex;
    CTXPAR_TRY(ctxpar_comm_sendrecv_begin(comm, send, send_bytes, dest, recv, recv_bytes, src, tag,
                                          &ex));
    return ctxpar_comm_exchange_end(comm, &ex);
}

/* Chains crossing ranks; every failure here ends the job (neighbours wait). */
static ctxpar_status resolve(ctxpar_comm_t comm, merge_state *s, int64_t *bytes_sent) {
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    const int next = rank + 1 < ranks ? rank + 1 : MPI_PROC_NULL;
    const int prev = rank > 0 ? rank - 1 : MPI_PROC_NULL;
    const int64_t d = s->d, grid_w = s->plan->grid_w;
    frame_nodes *last = &s->b;
    /* (1) forward: my last frame's nodes to rank+1; rank-1's into s->a's buffers */
    int64_t send_n = last->n, recv_n = 0;
    CTXPAR_TRY(exchange(comm, &send_n, next != MPI_PROC_NULL ? 8 : 0, next, &recv_n,
                        prev != MPI_PROC_NULL ? 8 : 0, prev, TAG_FWD_COUNT));
    if (recv_n < 0 || recv_n > s->tpf)
        return ctxpar_error(CTXPAR_ERR_MPI, "merge: rank %d sent %lld boundary nodes (at most %lld)",
                            prev, (long long)recv_n, (long long)s->tpf);
    int32_t *prev_key = s->a.key;
    double *prev_feature = s->a.feature;
    ctxpar_comm_exchange ex_keys, ex_features;
    const int64_t send_bytes_keys = next != MPI_PROC_NULL ? send_n * 3 * 4 : 0;
    const int64_t send_bytes_features = next != MPI_PROC_NULL ? send_n * d * 8 : 0;
    CTXPAR_TRY(ctxpar_comm_sendrecv_begin(comm, last->key, send_bytes_keys, next, prev_key,
                                          recv_n * 3 * 4, prev, TAG_FWD_KEYS, &ex_keys));
    CTXPAR_TRY(ctxpar_comm_sendrecv_begin(comm, last->feature, send_bytes_features, next,
                                          prev_feature, recv_n * d * 8, prev, TAG_FWD_FEATURES,
                                          &ex_features));
    CTXPAR_TRY(ctxpar_comm_exchange_end(comm, &ex_keys));
    CTXPAR_TRY(ctxpar_comm_exchange_end(comm, &ex_features));
    *bytes_sent += 8 * (next != MPI_PROC_NULL) + send_bytes_keys + send_bytes_features;

    /* (2) backward: partial sums of chains continuing my last frame, from rank+1 */
    int64_t cont_n = 0;
    /* [n][4]: top-left token, level, frames, t_end; s->a is free after the local pass */
    int64_t *cont_meta = s->a.record;
    double *cont_sum = s->a.sum;
    if (next != MPI_PROC_NULL) {
        CTXPAR_TRY(exchange(comm, NULL, 0, MPI_PROC_NULL, &cont_n, 8, next, TAG_BWD_COUNT));
        if (cont_n < 0 || cont_n > last->n)
            return ctxpar_error(CTXPAR_ERR_MPI, "merge: rank %d continues %lld chains of %lld",
                                next, (long long)cont_n, (long long)last->n);
        CTXPAR_TRY(exchange(comm, NULL, 0, MPI_PROC_NULL, cont_meta, cont_n * 4 * 8, next,
                            TAG_BWD_META));
        CTXPAR_TRY(exchange(comm, NULL, 0, MPI_PROC_NULL, cont_sum, cont_n * d * 8, next,
                            TAG_BWD_SUMS));
    }
    /* map my last frame's nodes by top-left token (node_at still holds it) */
    for (int64_t k = 0; k < last->n; k++) last->linked[k] = 0;
    for (int64_t c = 0; c < cont_n; c++) {
        const int64_t *m = cont_meta + 4 * c;
        const int64_t k = (m[0] >= 0 && m[0] < s->tpf) ? s->node_at[m[0]] : -1;
        if (k < 0 || last->key[3 * k] != m[1] || last->linked[k])
            return ctxpar_error(CTXPAR_ERR_MPI, "merge: rank %d continues a chain that rank %d "
                                "does not have (token %lld, level %lld)", next, rank,
                                (long long)m[0], (long long)m[1]);
        last->linked[k] = 1;
        double *sum = last->sum + k * d;
        const double *add = cont_sum + c * d;
        for (int64_t i = 0; i < d; i++) sum[i] += add[i];
        last->frames[k] += m[2];
        s->rec_int[last->record[k] * 6 + 1] = (int32_t)m[3]; /* the chain's t_end */
    }
    const int64_t t_last = s->first_latent + s->n_latent - 1;
    for (int64_t k = 0; k < last->n; k++) {
        const int64_t t_end = last->linked[k] ? s->rec_int[last->record[k] * 6 + 1] : t_last;
        close_chain(s, last->record[k], t_end, last->frames[k], last->sum + k * d);
    }

    /* my first-frame chains that continue rank-1's last frame: back to rank-1 */
    int64_t back_n = 0;
    int32_t *dropped = last->linked; /* reuse: [n_first] flags (n_first <= tpf) */
    for (int64_t j = 0; j < s->n_first; j++) dropped[j] = 0;
    if (prev != MPI_PROC_NULL) {
        /* map rank-1's nodes by token: reuse node_at after clearing my last frame */
        for (int64_t k = 0; k < last->n; k++)
            s->node_at[last->key[3 * k + 1] * grid_w + last->key[3 * k + 2]] = -1;
        for (int64_t k = 0; k < recv_n; k++)
            s->node_at[prev_key[3 * k + 1] * grid_w + prev_key[3 * k + 2]] = (int32_t)k;
        int64_t *back_meta = last->record; /* no longer needed once the chains closed */
        for (int64_t j = 0; j < s->n_first; j++) {
            const int32_t *key = s->first_key + 3 * j;
            const int64_t token = key[1] * grid_w + key[2];
            const int64_t k = s->node_at[token];
            if (k < 0 || !links(s, key, s->first_feature + j * d, prev_key + 3 * k,
                                prev_feature + k * d))
                continue;
            dropped[j] = 1;
            int64_t *m = back_meta + 4 * back_n;
            m[0] = token, m[1] = key[0], m[2] = s->first_frames[j], m[3] = s->first_t_end[j];
            if (back_n != j)
                memcpy(s->first_sum + back_n * d, s->first_sum + j * d, sizeof(double) * (size_t)d);
            back_n++;
        }
        CTXPAR_TRY(exchange(comm, &back_n, 8, prev, NULL, 0, MPI_PROC_NULL, TAG_BWD_COUNT));
        CTXPAR_TRY(exchange(comm, back_meta, back_n * 4 * 8, prev, NULL, 0, MPI_PROC_NULL,
                            TAG_BWD_META));
        CTXPAR_TRY(exchange(comm, s->first_sum, back_n * d * 8, prev, NULL, 0, MPI_PROC_NULL,
                            TAG_BWD_SUMS));
        *bytes_sent += 8 + back_n * (4 * 8 + d * 8);
    }
    /* drop the continued chains (a prefix subset of the records) */
    int64_t out = 0;
    for (int64_t r = 0; r < s->count; r++) {
        if (r < s->n_first && dropped[r]) continue;
        if (out != r) {
            memcpy(s->rec_int + out * 6, s->rec_int + r * 6, 6 * sizeof(int32_t));
            memcpy(s->rec_feature + out * d, s->rec_feature + r * d, sizeof(float) * (size_t)d);
        }
        out++;
    }
    s->count = out;
    return CTXPAR_OK;
}

static void state_free(merge_state *s) {
    ctxpar_mem_free(s->rec_int);
    ctxpar_mem_free(s->rec_feature);
    ctxpar_mem_free(s->first_key);
    ctxpar_mem_free(s->first_feature);
    ctxpar_mem_free(s->first_sum);
    ctxpar_mem_free(s->first_frames);
    ctxpar_mem_free(s->first_t_end);
    frame_nodes *f[2] = {&s->a, &s->b};
    for (int i = 0; i < 2; i++) {
        ctxpar_mem_free(f[i]->key);
        ctxpar_mem_free(f[i]->feature);
        ctxpar_mem_free(f[i]->sum);
        ctxpar_mem_free(f[i]->record);
        ctxpar_mem_free(f[i]->frames);
        ctxpar_mem_free(f[i]->linked);
    }
    ctxpar_mem_free(s->node_at);
    ctxpar_mem_free(s->quadtree_scratch);
    ctxpar_mem_free(s->quad_level);
    ctxpar_mem_free(s->quad_y);
    ctxpar_mem_free(s->quad_x);
    memset(s, 0, sizeof *s);
}

static ctxpar_status state_alloc(merge_state *s, int levels) {
    const int64_t tpf = s->tpf, d = s->d;
#define ALLOC(ptr, n, what)                                                                    \
    do {                                                                                       \
        (ptr) = ctxpar_mem_alloc((size_t)(n) * sizeof(*(ptr)), CTXPAR_MEM_MERGE, what);        \
        if (!(ptr))                                                                            \
            return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for merge %s (%lld bytes)", \
                                what, (long long)((n) * (int64_t)sizeof(*(ptr))));             \
    } while (0)
    ALLOC(s->first_key, 3 * tpf, "first-frame keys");
    ALLOC(s->first_feature, tpf * d, "first-frame features");
    ALLOC(s->first_sum, tpf * d, "first-frame sums");
    ALLOC(s->first_frames, tpf, "first-frame counts");
    ALLOC(s->first_t_end, tpf, "first-frame ends");
    frame_nodes *f[2] = {&s->a, &s->b};
    for (int i = 0; i < 2; i++) {
        ALLOC(f[i]->key, 3 * tpf, "node keys");
        ALLOC(f[i]->feature, tpf * d, "node features");
        ALLOC(f[i]->sum, tpf * d, "chain sums");
        ALLOC(f[i]->record, 4 * tpf, "chain records"); /* 4x: doubles as backward metadata */
        ALLOC(f[i]->frames, tpf, "chain frames");
        ALLOC(f[i]->linked, tpf, "chain links");
    }
    ALLOC(s->node_at, tpf, "node map");
    s->quadtree_scratch_n = ctxpar_cpu_quadtree_scratch_doubles(s->plan->grid_h, s->plan->grid_w,
                                                                d, levels);
    ALLOC(s->quadtree_scratch, s->quadtree_scratch_n, "quadtree scratch");
    ALLOC(s->quad_level, tpf, "quadtree levels");
    ALLOC(s->quad_y, tpf, "quadtree rows");
    ALLOC(s->quad_x, tpf, "quadtree columns");
#undef ALLOC
    for (int64_t i = 0; i < tpf; i++) s->node_at[i] = -1;
    return grow_output(s);
}

/* Move the state's output into the result's records (one allocation) and features. */
static ctxpar_status take_output(merge_state *s, ctxpar_merge_result *out) {
    const int64_t n = s->count;
    int32_t *all = ctxpar_mem_alloc((size_t)(n > 0 ? n : 1) * 6 * sizeof(int32_t),
                                    CTXPAR_MEM_OUTPUT, "token records");
    if (!all) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for %lld records", (long long)n);
    ctxpar_records *r = &out->records;
    r->count = n;
    r->t_start = all, r->t_end = all + n, r->level = all + 2 * n;
    r->y = all + 3 * n, r->x = all + 4 * n, r->size = all + 5 * n;
    for (int64_t i = 0; i < n; i++) {
        const int32_t *src = s->rec_int + i * 6;
        r->t_start[i] = src[0], r->t_end[i] = src[1], r->level[i] = src[2];
        r->y[i] = src[3], r->x[i] = src[4], r->size[i] = src[5];
    }
    out->features = s->rec_feature;
    s->rec_feature = NULL;
    return CTXPAR_OK;
}

ctxpar_status ctxpar_merge_run(ctxpar_comm_t comm, const ctxpar_plan *plan,
                               const ctxpar_merge_config *config, int no_merge,
                               const float *features, int64_t d, ctxpar_merge_result *out) {
    const int rank = ctxpar_comm_rank(comm);
    const double t0 = MPI_Wtime();
    memset(out, 0, sizeof *out);
    out->dim = d;
    merge_state s = {0};
    ctxpar_status status = CTXPAR_OK;
    const int64_t n_latent = plan->n_latent[rank], tpf = plan->tokens_per_frame;
    for (int r = 0; r < plan->ranks && status == CTXPAR_OK; r++)
        if (plan->n_latent[r] < 1)
            status = ctxpar_error(CTXPAR_ERR_PLAN, "merge: rank %d holds no latent frame", r);
    if (status == CTXPAR_OK && !no_merge && config->levels < 0)
        status = ctxpar_error(CTXPAR_ERR_ARGUMENT, "merge levels must be >= 0 (got %d)",
                              config->levels);
    if (status != CTXPAR_OK) return ctxpar_comm_agree(comm, status);

    if (no_merge) {
        status = ctxpar_records_per_token(plan, plan->first_latent[rank], n_latent, &out->records);
        if (status == CTXPAR_OK)
            status = ctxpar_mem_alloc_floats(&out->features, n_latent * tpf * d, CTXPAR_MEM_OUTPUT,
                                             "token features");
        if (status == CTXPAR_OK)
            memcpy(out->features, features, sizeof(float) * (size_t)(n_latent * tpf * d));
        CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
        int64_t sum[1] = {out->records.count};
        CTXPAR_TRY_GOTO(ctxpar_comm_allreduce_sum_i64(comm, sum, 1));
        out->stats.tokens_in = plan->total_tokens;
        out->stats.records_out = sum[0];
        out->stats.longest_chain = 1;
        out->stats.seconds = MPI_Wtime() - t0;
        return CTXPAR_OK;
    }

    s.plan = plan;
    s.d = d;
    s.tpf = tpf;
    s.first_latent = plan->first_latent[rank];
    s.n_latent = n_latent;
    s.tau_t = config->temporal_threshold;
    status = state_alloc(&s, config->levels);
    if (status == CTXPAR_OK)
        status = local_pass(&s, features, config->levels, config->spatial_threshold);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));

    const double t1 = MPI_Wtime();
    status = resolve(comm, &s, &out->stats.bytes_sent);
    if (status != CTXPAR_OK) ctxpar_comm_abort(comm, status);
    out->stats.seconds_resolve = MPI_Wtime() - t1;
    status = take_output(&s, out);
    state_free(&s);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    CTXPAR_TRY_GOTO(ctxpar_merge_count(comm, plan, out));
    out->stats.seconds = MPI_Wtime() - t0;
    return CTXPAR_OK;
fail:
    state_free(&s);
    ctxpar_merge_result_free(out);
    return status;
}

ctxpar_status ctxpar_merge_count(ctxpar_comm_t comm, const ctxpar_plan *plan,
                                 ctxpar_merge_result *out) {
    const ctxpar_records *r = &out->records;
    int64_t sum[1] = {r->count}, max[1] = {0};
    for (int64_t i = 0; i < r->count; i++)
        if (r->t_end[i] - r->t_start[i] + 1 > max[0]) max[0] = r->t_end[i] - r->t_start[i] + 1;
    CTXPAR_TRY(ctxpar_comm_allreduce_sum_i64(comm, sum, 1));
    CTXPAR_TRY(ctxpar_comm_allreduce_max_i64(comm, max, 1));
    out->stats.tokens_in = plan->total_tokens;
    out->stats.records_out = sum[0];
    out->stats.longest_chain = max[0];
    return CTXPAR_OK;
}

void ctxpar_merge_result_free(ctxpar_merge_result *result) {
    ctxpar_records_free(&result->records);
    ctxpar_mem_free(result->features);
    result->features = NULL;
    memset(&result->stats, 0, sizeof result->stats);
}
