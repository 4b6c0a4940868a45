/* The sharding plan: which frames each rank owns, and what the run will cost.
 *
 * The shard unit is one latent frame (c_t input frames) in exact mode, one
 * norm chunk in chunk mode, so temporal pooling never crosses ranks. Ranks get
 * contiguous unit ranges; the first (units mod P) ranks take one more. The
 * estimates (memory, FLOPs, bytes) are computed from the same layer walk the
 * VAE executes (vae.h), so --dry-run and --mem-limit see what the run will do. */
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "runtime/config.h"
#include "runtime/options.h"
#include "base/status.h"

typedef struct ctxpar_plan {
    int ranks;
    int64_t frames, height, width;          /* input T, H, W */
    int64_t temporal_compression;           /* c_t */
    int64_t spatial_compression;            /* c_s */
    int64_t latent_frames, latent_h, latent_w;
    int64_t grid_h, grid_w;                 /* token grid per latent frame */
    int64_t tokens_per_frame, total_tokens;
    int64_t first_unit_frames;              /* input frames of shard unit 0 */
    int64_t unit_frames;                    /* input frames of every other shard unit */
    int64_t n_units;
    int64_t conv_chunk_frames;              /* frames per conv GEMM batch; 0 = automatic per layer */
    int64_t norm_chunk_frames;              /* chunk mode: input frames per statistics chunk */
    ctxpar_norm_mode norm;
    /* GroupNorm statistics segments in input frames: [bounds[i], bounds[i+1]),
     * i < n_norm_segments. A segment's bound b lies at ceil(b/k) in a layer
     * that has 1/k of the input's frames. */
    int n_norm_segments;
    int64_t *norm_bounds;
    int latent_channels_out;                /* z (mean), or 2z with the log-variance */
    int has_transformer;
    int output_layer;                       /* 0: final norm output; K: after block K */
    /* per rank, arrays of `ranks` entries: */
    int64_t *first_frame, *n_frames;        /* input frames */
    int64_t *first_latent, *n_latent;       /* latent frames */
    /* estimates */
    int64_t model_bytes;                    /* float32 weights, held once per node */
    int64_t max_rank_bytes;                 /* peak bytes of the largest rank */
    double vae_flops, embed_flops;          /* whole run */
    double attention_flops;                 /* 4*N^2*d per layer, whole run */
    double dense_flops;                     /* transformer GEMMs, whole run */
    int64_t max_rank_comm_bytes;            /* bytes the busiest rank sends */
} ctxpar_plan;

ctxpar_status ctxpar_plan_make(const ctxpar_model_config *config,
                               const ctxpar_run_options *options, int ranks, ctxpar_plan *out);
void ctxpar_plan_free(ctxpar_plan *plan);
/* Frame index b of the input at a layer holding 1/k of its frames: ceil(b/k)
 * (frame 0 alone is its own frame; every other group of k input frames one). */
static inline int64_t ctxpar_plan_frame_at(int64_t b, int64_t k) { return (b + k - 1) / k; }
/* The --dry-run report. */
void ctxpar_plan_print(FILE *f, const ctxpar_plan *plan, const ctxpar_model_config *config);
