/* Transformer blocks (see transformer.h). Buffers for one block are allocated
 * once and reused by every layer; the ring's K/V buffers live only during
 * attention. The model description picks the variants (norm, MLP, RoPE,
 * which keys a token attends, a patch merger at the end); the loop is one. */
#include "runtime/stages/transformer.h"

#include <mpi.h>
#include <string.h>

#include "runtime/stages/dense.h"
#include "runtime/stages/frame_attention.h"

/* The bf16 linears' input rows, converted a chunk at a time: the widest
 * input is the MLP's, the model's width, or the merger's. The plan has no
 * backend and estimates with the CPU kernel's size; a run asks its backend. */
static int64_t widest_input(const ctxpar_model_config *config) {
    const int64_t d = config->transformer.dim, f = ctxpar_config_mlp_dim(config);
    const int64_t m = (int64_t)config->transformer.merge * config->transformer.merge * d;
    int64_t widest = d > f ? d : f;
    return m > widest ? m : widest;
}

int64_t ctxpar_transformer_estimate_bytes(const ctxpar_model_config *config, ctxpar_dtype dtype,
                                          int64_t n_local, int64_t n_block_max,
                                          int64_t granule_rows, int ranks, int tree_slots,
                                          int64_t grid_h, int64_t grid_w) {
    const ctxpar_transformer_config *tf = &config->transformer;
    const int64_t d = tf->dim, heads = tf->heads;
    const int64_t f = ctxpar_config_mlp_dim(config), f1 = ctxpar_config_fc1_out(config);
    /* h [n][d], qkv [n][3d], kv [n][2d], attn [n][d], mlp [n][fc1 out], gated [n][f] */
    int64_t block = n_local * (d * (1 + 3 + 2 + 1) + f1 +
                               (tf->mlp == CTXPAR_MLP_GATED_SILU ? f : 0));
    int64_t attention_bytes = 0;
    if (tf->span == CTXPAR_ATTENTION_VIDEO) {
        /* ring: two K/V buffers, the merge tree's partial outputs and lse, its step list */
        attention_bytes = ((ranks > 1 ? 2 * n_block_max * 2 * d : 0) +
                           (int64_t)tree_slots * ctxpar_ring_partial_rows(n_local) * (d + heads)) *
                              (int64_t)sizeof(float) +
                          ctxpar_ring_steps_bytes(n_block_max, granule_rows, tree_slots);
    } else {
        attention_bytes = ctxpar_frame_attention_scratch_bytes(
            grid_h, grid_w, tf->window > 0 ? tf->window : 0, tf->heads, tf->dim / tf->heads);
    }
    /* the merger: its norm's copy, the gathered rows and the hidden layer */
    int64_t merger = 0;
    if (tf->merge > 0) {
        const int64_t merged = n_local / ((int64_t)tf->merge * tf->merge);
        const int64_t m = (int64_t)tf->merge * tf->merge * d;
        merger = (merged * (2 * m + tf->out_dim)) * (int64_t)sizeof(float);
    }
    /* bf16: the linears' converted rows, the attention's bf16 copy of a
     * granule of K/V (the kernel's, for the length of a call) and the ring's
     * prepared queries and K/V (its K/V buffers, bf16 then, are counted
     * above as float32) */
    const int64_t kv_rows = granule_rows;
    int64_t bf16 = dtype == CTXPAR_DTYPE_BF16
                       ? (ctxpar_cpu_linear_bf16_scratch_values(widest_input(config)) +
                          2 * (kv_rows + 1) * d) *
                                 (int64_t)sizeof(ctxpar_bf16) +
                             (tf->span == CTXPAR_ATTENTION_VIDEO
                                  ? ctxpar_ring_prepared_bytes(n_local, granule_rows,
                                                               (int)heads, (int)(d / heads))
                                  : 0)
                       : 0;
    return block * (int64_t)sizeof(float) + attention_bytes + merger + bf16;
}

/* The block's norm: LayerNorm or RMSNorm by the model description. */
static void token_norm(const ctxpar_backend *backend, const ctxpar_transformer_config *tc,
                       float *y, const float *x, int64_t n, int64_t d, const ctxpar_op *op) {
    if (tc->norm == CTXPAR_TOKEN_NORM_RMS)
        backend->rms_norm(y, x, n, d, op->weight, (float)tc->norm_eps);
    else
        backend->layer_norm(y, x, n, d, op->weight, op->bias, (float)tc->norm_eps);
}

/* The patch merger: tokens [n][d] on a grid_h x grid_w grid per frame ->
 * [n/m^2][out_dim] on the grid divided by m. Each output token is the
 * concatenation of its m x m input tokens, (dy, dx) in raster order, each
 * normed, then fc2(GELU_erf(fc1 .)). Replaces *tokens. */
