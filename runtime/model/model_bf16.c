/* Packing the bf16 GEMM's weights once per node (see model_bf16.h): the
 * linears as B panels, the VAE's convs as A rows (conv_bf16.h). The list
 * of packed ops is one function, walked by the size query, the packing and
 * the dropping of the float32 copies alike, so the plan's numbers and the
 * buffers cannot drift apart. */
#include "runtime/model/model_bf16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/conv_bf16.h"

/* One op on the bf16 GEMM: its name, its weight (a linear's [out][in], or a
 * conv's [out][in][kt][kh][kw] when kt > 0), and where its packed pointer
 * goes. */
typedef struct packed_op {
    char name[CTXPAR_TENSOR_NAME_MAX];
    ctxpar_op *op; /* NULL while sizing from a config alone */
    int64_t in, out;
    int kt, kh, kw; /* a conv's kernel; kt == 0 for a linear */
} packed_op;

static void put(packed_op *list, int max, int *n, ctxpar_op *op, int64_t in, int64_t out,
                const char *name) {
    if (*n < max) {
        list[*n] = (packed_op){.op = op, .in = in, .out = out};
        snprintf(list[*n].name, sizeof list[*n].name, "%s", name);
    }
    (*n)++;
}

static void put_conv(packed_op *list, int max, int *n, ctxpar_op *op, int64_t in, int64_t out,
                     int kt, int kh, int kw, const char *name) {
    if (*n < max) {
        list[*n] = (packed_op){.op = op, .in = in, .out = out, .kt = kt, .kh = kh, .kw = kw};
        snprintf(list[*n].name, sizeof list[*n].name, "%s", name);
    }
    (*n)++;
}

/* The packed size of one op, in bf16 values. */
static int64_t packed_values(const packed_op *p) {
    return p->kt > 0 ? ctxpar_cpu_conv_bf16_weight_values(p->in, p->out, p->kt, p->kh, p->kw)
                     : ctxpar_bf16_packed_count(p->in, p->out);
}

/* The VAE's convs, in the layout's order (model.c): conv_in, each stage's
 * resblocks (conv1, conv2, the 1x1 shortcut where channels change) and its
 * downsample, the mid blocks, conv_out. */
static void vae_convs(const ctxpar_model_config *config, ctxpar_model *model, packed_op *list,
                      int max, int *n) {
    const ctxpar_vae_config *vae = &config->vae;
    ctxpar_model_ops *ops = model ? &model->ops : NULL;
    const int64_t c0 = vae->channels[0], c_last = vae->channels[vae->n_stages - 1];
    char name[CTXPAR_TENSOR_NAME_MAX];
    put_conv(list, max, n, ops ? &ops->vae_conv_in : NULL, 3, c0, 3, 3, 3, "vae/conv_in");
    for (int i = 0; i < vae->n_stages + 1; i++) {
        const int mid = i == vae->n_stages;
        const int blocks = mid ? vae->mid_blocks : vae->res_blocks;
        for (int j = 0; j < blocks; j++) {
            const int64_t cout = mid ? c_last : vae->channels[i];
            const int64_t cin = mid || j > 0 ? cout : i == 0 ? c0 : vae->channels[i - 1];
            ctxpar_resblock_ops *r = !ops ? NULL
                                     : mid ? &ops->vae_mid[j]
                                           : &ops->vae_res[i * vae->res_blocks + j];
            char prefix[48]; /* "vae/stages/<i>/res/<j>" */
            if (!mid)
                snprintf(prefix, sizeof prefix, "vae/stages/%d/res/%d", i, j);
            else if (vae->mid_blocks == 1)
                snprintf(prefix, sizeof prefix, "vae/mid");
            else
                snprintf(prefix, sizeof prefix, "vae/mid/res/%d", j);
            snprintf(name, sizeof name, "%s/conv1", prefix);
            put_conv(list, max, n, r ? &r->conv1 : NULL, cin, cout, 3, 3, 3, name);
            snprintf(name, sizeof name, "%s/conv2", prefix);
            put_conv(list, max, n, r ? &r->conv2 : NULL, cout, cout, 3, 3, 3, name);
            if (cin != cout) {
                snprintf(name, sizeof name, "%s/skip", prefix);
                put_conv(list, max, n, r ? &r->skip : NULL, cin, cout, 1, 1, 1, name);
            }
        }
        if (!mid && i < vae->n_stages - 1) {
            snprintf(name, sizeof name, "vae/stages/%d/down", i);
            put_conv(list, max, n, ops ? &ops->vae_down[i] : NULL, vae->channels[i],
                     vae->channels[i], 1, 3, 3, name);
        }
    }
    put_conv(list, max, n, ops ? &ops->vae_conv_out : NULL, c_last, 2 * (int64_t)vae->latent_channels,
             3, 3, 3, "vae/conv_out");
}

