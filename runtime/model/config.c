/* Model configuration: presets, validation and the JSON form stored in every
 * model and features file. Reading is strict (unknown keys, wrong types and
 * non-integers are errors that name the key), because a config that silently
 * drops a field would build a model of a different shape than the file's. */
#include "runtime/model/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/formats/json.h"

/* Merge defaults shared by all presets (placeholders until tuned on real runs). */
#define CTXPAR_DEFAULT_SPATIAL_THRESHOLD 0.98
#define CTXPAR_DEFAULT_TEMPORAL_THRESHOLD 0.999
#define CTXPAR_DEFAULT_MERGE_LEVELS 2

typedef struct preset {
    const char *name;
    int n_stages;
    int channels[CTXPAR_MAX_STAGES];
    int res_blocks;
    int temporal_down[CTXPAR_MAX_STAGES - 1];
    int groups, latent_channels;
    int patch, dim, heads, layers;
} preset;

static const preset presets[] = {
    {"tiny", 3, {16, 32, 32}, 1, {1, 1}, 8, 8, 2, 64, 2, 2},
    {"small", 4, {32, 64, 128, 128}, 1, {1, 1, 0}, 8, 16, 2, 256, 4, 4},
    {"base", 4, {128, 256, 256, 512}, 2, {1, 1, 0}, 32, 16, 2, 1024, 16, 24},
};

/* "tiny, small, base" */
static const char *preset_names(void) { return "tiny, small, base"; }

void ctxpar_config_builtin_defaults(ctxpar_model_config *config) {
    snprintf(config->family, sizeof config->family, "ctxpar");
    config->has_vae = 1;
    config->has_transformer = 1;
    for (int c = 0; c < 3; c++) config->pixel_mean[c] = config->pixel_std[c] = 0.5;
    config->transformer.norm_eps = 1e-6;
    config->scaling.scaling_factor = 1.0;
    config->scaling.invert_scale_latents = -1;
    config->vae.mid_blocks = 1;
    config->vae.first_frame_alone = 0;
    config->vae.down_pad_end = 0;
    config->vae.norm_eps = 1e-6;
    config->merge.spatial_threshold = CTXPAR_DEFAULT_SPATIAL_THRESHOLD;
    config->merge.temporal_threshold = CTXPAR_DEFAULT_TEMPORAL_THRESHOLD;
    config->merge.levels = CTXPAR_DEFAULT_MERGE_LEVELS;
    config->merge.rule = CTXPAR_MERGE_QUADTREE;
    config->merge.root_level = 1;
}

ctxpar_status ctxpar_config_preset(const char *name, ctxpar_model_config *out) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        const preset *p = &presets[i];
        if (!name || strcmp(name, p->name) != 0) continue;
        memset(out, 0, sizeof *out);
        ctxpar_config_builtin_defaults(out);
        out->vae.n_stages = p->n_stages;
        memcpy(out->vae.channels, p->channels, sizeof p->channels);
        out->vae.res_blocks = p->res_blocks;
        memcpy(out->vae.temporal_down, p->temporal_down, sizeof p->temporal_down);
        out->vae.groups = p->groups;
        out->vae.latent_channels = p->latent_channels;
        out->transformer.patch = p->patch;
        out->transformer.dim = p->dim;
        out->transformer.heads = p->heads;
        out->transformer.layers = p->layers;
        return CTXPAR_OK;
    }
    return ctxpar_error(CTXPAR_ERR_ARGUMENT, "unknown preset '%s' (choose one of: %s)",
                        name ? name : "(null)", preset_names());
}

static ctxpar_status validate_transformer(const ctxpar_model_config *config, const char *src);

