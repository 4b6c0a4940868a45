/* Model weights: the tensor table (derived from the config alone), the
 * blob that holds them (own memory or one node-shared copy), and seeded
 * initialisation. Files that hold weights are read elsewhere: the ctxpar
 * model file in model_file.c, released models' folders in families/. */
#include "runtime/model/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/conv_bf16.h"
#include "runtime/core/memory.h"
#include "runtime/formats/safetensors.h"

/* Tensors start on 64-byte boundaries inside the blob, so kernels may use
 * aligned vector loads on any weight. */
#define MODEL_TENSOR_ALIGN_FLOATS 16

/* The op prefix of mid-block ResBlock j: "vae/mid" when the model has one
 * (the built-in layout), "vae/mid/res/<j>" otherwise. */
static void mid_prefix(const ctxpar_model_config *config, int j, char *out, size_t cap) {
    if (config->vae.mid_blocks == 1)
        snprintf(out, cap, "vae/mid");
    else
        snprintf(out, cap, "vae/mid/res/%d", j);
}

/* ---- layout ---- */

typedef struct layout_builder {
    ctxpar_model *model;
    int capacity;
    ctxpar_status status;
} layout_builder;

static void add_tensor(layout_builder *b, const char *op, const char *param, int ndim,
                       const int64_t *shape) {
    if (b->status != CTXPAR_OK) return;
    ctxpar_model *m = b->model;
    if (m->n_tensors == b->capacity) {
        int capacity = b->capacity ? 2 * b->capacity : 64;
        ctxpar_weight *grown = realloc(m->tensors, sizeof *grown * (size_t)capacity);
        if (!grown) {
            b->status =
                ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory building the tensor table");
            return;
        }
        m->tensors = grown;
        b->capacity = capacity;
    }
    ctxpar_weight *w = &m->tensors[m->n_tensors++];
    memset(w, 0, sizeof *w);
    if (snprintf(w->name, sizeof w->name, "%s/%s", op, param) >= (int)sizeof w->name) {
        b->status = ctxpar_error(CTXPAR_ERR_ARGUMENT, "tensor name %s/%s is too long", op, param);
        return;
    }
    w->ndim = ndim;
    w->count = 1;
    for (int i = 0; i < ndim; i++) {
        w->shape[i] = shape[i];
        w->count *= shape[i];
    }
}