static ctxpar_status run_merger(const ctxpar_backend *backend, const ctxpar_model *model,
                                int64_t grid_h, int64_t grid_w, ctxpar_tensor *tokens,
                                ctxpar_bf16 *bf16_rows) {
    const ctxpar_transformer_config *tc = &model->config.transformer;
    const int64_t n = tokens->shape[0], d = tc->dim, m = tc->merge, width = m * m * d;
    const int64_t tpf = grid_h * grid_w, out_w = grid_w / m, out_per_frame = tpf / (m * m);
    const int64_t n_out = n / (m * m);
    float *normed = NULL, *gathered = NULL, *hidden = NULL;
    ctxpar_tensor merged = {0};
    ctxpar_status status = CTXPAR_OK;
    const int64_t rows = n_out > 0 ? n_out : 1;
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&normed, n > 0 ? n * d : 1, CTXPAR_MEM_TRANSFORMER,
                                            "merger norm"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&gathered, rows * width, CTXPAR_MEM_TRANSFORMER,
                                            "merger rows"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&hidden, rows * width, CTXPAR_MEM_TRANSFORMER,
                                            "merger hidden"));
    int64_t shape[2] = {n_out, tc->out_dim};
    CTXPAR_TRY_GOTO(ctxpar_tensor_alloc(&merged, CTXPAR_MEM_TOKENS, "merged tokens", 2, shape));
    token_norm(backend, tc, normed, tokens->data, n, d, &model->ops.merger_norm);
    for (int64_t o = 0; o < n_out; o++) {
        const int64_t frame = o / out_per_frame, in_frame = o % out_per_frame;
        const int64_t y0 = in_frame / out_w * m, x0 = in_frame % out_w * m;
        for (int64_t dy = 0; dy < m; dy++)
            for (int64_t dx = 0; dx < m; dx++)
                memcpy(gathered + o * width + (dy * m + dx) * d,
                       normed + (frame * tpf + (y0 + dy) * grid_w + x0 + dx) * d,
                       sizeof(float) * (size_t)d);
    }
    ctxpar_dense(backend, hidden, gathered, n_out, width, width, &model->ops.merger_fc1,
                 bf16_rows);
    backend->gelu_erf(hidden, n_out * width);
    ctxpar_dense(backend, merged.data, hidden, n_out, width, tc->out_dim,
                 &model->ops.merger_fc2, bf16_rows);
    ctxpar_tensor_free(tokens);
    *tokens = merged;
fail:
    ctxpar_mem_free(hidden);
    ctxpar_mem_free(gathered);
    ctxpar_mem_free(normed);
    return status;
}

