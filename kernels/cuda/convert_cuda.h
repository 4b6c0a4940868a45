/* Element types of the CUDA attention and the launcher that converts fp32
 * rows into them (convert.cu). */
#pragma once
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"

typedef enum ctxpar_cuda_dtype {
    CTXPAR_CUDA_FP32 = 0, /* float: CUDA-core path, the CPU reference's precision */
    CTXPAR_CUDA_BF16 = 1, /* __nv_bfloat16: tensor cores, 8-bit mantissa, fp32 range */
    CTXPAR_CUDA_FP16 = 2, /* __half: tensor cores, 11-bit mantissa, range +-65504 */
} ctxpar_cuda_dtype;

/* Bytes of one element. */
size_t ctxpar_cuda_dtype_size(ctxpar_cuda_dtype dtype);
/* "fp32", "bf16", "fp16". */
const char *ctxpar_cuda_dtype_name(ctxpar_cuda_dtype dtype);

/* dst[r][c] = round_to_nearest_even(src[r][c]) for r < rows, c < cols; src
 * rows are ld_src floats apart, dst rows ld_dst elements of `dtype` apart
 * (FP32 copies). dst must not overlap src. */
ctxpar_status ctxpar_cuda_convert_rows(void *dst, int64_t ld_dst, ctxpar_cuda_dtype dtype,
                                       const float *src, int64_t ld_src, int64_t rows, int64_t cols,
                                       cudaStream_t stream);
#ifdef __cplusplus
}
#endif
