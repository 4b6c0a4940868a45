/* GELU (tanh approximation) in place on the GPU.
 *
 * Design: the same rewrite as the CPU reference, x / (1 + exp(-2u)) with
 * u = sqrt(2/pi) (x + 0.044715 x^3): one exponential, no cancellation, and
 * the right limits without clamping (exp overflows to inf for very negative
 * x, giving -0). Using the same formula, not erf and not tanhf, keeps the two
 * backends within a few ulp of each other. expf, not __expf: this is a
 * memory-bound pass, the accurate exponential is free. */
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gelu_cuda.h"

namespace {

__global__ void gelu_kernel(float *x, int64_t n) {
    const float k0 = 0.7978845608028654f; /* sqrt(2/pi) */
    const float k1 = 0.044715f;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        const float v = x[i];
        const float u = k0 * (v + k1 * v * v * v);
        x[i] = v / (1.0f + expf(-2.0f * u));
    }
}

} // namespace

extern "C" ctxpar_status ctxpar_cuda_gelu(float *x, int64_t n, cudaStream_t stream) {
    if (n <= 0) return CTXPAR_OK;
    const int block = 256;
    gelu_kernel<<<ctxpar_cuda_grid_1d(n, block), block, 0, stream>>>(x, n);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}
