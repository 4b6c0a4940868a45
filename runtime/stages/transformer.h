/* The transformer of docs/design.md section 2.2 on this rank's tokens: pre-norm
 * blocks whose attention spans every token of the video through ring
 * attention, RoPE-3D with GLOBAL positions, and the final LayerNorm; or,
 * as a model family describes, attention within each token frame (and
 * window), another norm, MLP or RoPE, and a patch merger at the end.
 * Everything but attention is token-local (LayerNorm, GEMMs, GELU), so a rank
 * holds only its own tokens, the activations of one block, and two K/V
 * blocks. */
#pragma once
#include <stdint.h>

#include "comm/comm.h"
#include "kernels/backend.h"
#include "runtime/core/tensor.h"
#include "runtime/model/model.h"
#include "runtime/stages/plan_data.h"
#include "runtime/stages/ring_attention.h"

typedef struct ctxpar_transformer_stats {
    ctxpar_ring_stats ring;
    double seconds_total, seconds_attention, seconds_dense;
    double dense_flops;
} ctxpar_transformer_stats;

typedef void (*ctxpar_transformer_progress_fn)(void *user, int64_t done, int64_t total);

/* tokens: [n_local][d] on the plan's patch grid, replaced by the features:
 * the final norm's in place, or the patch merger's (a new tensor of
 * [n_local / merge^2][out_dim] on the output grid). */
ctxpar_status ctxpar_transformer_run(const ctxpar_backend *backend, ctxpar_comm_t comm,
                                     const ctxpar_model *model, const ctxpar_plan *plan,
                                     ctxpar_tensor *tokens, ctxpar_transformer_stats *stats,
                                     ctxpar_transformer_progress_fn progress, void *user);

/* Bytes a rank holds for the transformer beyond its tokens (plan estimate):
 * n_local tokens here, n_block_max the largest rank's, granule_rows the
 * tokens of one latent frame, tree_slots from ctxpar_ring_tree_slots,
 * grid_h x grid_w the patch grid of a frame. */
int64_t ctxpar_transformer_estimate_bytes(const ctxpar_model_config *config, ctxpar_dtype dtype,
                                          int64_t n_local, int64_t n_block_max,
                                          int64_t granule_rows, int ranks, int tree_slots,
                                          int64_t grid_h, int64_t grid_w);
