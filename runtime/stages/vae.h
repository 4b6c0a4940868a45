/* The distributed causal VAE encoder (docs/design.md section 2.1 and 3).
 *
 * Each rank holds its own frames of every activation, channel-major
 * [C][T_local][H][W]. Before each causal conv a rank sends its last kt-1
 * frames at that layer to rank+1 (the conv cache handoff) and computes the
 * chunks that need no halo while the message travels; the first rank pads by
 * replicating global frame 0. Exact GroupNorm combines (count, mean, M2) of
 * every rank in rank order: no rank sees another's activations. Convolutions
 * run in frame chunks, last chunk first, in place where Cin == Cout, so
 * scratch is bounded by the chunk size.
 *
 * ctxpar_vae_estimate walks the same layers with the same allocation order
 * and returns the peak bytes, FLOPs and bytes sent, which is what the plan
 * reports and --mem-limit checks. */
#pragma once
#include <stdint.h>

#include "comm/comm.h"
#include "kernels/backend.h"
#include "runtime/core/tensor.h"
#include "runtime/model/model.h"
#include "runtime/stages/plan_data.h"

typedef struct ctxpar_vae_stats {
    double seconds_conv, seconds_norm, seconds_other;
    double flops;
    int64_t halo_bytes_sent;
    double halo_wait_seconds, halo_exchange_seconds;
} ctxpar_vae_stats;

/* Progress hook: called on rank 0 after each layer with (done, total) layers. */
typedef void (*ctxpar_vae_progress_fn)(void *user, int64_t done, int64_t total);

/* Encode this rank's frames. input: [3][n_frames][H][W], consumed (freed).
 * latents out: [z][n_latent][H'][W'] (the posterior mean). Errors inside the
 * halo exchanges end the job (ctxpar_comm_abort): neighbours are waiting. */
ctxpar_status ctxpar_vae_encode(const ctxpar_backend *backend, ctxpar_comm_t comm,
                                const ctxpar_model *model,
                                const ctxpar_plan *plan, ctxpar_tensor *input,
                                ctxpar_tensor *latents, ctxpar_vae_stats *stats,
                                ctxpar_vae_progress_fn progress, void *progress_user);

typedef struct ctxpar_vae_estimate {
    int64_t peak_bytes;  /* VAE activations + scratch + halo buffers, this rank */
    double flops;
    int64_t bytes_sent;
    int64_t layers;      /* progress steps */
} ctxpar_vae_estimate;

void ctxpar_vae_estimate_rank(const ctxpar_model_config *config, const ctxpar_plan *plan, int rank,
                              ctxpar_vae_estimate *out);
