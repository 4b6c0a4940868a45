/* Residual add of channel-major activations on the GPU.
 *
 * Design: a grid over (pixel blocks, channel) rather than a flat index, so
 * the channel strides (which leave gaps between channels in the runtime's
 * chunked buffers) cost one multiply per block instead of a division per
 * element. Pure streaming: nothing to tune beyond coalescing. */
#include "kernels/cuda/add_cuda.h"
#include "kernels/cuda/cuda_check.h"

namespace {

__global__ void add_kernel(float *y, int64_t y_cstride, const float *__restrict__ x,
                           int64_t x_cstride, int64_t n) {
    float *dst = y + (int64_t)blockIdx.y * y_cstride;
    const float *src = x + (int64_t)blockIdx.y * x_cstride;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
        dst[i] += src[i];
}

} // namespace

extern "C" ctxpar_status ctxpar_cuda_add(float *y, int64_t y_cstride, const float *x,
                                         int64_t x_cstride, int64_t c, int64_t n,
                                         cudaStream_t stream) {
    if (c <= 0 || n <= 0) return CTXPAR_OK;
    if (c > 65535)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "add: %lld channels (at most 65535)",
                            (long long)c);
    const int block = 256;
    int64_t per_channel = (n + block - 1) / block;
    if (per_channel > 1024) per_channel = 1024;
    add_kernel<<<dim3((unsigned)per_channel, (unsigned)c), block, 0, stream>>>(y, y_cstride, x,
                                                                               x_cstride, n);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}