/* An op with weight of the given shape and a bias of [shape[0]]. */
static void add_op(layout_builder *b, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_op(layout_builder *b, int ndim, const int64_t *shape, const char *fmt, ...) {
    char op[CTXPAR_TENSOR_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op, sizeof op, fmt, ap);
    va_end(ap);
    add_tensor(b, op, "weight", ndim, shape);
    add_tensor(b, op, "bias", 1, shape);
}

/* The same, with a bias only when has_bias (Qwen's embedding, RMSNorms). */
static void add_op_bias(layout_builder *b, int has_bias, int ndim, const int64_t *shape,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_op_bias(layout_builder *b, int has_bias, int ndim, const int64_t *shape,
                        const char *fmt, ...) {
    char op[CTXPAR_TENSOR_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op, sizeof op, fmt, ap);
    va_end(ap);
    add_tensor(b, op, "weight", ndim, shape);
    if (has_bias) add_tensor(b, op, "bias", 1, shape);
}

static void add_norm(layout_builder *b, int64_t channels, const char *op) {
    add_op(b, 1, (int64_t[]){channels}, "%s", op);
}

static void add_conv(layout_builder *b, int64_t cout, int64_t cin, int64_t kt, int64_t kh,
                     int64_t kw, const char *op) {
    add_op(b, 5, (int64_t[]){cout, cin, kt, kh, kw}, "%s", op);
}

static void add_resblock(layout_builder *b, const char *prefix, int64_t cin, int64_t cout) {
    char op[CTXPAR_TENSOR_NAME_MAX];
    snprintf(op, sizeof op, "%s/norm1", prefix);
    add_norm(b, cin, op);
    snprintf(op, sizeof op, "%s/conv1", prefix);
    add_conv(b, cout, cin, 3, 3, 3, op);
    snprintf(op, sizeof op, "%s/norm2", prefix);
    add_norm(b, cout, op);
    snprintf(op, sizeof op, "%s/conv2", prefix);
    add_conv(b, cout, cout, 3, 3, 3, op);
    if (cin != cout) {
        snprintf(op, sizeof op, "%s/skip", prefix);
        add_conv(b, cout, cin, 1, 1, 1, op);
    }
}

ctxpar_status ctxpar_model_layout(const ctxpar_model_config *config, ctxpar_model **out) {
    *out = NULL;
    CTXPAR_TRY(ctxpar_config_validate(config, "model config"));
    ctxpar_model *m = calloc(1, sizeof *m);
    if (!m) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory creating the model");
    m->config = *config;
    layout_builder b = {m, 0, CTXPAR_OK};
    const ctxpar_vae_config *vae = &config->vae;
    const ctxpar_transformer_config *tf = &config->transformer;
    const int64_t c0 = vae->channels[0];
    const int64_t c_last = vae->n_stages > 0 ? vae->channels[vae->n_stages - 1] : 0;

    if (!config->has_vae) goto transformer;
    add_conv(&b, c0, 3, 3, 3, 3, "vae/conv_in");
    for (int i = 0; i < vae->n_stages; i++) {
        for (int j = 0; j < vae->res_blocks; j++) {
            int64_t cin = j == 0 ? (i == 0 ? c0 : vae->channels[i - 1]) : vae->channels[i];
            char prefix[CTXPAR_TENSOR_NAME_MAX];
            snprintf(prefix, sizeof prefix, "vae/stages/%d/res/%d", i, j);
            add_resblock(&b, prefix, cin, vae->channels[i]);
        }
        if (i < vae->n_stages - 1) {
            const int64_t ci = vae->channels[i];
            add_op(&b, 5, (int64_t[]){ci, ci, 1, 3, 3}, "vae/stages/%d/down", i);
        }
    }
    for (int j = 0; j < vae->mid_blocks; j++) {
        char prefix[CTXPAR_TENSOR_NAME_MAX];
        mid_prefix(config, j, prefix, sizeof prefix);
        add_resblock(&b, prefix, c_last, c_last);
    }
    add_norm(&b, c_last, "vae/norm_out");
    add_conv(&b, 2 * (int64_t)vae->latent_channels, c_last, 3, 3, 3, "vae/conv_out");

transformer:;
    const int64_t d = config->has_transformer ? tf->dim : 0, f = ctxpar_config_fc1_out(config);
    const int64_t f_in = ctxpar_config_mlp_dim(config);
    const int64_t p = tf->patch;
    if (!config->has_transformer) goto done;
    if (tf->embed == CTXPAR_EMBED_TUBELET)
        add_op_bias(&b, !tf->embed_without_bias, 5, (int64_t[]){d, 3, tf->tubelet, p, p}, "embed");
    else
        add_op(&b, 2, (int64_t[]){d, p * p * vae->latent_channels}, "embed");
    /* an RMSNorm has a weight and no bias */
    const int norm_bias = tf->norm == CTXPAR_TOKEN_NORM_LAYER;
    for (int l = 0; l < tf->layers; l++) {
        add_op_bias(&b, norm_bias, 1, (int64_t[]){d}, "blocks/%d/norm1", l);
        add_op_bias(&b, norm_bias, 1, (int64_t[]){d}, "blocks/%d/norm2", l);
        add_op(&b, 2, (int64_t[]){3 * d, d}, "blocks/%d/attn/qkv", l);
        add_op(&b, 2, (int64_t[]){d, d}, "blocks/%d/attn/proj", l);
        add_op(&b, 2, (int64_t[]){f, d}, "blocks/%d/mlp/fc1", l);
        add_op(&b, 2, (int64_t[]){d, f_in}, "blocks/%d/mlp/fc2", l);
    }
    if (tf->merge > 0) {
        const int64_t width = (int64_t)tf->merge * tf->merge * d;
        add_op_bias(&b, norm_bias, 1, (int64_t[]){d}, "merger/norm");
        add_op(&b, 2, (int64_t[]){width, width}, "merger/fc1");
        add_op(&b, 2, (int64_t[]){tf->out_dim, width}, "merger/fc2");
    } else {
        add_norm(&b, d, "norm_out");
    }
done:
    if (b.status != CTXPAR_OK) {
        ctxpar_model_free(m);
        return b.status;
    }
    ctxpar_model_place_tensors(m);
    *out = m;
    return CTXPAR_OK;
}


/* ---- ops: every op resolved once, by role ---- */

/* The op named by fmt: its weight, and its bias (NULL where the layout has
 * none; an error when need_bias says it must have one). */
static int tensor_index(const ctxpar_model *m, const char *name);

static ctxpar_status bind_named(const ctxpar_model *m, ctxpar_op *op, int need_bias,
                                const char *fmt, va_list ap) {
    vsnprintf(op->name, sizeof op->name, fmt, ap);
    op->bias = ctxpar_model_tensorf(m, "%s/bias", op->name);
    /* the weight is in the blob, or (packed) only in the packed buffer */
    char weight_name[CTXPAR_TENSOR_NAME_MAX + 8];
    snprintf(weight_name, sizeof weight_name, "%s/weight", op->name);
    const int w = tensor_index(m, weight_name);
    const int packed = w >= 0 && m->tensors[w].packing != CTXPAR_PACK_NONE;
    const int in_place = packed && m->tensors[w].packing == CTXPAR_PACK_ROWS;
    op->weight = w >= 0 && !packed ? m->blob + m->tensors[w].offset : NULL;
    op->packed = packed && !in_place && m->packed_buffer
                     ? (const ctxpar_bf16 *)m->packed_buffer->data + m->tensors[w].packed_offset
                     : NULL;
    /* filled in when the checkpoint is mapped (ctxpar_family_fill_blob) */
    op->rows = in_place ? &m->tensors[w].rows : NULL;
    if ((!op->weight && !packed) || (need_bias && !op->bias))
        return ctxpar_error(CTXPAR_ERR_FORMAT, "model has no op %s (its layout and its ops differ)",
                            op->name);
    return CTXPAR_OK;
}

static ctxpar_status bind_op(const ctxpar_model *m, ctxpar_op *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ctxpar_status bind_op(const ctxpar_model *m, ctxpar_op *op, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ctxpar_status status = bind_named(m, op, 1, fmt, ap);
    va_end(ap);
    return status;
}

/* An op whose bias the layout may leave out (Qwen's embedding, RMSNorms). */
static ctxpar_status bind_op_weight(const ctxpar_model *m, ctxpar_op *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ctxpar_status bind_op_weight(const ctxpar_model *m, ctxpar_op *op, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ctxpar_status status = bind_named(m, op, 0, fmt, ap);
    va_end(ap);
    return status;
}

static ctxpar_status bind_resblock(const ctxpar_model *m, ctxpar_resblock_ops *r, int has_skip) {
    CTXPAR_TRY(bind_op(m, &r->norm1, "%s/norm1", r->name));
    CTXPAR_TRY(bind_op(m, &r->conv1, "%s/conv1", r->name));
    CTXPAR_TRY(bind_op(m, &r->norm2, "%s/norm2", r->name));
    CTXPAR_TRY(bind_op(m, &r->conv2, "%s/conv2", r->name));
    if (has_skip) CTXPAR_TRY(bind_op(m, &r->skip, "%s/skip", r->name));
    return CTXPAR_OK;
}

static void ops_free(ctxpar_model_ops *ops) {
    free(ops->vae_res);
    free(ops->vae_mid);
    free(ops->blocks);
    memset(ops, 0, sizeof *ops);
}

/* The same walk as ctxpar_model_layout, by role instead of by name. */
static ctxpar_status model_bind(ctxpar_model *m) {
    const ctxpar_model_config *config = &m->config;
    const ctxpar_vae_config *vae = &config->vae;
    ctxpar_model_ops *ops = &m->ops;
    ops_free(ops);
    if (config->has_vae) {
        ops->vae_res = calloc((size_t)(vae->n_stages * vae->res_blocks) + 1, sizeof *ops->vae_res);
        ops->vae_mid = calloc((size_t)vae->mid_blocks + 1, sizeof *ops->vae_mid);
        if (!ops->vae_res || !ops->vae_mid) goto no_memory;
        CTXPAR_TRY(bind_op(m, &ops->vae_conv_in, "vae/conv_in"));
        for (int i = 0; i < vae->n_stages; i++) {
            for (int j = 0; j < vae->res_blocks; j++) {
                ctxpar_resblock_ops *r = &ops->vae_res[i * vae->res_blocks + j];
                int64_t cin = j == 0 ? vae->channels[i > 0 ? i - 1 : 0] : vae->channels[i];
                snprintf(r->name, sizeof r->name, "vae/stages/%d/res/%d", i, j);
                CTXPAR_TRY(bind_resblock(m, r, cin != vae->channels[i]));
            }
            if (i < vae->n_stages - 1)
                CTXPAR_TRY(bind_op(m, &ops->vae_down[i], "vae/stages/%d/down", i));
        }
        for (int j = 0; j < vae->mid_blocks; j++) {
            mid_prefix(config, j, ops->vae_mid[j].name, sizeof ops->vae_mid[j].name);
            CTXPAR_TRY(bind_resblock(m, &ops->vae_mid[j], 0));
        }
        CTXPAR_TRY(bind_op(m, &ops->vae_norm_out, "vae/norm_out"));
        CTXPAR_TRY(bind_op(m, &ops->vae_conv_out, "vae/conv_out"));
    }
    if (config->has_transformer) {
        const int layers = config->transformer.layers;
        ops->blocks = calloc((size_t)layers + 1, sizeof *ops->blocks);
        if (!ops->blocks) goto no_memory;
        CTXPAR_TRY(bind_op_weight(m, &ops->embed, "embed"));
        for (int l = 0; l < layers; l++) {
            ctxpar_block_ops *b = &ops->blocks[l];
            CTXPAR_TRY(bind_op_weight(m, &b->norm1, "blocks/%d/norm1", l));
            CTXPAR_TRY(bind_op(m, &b->qkv, "blocks/%d/attn/qkv", l));
            CTXPAR_TRY(bind_op(m, &b->proj, "blocks/%d/attn/proj", l));
            CTXPAR_TRY(bind_op_weight(m, &b->norm2, "blocks/%d/norm2", l));
            CTXPAR_TRY(bind_op(m, &b->fc1, "blocks/%d/mlp/fc1", l));
            CTXPAR_TRY(bind_op(m, &b->fc2, "blocks/%d/mlp/fc2", l));
        }
        if (config->transformer.merge > 0) {
            CTXPAR_TRY(bind_op_weight(m, &ops->merger_norm, "merger/norm"));
            CTXPAR_TRY(bind_op(m, &ops->merger_fc1, "merger/fc1"));
            CTXPAR_TRY(bind_op(m, &ops->merger_fc2, "merger/fc2"));
        } else {
            CTXPAR_TRY(bind_op(m, &ops->norm_out, "norm_out"));
        }
    }
    return CTXPAR_OK;
no_memory:
    return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory binding the model's ops");
}

ctxpar_status ctxpar_model_alloc_blob(ctxpar_model *m) {
    if (m->packed_values > 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "packed weights need a node-shared model");
    CTXPAR_TRY(
        ctxpar_mem_alloc_floats(&m->blob, m->blob_floats, CTXPAR_MEM_MODEL, "model weights"));
    return model_bind(m);
}

ctxpar_status ctxpar_model_alloc_shared(ctxpar_comm_t comm, ctxpar_model *m) {
    m->node_buffer = calloc(1, sizeof *m->node_buffer);
    ctxpar_status status = m->node_buffer ? CTXPAR_OK
                                          : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    status = ctxpar_comm_agree(comm, status);
    if (status != CTXPAR_OK) return status;
    CTXPAR_TRY(ctxpar_comm_node_alloc(comm, m->blob_floats * (int64_t)sizeof(float),
                                      m->node_buffer));
    m->blob = m->node_buffer->data;
    if (m->packed_values > 0) {
        m->packed_buffer = calloc(1, sizeof *m->packed_buffer);
        status = ctxpar_comm_agree(
            comm, m->packed_buffer ? CTXPAR_OK : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory"));
        if (status != CTXPAR_OK) return status;
        CTXPAR_TRY(ctxpar_comm_node_alloc(comm, m->packed_values * (int64_t)sizeof(ctxpar_bf16),
                                          m->packed_buffer));
    }
    return ctxpar_comm_agree(comm, model_bind(m));
}

ctxpar_status ctxpar_model_publish(ctxpar_comm_t comm, ctxpar_model *m) {
    CTXPAR_TRY(ctxpar_comm_node_sync(comm, m->node_buffer));
    return m->packed_buffer ? ctxpar_comm_node_sync(comm, m->packed_buffer) : CTXPAR_OK;
}

/* ---- seeded initialisation ---- */

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1), a pure function of (seed, tensor, element): the values
 * do not depend on thread count or on which tensors exist before this one. */
static inline float seeded_uniform(uint64_t tensor_key, uint64_t element) {
    uint64_t z = mix64(tensor_key + (element + 1) * 0x9E3779B97F4A7C15ull);
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

typedef enum init_kind { INIT_MATRIX, INIT_BIAS, INIT_NORM_WEIGHT, INIT_NORM_BIAS } init_kind;

static init_kind tensor_init_kind(const ctxpar_weight *w) {
    const char *last = strrchr(w->name, '/');
    int is_weight = last && strcmp(last, "/weight") == 0;
    /* the op is the path component before /weight or /bias */
    const char *op = w->name;
    for (const char *c = w->name; c < last; c++)
        if (*c == '/') op = c + 1;
    int is_norm = strncmp(op, "norm", 4) == 0;
    if (is_norm) return is_weight ? INIT_NORM_WEIGHT : INIT_NORM_BIAS;
    return is_weight ? INIT_MATRIX : INIT_BIAS;
}

static ctxpar_status fill_seeded(ctxpar_model *m, uint64_t seed) {
    const uint64_t seed_key = mix64(seed ^ 0x5EEDC0DE12345678ull);
    float *scratch = NULL;
    const int64_t scratch_floats = ctxpar_model_scratch_floats(m);
    if (scratch_floats > 0 && !(scratch = malloc(sizeof(float) * (size_t)scratch_floats)))
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory packing the weights");
    for (int t = 0; t < m->n_tensors; t++) {
        const ctxpar_weight *w = &m->tensors[t];
        const uint64_t key = mix64(seed_key + (uint64_t)(t + 1) * 0xD1B54A32D192ED03ull);
        const init_kind kind = tensor_init_kind(w);
        float scale = 0.1f, shift = 0.0f;
        if (kind == INIT_MATRIX) {
            int64_t fan_in = w->shape[0] > 0 ? w->count / w->shape[0] : 1;
            /* uniform(-1,1) has variance 1/3: this gives Var(w) = 1/fan_in. */
            scale = (float)sqrt(3.0 / (double)(fan_in > 0 ? fan_in : 1));
        } else if (kind == INIT_NORM_WEIGHT) {
            scale = 0.2f;
            shift = 1.0f;
        }
        float *data = ctxpar_model_fill_begin(m, t, scratch);
        const int64_t count = w->count;
#pragma omp parallel for schedule(static) if (count > 65536)
        for (int64_t e = 0; e < count; e++)
            data[e] = shift + scale * seeded_uniform(key, (uint64_t)e);
        ctxpar_model_fill_end(m, t, data);
    }
    free(scratch);
    return CTXPAR_OK;
}

ctxpar_status ctxpar_model_create_seeded(const ctxpar_model_config *config, uint64_t seed,
                                         ctxpar_model **out) {
    *out = NULL;
    ctxpar_model *m = NULL;
    CTXPAR_TRY(ctxpar_model_layout(config, &m));
    ctxpar_status status = ctxpar_model_alloc_blob(m);
    if (status == CTXPAR_OK) status = fill_seeded(m, seed);
    if (status != CTXPAR_OK) {
        ctxpar_model_free(m);
        return status;
    }
    *out = m;
    return CTXPAR_OK;
}

ctxpar_status ctxpar_model_run_hook(ctxpar_comm_t comm, const ctxpar_load_hook *hook,
                                    ctxpar_model *layout) {
    if (!hook || !hook->laid_out) return CTXPAR_OK;
    return ctxpar_comm_agree(comm, hook->laid_out(hook->user, layout));
}

ctxpar_status ctxpar_model_create_seeded_shared(ctxpar_comm_t comm,
                                                const ctxpar_model_config *config, uint64_t seed,
                                                const ctxpar_load_hook *hook, ctxpar_model **out) {
    *out = NULL;
    ctxpar_model *m = NULL;
    ctxpar_status status = ctxpar_comm_agree(comm, ctxpar_model_layout(config, &m));
    if (status == CTXPAR_OK) status = ctxpar_model_run_hook(comm, hook, m);
    if (status == CTXPAR_OK) status = ctxpar_model_alloc_shared(comm, m);
    if (status == CTXPAR_OK) {
        if (ctxpar_comm_local_rank(comm) == 0) status = fill_seeded(m, seed);
        status = ctxpar_comm_agree(comm, status);
    }
    if (status == CTXPAR_OK) status = ctxpar_model_publish(comm, m);
    if (status != CTXPAR_OK) {
        ctxpar_model_free(m);
        return status;
    }
    *out = m;
    return CTXPAR_OK;
}

/* ---- placing and filling tensors ---- */

int64_t ctxpar_model_place_tensors(ctxpar_model *m) {
    int64_t floats = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        ctxpar_weight *w = &m->tensors[t];
        if (w->packing != CTXPAR_PACK_NONE) {
            w->offset = -1;
            continue;
        }
        w->offset = (floats + MODEL_TENSOR_ALIGN_FLOATS - 1) / MODEL_TENSOR_ALIGN_FLOATS *
                    MODEL_TENSOR_ALIGN_FLOATS;
        floats = w->offset + w->count;
    }
    m->blob_floats = floats;
    return floats;
}

int64_t ctxpar_model_scratch_floats(const ctxpar_model *m) {
    int64_t most = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].packing != CTXPAR_PACK_NONE &&
            m->tensors[t].packing != CTXPAR_PACK_ROWS && m->tensors[t].count > most)
            most = m->tensors[t].count;
    return most;
}

float *ctxpar_model_fill_begin(ctxpar_model *m, int t, float *scratch) {
    return m->tensors[t].packing == CTXPAR_PACK_NONE ? m->blob + m->tensors[t].offset : scratch;
}

int64_t ctxpar_weight_packed_values(const ctxpar_weight *w) {
    if (w->packing == CTXPAR_PACK_CONV)
        return ctxpar_cpu_conv_bf16_weight_values(w->shape[1], w->shape[0], (int)w->shape[2],
                                                  (int)w->shape[3], (int)w->shape[4]);
    if (w->packing == CTXPAR_PACK_LINEAR)
        return ctxpar_bf16_packed_count(w->count / w->shape[0], w->shape[0]);
    return 0;
}

void ctxpar_model_fill_end(ctxpar_model *m, int t, const float *data) {
    const ctxpar_weight *w = &m->tensors[t];
    ctxpar_bf16 *dst = m->packed_buffer ? (ctxpar_bf16 *)m->packed_buffer->data : NULL;
    if (w->packing == CTXPAR_PACK_NONE || !dst) return;
    dst += w->packed_offset;
    if (w->packing == CTXPAR_PACK_CONV)
        ctxpar_cpu_conv_bf16_pack_weight(dst, data, w->shape[1], w->shape[0], (int)w->shape[2],
                                         (int)w->shape[3], (int)w->shape[4]);
    else
        ctxpar_bf16_pack_transposed(dst, data, w->count / w->shape[0], w->shape[0]);
}

int ctxpar_model_packs_from_bf16(const ctxpar_model *m, int t) {
    return m->packed_buffer && m->tensors[t].packing != CTXPAR_PACK_NONE;
}

void ctxpar_model_fill_end_bf16(ctxpar_model *m, int t, const ctxpar_bf16 *data) {
    const ctxpar_weight *w = &m->tensors[t];
    ctxpar_bf16 *dst = (ctxpar_bf16 *)m->packed_buffer->data + w->packed_offset;
    if (w->packing == CTXPAR_PACK_CONV)
        ctxpar_cpu_conv_bf16_pack_weight_bf16(dst, data, w->shape[1], w->shape[0],
                                              (int)w->shape[2], (int)w->shape[3],
                                              (int)w->shape[4]);
    else
        ctxpar_bf16_pack_transposed_bf16(dst, data, w->count / w->shape[0], w->shape[0]);
}

/* ---- lookup ---- */

static int tensor_index(const ctxpar_model *m, const char *name) {
    for (int t = 0; t < m->n_tensors; t++)
        if (strcmp(m->tensors[t].name, name) == 0) return t;
    return -1;
}

const float *ctxpar_model_tensor(const ctxpar_model *model, const char *name) {
    if (!model || !model->blob || !name) return NULL;
    const int t = tensor_index(model, name);
    return t >= 0 && model->tensors[t].offset >= 0 ? model->blob + model->tensors[t].offset
                                                   : NULL;
}

const float *ctxpar_model_tensorf(const ctxpar_model *model, const char *fmt, ...) {
    char name[CTXPAR_TENSOR_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ctxpar_model_tensor(model, name);
}

int64_t ctxpar_model_parameter_count(const ctxpar_model *model) {
    int64_t total = 0;
    for (int t = 0; t < model->n_tensors; t++) total += model->tensors[t].count;
    return total;
}

void ctxpar_model_free(ctxpar_model *model) {
    if (!model) return;
    ctxpar_safetensors_close(model->checkpoint);
    if (model->node_buffer) {
        ctxpar_comm_node_free(model->node_buffer);
        free(model->node_buffer);
    } else {
        ctxpar_mem_free(model->blob);
    }
    if (model->packed_buffer) {
        ctxpar_comm_node_free(model->packed_buffer);
        free(model->packed_buffer);
    }
    free(model->source_config);
    ops_free(&model->ops);
    free(model->tensors);
    free(model);
}