ctxpar_status ctxpar_config_validate(const ctxpar_model_config *config, const char *source) {
    const char *src = source ? source : "config";
    const ctxpar_vae_config *vae = &config->vae;
    if (!config->has_vae) return validate_transformer(config, src);
    if (vae->n_stages < 1 || vae->n_stages > CTXPAR_MAX_STAGES)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: vae.channels has %d stages, expected 1 to %d", src,
                            vae->n_stages, CTXPAR_MAX_STAGES);
    if (vae->groups < 1)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: vae.groups is %d, expected at least 1", src,
                            vae->groups);
    for (int i = 0; i < vae->n_stages; i++) {
        if (vae->channels[i] < 1)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "%s: vae.channels[%d] is %d, expected a positive count", src, i,
                                vae->channels[i]);
        if (vae->channels[i] % vae->groups != 0)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "%s: vae.channels[%d] = %d is not divisible by vae.groups = %d "
                                "(GroupNorm needs whole groups)",
                                src, i, vae->channels[i], vae->groups);
    }
    for (int i = 0; i + 1 < vae->n_stages; i++)
        if (vae->temporal_down[i] != 0 && vae->temporal_down[i] != 1)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "%s: vae.temporal_down[%d] is %d, expected 0 or 1", src, i,
                                vae->temporal_down[i]);
    if (vae->res_blocks < 1)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: vae.res_blocks is %d, expected at least 1 per stage", src,
                            vae->res_blocks);
    if (vae->latent_channels < 1)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: vae.latent_channels is %d, expected a positive count", src,
                            vae->latent_channels);
    if (vae->mid_blocks < 1)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: the mid block has %d ResBlocks, expected at least 1",
                            src, vae->mid_blocks);
    if (!(vae->norm_eps > 0) || !isfinite(vae->norm_eps))
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: GroupNorm eps is %g, expected a positive number",
                            src, vae->norm_eps);
    return validate_transformer(config, src);
}

static ctxpar_status validate_transformer(const ctxpar_model_config *config, const char *src) {
    const ctxpar_transformer_config *tf = &config->transformer;
    const ctxpar_merge_config *merge = &config->merge;
    if (!config->has_transformer) return CTXPAR_OK;
    if (!config->has_vae && (tf->embed != CTXPAR_EMBED_TUBELET || tf->tubelet < 1))
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: a model without a VAE needs a tubelet embedding of at least 1 "
                            "frame", src);
    if (tf->patch < 1)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: transformer.patch is %d, expected at least 1",
                            src, tf->patch);
    if (tf->dim < 1 || tf->heads < 1)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: transformer.dim = %d and transformer.heads = %d must be positive",
                            src, tf->dim, tf->heads);
    if (tf->dim % tf->heads != 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: transformer.dim = %d is not divisible by transformer.heads = %d",
                            src, tf->dim, tf->heads);
    if ((tf->dim / tf->heads) % 16 != 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: head dim = dim/heads = %d/%d = %d, expected a multiple of 16 "
                            "(attention and RoPE work on blocks of 16)",
                            src, tf->dim, tf->heads, tf->dim / tf->heads);
    if (tf->layers < 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: transformer.layers is %d, expected 0 or more",
                            src, tf->layers);
    if (tf->merge < 0 || (tf->merge > 0 && tf->out_dim < 1))
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: patch merger of %d x %d tokens to width %d: expected a positive "
                            "merge size and output width",
                            src, tf->merge, tf->merge, tf->out_dim);
    if (tf->window < 0 || (tf->window > 0 && tf->span != CTXPAR_ATTENTION_FRAME))
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: window attention of %d tokens needs per-frame attention", src,
                            tf->window);
    if (tf->window > 0 && tf->layers > 64)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: %d layers with window attention: at most 64 are supported", src,
                            tf->layers);
    if (merge->levels < 0 || merge->levels > 30)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: merge.levels is %d, expected 0 to 30", src,
                            merge->levels);
    if (!isfinite(merge->spatial_threshold) || !isfinite(merge->temporal_threshold))
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: merge thresholds must be finite numbers (a value >= 1 disables "
                            "that merge step)",
                            src);
    return CTXPAR_OK;
}

