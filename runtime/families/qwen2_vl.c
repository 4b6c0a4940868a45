/* The Qwen2-VL and Qwen2.5-VL families: the vision tower of transformers'
 * Qwen2VLForConditionalGeneration / Qwen2_5_VLForConditionalGeneration, read
 * from the released folder (config.json with its vision_config, weights in
 * one file or shards with model.safetensors.index.json). Only the visual.*
 * tensors are read; the language model is not run.
 *
 * Both map onto the runtime's transformer description: a Conv3d tubelet
 * embedding without bias (temporal patch 2, patch 14), Qwen's 2D RoPE,
 * attention within each temporal patch (no ring: a rank holds whole token
 * frames), and the patch merger in place of a final norm. Qwen2-VL's blocks
 * are LayerNorm + QuickGELU MLP; Qwen2.5-VL's are RMSNorm + SwiGLU with
 * window attention except in its full-attention layers. Semantics:
 * docs/models/qwen2-vl.md. */
#include <stddef.h>
#include <string.h>

#include "runtime/families/family.h"

#define AT(field) offsetof(ctxpar_model_config, field)

/* The released checkpoints' processors normalise with CLIP's statistics. */
static const double clip_mean[3] = {0.48145466, 0.4578275, 0.40821073};
static const double clip_std[3] = {0.26862954, 0.26130258, 0.27577711};

/* What both towers share once their keys are read. */
static ctxpar_status qwen_finish_common(ctxpar_model_config *config, const char *source) {
    ctxpar_transformer_config *tf = &config->transformer;
    if (tf->patch < 1 || tf->tubelet < 1 || tf->merge < 1 || tf->out_dim < 1)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: vision_config patch_size %d, temporal_patch_size %d, "
                            "spatial_merge_size %d and the output width %d must be positive",
                            source, tf->patch, tf->tubelet, tf->merge, tf->out_dim);
    config->has_vae = 0;
    config->has_transformer = 1;
    tf->embed = CTXPAR_EMBED_TUBELET;
    tf->embed_without_bias = 1;
    tf->rope = CTXPAR_ROPE_AXIAL2D;
    tf->span = CTXPAR_ATTENTION_FRAME;
    tf->norm_eps = 1e-6; /* fixed in the reference's modules, not a config key */
    tf->llm_positions = 1;
    /* qwen-vl-utils' video defaults: 2 frames/s, 4 to 768 frames, frames of
     * 128 to 768 merged tokens, 128000 tokens (x 0.9) for the whole video */
    const int unit = tf->patch * tf->merge;
    config->video_default.sample_fps = 2.0;
    config->video_default.min_frames = 4;
    config->video_default.max_frames = 768;
    config->video_default.budget_factor = unit;
    config->video_default.min_pixels = 128.0 * unit * unit;
    config->video_default.max_pixels = 768.0 * unit * unit;
    config->video_default.total_pixels = 128000.0 * unit * unit * 0.9;
    memcpy(config->pixel_mean, clip_mean, sizeof clip_mean);
    memcpy(config->pixel_std, clip_std, sizeof clip_std);
    return CTXPAR_OK;
}

/* The tensors both towers name alike: all but the MLP's. */
#define QWEN_TOWER_TENSORS                                       \
    {"embed", "visual.patch_embed.proj", -1},                    \
    {"blocks/%d/norm1", "visual.blocks.%d.norm1", -1},           \
    {"blocks/%d/norm2", "visual.blocks.%d.norm2", -1},           \
    {"blocks/%d/attn/qkv", "visual.blocks.%d.attn.qkv", -1},     \
    {"blocks/%d/attn/proj", "visual.blocks.%d.attn.proj", -1},
#define QWEN_MERGER_TENSORS                                      \
    {"merger/norm", "visual.merger.ln_q", -1},                   \
    {"merger/fc1", "visual.merger.mlp.0", -1},                   \
    {"merger/fc2", "visual.merger.mlp.2", -1},

/* ---- Qwen2-VL ---- */

