/* --dtype bf16: the weights the bf16 GEMM reads are held only packed, once
 * per node (docs/bf16.md): the patch or tubelet embedding, the
 * transformer's linears (qkv, proj, fc1, fc2 of every block, the merger's)
 * as B panels, and every VAE conv as the implicit GEMM's A rows
 * (conv_bf16.h). They live in a second node-shared buffer, each op that has
 * one points at it (ctxpar_op.packed), and the float32 blob keeps only the
 * rest (norms, biases): a bf16 run holds fewer bytes of weights than a
 * float32 run. Each is packed as it is loaded (ctxpar_model_fill_end), so
 * no float32 copy of them exists beyond one tensor at a time.
 *
 * Every GEMM of a bf16 run is then the bf16 GEMM, whose per-element result
 * is independent of the matrix sizes (so of the rank count and chunking). */
#pragma once
#include <stdint.h>

#include "runtime/model/config.h"
#include "runtime/model/model.h"

/* On a laid-out model (no data yet; a load hook's moment): mark the weights
 * held packed, give each its place in the packed buffer (packed_values) and
 * place the rest in the blob (blob_floats). */
ctxpar_status ctxpar_model_bf16_prepare(ctxpar_model *layout);

/* A bf16 run's weights, per node, from the config alone (what the plan
 * counts): the float32 blob a float32 run would hold, the packed buffer, and
 * the float32 blob a bf16 run keeps beside it. */
typedef struct ctxpar_bf16_sizes {
    int64_t float32_bytes; /* the whole float32 blob of a float32 run */
    int64_t packed_bytes;  /* the packed weights (0 when nothing is packed) */
    int64_t kept_bytes;    /* the float32 blob without the packed weights */
    int64_t load_bytes;    /* per loading rank: one packed weight in float32 */
} ctxpar_bf16_sizes;
ctxpar_status ctxpar_model_bf16_sizes(const ctxpar_model_config *config, ctxpar_bf16_sizes *out);
