/* The CogVideoX VAE family (diffusers AutoencoderKLCogVideoX; the 2b, 5b and
 * 1.5 VAEs share the architecture): its config keys and its encoder's tensor
 * names, mapped onto the runtime's VAE description. Only the encoder runs;
 * decoder tensors are ignored. Semantics: docs/models/cogvideox-vae.md. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "runtime/families/family.h"

#define AT(field) offsetof(ctxpar_model_config, field)

static const ctxpar_family_key cogvideox_keys[] = {
    {"block_out_channels", CTXPAR_FAMILY_INT_ARRAY, 1, AT(vae.channels), AT(vae.n_stages),
     CTXPAR_MAX_STAGES, NULL},
    {"layers_per_block", CTXPAR_FAMILY_INT, 1, AT(vae.res_blocks), 0, 0, NULL},
    {"norm_num_groups", CTXPAR_FAMILY_INT, 1, AT(vae.groups), 0, 0, NULL},
    {"latent_channels", CTXPAR_FAMILY_INT, 1, AT(vae.latent_channels), 0, 0, NULL},
    {"norm_eps", CTXPAR_FAMILY_DOUBLE, 0, AT(vae.norm_eps), 0, 0, NULL},
    {"temporal_compression_ratio", CTXPAR_FAMILY_INT, 1, AT(vae.temporal_down[0]), 0, 0, NULL},
    {"scaling_factor", CTXPAR_FAMILY_DOUBLE, 1, AT(scaling.scaling_factor), 0, 0, NULL},
    {"invert_scale_latents", CTXPAR_FAMILY_BOOL, 0, AT(scaling.invert_scale_latents), 0, 0, NULL},
    {"in_channels", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "3"},
    {"act_fn", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "\"silu\""},
    {"use_quant_conv", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "false"},
    {"shift_factor", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "null"},
    {"latents_mean", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "null"},
    {"latents_std", CTXPAR_FAMILY_REQUIRE, 0, 0, 0, 0, "null"},
    /* Decoder, tiling and precision settings: nothing the encoder computes. */
    {"out_channels", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"up_block_types", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"use_post_quant_conv", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"force_upcast", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"sample_height", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"sample_width", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL},
    {"down_block_types", CTXPAR_FAMILY_IGNORE, 0, 0, 0, 0, NULL}, /* checked in finish */
};

static const ctxpar_family_tensor cogvideox_tensors[] = {
    {"vae/conv_in", "encoder.conv_in.conv", -1},
    {"vae/stages/%d/res/%d/norm1", "encoder.down_blocks.%d.resnets.%d.norm1", -1},
    {"vae/stages/%d/res/%d/norm2", "encoder.down_blocks.%d.resnets.%d.norm2", -1},
    {"vae/stages/%d/res/%d/conv1", "encoder.down_blocks.%d.resnets.%d.conv1.conv", -1},
    {"vae/stages/%d/res/%d/conv2", "encoder.down_blocks.%d.resnets.%d.conv2.conv", -1},
    {"vae/stages/%d/res/%d/skip", "encoder.down_blocks.%d.resnets.%d.conv_shortcut", -1},
    {"vae/stages/%d/down", "encoder.down_blocks.%d.downsamplers.0.conv", 2},
    {"vae/mid/res/%d/norm1", "encoder.mid_block.resnets.%d.norm1", -1},
    {"vae/mid/res/%d/norm2", "encoder.mid_block.resnets.%d.norm2", -1},
    {"vae/mid/res/%d/conv1", "encoder.mid_block.resnets.%d.conv1.conv", -1},
    {"vae/mid/res/%d/conv2", "encoder.mid_block.resnets.%d.conv2.conv", -1},
    {"vae/norm_out", "encoder.norm_out", -1},
    {"vae/conv_out", "encoder.conv_out.conv", -1},
};

static const char *const cogvideox_ignored[] = {"decoder.", NULL};

/* temporal_compression_ratio was read into temporal_down[0]; it becomes one
 * flag per down block: blocks 0 .. log2(ratio)-1 compress time. */
static ctxpar_status cogvideox_finish(ctxpar_model_config *config, const ctxpar_json *root,
                                      const char *source) {
    ctxpar_vae_config *vae = &config->vae;
    const int ratio = vae->temporal_down[0];
    int log2_ratio = 0;
    while ((1 << log2_ratio) < ratio) log2_ratio++;
    if (ratio < 1 || (1 << log2_ratio) != ratio || log2_ratio > vae->n_stages - 1)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: temporal_compression_ratio %d must be a power of two up to %d "
                            "(one halving per down block)",
                            source, ratio, 1 << (vae->n_stages - 1));
    for (int i = 0; i + 1 < vae->n_stages; i++) vae->temporal_down[i] = i < log2_ratio;
    const ctxpar_json *types = ctxpar_json_get(root, "down_block_types");
    if (types) {
        int ok = types->kind == CTXPAR_JSON_ARRAY && types->n_items == vae->n_stages;
        for (int i = 0; ok && i < types->n_items; i++)
            ok = types->items[i]->kind == CTXPAR_JSON_STRING &&
                 strcmp(types->items[i]->string, "CogVideoXDownBlock3D") == 0;
        if (!ok)
            return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                                "%s: down_block_types must be %d x \"CogVideoXDownBlock3D\" (one "
                                "per entry of block_out_channels)",
                                source, vae->n_stages);
    }
    /* the clip size CogVideoX was trained on (480 rows of 720) */
    config->video_default.resize_width = 720;
    config->video_default.resize_height = 480;
    vae->mid_blocks = 2;
    vae->first_frame_alone = 1;
    vae->down_pad_end = 1;
    config->has_transformer = 0;
    return CTXPAR_OK;
}

const ctxpar_family ctxpar_family_cogvideox_vae = {
    .name = "cogvideox-vae",
    .id_key = "_class_name",
    .id_value = "AutoencoderKLCogVideoX",
    .weights_file = "diffusion_pytorch_model.safetensors",
    .repo_subfolder = "vae",
    .keys = cogvideox_keys,
    .n_keys = sizeof cogvideox_keys / sizeof cogvideox_keys[0],
    .tensors = cogvideox_tensors,
    .n_tensors = sizeof cogvideox_tensors / sizeof cogvideox_tensors[0],
    .ignored_prefixes = cogvideox_ignored,
    .finish = cogvideox_finish,
};