ctxpar_status ctxpar_transformer_run(const ctxpar_backend *backend, ctxpar_comm_t comm,
                                     const ctxpar_model *model, const ctxpar_plan *plan,
                                     ctxpar_tensor *tokens, ctxpar_transformer_stats *stats,
                                     ctxpar_transformer_progress_fn progress, void *user) {
    const ctxpar_transformer_config *tc = &model->config.transformer;
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    const int64_t n = tokens->shape[0], d = tc->dim, dh = d / tc->heads;
    const int64_t f = ctxpar_config_mlp_dim(&model->config);
    const int64_t f1 = ctxpar_config_fc1_out(&model->config);
    const int gated = tc->mlp == CTXPAR_MLP_GATED_SILU;
    /* the encoder's own token grid (the output grid differs after a merger) */
    const int64_t grid_h = plan->patch_grid_h, grid_w = plan->patch_grid_w;
    const int64_t tpf = grid_h * grid_w;
    /* The model description picks the variants; the loop below is the same. */
    void (*rope)(float *, int64_t, int64_t, int, int, int64_t, int64_t, int64_t) =
        tc->rope == CTXPAR_ROPE_VJEPA2    ? backend->rope3d_vjepa2
        : tc->rope == CTXPAR_ROPE_AXIAL2D ? backend->rope_axial2d
                                          : backend->rope3d;
    void (*act)(float *, int64_t) = tc->gelu == CTXPAR_GELU_ERF     ? backend->gelu_erf
                                    : tc->gelu == CTXPAR_GELU_QUICK ? backend->quick_gelu
                                                                    : backend->gelu;
    /* --layer K: the output of block K, before the final norm */
    const int layers = plan->output_layer > 0 ? plan->output_layer : tc->layers;
    const int64_t first_token = plan->first_latent[rank] * tpf;
    /* --dtype bf16: the attention runs the backend's bf16 kernel */
    ctxpar_backend ring_backend = *backend;
    if (plan->dtype == CTXPAR_DTYPE_BF16 && backend->attention_bf16)
        ring_backend.attention = backend->attention_bf16;
    float *x = tokens->data;
    float *h = NULL, *qkv = NULL, *kv = NULL, *attn = NULL, *mlp = NULL, *gate_out = NULL;
    ctxpar_bf16 *bf16_rows = NULL;
    int64_t *block_rows = NULL;
    ctxpar_status status = CTXPAR_OK;
    memset(stats, 0, sizeof *stats);
    double t_start = MPI_Wtime();

    int64_t rows = n > 0 ? n : 1;
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&h, rows * d, CTXPAR_MEM_TRANSFORMER, "block input"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&qkv, rows * 3 * d, CTXPAR_MEM_TRANSFORMER, "qkv"));
    if (tc->span == CTXPAR_ATTENTION_VIDEO)
        CTXPAR_TRY_GOTO(
            ctxpar_mem_alloc_floats(&kv, rows * 2 * d, CTXPAR_MEM_TRANSFORMER, "K/V block"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&attn, rows * d, CTXPAR_MEM_TRANSFORMER, "attention"));
    CTXPAR_TRY_GOTO(ctxpar_mem_alloc_floats(&mlp, rows * f1, CTXPAR_MEM_TRANSFORMER, "mlp"));
    if (gated)
        CTXPAR_TRY_GOTO(
            ctxpar_mem_alloc_floats(&gate_out, rows * f, CTXPAR_MEM_TRANSFORMER, "gated mlp"));
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
    for (int r = 0; r < ranks; r++) block_rows[r] = plan->n_latent[r] * tpf;

    for (int layer = 0; layer < layers; layer++) {
        const ctxpar_block_ops *ops = &model->ops.blocks[layer];
        double t0 = MPI_Wtime();
        token_norm(backend, tc, h, x, n, d, &ops->norm1);
        ctxpar_dense(backend, qkv, h, n, d, 3 * d, &ops->qkv, bf16_rows);
        rope(qkv, 3 * d, n, tc->heads, (int)dh, first_token, grid_h, grid_w);
        rope(qkv + d, 3 * d, n, tc->heads, (int)dh, first_token, grid_h, grid_w);
        double t1 = MPI_Wtime();
        if (tc->span == CTXPAR_ATTENTION_VIDEO) {
            for (int64_t i = 0; i < n; i++) /* K and V side by side: one message per step */
                memcpy(kv + i * 2 * d, qkv + i * 3 * d + d, (size_t)(2 * d) * sizeof(float));
            CTXPAR_TRY_GOTO(ctxpar_ring_attention(&ring_backend, comm, qkv, 3 * d, kv,
                                                  block_rows, tpf, tc->heads, (int)dh, attn,
                                                  1000 + layer * ranks, &stats->ring));
        } else {
            const int full = tc->window <= 0 || ((tc->full_layers >> layer) & 1);
            CTXPAR_TRY_GOTO(ctxpar_frame_attention(ring_backend.attention, qkv,
                                                   plan->n_latent[rank], grid_h, grid_w,
                                                   full ? 0 : tc->window, tc->heads, (int)dh,
                                                   attn));
            stats->ring.flops += (double)plan->n_latent[rank] *
                                 ctxpar_frame_attention_flops(grid_h, grid_w,
                                                              full ? 0 : tc->window, d);
        }
        double t2 = MPI_Wtime();
        ctxpar_dense(backend, h, attn, n, d, d, &ops->proj, bf16_rows);
        backend->add(x, 0, h, 0, 1, n * d);
        token_norm(backend, tc, h, x, n, d, &ops->norm2);
        ctxpar_dense(backend, mlp, h, n, d, f1, &ops->fc1, bf16_rows);
        if (gated)
            backend->silu_gate(gate_out, mlp, n, f);
        else
            act(mlp, n * f);
        ctxpar_dense(backend, h, gated ? gate_out : mlp, n, f, d, &ops->fc2, bf16_rows);
        backend->add(x, 0, h, 0, 1, n * d);
        double t3 = MPI_Wtime();
        stats->seconds_attention += t2 - t1;
        stats->seconds_dense += (t1 - t0) + (t3 - t2);
        stats->dense_flops += 2.0 * (double)n * (double)d * (4 * d + f1 + f);
        if (progress) progress(user, layer + 1, layers);
    }
    if (layers == tc->layers && plan->output_layer == 0) {
        if (tc->merge > 0) {
            double t0 = MPI_Wtime();
            CTXPAR_TRY_GOTO(run_merger(backend, model, grid_h, grid_w, tokens, bf16_rows));
            const double width = (double)tc->merge * tc->merge * d;
            stats->dense_flops += 2.0 * (double)tokens->shape[0] * width * (width + tc->out_dim);
            stats->seconds_dense += MPI_Wtime() - t0;
        } else {
            backend->layer_norm(x, x, n, d, model->ops.norm_out.weight,
                                model->ops.norm_out.bias, (float)tc->norm_eps);
        }
    }
    stats->seconds_total = MPI_Wtime() - t_start;

fail:
    ctxpar_mem_free(bf16_rows);
    ctxpar_mem_free(block_rows);
    ctxpar_mem_free(gate_out);
    ctxpar_mem_free(mlp);
    ctxpar_mem_free(attn);
    ctxpar_mem_free(kv);
    ctxpar_mem_free(qkv);
    ctxpar_mem_free(h);
    if (status != CTXPAR_OK) ctxpar_comm_abort(comm, status);
    return status;
}
