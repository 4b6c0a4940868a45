/* The model's weights: one contiguous float32 blob (so a broadcast is one
 * call and the allocator counts it once) with a table of named tensors in the
 * layout of docs/design.md section 4 ("vae/stages/0/res/0/conv1/weight", ...).
 * The tensor list is derived from the config alone, so writing, reading and
 * validating a file all walk the same list, and a missing tensor or a wrong
 * shape is found by name before any compute starts. Under --dtype bf16 the
 * GEMM weights live instead in a second buffer, packed as they load
 * (model_bf16.h); the table still names them. */
#pragma once
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"
#include "kernels/cpu/gemm_bf16.h"
#include "runtime/model/config.h"

#define CTXPAR_TENSOR_NAME_MAX 96

/* How a weight is held under --dtype bf16 (model_bf16.h): in the float32
 * blob, or only packed for the bf16 GEMM, as a linear's B panels or a
 * conv's A rows. */
typedef enum ctxpar_weight_packing {
    CTXPAR_PACK_NONE,
    CTXPAR_PACK_LINEAR, /* [out][in...]: ctxpar_bf16_pack_transposed, in = count / out */
    CTXPAR_PACK_CONV,   /* [cout][cin][kt][kh][kw]: ctxpar_cpu_conv_bf16_pack_weight */
    CTXPAR_PACK_ROWS    /* [out][in...] bf16, read in place from the checkpoint's mapping */
} ctxpar_weight_packing;

typedef struct ctxpar_weight {
    char name[CTXPAR_TENSOR_NAME_MAX];
    int ndim;
    int64_t shape[5];
    int64_t count;  /* product of shape */
    int64_t offset; /* in floats, into the blob; -1 for a packed weight */
    ctxpar_weight_packing packing;
    int64_t packed_offset; /* in bf16 values, into the packed buffer (LINEAR, CONV) */
    ctxpar_bf16_rows rows; /* CTXPAR_PACK_ROWS: the rows in this rank's mapping, once loaded */
} ctxpar_weight;

/* One op's parameters (a weight, and a bias except where the layout has
 * none: bias NULL), resolved once
 * when the blob exists, so the stages never look a tensor up by name. */
typedef struct ctxpar_op {
    char name[CTXPAR_TENSOR_NAME_MAX]; /* "vae/stages/0/res/0/conv1" */
    const float *weight, *bias;
    /* --dtype bf16: the weight packed for the bf16 GEMM (model_bf16.h);
     * NULL in a float32 run and for ops that do not run on it */
    const ctxpar_bf16 *packed;
    /* --dtype bf16, a bf16 checkpoint: the weight's rows read in place
     * (CTXPAR_PACK_ROWS); NULL otherwise. packed and rows: one at most. */
    const ctxpar_bf16_rows *rows;
} ctxpar_op;

/* Whether the op runs on the bf16 GEMM. */
static inline int ctxpar_op_is_bf16(const ctxpar_op *op) { return op->packed || op->rows; }

typedef struct ctxpar_resblock_ops {
    char name[CTXPAR_TENSOR_NAME_MAX]; /* "vae/stages/0/res/0" */
    ctxpar_op norm1, conv1, norm2, conv2;
    ctxpar_op skip; /* weight NULL: the shortcut is the identity */
} ctxpar_resblock_ops;

typedef struct ctxpar_block_ops {
    ctxpar_op norm1, qkv, proj, norm2, fc1, fc2;
} ctxpar_block_ops;

/* Every op of the model description, by role. Arrays are owned by the model. */
typedef struct ctxpar_model_ops {
    ctxpar_op vae_conv_in;
    ctxpar_resblock_ops *vae_res;     /* [n_stages][res_blocks] */
    ctxpar_op vae_down[CTXPAR_MAX_STAGES]; /* after stage i < n_stages - 1 */
    ctxpar_resblock_ops *vae_mid;     /* [mid_blocks] */
    ctxpar_op vae_norm_out, vae_conv_out;
    ctxpar_op embed;
    ctxpar_block_ops *blocks;         /* [layers] */
    ctxpar_op norm_out;
    ctxpar_op merger_norm, merger_fc1, merger_fc2; /* config.transformer.merge > 0 */
} ctxpar_model_ops;

typedef struct ctxpar_model {
    ctxpar_model_config config;
    int n_tensors;
    ctxpar_weight *tensors;
    float *blob; /* own memory (counted under CTXPAR_MEM_MODEL), or the node buffer's */
    int64_t blob_floats;
    ctxpar_node_buffer *node_buffer; /* non-NULL: blob is shared by the node's ranks */
    char *source_config; /* a family folder's config.json text (NULL for built-in models) */
    int weights_half;    /* the checkpoint stores weights in bf16 or f16 (--dtype auto) */
    int64_t packed_values;             /* --dtype bf16: size of the packed buffer (bf16) */
    ctxpar_node_buffer *packed_buffer; /* --dtype bf16: the packed weights, one per node */
    /* --dtype bf16: the checkpoint, kept mapped while weights are read in
     * place from it (CTXPAR_PACK_ROWS); closed by ctxpar_model_free */
    struct ctxpar_safetensors *checkpoint;
    int64_t in_place_values; /* bf16 values read in place, all such weights */
    ctxpar_model_ops ops; /* bound to the blob when it is allocated */
} ctxpar_model;

