/* LayerNorm of the transformer blocks on the GPU.
 *
 * Design: one warp per row. Rows are d = 256..1024 floats, which one warp
 * sweeps in a few coalesced passes; the reductions are warp shuffles, so no
 * shared memory and no __syncthreads. The statistics are two-pass (mean,
 * then sum of squared deviations) exactly like the CPU reference, which
 * avoids the cancellation of E[x^2] - E[x]^2; the second and third passes
 * hit L1/L2, so the extra pass costs little next to the one from DRAM. */
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/layer_norm_cuda.h"

namespace {

constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

/* x and y may alias: every lane reads its own elements before writing them,
 * and the row's statistics are complete (shuffles) before the first write. */
__global__ void layer_norm_kernel(float *y, const float *x, int64_t n, int64_t d,
                                  const float *__restrict__ weight, const float *__restrict__ bias,
                                  float eps) {
    const int lane = threadIdx.x % 32;
    const int64_t first = (int64_t)blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
    const int64_t step = (int64_t)gridDim.x * kWarpsPerBlock;
    for (int64_t row = first; row < n; row += step) {
        const float *xr = x + row * d;
        float *yr = y + row * d;
        float sum = 0.0f;
        for (int64_t c = lane; c < d; c += 32) sum += xr[c];
        const float mean = warp_sum(sum) / (float)d;
        float sq = 0.0f;
        for (int64_t c = lane; c < d; c += 32) {
            const float dev = xr[c] - mean;
            sq += dev * dev;
        }
        const float inv_std = 1.0f / sqrtf(warp_sum(sq) / (float)d + eps);
        for (int64_t c = lane; c < d; c += 32)
            yr[c] = (xr[c] - mean) * inv_std * weight[c] + bias[c];
    }
}

} // namespace

extern "C" ctxpar_status ctxpar_cuda_layer_norm(float *y, const float *x, int64_t n, int64_t d,
                                                const float *weight, const float *bias, float eps,
                                                cudaStream_t stream) {
    if (n <= 0 || d <= 0) return CTXPAR_OK;
    const unsigned blocks = ctxpar_cuda_grid_1d(n, kWarpsPerBlock);
    layer_norm_kernel<<<blocks, kWarpsPerBlock * 32, 0, stream>>>(y, x, n, d, weight, bias, eps);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}
