/* Launcher of the CUDA temporal pooling (pool_time2.cu); semantics of
 * ctxpar_cpu_pool_time2. */
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"

/* y[c][t] = (x[c][2t] + x[c][2t+1]) / 2 for t in [0, frames_out), hw values
 * per frame, channel-major with channel strides x_cstride / y_cstride.
 * y may alias x (y == x, same cstride); other overlaps are not allowed. */
ctxpar_status ctxpar_cuda_pool_time2(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                                     int64_t c, int64_t frames_out, int64_t hw,
                                     cudaStream_t stream);
#ifdef __cplusplus
}
#endif
