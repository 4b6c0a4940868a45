/* Launcher of the CUDA linear layer (linear.cu); semantics and layouts of
 * ctxpar_cpu_linear: row-major tokens, PyTorch weight [out][in]. */
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"

/* How the GEMM may round. FP32 is IEEE single precision throughout (the
 * default, what --dtype fp32 means); TF32 lets cuBLAS use tensor cores with
 * 10-bit-mantissa inputs (about 1e-3 relative error, 8x the throughput). */
typedef enum ctxpar_cuda_gemm_math {
    CTXPAR_CUDA_GEMM_FP32 = 0,
    CTXPAR_CUDA_GEMM_TF32 = 1,
} ctxpar_cuda_gemm_math;

/* y[n][out] = x[n][in] * W^T + b, W [out][in]; bias may be NULL; y must not
 * overlap x. Runs on `stream` through `cublas`, whose stream this call sets
 * (the handle belongs to the caller; one handle per stream and thread). */
ctxpar_status ctxpar_cuda_linear(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                                 const float *weight, const float *bias, ctxpar_cuda_gemm_math math,
                                 cublasHandle_t cublas, cudaStream_t stream);
#ifdef __cplusplus
}
#endif
