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
 * A bf16 checkpoint's linears are not even copied: on the VDPBF16PS path
 * the GEMM reads their rows where the checkpoint's mapping holds them
 * (CTXPAR_PACK_ROWS, ctxpar_op.rows; gemm_bf16_rows.c), so the page cache is
 * the node's one copy and setup packs nothing for them (docs/bf16.md).
 *
 * Every GEMM of a bf16 run is then the bf16 GEMM, whose per-element result
 * is independent of the matrix sizes (so of the rank count and chunking). */
#pragma once
#include <stdint.h>

#include "runtime/model/config.h"
#include "runtime/model/model.h"

/* On a laid-out model (no data yet; a load hook's moment): mark the weights
 * held packed or read in place (in_place_values), give each packed one its
 * place in the packed buffer (packed_values) and place the rest in the blob
 * (blob_floats). */
ctxpar_status ctxpar_model_bf16_prepare(ctxpar_model *layout);