void ctxpar_config_write_json(ctxpar_json_writer *w, const ctxpar_model_config *config) {
    const ctxpar_vae_config *vae = &config->vae;
    const ctxpar_transformer_config *tf = &config->transformer;
    ctxpar_json_object_begin(w);
    ctxpar_json_key(w, "vae");
    ctxpar_json_object_begin(w);
    ctxpar_json_key(w, "channels");
    ctxpar_json_array_begin(w);
    for (int i = 0; i < vae->n_stages; i++) ctxpar_json_int(w, vae->channels[i]);
    ctxpar_json_array_end(w);
    ctxpar_json_put_int(w, "res_blocks", vae->res_blocks);
    ctxpar_json_key(w, "temporal_down");
    ctxpar_json_array_begin(w);
    for (int i = 0; i + 1 < vae->n_stages; i++) ctxpar_json_int(w, vae->temporal_down[i]);
    ctxpar_json_array_end(w);
    ctxpar_json_put_int(w, "groups", vae->groups);
    ctxpar_json_put_int(w, "latent_channels", vae->latent_channels);
    ctxpar_json_object_end(w);
    ctxpar_json_key(w, "transformer");
    ctxpar_json_object_begin(w);
    ctxpar_json_put_int(w, "patch", tf->patch);
    ctxpar_json_put_int(w, "dim", tf->dim);
    ctxpar_json_put_int(w, "heads", tf->heads);
    ctxpar_json_put_int(w, "layers", tf->layers);
    ctxpar_json_object_end(w);
    ctxpar_json_key(w, "merge");
    ctxpar_json_object_begin(w);
    ctxpar_json_put_double(w, "spatial_threshold", config->merge.spatial_threshold);
    ctxpar_json_put_double(w, "temporal_threshold", config->merge.temporal_threshold);
    ctxpar_json_put_int(w, "levels", config->merge.levels);
    ctxpar_json_object_end(w);
    ctxpar_json_object_end(w);
}

int ctxpar_config_to_json(const ctxpar_model_config *config, char *buf, size_t cap) {
    ctxpar_json_writer w;
    ctxpar_json_writer_init(&w);
    ctxpar_config_write_json(&w, config);
    char *text = ctxpar_json_writer_take(&w);
    if (!text) {
        if (buf && cap) buf[0] = '\0';
        return -1;
    }
    int len = (int)strlen(text);
    if (buf && cap) snprintf(buf, cap, "%s", text);
    free(text);
    return len;
}

/* ---- reading ---- */

typedef struct reader {
    const char *source;
} reader;

static ctxpar_status expect_kind(const reader *r, const ctxpar_json *v, const char *key,
                                 ctxpar_json_kind kind) {
    if (v->kind != kind)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: config key %s is %s (line %d, column %d), expected %s", r->source,
                            key, ctxpar_json_kind_name(v->kind), v->line, v->column,
                            ctxpar_json_kind_name(kind));
    return CTXPAR_OK;
}

static ctxpar_status read_int(const reader *r, const ctxpar_json *v, const char *key, int *out) {
    CTXPAR_TRY(expect_kind(r, v, key, CTXPAR_JSON_NUMBER));
    if (v->number != floor(v->number) || fabs(v->number) > 1e9)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: config key %s is %g (line %d, column %d), expected an integer",
                            r->source, key, v->number, v->line, v->column);
    *out = (int)v->number;
    return CTXPAR_OK;
}

static ctxpar_status read_int_array(const reader *r, const ctxpar_json *v, const char *key,
                                    int max_items, int *out, int *n_out) {
    CTXPAR_TRY(expect_kind(r, v, key, CTXPAR_JSON_ARRAY));
    if (v->n_items > max_items)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: config key %s has %d entries, at most %d allowed",
                            r->source, key, v->n_items, max_items);
    for (int i = 0; i < v->n_items; i++) {
        char item_key[64];
        snprintf(item_key, sizeof item_key, "%s[%d]", key, i);
        CTXPAR_TRY(read_int(r, v->items[i], item_key, &out[i]));
    }
    *n_out = v->n_items;
    return CTXPAR_OK;
}

