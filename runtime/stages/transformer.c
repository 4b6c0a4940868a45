/* Transformer blocks (see transformer.h). Buffers for one block are allocated
 * once and reused by every layer; the ring's K/V buffers live only during
 * attention. */
#include "runtime/stages/transformer.h"

#include <mpi.h>
#include <string.h>

/* The bf16 linears' input rows, converted a chunk at a time: the widest
 * input is the MLP's or the model's width. The plan has no backend and
 * estimates with the CPU kernel's size; a run asks its backend. */
static int64_t widest_input(const ctxpar_model_config *config) {
    const int64_t d = config->transformer.dim, f = ctxpar_config_mlp_dim(config);
    return d > f ? d : f;
}

int64_t ctxpar_transformer_estimate_bytes(const ctxpar_model_config *config, ctxpar_dtype dtype,
                                          int64_t n_local, int64_t n_block_max,
                                          int64_t granule_rows, int ranks, int tree_slots) {
    const int64_t d = config->transformer.dim, heads = config->transformer.heads;
    const int64_t f = ctxpar_config_mlp_dim(config);
    /* h [n][d], qkv [n][3d], kv [n][2d], attn [n][d], mlp [n][f] */
    int64_t block = n_local * (d * (1 + 3 + 2 + 1) + f);
    /* ring: two K/V buffers, the merge tree's partial outputs and lse (its
     * list of steps is counted in bytes below) */
    int64_t ring = (ranks > 1 ? 2 * n_block_max * 2 * d : 0) +
                   (int64_t)tree_slots * n_local * (d + heads);
    /* bf16: the linears' converted rows, and the attention's bf16 copy of a
     * granule of K/V (the kernel's, for the length of a call) */
    const int64_t kv_rows = granule_rows;
    int64_t bf16 = dtype == CTXPAR_DTYPE_BF16
                       ? (ctxpar_cpu_linear_bf16_scratch_values(widest_input(config)) +
                          2 * (kv_rows + 1) * d) *
                             (int64_t)sizeof(ctxpar_bf16)
                       : 0;
    return (block + ring) * (int64_t)sizeof(float) + bf16 +
           ctxpar_ring_steps_bytes(n_block_max, granule_rows, tree_slots);
}

/* One linear op: on the bf16 GEMM when the op has a packed weight. */
static void dense(const ctxpar_backend *backend, float *y, const float *x, int64_t n,
                  int64_t in, int64_t out, const ctxpar_op *op, ctxpar_bf16 *scratch) {
    if (op->packed)
        backend->linear_bf16(y, x, n, in, out, op->packed, op->bias, scratch);
    else
        backend->linear(y, x, n, in, out, op->weight, op->bias);
}

