/* GroupNorm on the GPU: per-group moments, then the normalisation (with the
 * SiLU that always follows it in the VAE fused in).
 *
 * Design: a VAE channel holds T*H*W values (millions), a group a handful of
 * channels, so one block per channel would leave most SMs idle and read each
 * channel twice from DRAM. Each channel is therefore cut into fixed chunks
 * of kChunk values; a block computes a chunk's (count, mean, M2) two-pass in
 * double (the second pass re-reads the chunk from L2/L1), and the chunks are
 * then merged with Chan's update in a FIXED order: chunks of a channel in
 * order, then channels of a group in order, exactly like the CPU merges its
 * lanes and channels. Fixed block size, fixed trees, fixed order: the bits
 * do not depend on timing, which the rank-count invariance of the runtime
 * needs. The apply pass folds mean, variance, weight and bias into one scale
 * and shift per channel, computed in double as on the CPU. */
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/group_norm_cuda.h"

namespace {

constexpr int kBlock = 256;
constexpr int64_t kChunk = 16384; /* values per block: 64 per thread */

int64_t chunks_per_channel(int64_t n) { return (n + kChunk - 1) / kChunk; }

__device__ void moments_combine(ctxpar_moments *acc, const ctxpar_moments &b) {
    if (b.count == 0.0) return;
    if (acc->count == 0.0) {
        *acc = b;
        return;
    }
    const double count = acc->count + b.count;
    const double delta = b.mean - acc->mean;
    acc->mean += delta * (b.count / count);
    acc->m2 += b.m2 + delta * delta * (acc->count * b.count / count);
    acc->count = count;
}

/* Sum over the block in a fixed tree; every thread gets the result. */
__device__ double block_sum(double v, double *shared) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads(); /* shared may still be read by a previous call */
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    double total = 0.0;
    for (int w = 0; w < kBlock / 32; w++) total += shared[w];
    return total;
}

/* grid (chunks, c): moments of chunk blockIdx.x of channel blockIdx.y. */
__global__ void chunk_moments_kernel(const float *__restrict__ x, int64_t cstride, int64_t n,
                                     ctxpar_moments *__restrict__ per_chunk) {
    __shared__ double shared[kBlock / 32];
    const int64_t ch = blockIdx.y, chunk = blockIdx.x;
    const int64_t begin = chunk * kChunk;
    const int64_t end = begin + kChunk < n ? begin + kChunk : n;
    const float *xc = x + ch * cstride;
    double sum = 0.0;
    for (int64_t i = begin + threadIdx.x; i < end; i += kBlock) sum += (double)xc[i];
    const double count = (double)(end - begin);
    const double mean = block_sum(sum, shared) / count;
    double sq = 0.0;
    for (int64_t i = begin + threadIdx.x; i < end; i += kBlock) {
        const double dev = (double)xc[i] - mean;
        sq += dev * dev;
    }
    const double m2 = block_sum(sq, shared);
    if (threadIdx.x == 0) per_chunk[ch * gridDim.x + chunk] = ctxpar_moments{count, mean, m2};
}

/* One thread per channel: its chunks, in order, into the chunk-0 slot. */
__global__ void combine_chunks_kernel(ctxpar_moments *per_chunk, int64_t c, int64_t chunks) {
    const int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) return;
    ctxpar_moments acc = per_chunk[ch * chunks];
    for (int64_t k = 1; k < chunks; k++) moments_combine(&acc, per_chunk[ch * chunks + k]);
    per_chunk[ch * chunks] = acc;
}

/* One thread per group: its channels, in order. */
__global__ void combine_channels_kernel(const ctxpar_moments *__restrict__ per_chunk, int64_t c,
                                        int64_t chunks, int groups,
                                        ctxpar_moments *__restrict__ out) {
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    if (g >= groups) return;
    ctxpar_moments acc = {0.0, 0.0, 0.0};
    const int64_t ch_begin = g * c / groups, ch_end = (g + 1) * c / groups;
    for (int64_t ch = ch_begin; ch < ch_end; ch++) moments_combine(&acc, per_chunk[ch * chunks]);
    out[g] = acc;
}

