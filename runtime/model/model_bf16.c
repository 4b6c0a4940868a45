/* Which weights a --dtype bf16 run holds packed for the bf16 GEMM (see
 * model_bf16.h): one list of op names, walked by the preparation that both
 * the plan (on its layout) and the loaders (through their hook) run, so the
 * plan's numbers and the buffers cannot drift apart. The packing itself happens as each tensor is loaded
 * (ctxpar_model_fill_end, model.c). */
#include "runtime/model/model_bf16.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/gemm_bf16.h"

/* One packed op: its name, and how its weight is packed. */
typedef struct packed_op {
    char name[CTXPAR_TENSOR_NAME_MAX];
    ctxpar_weight_packing packing;
} packed_op;

static void put(packed_op *list, int max, int *n, ctxpar_weight_packing packing,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void put(packed_op *list, int max, int *n, ctxpar_weight_packing packing,
                const char *fmt, ...) {
    if (*n < max) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(list[*n].name, sizeof list[*n].name, fmt, ap);
        va_end(ap);
        list[*n].packing = packing;
    }
    (*n)++;
}

/* The packed ops of a config, in buffer order: the VAE's convs in the
 * layout's order (model.c), then the embedding, the blocks' linears and the
 * merger's. Returns how many (at most max written to list). */
static int packed_ops(const ctxpar_model_config *config, packed_op *list, int max) {
    int n = 0;
    if (config->has_vae) {
        const ctxpar_vae_config *vae = &config->vae;
        put(list, max, &n, CTXPAR_PACK_CONV, "vae/conv_in");
        for (int i = 0; i < vae->n_stages; i++) {
            for (int j = 0; j < vae->res_blocks; j++) {
                const int64_t cin = j == 0 ? (i == 0 ? vae->channels[0] : vae->channels[i - 1])
                                           : vae->channels[i];
                put(list, max, &n, CTXPAR_PACK_CONV, "vae/stages/%d/res/%d/conv1", i, j);
                put(list, max, &n, CTXPAR_PACK_CONV, "vae/stages/%d/res/%d/conv2", i, j);
                if (cin != vae->channels[i])
                    put(list, max, &n, CTXPAR_PACK_CONV, "vae/stages/%d/res/%d/skip", i, j);
            }
            if (i < vae->n_stages - 1)
                put(list, max, &n, CTXPAR_PACK_CONV, "vae/stages/%d/down", i);
        }
        for (int j = 0; j < vae->mid_blocks; j++) {
            /* the mid block's prefix: "vae/mid" alone, else "vae/mid/res/<j>" (model.c) */
            if (vae->mid_blocks == 1) {
                put(list, max, &n, CTXPAR_PACK_CONV, "vae/mid/conv1");
                put(list, max, &n, CTXPAR_PACK_CONV, "vae/mid/conv2");
            } else {
                put(list, max, &n, CTXPAR_PACK_CONV, "vae/mid/res/%d/conv1", j);
                put(list, max, &n, CTXPAR_PACK_CONV, "vae/mid/res/%d/conv2", j);
            }
        }
        put(list, max, &n, CTXPAR_PACK_CONV, "vae/conv_out");
    }
    if (config->has_transformer) {
        put(list, max, &n, CTXPAR_PACK_LINEAR, "embed");
        for (int l = 0; l < config->transformer.layers; l++) {
            put(list, max, &n, CTXPAR_PACK_LINEAR, "blocks/%d/attn/qkv", l);
            put(list, max, &n, CTXPAR_PACK_LINEAR, "blocks/%d/attn/proj", l);
            put(list, max, &n, CTXPAR_PACK_LINEAR, "blocks/%d/mlp/fc1", l);
            put(list, max, &n, CTXPAR_PACK_LINEAR, "blocks/%d/mlp/fc2", l);
        }
        if (config->transformer.merge > 0) {
            put(list, max, &n, CTXPAR_PACK_LINEAR, "merger/fc1");
            put(list, max, &n, CTXPAR_PACK_LINEAR, "merger/fc2");
        }
    }
    return n;
}

/* A linear read in place: the checkpoint is bf16 (its rows are what the GEMM
 * reads, config.h), the reduction even (a row's last pair must not run
 * into the next row), and the GEMM runs on VDPBF16PS, whose bits equal the
 * packed weight's (gemm_bf16_rows.c; the AMX tiles keep the packed layout,
 * which is what their path was measured and tested with). */
static int linear_in_place(const ctxpar_model *layout, const ctxpar_weight *w) {
    return layout->config.checkpoint_bf16 && (w->count / w->shape[0]) % 2 == 0 &&
           !strcmp(ctxpar_cpu_gemm_bf16_path(), "avx512bf16");
}

ctxpar_status ctxpar_model_bf16_prepare(ctxpar_model *layout) {
    const int n = packed_ops(&layout->config, NULL, 0);
    packed_op *list = malloc(sizeof *list * (size_t)(n > 0 ? n : 1));
    if (!list) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory listing packed weights");
    packed_ops(&layout->config, list, n);
    ctxpar_status status = CTXPAR_OK;
    int64_t at = 0, in_place = 0;
    for (int i = 0; i < n && status == CTXPAR_OK; i++) {
        char name[CTXPAR_TENSOR_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s/weight", list[i].name);
        int t = 0;
        while (t < layout->n_tensors && strcmp(layout->tensors[t].name, name) != 0) t++;
        if (t == layout->n_tensors) {
            status = ctxpar_error(CTXPAR_ERR_FORMAT, "model has no tensor %s to pack", name);
            break;
        }
        ctxpar_weight *w = &layout->tensors[t];
        w->packing = list[i].packing;
        if (w->packing == CTXPAR_PACK_LINEAR && linear_in_place(layout, w)) {
            w->packing = CTXPAR_PACK_ROWS;
            in_place += w->count;
            continue;
        }
        w->packed_offset = at;
        at += ctxpar_weight_packed_values(w);
    }
    free(list);
    if (status != CTXPAR_OK) return status;
    layout->packed_values = at;
    layout->in_place_values = in_place;
    ctxpar_model_place_tensors(layout);
    return CTXPAR_OK;
}
