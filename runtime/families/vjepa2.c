/* The V-JEPA 2 family (transformers VJEPA2Model and the backbone of
 * VJEPA2ForVideoClassification): its config keys and encoder tensor names,
 * mapped onto the runtime's transformer description. No VAE: tokens are
 * tubelets of ImageNet-normalised pixels. The predictor, pooler and
 * classifier are not run. Semantics: docs/models/vjepa2.md. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "runtime/families/family.h"

#define AT(field) offsetof(ctxpar_model_config, field)

/* Merging defaults for this family's features (docs/models/vjepa2.md): the
 * final LayerNorm's outputs of neighbouring static patches are close but not
 * equal, so the thresholds sit below the built-in presets'. */
#define VJEPA2_SPATIAL_THRESHOLD 0.95
#define VJEPA2_TEMPORAL_THRESHOLD 0.98
#define VJEPA2_MERGE_LEVELS 2

static const ctxpar_family_key vjepa2_keys[] = {
    {"hidden_size", CTXPAR_FAMILY_INT, 1, AT(transformer.dim), 0, 0, NULL},
    {"num_attention_heads", CTXPAR_FAMILY_INT, 1, AT(transformer.heads), 0, 0, NULL},
    {"num_hidden_layers", CTXPAR_FAMILY_INT, 1, AT(transformer.layers), 0, 0, NULL},
    {"patch_size", CTXPAR_FAMILY_INT, 1, AT(transformer.patch), 0, 0, NULL},
    {"tubelet_size", CTXPAR_FAMILY_INT, 1, AT(transformer.tubelet), 0, 0, NULL},
    {"crop_size", CTXPAR_FAMILY_INT, 1, AT(transformer.crop), 0, 0, NULL},
    {"layer_norm_eps", CTXPAR_FAMILY_DOUBLE, 0, AT(transformer.norm_eps), 0, 0, NULL},
    {"mlp_ratio", CTXPAR_FAMILY_IGNORE, 1, 0, 0, 0, NULL}, /* read in finish */
    {"hidden_act", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "\"gelu\""},
    {"qkv_bias", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "true"},
    {"in_chans", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "3"},
    /* Training, predictor and pooler settings: nothing the encoder computes. */
    {"image_size", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"frames_per_clip", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"drop_path_rate", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"attention_dropout", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"attention_probs_dropout_prob", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"initializer_range", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
};

static const ctxpar_family_tensor vjepa2_tensors[] = {
    {"embed", "encoder.embeddings.patch_embeddings.proj", -1},
    {"blocks/%d/norm1", "encoder.layer.%d.norm1", -1},
    {"blocks/%d/norm2", "encoder.layer.%d.norm2", -1},
    {"blocks/%d/attn/qkv",
     "encoder.layer.%d.attention.query|encoder.layer.%d.attention.key|"
     "encoder.layer.%d.attention.value",
     -1},
    {"blocks/%d/attn/proj", "encoder.layer.%d.attention.proj", -1},
    {"blocks/%d/mlp/fc1", "encoder.layer.%d.mlp.fc1", -1},
    {"blocks/%d/mlp/fc2", "encoder.layer.%d.mlp.fc2", -1},
    {"norm_out", "encoder.layernorm", -1},
};

static const char *const vjepa2_ignored[] = {"predictor.", "vjepa2.predictor.", "pooler.",
                                             "classifier.", NULL};

static ctxpar_status vjepa2_finish(ctxpar_model_config *config, const ctxpar_json *root,
                                   const char *source) {
    ctxpar_transformer_config *tf = &config->transformer;
    const ctxpar_json *ratio = ctxpar_json_get(root, "mlp_ratio");
    if (!ratio || ratio->kind != CTXPAR_JSON_NUMBER || !(ratio->number > 0))
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: key mlp_ratio must be a positive number",
                            source);
    tf->mlp_dim = (int)((double)tf->dim * ratio->number); /* int(D * mlp_ratio), as Python */
    if (tf->patch < 1 || tf->tubelet < 1 || tf->crop < 1 || tf->crop % tf->patch != 0)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: crop_size %d must be a positive multiple of patch_size %d, and "
                            "tubelet_size %d positive",
                            source, tf->crop, tf->patch, tf->tubelet);
    /* the video processor: short side to int(crop*256/224), then the crop */
    config->video_default.resize_short = (int)((double)tf->crop * 256.0 / 224.0);
    config->video_default.crop = tf->crop;
    tf->embed = CTXPAR_EMBED_TUBELET;
    tf->rope = CTXPAR_ROPE_VJEPA2;
    tf->gelu = CTXPAR_GELU_ERF;
    config->has_vae = 0;
    config->has_transformer = 1;
    static const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
    memcpy(config->pixel_mean, mean, sizeof mean);
    memcpy(config->pixel_std, std, sizeof std);
    config->merge.spatial_threshold = VJEPA2_SPATIAL_THRESHOLD;
    config->merge.temporal_threshold = VJEPA2_TEMPORAL_THRESHOLD;
    config->merge.levels = VJEPA2_MERGE_LEVELS;
    return CTXPAR_OK;
}

const ctxpar_family ctxpar_family_vjepa2 = {
    .name = "vjepa2",
    .id_key = "model_type",
    .id_value = "vjepa2",
    .weights_file = "model.safetensors",
    .repo_subfolder = NULL,
    .keys = vjepa2_keys,
    .n_keys = sizeof vjepa2_keys / sizeof vjepa2_keys[0],
    .tensors = vjepa2_tensors,
    .n_tensors = sizeof vjepa2_tensors / sizeof vjepa2_tensors[0],
    .ignored_prefixes = vjepa2_ignored,
    .wrapper_prefix = "vjepa2.",
    .allow_unknown_keys = 1,
    .finish = vjepa2_finish,
};
