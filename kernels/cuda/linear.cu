/* Token-wise linear layer y = x W^T + b on the GPU, through cuBLAS.
 *
 * Design: cuBLAS is column-major, so the row-major operands are read as
 * their transposes without any copy: row-major y [n][out] is column-major
 * Y (out x n), x [n][in] is X (in x n), and PyTorch's W [out][in] is
 * column-major (in x out), so Y = W^T X is one GEMM with op(A) = T. The
 * weights of a checkpoint are used in place, as on the CPU. The bias is
 * broadcast into y first and the GEMM accumulates onto it (beta = 1), the
 * same order of operations as the CPU reference. cublasGemmEx rather than
 * cublasSgemm so that the compute type (strict FP32 or TF32) is explicit and
 * does not depend on the handle's math mode. */
#include <limits.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/linear_cuda.h"

namespace {

__global__ void broadcast_bias_kernel(float *y, const float *__restrict__ bias, int64_t n,
                                      int64_t out) {
    const int64_t total = n * out;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step)
        y[i] = bias[i % out];
}

} // namespace

extern "C" ctxpar_status ctxpar_cuda_linear(float *y, const float *x, int64_t n, int64_t in,
                                            int64_t out, const float *weight, const float *bias,
                                            ctxpar_cuda_gemm_math math, cublasHandle_t cublas,
                                            cudaStream_t stream) {
    if (n <= 0 || out <= 0) return CTXPAR_OK;
    if (n > INT_MAX || in > INT_MAX || out > INT_MAX || in < 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "linear: %lld x %lld -> %lld is beyond cuBLAS's 32-bit sizes",
                            (long long)n, (long long)in, (long long)out);
    float beta = 0.0f;
    if (bias) {
        const int block = 256;
        broadcast_bias_kernel<<<ctxpar_cuda_grid_1d(n * out, block), block, 0, stream>>>(y, bias, n,
                                                                                         out);
        CTXPAR_CUDA_CHECK_LAUNCH();
        beta = 1.0f;
    }
    const float alpha = 1.0f;
    const cublasComputeType_t compute =
        math == CTXPAR_CUDA_GEMM_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    CTXPAR_CUBLAS_CHECK(cublasSetStream(cublas, stream));
    CTXPAR_CUBLAS_CHECK(cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)out, (int)n, (int)in,
                                     &alpha, weight, CUDA_R_32F, (int)in, x, CUDA_R_32F, (int)in,
                                     &beta, y, CUDA_R_32F, (int)out, compute, CUBLAS_GEMM_DEFAULT));
    return CTXPAR_OK;
}
