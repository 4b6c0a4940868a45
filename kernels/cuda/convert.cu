/* fp32 -> bf16/fp16 conversion of token rows, the step in front of the
 * tensor-core attention.
 *
 * Design: conversion is its own small pass, not fused into the attention,
 * so the attention reads half the bytes per K/V tile (K/V are re-read by
 * every query block) and the ring can ship K/V blocks in the small type.
 * Rounding is to nearest even (__float2bfloat16_rn / __float2half_rn), the
 * same functions the GPU test uses on the host to build its low-precision
 * reference. A plain grid-stride loop: the pass is memory-bound and runs
 * once per K/V block, against O(n_q) reads of that block by the attention. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/convert_cuda.h"
#include "kernels/cuda/cuda_check.h"

namespace {

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}
template <> __device__ __forceinline__ __half from_float<__half>(float v) {
    return __float2half_rn(v);
}

template <typename T>
__global__ void convert_rows_kernel(T *dst, int64_t ld_dst, const float *__restrict__ src,
                                    int64_t ld_src, int64_t rows, int64_t cols) {
    const int64_t total = rows * cols;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        const int64_t r = i / cols, c = i % cols;
        dst[r * ld_dst + c] = from_float<T>(src[r * ld_src + c]);
    }
}

template <typename T>
ctxpar_status launch(void *dst, int64_t ld_dst, const float *src, int64_t ld_src, int64_t rows,
                     int64_t cols, cudaStream_t stream) {
    const int block = 256;
    convert_rows_kernel<T><<<ctxpar_cuda_grid_1d(rows * cols, block), block, 0, stream>>>(
        (T *)dst, ld_dst, src, ld_src, rows, cols);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}

} // namespace

extern "C" size_t ctxpar_cuda_dtype_size(ctxpar_cuda_dtype dtype) {
    return dtype == CTXPAR_CUDA_FP32 ? 4 : 2;
}

extern "C" const char *ctxpar_cuda_dtype_name(ctxpar_cuda_dtype dtype) {
    switch (dtype) {
    case CTXPAR_CUDA_FP32: return "fp32";
    case CTXPAR_CUDA_BF16: return "bf16";
    case CTXPAR_CUDA_FP16: return "fp16";
    }
    return "unknown";
}

extern "C" ctxpar_status ctxpar_cuda_convert_rows(void *dst, int64_t ld_dst,
                                                  ctxpar_cuda_dtype dtype, const float *src,
                                                  int64_t ld_src, int64_t rows, int64_t cols,
                                                  cudaStream_t stream) {
    if (rows <= 0 || cols <= 0) return CTXPAR_OK;
    switch (dtype) {
    case CTXPAR_CUDA_FP32: return launch<float>(dst, ld_dst, src, ld_src, rows, cols, stream);
    case CTXPAR_CUDA_BF16:
        return launch<__nv_bfloat16>(dst, ld_dst, src, ld_src, rows, cols, stream);
    case CTXPAR_CUDA_FP16: return launch<__half>(dst, ld_dst, src, ld_src, rows, cols, stream);
    }
    return ctxpar_error(CTXPAR_ERR_ARGUMENT, "convert_rows: unknown dtype %d", (int)dtype);
}