/* Every key of `object` must be one of `allowed`; every one of `required` present. */
static ctxpar_status check_keys(const reader *r, const ctxpar_json *object, const char *where,
                                const char *const *allowed, int n_allowed, int n_required) {
    for (int i = 0; i < object->n_items; i++) {
        int known = 0;
        for (int k = 0; k < n_allowed; k++) known |= strcmp(object->keys[i], allowed[k]) == 0;
        if (!known) {
            char list[256] = "";
            for (int k = 0; k < n_allowed; k++) {
                strncat(list, k ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, allowed[k], sizeof list - strlen(list) - 1);
            }
            return ctxpar_error(CTXPAR_ERR_FORMAT,
                                "%s: unknown config key %s%s%s (line %d, column %d); %s takes: %s",
                                r->source, where, *where ? "." : "", object->keys[i],
                                object->items[i]->line, object->items[i]->column,
                                *where ? where : "the top level", list);
        }
    }
    for (int k = 0; k < n_required; k++)
        if (!ctxpar_json_get(object, allowed[k]))
            return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: config has no key %s%s%s", r->source,
                                where, *where ? "." : "", allowed[k]);
    return CTXPAR_OK;
}

ctxpar_status ctxpar_config_from_json(const char *json, ctxpar_model_config *out,
                                      const char *source) {
    reader r = {source ? source : "config"};
    ctxpar_json *root = NULL;
    ctxpar_model_config config;
    memset(&config, 0, sizeof config);
    ctxpar_config_builtin_defaults(&config);
    ctxpar_status status = ctxpar_json_parse(json, r.source, &root);
    if (status != CTXPAR_OK) return status;

    static const char *const top_keys[] = {"vae", "transformer", "merge"};
    static const char *const vae_keys[] = {"channels", "res_blocks", "temporal_down", "groups",
                                           "latent_channels"};
    static const char *const tf_keys[] = {"patch", "dim", "heads", "layers"};
    static const char *const merge_keys[] = {"spatial_threshold", "temporal_threshold", "levels"};

    CTXPAR_TRY_GOTO(expect_kind(&r, root, "(the document)", CTXPAR_JSON_OBJECT));
    /* "merge" is optional: a converted checkpoint may only carry the network. */
    CTXPAR_TRY_GOTO(check_keys(&r, root, "", top_keys, 3, 2));

    const ctxpar_json *vae = ctxpar_json_get(root, "vae");
    CTXPAR_TRY_GOTO(expect_kind(&r, vae, "vae", CTXPAR_JSON_OBJECT));
    CTXPAR_TRY_GOTO(check_keys(&r, vae, "vae", vae_keys, 5, 5));
    int n_down = 0;
    CTXPAR_TRY_GOTO(read_int_array(&r, ctxpar_json_get(vae, "channels"), "vae.channels",
                                   CTXPAR_MAX_STAGES, config.vae.channels, &config.vae.n_stages));
    CTXPAR_TRY_GOTO(read_int_array(&r, ctxpar_json_get(vae, "temporal_down"), "vae.temporal_down",
                                   CTXPAR_MAX_STAGES - 1, config.vae.temporal_down, &n_down));
    if (config.vae.n_stages >= 1 && n_down != config.vae.n_stages - 1) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: vae.temporal_down has %d entries, expected %d (one per stage "
                              "boundary: len(vae.channels) - 1)",
                              r.source, n_down, config.vae.n_stages - 1);
        goto fail;
    }
    CTXPAR_TRY_GOTO(read_int(&r, ctxpar_json_get(vae, "res_blocks"), "vae.res_blocks",
                             &config.vae.res_blocks));
    CTXPAR_TRY_GOTO(read_int(&r, ctxpar_json_get(vae, "groups"), "vae.groups", &config.vae.groups));
    CTXPAR_TRY_GOTO(read_int(&r, ctxpar_json_get(vae, "latent_channels"), "vae.latent_channels",
                             &config.vae.latent_channels));

    const ctxpar_json *tf = ctxpar_json_get(root, "transformer");
    CTXPAR_TRY_GOTO(expect_kind(&r, tf, "transformer", CTXPAR_JSON_OBJECT));
    CTXPAR_TRY_GOTO(check_keys(&r, tf, "transformer", tf_keys, 4, 4));
    CTXPAR_TRY_GOTO(read_int(&r, ctxpar_json_get(tf, "patch"), "transformer.patch",
                             &config.transformer.patch));
    CTXPAR_TRY_GOTO(read_int(&r, ctxpar_json_get(tf, "dim"), "transformer.dim",
                             &config.transformer.dim));
    CTXPAR_TRY_GOTO(read_int(&r, ctxpar_json_get(tf, "heads"), "transformer.heads",
                             &config.transformer.heads));
    CTXPAR_TRY_GOTO(read_int(&r, ctxpar_json_get(tf, "layers"), "transformer.layers",
                             &config.transformer.layers));

    const ctxpar_json *merge = ctxpar_json_get(root, "merge");
    if (merge) {
        CTXPAR_TRY_GOTO(expect_kind(&r, merge, "merge", CTXPAR_JSON_OBJECT));
        CTXPAR_TRY_GOTO(check_keys(&r, merge, "merge", merge_keys, 3, 0));
        const ctxpar_json *v;
        if ((v = ctxpar_json_get(merge, "spatial_threshold"))) {
            CTXPAR_TRY_GOTO(expect_kind(&r, v, "merge.spatial_threshold", CTXPAR_JSON_NUMBER));
            config.merge.spatial_threshold = v->number;
        }
        if ((v = ctxpar_json_get(merge, "temporal_threshold"))) {
            CTXPAR_TRY_GOTO(expect_kind(&r, v, "merge.temporal_threshold", CTXPAR_JSON_NUMBER));
            config.merge.temporal_threshold = v->number;
        }
        if ((v = ctxpar_json_get(merge, "levels")))
            CTXPAR_TRY_GOTO(read_int(&r, v, "merge.levels", &config.merge.levels));
    }
    CTXPAR_TRY_GOTO(ctxpar_config_validate(&config, r.source));
    *out = config;
    status = CTXPAR_OK;
