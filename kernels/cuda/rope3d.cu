/* RoPE-3D on the GPU: rotary embedding with each head's dims split
 * [t | y | x] and positions from the GLOBAL token index.
 *
 * Design: one thread per (token, pair). The angle depends on the token and
 * the pair, not on the head, so a thread computes its cos/sin once and
 * rotates that pair in every head. The angle is formed and evaluated in
 * double, as on the CPU: pos * freq reaches 1e4 rad on long videos, where a
 * float angle is already off by ~1e-3 rad. The double math is a few dozen
 * FP64 operations per (token, pair), small next to the row traffic on sm_80
 * and sm_90 (full-rate FP64); on consumer GPUs with slow FP64 this is the
 * kernel to revisit (table the frequencies, sincospi). */
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/rope3d_cuda.h"

namespace {

__global__ void rope3d_kernel(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                              int64_t first_token, int64_t grid_h, int64_t grid_w) {
    const int half = head_dim / 2;
    const int64_t per_frame = grid_h * grid_w;
    const int64_t total = n * half;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; item < total;
         item += step) {
        const int64_t row = item / half;
        int pair = (int)(item % half);
        const int64_t g = first_token + row;
        const int64_t pos[3] = {g / per_frame, (g % per_frame) / grid_w, g % grid_w};
        const int part_pairs[3] = {head_dim / 8, 3 * head_dim / 16, 3 * head_dim / 16};
        const int global_pair = pair;
        int part = 0;
        while (part < 2 && pair >= part_pairs[part]) pair -= part_pairs[part++];
        const double m = 2.0 * part_pairs[part];
        const double angle = (double)pos[part] * pow(10000.0, -2.0 * pair / m);
        double s, c;
        sincos(angle, &s, &c);
        const float cs = (float)c, sn = (float)s;
        float *xp = x + row * ld + 2 * global_pair;
        for (int hh = 0; hh < heads; hh++, xp += head_dim) {
            const float a = xp[0], b = xp[1];
            xp[0] = a * cs - b * sn;
            xp[1] = a * sn + b * cs;
        }
    }
}

} // namespace

extern "C" ctxpar_status ctxpar_cuda_rope3d(float *x, int64_t ld, int64_t n, int heads,
                                            int head_dim, int64_t first_token, int64_t grid_h,
                                            int64_t grid_w, cudaStream_t stream) {
    if (n <= 0 || heads <= 0) return CTXPAR_OK;
    if (head_dim <= 0 || head_dim % 16 != 0 || grid_h <= 0 || grid_w <= 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "rope3d: head_dim %d (need a multiple of 16), grid %lldx%lld", head_dim,
                            (long long)grid_h, (long long)grid_w);
    const int block = 256;
    rope3d_kernel<<<ctxpar_cuda_grid_1d(n * (head_dim / 2), block), block, 0, stream>>>(
        x, ld, n, heads, head_dim, first_token, grid_h, grid_w);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}
