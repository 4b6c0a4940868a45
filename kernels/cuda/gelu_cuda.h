/* Launcher of the CUDA GELU (gelu.cu); semantics of ctxpar_cpu_gelu. */
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"

/* In place over n floats, tanh approximation:
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
ctxpar_status ctxpar_cuda_gelu(float *x, int64_t n, cudaStream_t stream);
#ifdef __cplusplus
}
#endif
