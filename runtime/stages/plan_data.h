/* The plan's data: which frames each rank owns at the input and at the
 * latents, the GroupNorm statistics segments, and the costs the planner
 * (runtime/plan.c) estimated. Stages read it and never make it; it lives
 * below them so the planner, which walks the stages' layers to estimate
 * them, can sit above. Plain data, no functions but two small helpers. */
#pragma once
#include <stdint.h>

/* GroupNorm statistics: over the whole video (exact), per chunk of
 * --chunk-frames (the built-in family's bounded-memory approximation), or per
 * call of diffusers' frame-batched CogVideoX encode ([0, 8 + T%8), then 8
 * frames each). */
typedef enum ctxpar_norm_mode {
    CTXPAR_NORM_EXACT,
    CTXPAR_NORM_CHUNK,
    CTXPAR_NORM_DIFFUSERS
} ctxpar_norm_mode;
const char *ctxpar_norm_mode_name(ctxpar_norm_mode mode);

/* --dtype: the products' input precision (docs/bf16.md). AUTO is resolved
 * before planning: bf16 when the CPU has AVX512-BF16 (or AMX), the model has
 * a transformer and its checkpoint stores bf16 or f16 weights; else f32. */
typedef enum ctxpar_dtype { CTXPAR_DTYPE_AUTO, CTXPAR_DTYPE_F32, CTXPAR_DTYPE_BF16 } ctxpar_dtype;
const char *ctxpar_dtype_name(ctxpar_dtype dtype);

typedef struct ctxpar_plan {
    int ranks;
    int64_t frames, height, width;          /* input T, H, W */
    int64_t temporal_compression;           /* c_t */
    int64_t spatial_compression;            /* c_s */
    int64_t latent_frames, latent_h, latent_w;
    /* The encoder's token grid per latent frame, and the output's: the same
     * unless a patch merger divides it by its merge size. */
    int64_t patch_grid_h, patch_grid_w, patch_tokens_per_frame;
    int64_t grid_h, grid_w;                 /* output token grid per latent frame */
    int64_t tokens_per_frame, total_tokens; /* output tokens */
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
    int64_t model_bytes;                    /* float32 weights as loaded, once per node */
    int64_t kept_bytes;                     /* float32 weights the run keeps (bf16: fewer) */
    int64_t load_bytes;                     /* bf16: one packed weight in float32, per rank */
    ctxpar_dtype dtype;                     /* resolved: F32 or BF16 */
    int64_t packed_bytes;                   /* bf16: packed weights, held once per node */
    int64_t in_place_bytes; /* bf16: weights read in place from the checkpoint's mapping */
    int64_t max_rank_bytes;                 /* peak bytes of the largest rank */
    double vae_flops, embed_flops;          /* whole run */
    double attention_flops;                 /* 4*n_q*n_kv*d over attended pairs, whole run */
    double dense_flops;                     /* transformer GEMMs, whole run */
    int64_t max_rank_comm_bytes;            /* bytes the busiest rank sends */
} ctxpar_plan;

/* Frame index b of the input at a layer holding 1/k of its frames: ceil(b/k)
 * (frame 0 alone is its own frame; every other group of k input frames one). */
static inline int64_t ctxpar_plan_frame_at(int64_t b, int64_t k) { return (b + k - 1) / k; }