fail:
    ctxpar_json_free(root);
    return status;
}

int ctxpar_config_mlp_dim(const ctxpar_model_config *config) {
    return config->transformer.mlp_dim > 0 ? config->transformer.mlp_dim
                                           : 4 * config->transformer.dim;
}

int ctxpar_config_fc1_out(const ctxpar_model_config *config) {
    const int f = ctxpar_config_mlp_dim(config);
    return config->transformer.mlp == CTXPAR_MLP_GATED_SILU ? 2 * f : f;
}

int ctxpar_config_output_dim(const ctxpar_model_config *config) {
    return config->transformer.merge > 0 ? config->transformer.out_dim : config->transformer.dim;
}

int ctxpar_config_output_merge(const ctxpar_model_config *config) {
    return config->transformer.merge > 0 ? config->transformer.merge : 1;
}

int ctxpar_config_temporal_compression(const ctxpar_model_config *config) {
    if (!config->has_vae) return config->transformer.tubelet;
    int c_t = 1;
    for (int i = 0; i + 1 < config->vae.n_stages; i++)
        if (config->vae.temporal_down[i]) c_t *= 2;
    return c_t;
}

int ctxpar_config_first_unit_frames(const ctxpar_model_config *config) {
    return config->has_vae && config->vae.first_frame_alone ? 1 : ctxpar_config_temporal_compression(config);
}

int ctxpar_config_spatial_compression(const ctxpar_model_config *config) {
    if (!config->has_vae) return 1;
    return config->vae.n_stages >= 1 ? 1 << (config->vae.n_stages - 1) : 1;
}