static const ctxpar_family_key qwen2_vl_keys[] = {
    {"vision_config.depth", CTXPAR_FAMILY_INT, 1, AT(transformer.layers), 0, 0, NULL},
    {"vision_config.embed_dim", CTXPAR_FAMILY_INT, 1, AT(transformer.dim), 0, 0, NULL},
    {"vision_config.num_heads", CTXPAR_FAMILY_INT, 1, AT(transformer.heads), 0, 0, NULL},
    {"vision_config.hidden_size", CTXPAR_FAMILY_INT, 1, AT(transformer.out_dim), 0, 0, NULL},
    {"vision_config.patch_size", CTXPAR_FAMILY_INT, 1, AT(transformer.patch), 0, 0, NULL},
    {"vision_config.temporal_patch_size", CTXPAR_FAMILY_INT, 1, AT(transformer.tubelet), 0, 0,
     NULL},
    {"vision_config.spatial_merge_size", CTXPAR_FAMILY_INT, 1, AT(transformer.merge), 0, 0, NULL},
    {"vision_config.mlp_ratio", CTXPAR_FAMILY_DOUBLE, 1, AT(transformer.mlp_ratio), 0, 0, NULL},
    {"vision_config.hidden_act", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "\"quick_gelu\""},
    {"vision_config.in_chans", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "3"},
    {"vision_config.in_channels", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "3"},
};

static const ctxpar_family_tensor qwen2_vl_tensors[] = {
    QWEN_TOWER_TENSORS
    {"blocks/%d/mlp/fc1", "visual.blocks.%d.mlp.fc1", -1},
    {"blocks/%d/mlp/fc2", "visual.blocks.%d.mlp.fc2", -1},
    QWEN_MERGER_TENSORS
};

/* transformers before 4.52 saved "visual.*", later versions "model.visual.*" */
static const char *const qwen_read_prefixes[] = {"visual.", "model.visual.", NULL};

static ctxpar_status qwen2_vl_finish(ctxpar_model_config *config, const ctxpar_json *root,
                                     const char *source) {
    (void)root;
    ctxpar_transformer_config *tf = &config->transformer;
    if (!(tf->mlp_ratio > 0))
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: vision_config.mlp_ratio must be a positive number", source);
    tf->mlp_dim = (int)((double)tf->dim * tf->mlp_ratio); /* int(embed_dim * mlp_ratio) */
    tf->norm = CTXPAR_TOKEN_NORM_LAYER;
    tf->mlp = CTXPAR_MLP_PLAIN;
    tf->gelu = CTXPAR_GELU_QUICK;
    return qwen_finish_common(config, source);
}

const ctxpar_family ctxpar_family_qwen2_vl = {
    .name = "qwen2_vl",
    .id_key = "model_type",
    .id_value = "qwen2_vl",
    .weights_file = "model.safetensors",
    .repo_subfolder = NULL,
    .keys = qwen2_vl_keys,
    .n_keys = sizeof qwen2_vl_keys / sizeof qwen2_vl_keys[0],
    .tensors = qwen2_vl_tensors,
    .n_tensors = sizeof qwen2_vl_tensors / sizeof qwen2_vl_tensors[0],
    .ignored_prefixes = NULL,
    .read_prefixes = qwen_read_prefixes,
    .wrapper_prefix = "model.",
    .allow_unknown_keys = 1,
    .finish = qwen2_vl_finish,
};

/* ---- Qwen2.5-VL ---- */

