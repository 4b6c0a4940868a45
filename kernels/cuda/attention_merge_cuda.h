/* Launcher of the CUDA log-sum-exp merge (attention_merge.cu); semantics
 * of ctxpar_cpu_attention_merge. */
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"

/* Merge a partial attention result (o_blk, lse_blk) over other keys into
 * (o_acc, lse_acc): o rows [n_q][ld] with head hh at columns hh*head_dim,
 * lse [heads][n_q]. lse_acc = -inf (nothing yet) and lse_blk = -inf (no
 * keys) are handled exactly. */
ctxpar_status ctxpar_cuda_attention_merge(float *o_acc, int64_t ld_acc, float *lse_acc,
                                          const float *o_blk, int64_t ld_blk, const float *lse_blk,
                                          int64_t n_q, int heads, int head_dim,
                                          cudaStream_t stream);
#ifdef __cplusplus
}
#endif
