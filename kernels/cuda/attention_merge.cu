/* Log-sum-exp merge of two partial attention results on the GPU: the step
 * that makes ring attention exact whatever the order and sizes of the K/V
 * blocks.
 *
 * Design: one warp per (query, head) row. The lanes read the two lse values
 * (a broadcast), compute the same weights exp(lse_x - lse_new) <= 1 as the
 * CPU (never overflowing), and sweep the row's head_dim values coalesced;
 * lane 0 writes the new lse after a __syncwarp, so no lane can read a
 * half-updated lse. -inf is handled explicitly, as on the CPU, so that an
 * accumulator that was never written cannot leak NaN. */
#include "kernels/cuda/attention_merge_cuda.h"
#include "kernels/cuda/cuda_check.h"

namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void attention_merge_kernel(float *o_acc, int64_t ld_acc, float *lse_acc,
                                       const float *__restrict__ o_blk, int64_t ld_blk,
                                       const float *__restrict__ lse_blk, int64_t n_q, int heads,
                                       int head_dim) {
    const int lane = threadIdx.x % 32;
    const int64_t rows = n_q * heads;
    const int64_t step = (int64_t)gridDim.x * kWarpsPerBlock;
    for (int64_t r = (int64_t)blockIdx.x * kWarpsPerBlock + threadIdx.x / 32; r < rows; r += step) {
        const int64_t i = r / heads, hh = r % heads;
        const int64_t at = hh * n_q + i;
        float *oa = o_acc + i * ld_acc + hh * head_dim;
        const float *ob = o_blk + i * ld_blk + hh * head_dim;
        const float la = lse_acc[at], lb = lse_blk[at];
        if (lb == -INFINITY) continue;            /* the block saw no keys: nothing to add */
        float wa = 0.0f, wb = 1.0f, lse_new = lb; /* first block: take it as it is */
        if (la != -INFINITY) {
            const float hi = fmaxf(la, lb), lo = fminf(la, lb);
            lse_new = hi + log1pf(expf(lo - hi));
            wa = expf(la - lse_new);
            wb = expf(lb - lse_new);
        }
        for (int d = lane; d < head_dim; d += 32)
            oa[d] = la == -INFINITY ? ob[d] : wa * oa[d] + wb * ob[d];
        __syncwarp();
        if (lane == 0) lse_acc[at] = lse_new;
    }
}

} // namespace

extern "C" ctxpar_status ctxpar_cuda_attention_merge(float *o_acc, int64_t ld_acc, float *lse_acc,
                                                     const float *o_blk, int64_t ld_blk,
                                                     const float *lse_blk, int64_t n_q, int heads,
                                                     int head_dim, cudaStream_t stream) {
    if (n_q <= 0 || heads <= 0 || head_dim <= 0) return CTXPAR_OK;
    const unsigned blocks = ctxpar_cuda_grid_1d(n_q * heads, kWarpsPerBlock);
    attention_merge_kernel<<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
        o_acc, ld_acc, lse_acc, o_blk, ld_blk, lse_blk, n_q, heads, head_dim);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}