/* grid (x blocks over n, c): y may alias x, each element is read then
 * written by the same thread. */
__global__ void group_norm_apply_kernel(float *y, int64_t y_cstride, const float *x,
                                        int64_t x_cstride, int64_t c, int64_t n, int groups,
                                        const ctxpar_moments *__restrict__ moments,
                                        const float *__restrict__ weight,
                                        const float *__restrict__ bias, float eps, int silu) {
    const int64_t ch = blockIdx.y;
    int64_t g = ch * groups / c; /* the group holding channel ch, as on the CPU */
    while ((g + 1) * c / groups <= ch) g++;
    while (g * c / groups > ch) g--;
    const ctxpar_moments m = moments[g];
    const double var = m.count > 0.0 ? m.m2 / m.count : 0.0;
    const double inv_std = 1.0 / sqrt(var + (double)eps);
    const float scale = (float)(weight[ch] * inv_std);
    const float shift = (float)(bias[ch] - m.mean * weight[ch] * inv_std);
    const float *src = x + ch * x_cstride;
    float *dst = y + ch * y_cstride;
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        const float v = src[i] * scale + shift;
        dst[i] = silu ? v / (1.0f + expf(-v)) : v;
    }
}

} // namespace

extern "C" size_t ctxpar_cuda_group_moments_scratch_bytes(int64_t c, int64_t n) {
    if (c <= 0 || n <= 0) return 0;
    return sizeof(ctxpar_moments) * (size_t)c * (size_t)chunks_per_channel(n);
}

extern "C" ctxpar_status ctxpar_cuda_group_moments(const float *x, int64_t cstride, int64_t c,
                                                   int64_t n, int groups,
                                                   ctxpar_moments *moments_dev, void *scratch_dev,
                                                   cudaStream_t stream) {
    if (groups <= 0) return ctxpar_error(CTXPAR_ERR_ARGUMENT, "group_moments: %d groups", groups);
    if (c <= 0 || n <= 0) {
        CTXPAR_CUDA_CHECK(cudaMemsetAsync(moments_dev, 0, sizeof(ctxpar_moments) * groups, stream));
        return CTXPAR_OK;
    }
    const int64_t chunks = chunks_per_channel(n);
    if (c > 65535 || chunks > 0x7fffffff)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "group_moments: %lld channels x %lld values is "
                            "beyond the kernel's grid",
                            (long long)c, (long long)n);
    ctxpar_moments *per_chunk = (ctxpar_moments *)scratch_dev;
    chunk_moments_kernel<<<dim3((unsigned)chunks, (unsigned)c), kBlock, 0, stream>>>(x, cstride, n,
                                                                                     per_chunk);
    CTXPAR_CUDA_CHECK_LAUNCH();
    if (chunks > 1) {
        combine_chunks_kernel<<<(unsigned)((c + 127) / 128), 128, 0, stream>>>(per_chunk, c,
                                                                               chunks);
        CTXPAR_CUDA_CHECK_LAUNCH();
    }
    combine_channels_kernel<<<(groups + 127) / 128, 128, 0, stream>>>(per_chunk, c, chunks, groups,
                                                                      moments_dev);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}

extern "C" ctxpar_status ctxpar_cuda_group_norm_apply(float *y, int64_t y_cstride, const float *x,
                                                      int64_t x_cstride, int64_t c, int64_t n,
                                                      int groups, const ctxpar_moments *moments_dev,
                                                      const float *weight, const float *bias,
                                                      float eps, int silu, cudaStream_t stream) {
    if (c <= 0 || n <= 0) return CTXPAR_OK;
    if (groups <= 0 || c > 65535)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "group_norm_apply: %lld channels, %d groups",
                            (long long)c, groups);
    const int block = 256;
    /* Enough blocks per channel to fill the GPU for one channel-major tensor
     * of a few channels, capped so a grid-stride loop does the rest. */
    int64_t per_channel = (n + block - 1) / block;
    if (per_channel > 1024) per_channel = 1024;
    group_norm_apply_kernel<<<dim3((unsigned)per_channel, (unsigned)c), block, 0, stream>>>(
        y, y_cstride, x, x_cstride, c, n, groups, moments_dev, weight, bias, eps, silu);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}