/* The packed ops of a config, in buffer order; returns how many (at most max
 * written to list; ops taken from model when it is given). */
static int packed_ops(const ctxpar_model_config *config, ctxpar_model *model, packed_op *list,
                      int max) {
    int n = 0;
    if (config->has_vae) vae_convs(config, model, list, max, &n);
    if (!config->has_transformer) return n;
    const int64_t d = config->transformer.dim, f = ctxpar_config_mlp_dim(config);
    const int64_t f1 = ctxpar_config_fc1_out(config);
    const ctxpar_transformer_config *tf = &config->transformer;
    /* the embedding: a tubelet's or a latent patch's input vector */
    const int64_t embed_in = tf->embed == CTXPAR_EMBED_TUBELET
                                 ? 3 * (int64_t)tf->tubelet * tf->patch * tf->patch
                                 : (int64_t)tf->patch * tf->patch * config->vae.latent_channels;
    ctxpar_model_ops *ops = model ? &model->ops : NULL;
    put(list, max, &n, ops ? &ops->embed : NULL, embed_in, d, "embed");
    for (int l = 0; l < tf->layers; l++) {
        ctxpar_block_ops *b = ops ? &ops->blocks[l] : NULL;
        char name[CTXPAR_TENSOR_NAME_MAX];
        snprintf(name, sizeof name, "blocks/%d/attn/qkv", l);
        put(list, max, &n, b ? &b->qkv : NULL, d, 3 * d, name);
        snprintf(name, sizeof name, "blocks/%d/attn/proj", l);
        put(list, max, &n, b ? &b->proj : NULL, d, d, name);
        snprintf(name, sizeof name, "blocks/%d/mlp/fc1", l);
        put(list, max, &n, b ? &b->fc1 : NULL, d, f1, name);
        snprintf(name, sizeof name, "blocks/%d/mlp/fc2", l);
        put(list, max, &n, b ? &b->fc2 : NULL, f, d, name);
    }
    if (tf->merge > 0) {
        const int64_t width = (int64_t)tf->merge * tf->merge * d;
        put(list, max, &n, ops ? &ops->merger_fc1 : NULL, width, width, "merger/fc1");
        put(list, max, &n, ops ? &ops->merger_fc2 : NULL, width, tf->out_dim, "merger/fc2");
    }
    return n;
}

/* The list, allocated (NULL and *n = -1 when out of memory). */
static packed_op *packed_list(const ctxpar_model_config *config, ctxpar_model *model, int *n) {
    *n = packed_ops(config, model, NULL, 0);
    packed_op *list = malloc(sizeof *list * (size_t)(*n > 0 ? *n : 1));
    if (!list) {
        *n = -1;
        return NULL;
    }
    packed_ops(config, model, list, *n);
    return list;
}