/* Called by every loader on every rank once the model is laid out (its
 * config and weights_half known) and before any weight is allocated: it
 * decides how the weights are held. The pipeline's hook resolves --dtype
 * and, for bf16, marks the weights to hold packed only
 * (ctxpar_model_bf16_prepare). A NULL hook: every weight in float32. */
typedef struct ctxpar_load_hook {
    ctxpar_status (*laid_out)(void *user, ctxpar_model *layout);
    void *user;
} ctxpar_load_hook;

/* Run the hook, if any, and agree on its status. */
ctxpar_status ctxpar_model_run_hook(ctxpar_comm_t comm, const ctxpar_load_hook *hook,
                                    ctxpar_model *layout);

/* The tensor table for a config (no data): n_tensors, tensors, blob_floats set. */
ctxpar_status ctxpar_model_layout(const ctxpar_model_config *config, ctxpar_model **out);

/* Seeded initialisation: weights scaled by 1/sqrt(fan_in); norm weights near
 * 1 and biases small but never exactly 1 or 0, so a kernel that ignores a
 * parameter fails its tests. Same (config, seed) -> same values everywhere. */
ctxpar_status ctxpar_model_create_seeded(const ctxpar_model_config *config, uint64_t seed,
                                         ctxpar_model **out);

/* Collective: the same seeded weights, generated once per node into a
 * node-shared buffer (what a run uses; the function above serves tests and
 * init-model). */
ctxpar_status ctxpar_model_create_seeded_shared(ctxpar_comm_t comm,
                                                const ctxpar_model_config *config, uint64_t seed,
                                                const ctxpar_load_hook *hook, ctxpar_model **out);

/* Allocate the blob of a laid-out model in this rank's own memory. Both
 * allocators bind model->ops to the blob. */
ctxpar_status ctxpar_model_alloc_blob(ctxpar_model *model);
/* Collective: allocate the blob of a laid-out model in a node-shared buffer
 * (and, when some weights are held packed, the packed buffer beside it);
 * the node's ranks fill them, then ctxpar_model_publish syncs both. */
ctxpar_status ctxpar_model_alloc_shared(ctxpar_comm_t comm, ctxpar_model *model);
ctxpar_status ctxpar_model_publish(ctxpar_comm_t comm, ctxpar_model *model);

/* Filling tensor t, whatever holds it: write its count floats at
 * ctxpar_model_fill_begin's pointer (the blob, or `scratch` for a packed
 * weight: at least ctxpar_model_scratch_floats floats), then call
 * ctxpar_model_fill_end, which packs a packed weight into the packed buffer.
 * So a bf16 run's linears and convs never exist in float32 beyond one
 * tensor at a time. */
int64_t ctxpar_model_scratch_floats(const ctxpar_model *model);
float *ctxpar_model_fill_begin(ctxpar_model *model, int t, float *scratch);
void ctxpar_model_fill_end(ctxpar_model *model, int t, const float *data);
/* A packed weight (a linear's or a conv's) may instead come as bf16 values (a
 * checkpoint's own, count of them at `scratch`), packed without a float32 copy:
 * ctxpar_model_packs_from_bf16 says whether tensor t takes that route, and
 * ctxpar_model_fill_end_bf16 packs it, to the same bits as
 * ctxpar_model_fill_end on the values widened to float32. */
int ctxpar_model_packs_from_bf16(const ctxpar_model *model, int t);
void ctxpar_model_fill_end_bf16(ctxpar_model *model, int t, const ctxpar_bf16 *data);
/* The packed size of a weight in bf16 values, from its packing and shape
 * (0 when it is not packed): what ctxpar_model_fill_end writes. */
int64_t ctxpar_weight_packed_values(const ctxpar_weight *w);

/* The blob's size in floats with each tensor in its current place (packed
 * ones left out), the layout's alignment; sets every kept tensor's offset. */
int64_t ctxpar_model_place_tensors(ctxpar_model *model);


/* Resblock j of VAE stage i, and of the mid block. */
static inline const ctxpar_resblock_ops *ctxpar_model_stage_res(const ctxpar_model *model, int i,
                                                                int j) {
    return &model->ops.vae_res[i * model->config.vae.res_blocks + j];
}

/* The tensor's data, or NULL if no tensor has that name (tests, binding). */
const float *ctxpar_model_tensor(const ctxpar_model *model, const char *name);
/* Same, formatted name: ctxpar_model_tensorf(m, "vae/stages/%d/down/weight", i). */
const float *ctxpar_model_tensorf(const ctxpar_model *model, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int64_t ctxpar_model_parameter_count(const ctxpar_model *model);
void ctxpar_model_free(ctxpar_model *model);
