/* Ring attention (see ring_attention.h).
 *
 * Why a merge tree: a log-sum-exp merge is exact in real arithmetic but
 * not in float, so merging blocks in the order they come round the ring
 * would make a query's result depend on how the keys were split into
 * blocks, that is on the rank count. Here the keys are cut into granules
 * of a size the caller fixes independently of the rank count (one latent
 * frame of tokens), each granule's partial result is computed on its own,
 * and partials merge along one fixed binary tree over the global granule
 * index: node (level, k) covers granules [k * 2^level, (k+1) * 2^level)
 * and is always merge(left child, right child). Every rank count then
 * performs the same float operations for a query, so the result is
 * bit-identical wherever the shard boundaries fall (given a kernel whose
 * result for a query does not depend on the other queries of the call).
 *
 * A rank holds the tree nodes that are complete but whose sibling has not
 * come round yet: the canonical cover of the contiguous key ranges seen so
 * far, at most about 2 log2(granules) nodes of [n_q][d]. The exact number
 * for a rank follows from the block sizes alone (ctxpar_ring_tree_slots),
 * so the plan counts it and the run allocates it up front.
 *
 * Loop order: the tree is walked once per K/V block to list its operations
 * (a granule's kernel into a node, a merge of two nodes), and that list is
 * replayed for each query slice. Rows are independent, so the result is the
 * same as walking the tree row by row, while a slice's queries and partials
 * stay in cache across the block's granules. Where the backend's bf16
 * attention has a tiled form (backend.h), the rank's queries are prepared
 * once per ring (rounded and packed as its tiles read them) instead of once
 * per granule call: the same bits. That backend also keeps the tree's partials as its
 * kernel leaves them, in tiles of 64 queries (o^T per head), merges them
 * there and turns only the root back into rows: per granule the kernel then
 * writes its tile in place instead of transposing it into strided rows, and
 * the merge reads contiguous tiles, with the same operations per query. And
 * each rank prepares its own block's K/V (bf16, in the kernel's layout, a
 * granule at a time) once per layer; the prepared block is what goes round
 * the ring, half the bytes of float32 rows, and no rank converts another's.
 * Since that changes what is sent, the ranks agree on the form first. */
#include "runtime/stages/ring_attention.h"

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/memory.h"

/* Query rows per kernel call: few enough that a slice's queries and partials
 * stay in cache across a block's granules, many enough that the kernel's
 * threads stay busy and its per-call work (converting a granule's K and V)
 * is spread over many queries. MPI is driven after every call whatever
 * the slice. 1024 against 512: the bf16 attention 4-8% faster at V-JEPA 2
 * ViT-L shapes on 2 ranks (Zen 5, three alternating runs each). */
#define RING_QUERY_SLICE 1024
_Static_assert(RING_QUERY_SLICE % CTXPAR_ATTENTION_TILE_ROWS == 0,
               "a slice starts on a tile of the tiled partials");

typedef struct tree_node {
    int level;     /* -1: a leaf being computed, not yet in the tree */
    int64_t index; /* position at its level */
    int live;
    /* [n_q][d] normalised partial output; its lse, per query slice of `rows`
     * starting at i0 a compact [heads][rows] block at lse + i0 * heads. Or,
     * where the backend keeps tiles: o [tile][head][head_dim][64] and lse
     * [tile][head][64], so a slice's also start at i0 * d and i0 * heads. */
    float *o, *lse;
} tree_node;

/* One step of a block's work: the kernel for the granule at key row
 * `key_row` into node a, or the merge of node b into node a. */
typedef struct tree_op {
    tree_node *a, *b; /* b == NULL: a kernel */
    int64_t key_row;
} tree_op;

typedef struct merge_tree {
    tree_node *nodes;
    int capacity, used, live, peak; /* used: nodes [0, used) were ever taken */
    int64_t granules;
    int root_level; /* ceil(log2(granules)) */
    tree_op *ops;   /* where merges are listed; NULL when only counting */
    int n_ops;
} merge_tree;

static int root_level_of(int64_t granules) {
    int level = 0;
    while (((int64_t)1 << level) < granules) level++;
    return level;
}

/* A free node for the next leaf, or NULL when all `capacity` are live. */
static tree_node *tree_take(merge_tree *t) {
    for (int i = 0; i < t->capacity; i++)
        if (!t->nodes[i].live) {
            t->nodes[i].live = 1;
            t->nodes[i].level = -1;
            if (i >= t->used) t->used = i + 1;
            if (++t->live > t->peak) t->peak = t->live;
            return &t->nodes[i];
        }
    return NULL;
}

