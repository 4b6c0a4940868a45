/* Temporal average pooling of frame pairs (the VAE's temporal downsample)
 * on the GPU.
 *
 * Design: a streaming kernel over (channel, output frame, pixel). The one
 * subtlety is the in-place case the runtime uses (y == x): output frame t
 * overwrites input frame t, which output t/2 reads. The CPU avoids the race
 * by walking frames in order; on the GPU the frames run in rounds on the
 * stream: round k writes outputs [2^(k-1), 2^k) (round 0: output 0), whose
 * frames were read by the earlier rounds only, and reads frames [2^k, 2^(k+1))
 * that only later rounds write. log2(frames_out) + 1 launches, each
 * race-free; without aliasing there is one launch. */
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/pool_time2_cuda.h"

namespace {

/* Outputs [t_begin, t_end) of every channel; grid-stride over all values. */
__global__ void pool_time2_kernel(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                                  int64_t c, int64_t t_begin, int64_t t_end, int64_t hw) {
    const int64_t per_channel = (t_end - t_begin) * hw;
    const int64_t total = c * per_channel;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; item < total;
         item += step) {
        const int64_t ch = item / per_channel, rest = item % per_channel;
        const int64_t t = t_begin + rest / hw, i = rest % hw;
        const float *a = x + ch * x_cstride + 2 * t * hw + i;
        y[ch * y_cstride + t * hw + i] = 0.5f * (a[0] + a[hw]);
    }
}

ctxpar_status launch_range(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                           int64_t c, int64_t t_begin, int64_t t_end, int64_t hw,
                           cudaStream_t stream) {
    const int block = 256;
    pool_time2_kernel<<<ctxpar_cuda_grid_1d(c * (t_end - t_begin) * hw, block), block, 0, stream>>>(
        x, x_cstride, y, y_cstride, c, t_begin, t_end, hw);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}

} // namespace

extern "C" ctxpar_status ctxpar_cuda_pool_time2(const float *x, int64_t x_cstride, float *y,
                                                int64_t y_cstride, int64_t c, int64_t frames_out,
                                                int64_t hw, cudaStream_t stream) {
    if (c <= 0 || frames_out <= 0 || hw <= 0) return CTXPAR_OK;
    if (x != y) return launch_range(x, x_cstride, y, y_cstride, c, 0, frames_out, hw, stream);
    if (x_cstride != y_cstride)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "pool_time2: in place needs equal channel strides (%lld vs %lld)",
                            (long long)x_cstride, (long long)y_cstride);
    CTXPAR_TRY(launch_range(x, x_cstride, y, y_cstride, c, 0, 1, hw, stream));
    for (int64_t begin = 1; begin < frames_out; begin *= 2) {
        const int64_t end = 2 * begin < frames_out ? 2 * begin : frames_out;
        CTXPAR_TRY(launch_range(x, x_cstride, y, y_cstride, c, begin, end, hw, stream));
    }
    return CTXPAR_OK;
}
