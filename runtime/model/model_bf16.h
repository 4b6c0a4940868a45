/* --dtype bf16: the weights the bf16 GEMM reads, converted and packed once
 * per node (docs/bf16.md). The float32 blob stays as it is (norms, biases and
 * every op that runs in float32 read it); the packed copies live in a second
 * node-shared buffer and each op that has one points at it (ctxpar_op.packed).
 *
 * Which ops: the patch or tubelet embedding and the transformer's linears
 * (qkv, proj, fc1, fc2 of every block), which hold almost all of a ViT's
 * weights and FLOPs; every GEMM of a bf16 run is then the bf16 GEMM, whose
 * per-row result is independent of the row count (so of the rank count).
 * The VAE's convs run in float32 for now. */
#pragma once
#include <stdint.h>

#include "comm/comm.h"
#include "runtime/model/config.h"
#include "runtime/model/model.h"

/* Bytes of packed weights for a config (0 when nothing would be packed); the
 * plan counts them once per node like the float32 blob. */
int64_t ctxpar_model_bf16_packed_bytes(const ctxpar_model_config *config);

/* Collective over all ranks: allocate the node buffer, let the node's ranks
 * pack their share of the ops in parallel (op i goes to local rank i mod the
 * node's rank count), publish it, and set every packed op's pointer. */
ctxpar_status ctxpar_model_pack_bf16(ctxpar_comm_t comm, ctxpar_model *model);