ctxpar_status ctxpar_transformer_run(const ctxpar_backend *backend, ctxpar_comm_t comm,
                                     const ctxpar_model *model, const ctxpar_plan *plan,
                                     ctxpar_tensor *tokens, ctxpar_transformer_stats *stats,
                                     ctxpar_transformer_progress_fn progress, void *user) {
    const ctxpar_transformer_config *tc = &model->config.transformer;
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    const int64_t n = tokens->shape[0], d = tc->dim, dh = d / tc->heads;
    const int64_t f = ctxpar_config_mlp_dim(&model->config);
    const float eps = (float)tc->norm_eps;
    /* The model description picks the variants; the loop below is the same. */
    void (*rope)(float *, int64_t, int64_t, int, int, int64_t, int64_t, int64_t) =
        tc->rope == CTXPAR_ROPE_VJEPA2 ? backend->rope3d_vjepa2 : backend->rope3d;
    void (*gelu)(float *, int64_t) = tc->gelu == CTXPAR_GELU_ERF ? backend->gelu_erf
                                                                 : backend->gelu;
    /* --layer K: the output of block K, before the final norm */
    const int layers = plan->output_layer > 0 ? plan->output_layer : tc->layers;
    const int64_t first_token = plan->first_latent[rank] * plan->tokens_per_frame;
    /* --dtype bf16: the ring runs the backend's bf16 attention */
    ctxpar_backend ring_backend = *backend;
    if (plan->dtype == CTXPAR_DTYPE_BF16 && backend->attention_bf16)
        ring_backend.attention = backend->attention_bf16;
    float *x = tokens->data;
    float *h = NULL, *qkv = NULL, *kv = NULL, *attn = NULL, *mlp = NULL;
    ctxpar_bf16 *bf16_rows = NULL;
    int64_t *block_rows = NULL;
    ctxpar_status status = CTXPAR_OK;
    memset(stats, 0, sizeof *stats);
    double t_start = MPI_Wtime();

    int64_t rows = n > 0 ? n : 1;
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&h, rows * d, CTXPAR_MEM_TRANSFORMER, "block input"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&qkv, rows * 3 * d, CTXPAR_MEM_TRANSFORMER, "qkv"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&kv, rows * 2 * d, CTXPAR_MEM_TRANSFORMER, "K/V block"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&attn, rows * d, CTXPAR_MEM_TRANSFORMER, "attention"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&mlp, rows * f, CTXPAR_MEM_TRANSFORMER, "mlp"));
    block_rows = ctxpar_mem_alloc(sizeof(int64_t) * (size_t)ranks, CTXPAR_MEM_TRANSFORMER, "rows");
    if (plan->dtype == CTXPAR_DTYPE_BF16)
        bf16_rows = ctxpar_mem_alloc(
            sizeof(ctxpar_bf16) *
                (size_t)backend->linear_bf16_scratch_values(widest_input(&model->config)),
            CTXPAR_MEM_TRANSFORMER, "bf16 rows");
    if (!block_rows || (plan->dtype == CTXPAR_DTYPE_BF16 && !bf16_rows)) {
        status = CTXPAR_ERR_NO_MEMORY;
        goto fail;
    }
    for (int r = 0; r < ranks; r++) block_rows[r] = plan->n_latent[r] * plan->tokens_per_frame;

    for (int layer = 0; layer < layers; layer++) {
        const ctxpar_block_ops *ops = &model->ops.blocks[layer];
        double t0 = MPI_Wtime();
        backend->layer_norm(h, x, n, d, ops->norm1.weight, ops->norm1.bias, eps);
        dense(backend, qkv, h, n, d, 3 * d, &ops->qkv, bf16_rows);
        rope(qkv, 3 * d, n, tc->heads, (int)dh, first_token, plan->grid_h, plan->grid_w);
        rope(qkv + d, 3 * d, n, tc->heads, (int)dh, first_token, plan->grid_h, plan->grid_w);
        for (int64_t i = 0; i < n; i++) /* K and V side by side: one message per step */
            memcpy(kv + i * 2 * d, qkv + i * 3 * d + d, (size_t)(2 * d) * sizeof(float));
        double t1 = MPI_Wtime();
        CTXPAR_TRY_GOTO(ctxpar_ring_attention(&ring_backend, comm, qkv, 3 * d, kv, block_rows,
                                              plan->tokens_per_frame, tc->heads, (int)dh, attn, 1000 + layer * ranks,
                                              &stats->ring));
        double t2 = MPI_Wtime();
        dense(backend, h, attn, n, d, d, &ops->proj, bf16_rows);
        backend->add(x, 0, h, 0, 1, n * d);
        backend->layer_norm(h, x, n, d, ops->norm2.weight, ops->norm2.bias, eps);
        dense(backend, mlp, h, n, d, f, &ops->fc1, bf16_rows);
        gelu(mlp, n * f);
        dense(backend, h, mlp, n, f, d, &ops->fc2, bf16_rows);
        backend->add(x, 0, h, 0, 1, n * d);
        double t3 = MPI_Wtime();
        stats->seconds_attention += t2 - t1;
        stats->seconds_dense += (t1 - t0) + (t3 - t2);
        stats->dense_flops += 2.0 * (double)n * (double)d * (double)(4 * d + 2 * f);
        if (progress) progress(user, layer + 1, layers);
    }
    if (layers == tc->layers && plan->output_layer == 0)
        backend->layer_norm(x, x, n, d, model->ops.norm_out.weight,
                            model->ops.norm_out.bias, eps);
    stats->seconds_total = MPI_Wtime() - t_start;

fail:
    ctxpar_mem_free(bf16_rows);
    ctxpar_mem_free(block_rows);
    ctxpar_mem_free(mlp);
    ctxpar_mem_free(attn);
    ctxpar_mem_free(kv);
    ctxpar_mem_free(qkv);
    ctxpar_mem_free(h);
    if (status != CTXPAR_OK) ctxpar_comm_abort(comm, status);
    return status;
}