static tree_node *tree_find(merge_tree *t, int level, int64_t index) {
    for (int i = 0; i < t->used; i++)
        if (t->nodes[i].live && t->nodes[i].level == level && t->nodes[i].index == index)
            return &t->nodes[i];
    return NULL;
}

/* Leaf `granule` is complete in `node`: merge it upwards as far as its
 * siblings are there. A sibling that covers no granule (past the end) is
 * empty and the node rises unchanged. */
static void tree_add(merge_tree *t, tree_node *node, int64_t granule) {
    int level = 0;
    int64_t index = granule;
    while (level < t->root_level) {
        const int64_t sibling = index ^ 1;
        if ((sibling << level) < t->granules) {
            tree_node *other = tree_find(t, level, sibling);
            if (!other) break;
            tree_node *left = index < sibling ? node : other;
            tree_node *right = index < sibling ? other : node;
            if (t->ops) t->ops[t->n_ops++] = (tree_op){left, right, 0};
            right->live = 0;
            t->live--;
            node = left;
        }
        level++;
        index >>= 1;
    }
    node->level = level;
    node->index = index;
}

/* The order a rank meets the granules: its own block, then the blocks of
 * rank-1, rank-2, ... (the ring's order), each block's granules ascending. */
static int64_t first_granule(const int64_t *block_rows, int owner, int64_t granule_rows) {
    int64_t g = 0;
    for (int r = 0; r < owner; r++) g += block_rows[r] / granule_rows;
    return g;
}

int64_t ctxpar_ring_prepared_bytes(int64_t n_local, int64_t granule_rows, int heads,
                                   int head_dim) {
    if (n_local <= 0) return 0;
    const int64_t d = (int64_t)heads * head_dim;
    const int64_t granules = granule_rows > 0 ? (n_local + granule_rows - 1) / granule_rows : 1;
    /* an upper bound of every backend's: the queries in tiles of up to 64,
     * the own block's K and V with each granule's two parts padded to 64
     * bytes */
    return ((n_local + 63) / 64 * 64 * d + 2 * n_local * d + granules * 64) *
           (int64_t)sizeof(ctxpar_bf16);
}

/* An unzeroed buffer of the ring; NULL, and status set, when there is no
 * memory. Once status is set it allocates nothing more (one error, not one
 * per buffer). */
static void *ring_buffer(size_t bytes, const char *what, ctxpar_status *status) {
    if (*status != CTXPAR_OK) return NULL;
    void *p = ctxpar_mem_alloc_unzeroed(bytes, CTXPAR_MEM_TRANSFORMER, what);
    if (!p) *status = CTXPAR_ERR_NO_MEMORY;
    return p;
}

int64_t ctxpar_ring_partial_rows(int64_t n_local) {
    const int64_t rows = n_local > 0 ? n_local : 1;
    return (rows + CTXPAR_ATTENTION_TILE_ROWS - 1) / CTXPAR_ATTENTION_TILE_ROWS *
           CTXPAR_ATTENTION_TILE_ROWS;
}

int ctxpar_ring_tree_slots(const int64_t *block_rows, int ranks, int64_t granule_rows, int rank) {
    int64_t granules = 0;
    for (int r = 0; r < ranks; r++) granules += block_rows[r] / granule_rows;
    /* Counting only: room for every granule, whatever the order. */
    const int capacity = (int)granules + 1;
    tree_node *nodes = calloc((size_t)capacity, sizeof(tree_node));
    if (!nodes) return capacity;
    merge_tree t = {.nodes = nodes, .capacity = capacity, .granules = granules,
                    .root_level = root_level_of(granules)};
    for (int step = 0; step < ranks; step++) {
        const int owner = ((rank - step) % ranks + ranks) % ranks;
        const int64_t g0 = first_granule(block_rows, owner, granule_rows);
        for (int64_t g = 0; g < block_rows[owner] / granule_rows; g++)
            tree_add(&t, tree_take(&t), g0 + g);
    }
    free(nodes);
    return t.peak > 0 ? t.peak : 1;
}

/* A block's steps: one kernel per granule, and merges, each of which retires
 * a node that was live at the block's start or came from one of its kernels. */
int64_t ctxpar_ring_steps_bytes(int64_t max_block_rows, int64_t granule_rows, int tree_slots) {
    return (int64_t)sizeof(tree_op) * (2 * (max_block_rows / granule_rows) + tree_slots + 1);
}

