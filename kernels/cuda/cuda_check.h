/* Error discipline of the CUDA backend: every CUDA runtime and cuBLAS call
 * goes through one of these macros, which turn a failure into
 *   ctxpar_error(CTXPAR_ERR_CUDA, "file:line: call: library message")
 * and return that status from the enclosing function (NCCL's CUDACHECK
 * style). The first detail recorded wins (base/status.h), so the root
 * cause, not a later symptom, is what the user sees.
 *
 * Kernel launches report configuration errors only through
 * cudaGetLastError(): CTXPAR_CUDA_CHECK_LAUNCH() right after each <<<...>>>.
 * Faults inside a kernel surface at the next synchronising call, which is
 * checked like any other. */
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "base/status.h"
#ifdef __cplusplus
}
#endif

#define CTXPAR_CUDA_CHECK(call)                                                                    \
    do {                                                                                           \
        cudaError_t cuda_err_ = (call);                                                            \
        if (cuda_err_ != cudaSuccess)                                                              \
            return ctxpar_error(CTXPAR_ERR_CUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,       \
                                cudaGetErrorString(cuda_err_));                                    \
    } while (0)

#define CTXPAR_CUBLAS_CHECK(call)                                                                  \
    do {                                                                                           \
        cublasStatus_t cublas_err_ = (call);                                                       \
        if (cublas_err_ != CUBLAS_STATUS_SUCCESS)                                                  \
            return ctxpar_error(CTXPAR_ERR_CUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,       \
                                cublasGetStatusString(cublas_err_));                               \
    } while (0)

/* After a kernel launch: a bad grid, too much shared memory, no kernel image
 * for this GPU's architecture. */
#define CTXPAR_CUDA_CHECK_LAUNCH() CTXPAR_CUDA_CHECK(cudaGetLastError())

/* Variants for functions that own resources and release them at `fail:`
 * (they set the local `status`). */
#define CTXPAR_CUDA_CHECK_GOTO(call)                                                               \
    do {                                                                                           \
        cudaError_t cuda_err_ = (call);                                                            \
        if (cuda_err_ != cudaSuccess) {                                                            \
            status = ctxpar_error(CTXPAR_ERR_CUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,     \
                                  cudaGetErrorString(cuda_err_));                                  \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

#define CTXPAR_CUBLAS_CHECK_GOTO(call)                                                             \
    do {                                                                                           \
        cublasStatus_t cublas_err_ = (call);                                                       \
        if (cublas_err_ != CUBLAS_STATUS_SUCCESS) {                                                \
            status = ctxpar_error(CTXPAR_ERR_CUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,     \
                                  cublasGetStatusString(cublas_err_));                             \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* Grid size for a 1-D element-wise launch: enough blocks to cover n, capped
 * so that grid-stride loops finish the rest (the cap keeps the count within
 * gridDim.x and well above the number of SMs of any current GPU). */
static inline unsigned ctxpar_cuda_grid_1d(long long n, int block) {
    long long blocks = (n + block - 1) / block;
    if (blocks < 1) blocks = 1;
    if (blocks > 65536) blocks = 65536;
    return (unsigned)blocks;
}
