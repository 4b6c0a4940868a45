/* Launcher of the CUDA RoPE-3D (rope3d.cu); semantics of ctxpar_cpu_rope3d. */
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"

/* In place on n rows of x (row stride ld floats), heads of head_dim at
 * columns hh*head_dim; row i is global token first_token + i of a grid of
 * grid_h x grid_w tokens per frame. Dims split [t | y | x] = head_dim/4,
 * 3*head_dim/8, 3*head_dim/8; pair (2i, 2i+1) of a part of size m at
 * position pos rotates by pos * 10000^(-2i/m). head_dim % 16 == 0. */
ctxpar_status ctxpar_cuda_rope3d(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                                 int64_t first_token, int64_t grid_h, int64_t grid_w,
                                 cudaStream_t stream);
#ifdef __cplusplus
}
#endif