ctxpar_status ctxpar_ring_attention(const ctxpar_backend *backend, ctxpar_comm_t comm,
                                    const float *q, int64_t ldq, const float *kv,
                                    const int64_t *block_rows, int64_t granule_rows, int heads,
                                    int head_dim, float *out, int tag, ctxpar_ring_stats *stats) {
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    const int64_t d = (int64_t)heads * head_dim, ld_kv = 2 * d;
    const int64_t n_q = block_rows[rank];
    const float scale = 1.0f / sqrtf((float)head_dim);
    int64_t max_rows = 0, granules = 0;
    for (int r = 0; r < ranks; r++) {
        if (granule_rows <= 0 || block_rows[r] % granule_rows != 0)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "ring attention: rank %d's %lld rows are not whole granules of "
                                "%lld rows",
                                r, (long long)block_rows[r], (long long)granule_rows);
        if (block_rows[r] > max_rows) max_rows = block_rows[r];
        granules += block_rows[r] / granule_rows;
    }

    ctxpar_status status = CTXPAR_OK;
    /* The tiled form (the backend's bf16 attention on its VDPBF16PS path):
     * every rank must take it or none, since it changes what goes round the
     * ring (prepared bf16 K/V instead of float32 rows). The dtype is the
     * run's, the same everywhere; the CPU's path may differ between nodes,
     * so bf16 runs agree on it. */
    const ctxpar_attention_tiled *tf =
        backend->attention == backend->attention_bf16 ? backend->attention_tiled : NULL;
    int64_t not_tiled = !tf || tf->queries_values(1, heads, head_dim) == 0;
    if (tf && ranks > 1) CTXPAR_TRY(ctxpar_comm_allreduce_max_i64(comm, &not_tiled, 1));
    const int tiles = !not_tiled;
    /* the rank's prepared queries, and a granule's prepared K/V, in values */
    const int64_t qp_values = tiles && n_q > 0 ? tf->queries_values(n_q, heads, head_dim) : 0;
    const int64_t granule_kv = tiles ? tf->kv_values(granule_rows, heads, head_dim) : 0;
    /* bytes of a block of `rows` keys as it goes round the ring */
