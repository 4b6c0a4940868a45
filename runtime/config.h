/* The model's configuration: the numbers that fix every tensor's shape and
 * the merge thresholds. It travels as JSON text in the model file's `config`
 * attribute (DESIGN.md section 4) and in the features file, so a file always
 * says what made it. Presets are the starting points of DESIGN.md section 5. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define CTXPAR_MAX_STAGES 8
#define CTXPAR_MAX_GROUPS 256

typedef struct ctxpar_vae_config {
    int n_stages;                             /* S */
    int channels[CTXPAR_MAX_STAGES];          /* c[0..S-1] */
    int res_blocks;                           /* n */
    int temporal_down[CTXPAR_MAX_STAGES - 1]; /* [0..S-2], 0 or 1 */
    int groups;                               /* G */
    int latent_channels;                      /* z */
} ctxpar_vae_config;

typedef struct ctxpar_transformer_config {
    int patch, dim, heads, layers; /* p, d, h, L */
} ctxpar_transformer_config;

typedef struct ctxpar_merge_config {
    double spatial_threshold, temporal_threshold;
    int levels;
} ctxpar_merge_config;

typedef struct ctxpar_model_config {
    ctxpar_vae_config vae;
    ctxpar_transformer_config transformer;
    ctxpar_merge_config merge;
} ctxpar_model_config;

/* "tiny", "small" or "base"; an unknown name is CTXPAR_ERR_ARGUMENT naming the presets. */
ctxpar_status ctxpar_config_preset(const char *name, ctxpar_model_config *out);
const char *ctxpar_config_preset_names(void); /* "tiny, small, base" */

/* Checks every constraint of DESIGN.md section 2 (channels divisible by groups,
 * dh = d/h a multiple of 16, ...); `source` names where the config came from. */
ctxpar_status ctxpar_config_validate(const ctxpar_model_config *config, const char *source);

/* JSON text of DESIGN.md section 4. Returns the length written (excluding the
 * NUL), or the length needed when cap is too small, like snprintf. */
int ctxpar_config_to_json(const ctxpar_model_config *config, char *buf, size_t cap);
/* Parses that JSON (keys in any order, unknown keys rejected). */
ctxpar_status ctxpar_config_from_json(const char *json, ctxpar_model_config *out,
                                      const char *source);

int ctxpar_config_temporal_compression(const ctxpar_model_config *config); /* c_t */
int ctxpar_config_spatial_compression(const ctxpar_model_config *config);  /* c_s */
