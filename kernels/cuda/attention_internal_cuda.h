/* Private interface between the attention launcher (attention.cu: checks,
 * empty key sets, the fp32 path) and the tensor-core path (attention_tc.cu),
 * split in two files so the two instantiation sets compile in parallel. */
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "kernels/cuda/convert_cuda.h"

extern "C" {
#include "base/status.h"
}

/* Tensor-core attention; arguments already checked by ctxpar_cuda_attention
 * (dtype BF16 or FP16, supported head_dim, alignment, n_kv > 0, grid fits). */
ctxpar_status ctxpar_cuda_attention_tc(const void *q, int64_t ldq, const void *k, int64_t ldk,
                                       const void *v, int64_t ldv, ctxpar_cuda_dtype dtype,
                                       float *o, int64_t ldo, float *lse, int64_t n_q, int64_t n_kv,
                                       int heads, int head_dim, float scale, cudaStream_t stream);

/* Query rows per block of the tensor-core path (for the grid-size check). */
constexpr int ctxpar_cuda_attention_tc_block_m = 64;
