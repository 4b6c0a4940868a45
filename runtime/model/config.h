/* The model's configuration: the numbers that fix every tensor's shape and
 * the merge thresholds. It travels as JSON text in the model file's `config`
 * attribute (docs/design.md section 4) and in the features file, so a file always
 * says what made it. Presets are the starting points of docs/design.md section 5. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "runtime/formats/json.h"

#define CTXPAR_MAX_STAGES 8
#define CTXPAR_MAX_GROUPS 256

typedef struct ctxpar_vae_config {
    int n_stages;                             /* S */
    int channels[CTXPAR_MAX_STAGES];          /* c[0..S-1] */
    int res_blocks;                           /* n */
    int temporal_down[CTXPAR_MAX_STAGES - 1]; /* [0..S-2], 0 or 1 */
    int groups;                               /* G */
    int latent_channels;                      /* z */
    /* Variants of the same encoder (the built-in family's values first):
     * mid_blocks: ResBlocks in the mid block (1; CogVideoX 2).
     * first_frame_alone: 0: T = c_t*k frames, pooling averages pairs; 1: T = 1 + c_t*k,
     *   global frame 0 is its own latent frame and pooling keeps it (CogVideoX).
     * down_pad_end: 0: the stride-2 conv pads 1 on every side; 1: one zero
     *   row/column at the bottom/right only (CogVideoX).
     * norm_eps: GroupNorm epsilon (1e-6). */
    int mid_blocks;
    int first_frame_alone;
    int down_pad_end;
    double norm_eps;
} ctxpar_vae_config;

/* Variants of the transformer (the built-in family's value first). */
typedef enum ctxpar_embed_kind {
    CTXPAR_EMBED_LATENT_PATCH, /* p x p patches of the VAE latents, input order (dy, dx, c) */
    CTXPAR_EMBED_TUBELET       /* kt x p x p tubelets of the pixels, a Conv3d [d, 3, kt, p, p] */
} ctxpar_embed_kind;
typedef enum ctxpar_rope_kind {
    CTXPAR_ROPE_SPLIT,  /* head dims [t | y | x] = 1/4, 3/8, 3/8, pairs at their own angle */
    CTXPAR_ROPE_VJEPA2, /* a = 2*((dh/3)/2) dims per axis, angle table tiled twice, tail unrotated */
    CTXPAR_ROPE_AXIAL2D /* Qwen2-VL's: dim j < dh/2 pairs with j + dh/2; j < dh/4 turns by y,
                         * the rest by x, at 10000^(-4(j mod dh/4)/dh); no time axis */
} ctxpar_rope_kind;
/* The MLP's activation: GELU (tanh or erf form) or QuickGELU x*sigmoid(1.702x). */
typedef enum ctxpar_gelu_kind { CTXPAR_GELU_TANH, CTXPAR_GELU_ERF, CTXPAR_GELU_QUICK } ctxpar_gelu_kind;
/* The blocks' norms: LayerNorm (weight, bias) or RMSNorm (weight only). */
typedef enum ctxpar_token_norm_kind {
    CTXPAR_TOKEN_NORM_LAYER,
    CTXPAR_TOKEN_NORM_RMS
} ctxpar_token_norm_kind;
/* The MLP: fc2(act(fc1 x)), or the gated SwiGLU form fc2(silu(g) * u) where
 * fc1 holds [gate; up] as one [2f][d] weight, so one GEMM makes both. */
typedef enum ctxpar_mlp_kind { CTXPAR_MLP_PLAIN, CTXPAR_MLP_GATED_SILU } ctxpar_mlp_kind;
/* Which keys a token attends: every token of the video (the ring), or only
 * the tokens of its own token frame (Qwen2-VL's per-temporal-patch
 * sequences: no ring, no communication). */
typedef enum ctxpar_attention_span {
    CTXPAR_ATTENTION_VIDEO,
    CTXPAR_ATTENTION_FRAME
} ctxpar_attention_span;

typedef struct ctxpar_transformer_config {
    int patch, dim, heads, layers; /* p, d, h, L */
    int mlp_dim;                   /* fc1's width; 0 means 4d */
    int tubelet;                   /* kt of a tubelet embedding */
    int crop;                      /* frames must be crop x crop (0: any size) */
    ctxpar_embed_kind embed;
    ctxpar_rope_kind rope;
    ctxpar_gelu_kind gelu;
    double norm_eps;               /* LayerNorm epsilon (1e-6) */
    /* Variants of the video-LLM vision towers (Qwen2-VL, Qwen2.5-VL); zero is
     * the built-in family's value of each. */
    ctxpar_token_norm_kind norm;
    ctxpar_mlp_kind mlp;
    int embed_without_bias;        /* the embedding Conv3d has no bias */
    ctxpar_attention_span span;
    /* span FRAME: layers not in full_layers attend only within square windows
     * of `window` x `window` tokens aligned to the frame's top-left corner
     * (clipped at the border); 0: every layer attends the whole frame. */
    int window;
    uint64_t full_layers;          /* bit l: layer l attends the whole frame */
    /* What a family's config gives before finish() derives the fields above
     * (mlp_dim = dim * mlp_ratio; full_layers from the list). */
    double mlp_ratio;
    int full_layer_list[64], n_full_layers;
    /* The patch merger in place of the final norm: merge x merge neighbouring
     * tokens (rows in (dy, dx) order) -> norm each, concatenate, then
     * fc2(GELU_erf(fc1 .)) to out_dim. 0: none. Output tokens are on the
     * grid divided by merge. */
    int merge;
    int out_dim;
    /* Output tokens are a video-LLM's: the file carries each record's M-RoPE
     * position (t, y, x); t is the temporal patch index times
     * tokens_per_second * tubelet / fps when tokens_per_second > 0 (Qwen2.5-VL),
     * the index itself otherwise (Qwen2-VL). */
    int llm_positions;
    int tokens_per_second;
} ctxpar_transformer_config;

