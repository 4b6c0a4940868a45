/* Launcher of the CUDA attention (attention.cu, attention_tc.cu); the
 * semantics and layouts of ctxpar_cpu_attention:
 *   o = softmax(scale q k^T) v per head, bidirectional,
 *   lse[hh][i] = log sum_j exp(scale q_i.k_j)   (natural log, this call's keys)
 * q, k, v are [n][ld] rows with head hh at columns [hh*head_dim, (hh+1)*head_dim);
 * o likewise (fp32); lse is [heads][n_q] (fp32). n_kv == 0 gives o = 0 and
 * lse = -inf, the neutral element of ctxpar_cuda_attention_merge.
 *
 * Precision (see docs/gpu-kernels.md):
 *   CTXPAR_CUDA_FP32  q/k/v float; CUDA cores, fp32 throughout. Agrees with
 *                     the CPU reference to ~1e-6 relative.
 *   CTXPAR_CUDA_BF16  q/k/v __nv_bfloat16 (convert with ctxpar_cuda_convert_rows);
 *   CTXPAR_CUDA_FP16  q/k/v __half. Tensor cores (mma.sync m16n8k16, sm_80+):
 *                     q.k and p.v products exact, accumulated in fp32; the
 *                     probabilities p are rounded to the input type before
 *                     p.v; softmax statistics, o and lse stay fp32.
 * Requirements: head_dim 32, 64 or 128; for BF16/FP16 q, k, v 16-byte
 * aligned and ldq, ldk, ldv multiples of 8 elements, and a GPU of compute
 * capability 8.0 or newer. Anything else returns CTXPAR_ERR_ARGUMENT or
 * CTXPAR_ERR_UNSUPPORTED with the reason. */
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "kernels/cuda/convert_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"

ctxpar_status ctxpar_cuda_attention(const void *q, int64_t ldq, const void *k, int64_t ldk,
                                    const void *v, int64_t ldv, ctxpar_cuda_dtype dtype, float *o,
                                    int64_t ldo, float *lse, int64_t n_q, int64_t n_kv, int heads,
                                    int head_dim, float scale, cudaStream_t stream);

/* 1 when ctxpar_cuda_attention takes this head_dim and dtype (on a capable
 * GPU), 0 otherwise. */
int ctxpar_cuda_attention_supported(int head_dim, ctxpar_cuda_dtype dtype);
#ifdef __cplusplus
}
#endif