static const ctxpar_family_key qwen2_5_vl_keys[] = {
    {"vision_config.depth", CTXPAR_FAMILY_INT, 1, AT(transformer.layers), 0, 0, NULL},
    {"vision_config.hidden_size", CTXPAR_FAMILY_INT, 1, AT(transformer.dim), 0, 0, NULL},
    {"vision_config.num_heads", CTXPAR_FAMILY_INT, 1, AT(transformer.heads), 0, 0, NULL},
    {"vision_config.intermediate_size", CTXPAR_FAMILY_INT, 1, AT(transformer.mlp_dim), 0, 0,
     NULL},
    {"vision_config.out_hidden_size", CTXPAR_FAMILY_INT, 1, AT(transformer.out_dim), 0, 0, NULL},
    {"vision_config.patch_size", CTXPAR_FAMILY_INT, 1, AT(transformer.patch), 0, 0, NULL},
    {"vision_config.temporal_patch_size", CTXPAR_FAMILY_INT, 1, AT(transformer.tubelet), 0, 0,
     NULL},
    {"vision_config.spatial_merge_size", CTXPAR_FAMILY_INT, 1, AT(transformer.merge), 0, 0, NULL},
    {"vision_config.window_size", CTXPAR_FAMILY_INT, 1, AT(transformer.window), 0, 0, NULL},
    {"vision_config.fullatt_block_indexes", CTXPAR_FAMILY_INT_ARRAY, 1,
     AT(transformer.full_layer_list), AT(transformer.n_full_layers), 64, NULL},
    {"vision_config.tokens_per_second", CTXPAR_FAMILY_INT, 1, AT(transformer.tokens_per_second),
     0, 0, NULL},
    {"vision_config.hidden_act", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "\"silu\""},
    {"vision_config.in_chans", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "3"},
    {"vision_config.in_channels", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "3"},
};

static const ctxpar_family_tensor qwen2_5_vl_tensors[] = {
    QWEN_TOWER_TENSORS
    /* gate and up stacked into one [2f][d] weight: one GEMM makes both */
    {"blocks/%d/mlp/fc1", "visual.blocks.%d.mlp.gate_proj|visual.blocks.%d.mlp.up_proj", -1},
    {"blocks/%d/mlp/fc2", "visual.blocks.%d.mlp.down_proj", -1},
    QWEN_MERGER_TENSORS
};

static ctxpar_status qwen2_5_vl_finish(ctxpar_model_config *config, const ctxpar_json *root,
                                       const char *source) {
    (void)root;
    ctxpar_transformer_config *tf = &config->transformer;
    /* window_size is in pixels; windows are whole merge blocks of patches */
    const int unit = tf->patch * tf->merge;
    if (unit < 1 || tf->window < unit || tf->window % unit != 0)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: vision_config.window_size %d must be a positive multiple of "
                            "patch_size x spatial_merge_size = %d",
                            source, tf->window, unit);
    tf->window /= tf->patch;
    tf->full_layers = 0;
    for (int i = 0; i < tf->n_full_layers; i++) {
        const int layer = tf->full_layer_list[i];
        if (layer < 0 || layer >= tf->layers || layer >= 64)
            return ctxpar_error(CTXPAR_ERR_FORMAT,
                                "%s: vision_config.fullatt_block_indexes[%d] = %d is not a layer "
                                "of the %d (0 to %d)",
                                source, i, layer, tf->layers, tf->layers - 1);
        tf->full_layers |= (uint64_t)1 << layer;
    }
    tf->norm = CTXPAR_TOKEN_NORM_RMS;
    tf->mlp = CTXPAR_MLP_GATED_SILU;
    return qwen_finish_common(config, source);
}

const ctxpar_family ctxpar_family_qwen2_5_vl = {
    .name = "qwen2_5_vl",
    .id_key = "model_type",
    .id_value = "qwen2_5_vl",
    .weights_file = "model.safetensors",
    .repo_subfolder = NULL,
    .keys = qwen2_5_vl_keys,
    .n_keys = sizeof qwen2_5_vl_keys / sizeof qwen2_5_vl_keys[0],
    .tensors = qwen2_5_vl_tensors,
    .n_tensors = sizeof qwen2_5_vl_tensors / sizeof qwen2_5_vl_tensors[0],
    .ignored_prefixes = NULL,
    .read_prefixes = qwen_read_prefixes,
    .wrapper_prefix = "model.",
    .allow_unknown_keys = 1,
    .finish = qwen2_5_vl_finish,
};