#define BLOCK_BYTES(rows)                                                                      \
    (tiles ? (rows) / granule_rows * granule_kv * (int64_t)sizeof(ctxpar_bf16)                 \
           : (rows) * ld_kv * (int64_t)sizeof(float))
    void *kv_buf[2] = {NULL, NULL};
    ctxpar_bf16 *own_kv = NULL; /* tiled: this rank's block, prepared */
    ctxpar_bf16 *qp = NULL;
    const int64_t q_rows = ctxpar_ring_partial_rows(n_q);
    const int root_level = root_level_of(granules);
    merge_tree tree = {.granules = granules, .root_level = root_level};
    tree.capacity = ctxpar_ring_tree_slots(block_rows, ranks, granule_rows, rank);
    const int64_t steps_bytes = ctxpar_ring_steps_bytes(max_rows, granule_rows, tree.capacity);
    tree.nodes = ctxpar_mem_alloc(sizeof(tree_node) * (size_t)tree.capacity,
                                  CTXPAR_MEM_TRANSFORMER, "ring merge tree");
    tree.ops = ctxpar_mem_alloc((size_t)steps_bytes, CTXPAR_MEM_TRANSFORMER, "ring merge steps");
    if (!tree.nodes || !tree.ops) {
        status = CTXPAR_ERR_NO_MEMORY;
        goto fail;
    }
    /* The partials, the prepared queries and the K/V buffers are written
     * before they are read (a kernel call fills its node's rows or tiles, a
     * receive its buffer), so they are not zeroed: this runs every layer. */
    for (int i = 0; i < tree.capacity; i++) {
        tree.nodes[i].o =
            ring_buffer(sizeof(float) * (size_t)(q_rows * d), "ring partial output", &status);
        tree.nodes[i].lse =
            ring_buffer(sizeof(float) * (size_t)(q_rows * heads), "ring partial lse", &status);
    }
    if (qp_values > 0)
        qp = ring_buffer(sizeof(ctxpar_bf16) * (size_t)qp_values, "ring prepared queries", &status);
    if (tiles && n_q > 0)
        own_kv = ring_buffer((size_t)BLOCK_BYTES(n_q), "ring prepared K/V", &status);
    if (ranks > 1)
        for (int b = 0; b < 2; b++)
            kv_buf[b] = ring_buffer((size_t)BLOCK_BYTES(max_rows), "ring K/V buffer", &status);
    if (status != CTXPAR_OK) goto fail;
    /* tiled: the queries prepared once for every block and slice, and the
     * own block's granules once, for every slice here and for the ranks it
     * goes on to */
    if (qp) tf->prepare_queries(qp, q, ldq, n_q, heads, head_dim, scale);
    for (int64_t g = 0; own_kv && g < n_q / granule_rows; g++)
        tf->prepare_kv(own_kv + g * granule_kv, kv + g * granule_rows * ld_kv, ld_kv,
                       kv + g * granule_rows * ld_kv + d, ld_kv, granule_rows, heads, head_dim);

    const void *kv_cur = tiles ? (const void *)own_kv : (const void *)kv;
    int next_buf = 0;
    for (int step = 0; step < ranks; step++) {
        const int owner = ((rank - step) % ranks + ranks) % ranks;
        const int64_t n_kv = block_rows[owner];
        ctxpar_comm_exchange ex = {.n_requests = 0};
        void *kv_next = NULL;
        if (step + 1 < ranks) {
            /* Pass on the block in hand; receive the one rank-1 holds now. */
            const int incoming = ((rank - step - 1) % ranks + ranks) % ranks;
            kv_next = kv_buf[next_buf];
            CTXPAR_TRY_GOTO(ctxpar_comm_sendrecv_begin(
                comm, kv_cur, BLOCK_BYTES(n_kv), (rank + 1) % ranks, kv_next,
                BLOCK_BYTES(block_rows[incoming]), (rank - 1 + ranks) % ranks, tag + step, &ex));
            stats->bytes_sent += BLOCK_BYTES(n_kv);
        }
        double t0 = MPI_Wtime();
        /* The block's granules into the tree: the list of what to compute. */
        const int64_t g0 = first_granule(block_rows, owner, granule_rows);
        tree.n_ops = 0;
        for (int64_t g = 0; n_q > 0 && g < n_kv / granule_rows; g++) {
            tree_node *leaf = tree_take(&tree); /* never NULL: capacity is the peak */
            tree.ops[tree.n_ops++] = (tree_op){leaf, NULL, g * granule_rows};
            tree_add(&tree, leaf, g0 + g);
        }
        /* ... done slice by slice. lse per slice is [heads][rows] (see tree_node). */
        for (int64_t i0 = 0; i0 < n_q; i0 += RING_QUERY_SLICE) {
            const int64_t rows = n_q - i0 < RING_QUERY_SLICE ? n_q - i0 : RING_QUERY_SLICE;
            for (int i = 0; i < tree.n_ops; i++) {
                const tree_op *op = &tree.ops[i];
                if (op->b && tiles) {
                    tf->merge(op->a->o + i0 * d, op->a->lse + i0 * heads, op->b->o + i0 * d,
                              op->b->lse + i0 * heads, rows, heads, head_dim);
                    continue;
                }
                if (op->b) {
                    backend->attention_merge(op->a->o + i0 * d, d, op->a->lse + i0 * heads,
                                             op->b->o + i0 * d, d, op->b->lse + i0 * heads,
                                             rows, heads, head_dim);
                    continue;
                }
                if (tiles) {
                    const ctxpar_bf16 *kvp = (const ctxpar_bf16 *)kv_cur +
                                             op->key_row / granule_rows * granule_kv;
                    if (!tf->attention(q + i0 * ldq, ldq, qp + i0 * d, kvp, op->a->o + i0 * d,
                                       op->a->lse + i0 * heads, rows, granule_rows, heads,
                                       head_dim, scale)) {
                        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY,
                                              "ring attention: no memory for the bf16 "
                                              "attention's scratch");
                        goto fail;
                    }
                } else {
                    const float *k = (const float *)kv_cur + op->key_row * ld_kv;
                    backend->attention(q + i0 * ldq, ldq, k, ld_kv, k + d, ld_kv,
                                       op->a->o + i0 * d, d, op->a->lse + i0 * heads, rows,
                                       granule_rows, heads, head_dim, scale);
                }
                ctxpar_comm_exchange_poke(&ex);
            }
        }
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
    /* All granules seen: one node is left, the root. */
    if (n_q > 0) {
        tree_node *root = tree_find(&tree, tree.root_level, 0);
        if (root && tiles)
            tf->to_rows(out, d, root->o, n_q, heads, head_dim);
        else if (root)
            memcpy(out, root->o, sizeof(float) * (size_t)(n_q * d));
        else
            memset(out, 0, sizeof(float) * (size_t)(n_q * d)); /* no keys anywhere */
    }

#undef BLOCK_BYTES
fail:
    ctxpar_mem_free(qp);
    ctxpar_mem_free(own_kv);
    ctxpar_mem_free(kv_buf[0]);
    ctxpar_mem_free(kv_buf[1]);
    ctxpar_mem_free(tree.ops);
    if (tree.nodes) {
        for (int i = 0; i < tree.capacity; i++) {
            ctxpar_mem_free(tree.nodes[i].o);
            ctxpar_mem_free(tree.nodes[i].lse);
        }
        ctxpar_mem_free(tree.nodes);
    }
    if (status != CTXPAR_OK) ctxpar_comm_abort(comm, status);
    return status;
}
