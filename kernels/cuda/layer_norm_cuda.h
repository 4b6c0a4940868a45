/* Launcher of the CUDA LayerNorm (layer_norm.cu); semantics and layout of
 * ctxpar_cpu_layer_norm: row-major [n][d], y may alias x. */
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"

/* y = (x - mean) / sqrt(var + eps) * weight + bias per row of d values. */
ctxpar_status ctxpar_cuda_layer_norm(float *y, const float *x, int64_t n, int64_t d,
                                     const float *weight, const float *bias, float eps,
                                     cudaStream_t stream);
#ifdef __cplusplus
}
#endif
