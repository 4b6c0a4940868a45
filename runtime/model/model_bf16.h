/* --dtype bf16: the weights the bf16 GEMM reads, converted and packed once
 * per node (docs/bf16.md). The packed copies live in a second node-shared
 * buffer and each op that has one points at it (ctxpar_op.packed); the
 * float32 blob then keeps everything else (norms, biases, every op that runs
 * in float32) and loses the packed ops' float32 weights, so the weights of a
 * bf16 run take less memory than a float32 run's, not more.
 *
 * Which ops: the patch or tubelet embedding and the transformer's linears
 * (qkv, proj, fc1, fc2 of every block, the merger's), which hold almost all
 * of a ViT's weights and FLOPs, and every VAE conv (as the implicit GEMM's
 * A rows, conv_bf16.h); every GEMM of a bf16 run is then the bf16 GEMM,
 * whose per-element result is independent of the matrix sizes (so of the
 * rank count and the chunking). */
#pragma once
#include <stdint.h>

#include "comm/comm.h"
#include "runtime/model/config.h"
#include "runtime/model/model.h"

/* A bf16 run's weights, per node, from the config alone (what the plan
 * counts). Setup holds float32 + packed, then briefly + kept while the kept
 * tensors move; the run holds kept + packed. */
typedef struct ctxpar_bf16_sizes {
    int64_t float32_bytes; /* the whole float32 blob, as loaded */
    int64_t packed_bytes;  /* the packed copies (0 when nothing is packed) */
    int64_t kept_bytes;    /* the float32 blob without the packed ops' weights */
} ctxpar_bf16_sizes;
ctxpar_status ctxpar_model_bf16_sizes(const ctxpar_model_config *config, ctxpar_bf16_sizes *out);

/* Collective over all ranks, on a node-shared model: allocate the packed
 * node buffer, let the node's ranks pack their share of the ops in parallel
 * (op i goes to local rank i mod the node's rank count), publish it, drop
 * the packed ops' float32 weights from the blob (ctxpar_model_drop_tensors),
 * and set every packed op's pointer. */
ctxpar_status ctxpar_model_pack_bf16(ctxpar_comm_t comm, ctxpar_model *model);
