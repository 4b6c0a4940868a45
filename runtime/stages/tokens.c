/* Patch embedding and per-token records (see tokens.h). Token positions are
 * global so that everything downstream (RoPE, merging, the file) is
 * independent of how frames were split across ranks. */
#include "runtime/stages/tokens.h"

#include <string.h>

#include "runtime/stages/dense.h"

ctxpar_status ctxpar_tokens_embed(const ctxpar_backend *backend, const ctxpar_model *model, const ctxpar_plan *plan,
                                  const ctxpar_tensor *latents, ctxpar_tensor *tokens) {
    const int64_t z = latents->shape[0], frames = latents->shape[1], h = latents->shape[2],
                  w = latents->shape[3];
    const ctxpar_transformer_config *tc = &model->config.transformer;
    const int p = tc->patch, kt = tc->tubelet;
    const int64_t d = tc->dim;
    const int tubelets = tc->embed == CTXPAR_EMBED_TUBELET;
    /* latents are the pixels themselves for a tubelet embedding: kt frames per token row */
    const int64_t token_frames = tubelets ? frames / kt : frames;
    int64_t shape[2] = {token_frames * plan->patch_tokens_per_frame, d};
    CTXPAR_TRY(ctxpar_tensor_alloc(tokens, CTXPAR_MEM_TOKENS, "tokens", 2, shape));
    const ctxpar_op *embed = &model->ops.embed;
    const int64_t in = tubelets ? z * kt * p * p : z * p * p;
    float *rows = NULL;
    ctxpar_bf16 *bf16_rows = NULL;
    const int64_t row_floats = tubelets ? backend->tubelet_embed_scratch_floats(z, frames, h, w, kt, p)
                                        : backend->patch_embed_scratch_floats(z, frames, h, w, p);
    ctxpar_status status = ctxpar_mem_alloc_floats(&rows, row_floats > 0 ? row_floats : 1,
                                                   CTXPAR_MEM_TOKENS, "patch scratch");
    if (status == CTXPAR_OK && ctxpar_op_is_bf16(embed)) {
        bf16_rows = ctxpar_mem_alloc(sizeof(ctxpar_bf16) *
                                         (size_t)backend->linear_bf16_scratch_values(in),
                                     CTXPAR_MEM_TOKENS, "bf16 patch rows");
        if (!bf16_rows) status = CTXPAR_ERR_NO_MEMORY;
    }
    if (status != CTXPAR_OK) {
        ctxpar_mem_free(rows);
        ctxpar_tensor_free(tokens);
        return status;
    }
    if (tubelets)
        backend->tubelet_rows(latents->data, latents->stride[0], z, frames, h, w, kt, p, rows);
    else
        backend->patch_rows(latents->data, latents->stride[0], z, frames, h, w, p, rows);
    ctxpar_dense(backend, tokens->data, rows, shape[0], in, d, embed, bf16_rows);
    ctxpar_mem_free(bf16_rows);
    ctxpar_mem_free(rows);
    return CTXPAR_OK;
}

ctxpar_status ctxpar_records_per_token(const ctxpar_plan *plan, int64_t first_latent,
                                       int64_t n_latent, ctxpar_records *out) {
    memset(out, 0, sizeof *out);
    int64_t n = n_latent * plan->tokens_per_frame;
    int32_t *all = ctxpar_mem_alloc((size_t)(n > 0 ? n : 1) * 6 * sizeof(int32_t),
                                    CTXPAR_MEM_OUTPUT, "token records");
    if (!all) return CTXPAR_ERR_NO_MEMORY;
    out->count = n;
    out->t_start = all, out->t_end = all + n, out->level = all + 2 * n;
    out->y = all + 3 * n, out->x = all + 4 * n, out->size = all + 5 * n;
    for (int64_t i = 0; i < n; i++) {
        int64_t t = first_latent + i / plan->tokens_per_frame;
        int64_t in_frame = i % plan->tokens_per_frame;
        out->t_start[i] = out->t_end[i] = (int32_t)t;
        out->level[i] = 0;
        out->y[i] = (int32_t)(in_frame / plan->grid_w);
        out->x[i] = (int32_t)(in_frame % plan->grid_w);
        out->size[i] = 1;
    }
    return CTXPAR_OK;
}

void ctxpar_records_free(ctxpar_records *records) {
    ctxpar_mem_free(records->t_start);
    memset(records, 0, sizeof *records);
}

ctxpar_status ctxpar_latents_to_frame_major(const ctxpar_tensor *latents, ctxpar_tensor *out) {
    const int64_t z = latents->shape[0], n = latents->shape[1],
                  hw = latents->shape[2] * latents->shape[3];
    int64_t shape[4] = {n, latents->shape[2], latents->shape[3], z};
    CTXPAR_TRY(ctxpar_tensor_alloc(out, CTXPAR_MEM_OUTPUT, "latents (file layout)", 4, shape));
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < hw; i++)
            for (int64_t c = 0; c < z; c++)
                out->data[(t * hw + i) * z + c] = latents->data[c * latents->stride[0] + t * hw + i];
    return CTXPAR_OK;
}