/* drop[t] = 1 for tensor t of the layout that is a packed op's weight. */
static void mark_packed_weights(const ctxpar_model *layout, const packed_op *list, int n,
                                unsigned char *drop) {
    for (int t = 0; t < layout->n_tensors; t++) {
        drop[t] = 0;
        for (int i = 0; i < n; i++) {
            const size_t len = strlen(list[i].name);
            if (strncmp(layout->tensors[t].name, list[i].name, len) == 0 &&
                strcmp(layout->tensors[t].name + len, "/weight") == 0)
                drop[t] = 1;
        }
    }
}

static int64_t list_packed_bytes(const packed_op *list, int n) {
    int64_t values = 0;
    for (int i = 0; i < n; i++) values += packed_values(&list[i]);
    return values * (int64_t)sizeof(ctxpar_bf16);
}

ctxpar_status ctxpar_model_bf16_sizes(const ctxpar_model_config *config, ctxpar_bf16_sizes *out) {
    memset(out, 0, sizeof *out);
    ctxpar_model *layout = NULL;
    CTXPAR_TRY(ctxpar_model_layout(config, &layout));
    int n = 0;
    packed_op *list = packed_list(config, NULL, &n);
    unsigned char *drop = calloc((size_t)layout->n_tensors + 1, 1);
    ctxpar_status status = CTXPAR_OK;
    if (!list || !drop) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory sizing the packed weights");
    } else {
        mark_packed_weights(layout, list, n, drop);
        out->float32_bytes = layout->blob_floats * (int64_t)sizeof(float);
        out->packed_bytes = list_packed_bytes(list, n);
        out->kept_bytes = ctxpar_model_kept_floats(layout, drop) * (int64_t)sizeof(float);
    }
    free(drop);
    free(list);
    ctxpar_model_free(layout);
    return status;
}

/* Point every packed op at its place in the packed buffer. */
static void bind_packed(ctxpar_model *model, const packed_op *list, int n) {
    const ctxpar_bf16 *at = model->packed_buffer->data;
    for (int i = 0; i < n; i++) {
        list[i].op->packed = at;
        at += packed_values(&list[i]);
    }
}

ctxpar_status ctxpar_model_pack_bf16(ctxpar_comm_t comm, ctxpar_model *model) {
    int n = 0;
    packed_op *list = packed_list(&model->config, model, &n);
    unsigned char *drop = calloc((size_t)model->n_tensors + 1, 1);
    model->packed_buffer = calloc(1, sizeof *model->packed_buffer);
    ctxpar_status status = list && drop && model->packed_buffer
                               ? CTXPAR_OK
                               : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    status = ctxpar_comm_agree(comm, status);
    if (status != CTXPAR_OK) goto done;
    status = ctxpar_comm_agree(
        comm, ctxpar_comm_node_alloc(comm, list_packed_bytes(list, n), model->packed_buffer));
    if (status != CTXPAR_OK) goto done;
    ctxpar_bf16 *at = model->packed_buffer->data;
    const int me = ctxpar_comm_local_rank(comm), ranks = ctxpar_comm_local_size(comm);
    for (int i = 0; i < n; i++) {
        if (i % ranks == me && list[i].kt > 0)
            ctxpar_cpu_conv_bf16_pack_weight(at, list[i].op->weight, list[i].in, list[i].out,
                                             list[i].kt, list[i].kh, list[i].kw);
        else if (i % ranks == me)
            ctxpar_bf16_pack_transposed(at, list[i].op->weight, list[i].in, list[i].out);
        at += packed_values(&list[i]);
    }
    status = ctxpar_comm_agree(comm, ctxpar_comm_node_sync(comm, model->packed_buffer));
    if (status != CTXPAR_OK) goto done;
    /* The float32 copies of the packed weights are read no more: drop them,
     * so a bf16 run holds less than a float32 one, not more. Dropping
     * rebinds the ops (new arrays), so the list is walked again after it. */
    mark_packed_weights(model, list, n, drop);
    status = ctxpar_model_drop_tensors(comm, model, drop);
    if (status == CTXPAR_OK) {
        packed_ops(&model->config, model, list, n);
        bind_packed(model, list, n);
    }
done:
    free(drop);
    free(list);
    return status;
}
