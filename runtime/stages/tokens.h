/* Latents to tokens: patch embedding with GLOBAL token positions, and the
 * one-record-per-token description (t_start = t_end = global latent frame,
 * level 0, grid y and x, size 1) used until merging replaces it. */
#pragma once
#include <stdint.h>

#include "kernels/backend.h"
#include "runtime/core/tensor.h"
#include "runtime/model/model.h"
#include "runtime/stages/plan_data.h"

/* latents [z][n_latent][H'][W'] -> tokens [n_latent*grid_h*grid_w][d]. */
ctxpar_status ctxpar_tokens_embed(const ctxpar_backend *backend, const ctxpar_model *model, const ctxpar_plan *plan,
                                  const ctxpar_tensor *latents, ctxpar_tensor *tokens);

typedef struct ctxpar_records {
    int64_t count;
    int32_t *t_start, *t_end, *level, *y, *x, *size; /* one allocation, count each */
} ctxpar_records;

/* One record per token of this rank (first global latent frame `first_latent`). */
ctxpar_status ctxpar_records_per_token(const ctxpar_plan *plan, int64_t first_latent,
                                       int64_t n_latent, ctxpar_records *out);
void ctxpar_records_free(ctxpar_records *records);

/* [z][n][h][w] -> [n][h][w][z] (the file's latent layout). */
ctxpar_status ctxpar_latents_to_frame_major(const ctxpar_tensor *latents, ctxpar_tensor *out);