/* The merge rule: ctxpar's quadtree with temporal chains (docs/merge.md), or
 * STTM's multi-granular quadtree and directed temporal merge reproduced
 * exactly (docs/merge-sttm.md). */
typedef enum ctxpar_merge_rule { CTXPAR_MERGE_QUADTREE, CTXPAR_MERGE_STTM } ctxpar_merge_rule;

typedef struct ctxpar_merge_config {
    double spatial_threshold, temporal_threshold;
    int levels;            /* quadtree: deepest level */
    ctxpar_merge_rule rule;
    int root_level;        /* STTM: coarsest levels of its pyramid left out (its default 1) */
} ctxpar_merge_config;

/* How a latents file's consumer scales the posterior mean (diffusers'
 * scaling_factor; invert_scale_latents is -1 when the config has no such key). */
typedef struct ctxpar_latent_scaling {
    double scaling_factor;
    int invert_scale_latents;
} ctxpar_latent_scaling;

/* The runtime's model description: which stages exist and their shapes. A
 * model family (family.h) fills it from its own config; the pipeline runs
 * what it holds. */
typedef struct ctxpar_model_config {
    char family[32];       /* registry name of the family that described it */
    int has_vae;           /* 0: tokens come straight from the pixels (tubelets) */
    int has_transformer;   /* 0: a VAE-only model, whose job writes latents */
    /* Every tensor of two or more axes in the checkpoint is bf16: a bf16 run
     * may read its linears in place (model_bf16.h). Set by the loader. */
    int checkpoint_bf16;
    /* A video file's default shaping when the user gives no --resize, --crop
     * or --size (its processor's): short side to resize_short, or exactly
     * resize_width x resize_height; then a centre crop to crop x crop. 0: none. */
    struct {
        int resize_short, resize_width, resize_height, crop;
        /* Qwen2-VL's processor (qwen-vl-utils): uniform sampling at
         * sample_fps within [min_frames, max_frames], smart_resize to
         * multiples of budget_factor in a pixel budget, bicubic. 0: none. */
        double sample_fps;
        int min_frames, max_frames, budget_factor;
        double min_pixels, max_pixels, total_pixels;
    } video_default;
    /* pixels: v = (u/255 - pixel_mean[c]) / pixel_std[c] (built-in: 0.5, 0.5, i.e. u/127.5 - 1) */
    double pixel_mean[3], pixel_std[3];
    ctxpar_latent_scaling scaling;
    ctxpar_vae_config vae;
    ctxpar_transformer_config transformer;
    ctxpar_merge_config merge;
} ctxpar_model_config;

/* The built-in family's values of the fields its JSON does not carry, and
 * the merge defaults (0.98, 0.999, 2 levels, ctxpar's quadtree) that a
 * family keeps unless it sets its own. */
void ctxpar_config_builtin_defaults(ctxpar_model_config *config);

/* "tiny", "small" or "base"; an unknown name is CTXPAR_ERR_ARGUMENT naming the presets. */
ctxpar_status ctxpar_config_preset(const char *name, ctxpar_model_config *out);

/* Checks every constraint of docs/design.md section 2 (channels divisible by groups,
 * dh = d/h a multiple of 16, ...); `source` names where the config came from. */
ctxpar_status ctxpar_config_validate(const ctxpar_model_config *config, const char *source);

/* JSON text of docs/design.md section 4. Returns the length written (excluding the
 * NUL), or the length needed when cap is too small, like snprintf (-1 when
 * out of memory). */
int ctxpar_config_to_json(const ctxpar_model_config *config, char *buf, size_t cap);
/* The same object, as a value of a larger document being written. */
void ctxpar_config_write_json(ctxpar_json_writer *w, const ctxpar_model_config *config);
/* Parses that JSON (keys in any order, unknown keys rejected). */
ctxpar_status ctxpar_config_from_json(const char *json, ctxpar_model_config *out,
                                      const char *source);

int ctxpar_config_temporal_compression(const ctxpar_model_config *config); /* c_t */
/* Input frames before the first shard unit boundary: c_t, or 1 when frame 0 is
 * encoded alone. Shard units are [0, first) then c_t frames each. */
int ctxpar_config_first_unit_frames(const ctxpar_model_config *config);
int ctxpar_config_spatial_compression(const ctxpar_model_config *config);  /* c_s */
int ctxpar_config_mlp_dim(const ctxpar_model_config *config);             /* the MLP's hidden width */
/* Width of fc1's output: the hidden width, twice it for a gated MLP. */
int ctxpar_config_fc1_out(const ctxpar_model_config *config);
/* Width of the output tokens: out_dim after a merger, else dim. */
int ctxpar_config_output_dim(const ctxpar_model_config *config);
/* Tokens merged into one output token along each axis: merge, or 1. */
int ctxpar_config_output_merge(const ctxpar_model_config *config);
