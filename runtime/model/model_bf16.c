/* Packing the bf16 GEMM's weights once per node (see model_bf16.h). The list
 * of packed ops is one function, walked by the size query and the packing
 * alike, so the plan's number and the buffer cannot drift apart. */
#include "runtime/model/model_bf16.h"

#include <stdlib.h>

/* One op on the bf16 GEMM: its weight [out][in] and where its pointer goes. */
typedef struct packed_op {
    ctxpar_op *op; /* NULL while sizing from a config alone */
    int64_t in, out;
} packed_op;

/* The packed ops of a config, in buffer order; returns how many (at most max
 * written to list; ops taken from model when it is given). */
static int packed_ops(const ctxpar_model_config *config, ctxpar_model *model, packed_op *list,
                      int max) {
    if (!config->has_transformer) return 0;
    const int64_t d = config->transformer.dim, f = ctxpar_config_mlp_dim(config);
    const int64_t f1 = ctxpar_config_fc1_out(config);
    const ctxpar_transformer_config *tf = &config->transformer;
    int n = 0;
    /* the embedding: a tubelet's or a latent patch's input vector */
    const int64_t embed_in = tf->embed == CTXPAR_EMBED_TUBELET
                                 ? 3 * (int64_t)tf->tubelet * tf->patch * tf->patch
                                 : (int64_t)tf->patch * tf->patch * config->vae.latent_channels;
    if (n < max) list[n] = (packed_op){model ? &model->ops.embed : NULL, embed_in, d};
    n++;
    for (int l = 0; l < config->transformer.layers; l++) {
        ctxpar_block_ops *b = model ? &model->ops.blocks[l] : NULL;
        const packed_op ops[4] = {{b ? &b->qkv : NULL, d, 3 * d},
                                  {b ? &b->proj : NULL, d, d},
                                  {b ? &b->fc1 : NULL, d, f1},
                                  {b ? &b->fc2 : NULL, f, d}};
        for (int i = 0; i < 4; i++, n++)
            if (n < max) list[n] = ops[i];
    }
    if (tf->merge > 0) {
        const int64_t width = (int64_t)tf->merge * tf->merge * d;
        ctxpar_model_ops *ops = model ? &model->ops : NULL;
        if (n < max) list[n] = (packed_op){ops ? &ops->merger_fc1 : NULL, width, width};
        n++;
        if (n < max) list[n] = (packed_op){ops ? &ops->merger_fc2 : NULL, width, tf->out_dim};
        n++;
    }
    return n;
}

int64_t ctxpar_model_bf16_packed_bytes(const ctxpar_model_config *config) {
    const int n = packed_ops(config, NULL, NULL, 0);
    packed_op *list = malloc(sizeof *list * (size_t)(n > 0 ? n : 1));
    if (!list) return 0;
    packed_ops(config, NULL, list, n);
    int64_t values = 0;
    for (int i = 0; i < n; i++) values += ctxpar_bf16_packed_count(list[i].in, list[i].out);
    free(list);
    return values * (int64_t)sizeof(ctxpar_bf16);
}

ctxpar_status ctxpar_model_pack_bf16(ctxpar_comm_t comm, ctxpar_model *model) {
    const int n = packed_ops(&model->config, model, NULL, 0);
    packed_op *list = malloc(sizeof *list * (size_t)(n > 0 ? n : 1));
    model->packed_buffer = calloc(1, sizeof *model->packed_buffer);
    ctxpar_status status = list && model->packed_buffer
                               ? CTXPAR_OK
                               : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    status = ctxpar_comm_agree(comm, status);
    if (status != CTXPAR_OK) {
        free(list);
        return status;
    }
    packed_ops(&model->config, model, list, n);
    int64_t bytes = 0;
    for (int i = 0; i < n; i++)
        bytes += ctxpar_bf16_packed_count(list[i].in, list[i].out) * (int64_t)sizeof(ctxpar_bf16);
    status = ctxpar_comm_agree(comm, ctxpar_comm_node_alloc(comm, bytes, model->packed_buffer));
    if (status == CTXPAR_OK) {
        ctxpar_bf16 *at = model->packed_buffer->data;
        const int me = ctxpar_comm_local_rank(comm), ranks = ctxpar_comm_local_size(comm);
        for (int i = 0; i < n; i++) {
            if (i % ranks == me)
                ctxpar_bf16_pack_transposed(at, list[i].op->weight, list[i].in, list[i].out);
            list[i].op->packed = at;
            at += ctxpar_bf16_packed_count(list[i].in, list[i].out);
        }
        status = ctxpar_comm_agree(comm, ctxpar_comm_node_sync(comm, model->packed_buffer));
    }
    free(list);
    return status;
}
