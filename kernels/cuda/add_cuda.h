/* Launcher of the CUDA residual add (add.cu); semantics of ctxpar_cpu_add. */
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"

/* y[ch][i] += x[ch][i] for ch < c, i < n; channel strides in floats. */
ctxpar_status ctxpar_cuda_add(float *y, int64_t y_cstride, const float *x, int64_t x_cstride,
                              int64_t c, int64_t n, cudaStream_t stream);
#ifdef __cplusplus
}
#endif
