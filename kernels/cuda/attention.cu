/* Attention on the GPU: the public launcher (argument checks, the empty key
 * set, dispatch by element type) and the fp32 path on CUDA cores. The
 * tensor-core path for bf16/fp16 lives in attention_tc.cu.
 *
 * Design of the fp32 path: it exists for --dtype fp32, where results must
 * match the CPU reference to fp32 rounding, so it is a plain flash-attention
 * loop with the same log2-unit online softmax as the CPU and no tensor
 * cores (TF32 would cost three decimal digits). A block owns 64 queries of
 * one head; 256 threads, four per query row: lane c of a row's quad scores
 * keys c, c+4, ..., c+28 of each 32-key tile and owns output dims c, c+4, ...,
 * so the row's softmax statistics need two shuffles and the P V loop reads V
 * without bank conflicts. Q (pre-scaled), K, V and P tiles sit in shared
 * memory with one float of padding on Q and K rows so the 8 rows a warp
 * touches fall in 8 different banks. Not tuned beyond that: its job is to be
 * right; throughput comes from the tensor-core path. */
#include <stdint.h>

#include <algorithm>

#include "kernels/cuda/attention_cuda.h"
#include "kernels/cuda/attention_internal_cuda.h"
#include "kernels/cuda/cuda_check.h"

namespace {

constexpr int kF32BlockM = 64;
constexpr int kF32BlockN = 32;
constexpr int kF32Threads = 256; /* 4 per query row */

template <int HD> constexpr size_t fp32_smem_bytes() {
    return sizeof(float) * ((size_t)kF32BlockM * (HD + 1) + (size_t)kF32BlockN * (HD + 1) +
                            (size_t)kF32BlockN * HD + (size_t)kF32BlockM * (kF32BlockN + 1));
}

template <int HD>
__global__ void __launch_bounds__(kF32Threads)
    attention_fp32_kernel(const float *__restrict__ q, int64_t ldq, const float *__restrict__ k,
                          int64_t ldk, const float *__restrict__ v, int64_t ldv,
                          float *__restrict__ o, int64_t ldo, float *__restrict__ lse, int64_t n_q,
                          int64_t n_kv, float scale_log2) {
    constexpr int kPerThread = HD / 4;             /* output dims per thread */
    constexpr int kKeysPerThread = kF32BlockN / 4; /* scores per thread per tile */
    constexpr int kLdq = HD + 1, kLdk = HD + 1, kLdp = kF32BlockN + 1;
    extern __shared__ float smem[];
    float *s_q = smem;                    /* [kF32BlockM][kLdq], pre-scaled */
    float *s_k = s_q + kF32BlockM * kLdq; /* [kF32BlockN][kLdk] */
    float *s_v = s_k + kF32BlockN * kLdk; /* [kF32BlockN][HD] */
    float *s_p = s_v + kF32BlockN * HD;   /* [kF32BlockM][kLdp] */

    const int head = blockIdx.y;
    const int64_t q0 = (int64_t)blockIdx.x * kF32BlockM;
    const int row = threadIdx.x / 4, c = threadIdx.x % 4;
    q += (int64_t)head * HD;
    k += (int64_t)head * HD;
    v += (int64_t)head * HD;

    for (int idx = threadIdx.x; idx < kF32BlockM * HD; idx += kF32Threads) {
        const int r = idx / HD, d = idx % HD;
        s_q[r * kLdq + d] = q0 + r < n_q ? q[(q0 + r) * ldq + d] * scale_log2 : 0.0f;
    }
    float acc[kPerThread];
#pragma unroll
    for (int i = 0; i < kPerThread; i++) acc[i] = 0.0f;
    float row_max = -INFINITY, row_sum = 0.0f; /* row_sum: this lane's keys only */

    for (int64_t kv0 = 0; kv0 < n_kv; kv0 += kF32BlockN) {
        __syncthreads(); /* Q stored (first tile) / previous K, V, P no longer read */
        for (int idx = threadIdx.x; idx < kF32BlockN * HD; idx += kF32Threads) {
            const int j = idx / HD, d = idx % HD;
            const bool valid = kv0 + j < n_kv;
            s_k[j * kLdk + d] = valid ? k[(kv0 + j) * ldk + d] : 0.0f;
            s_v[j * HD + d] = valid ? v[(kv0 + j) * ldv + d] : 0.0f;
        }
        __syncthreads();

        float s[kKeysPerThread];
        float tile_max = row_max;
#pragma unroll
        for (int jj = 0; jj < kKeysPerThread; jj++) {
            const int j = c + 4 * jj;
            float dot = 0.0f;
#pragma unroll 16
            for (int d = 0; d < HD; d++) dot += s_q[row * kLdq + d] * s_k[j * kLdk + d];
            s[jj] = kv0 + j < n_kv ? dot : -INFINITY;
            tile_max = fmaxf(tile_max, s[jj]);
        }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
        const float m_use = tile_max == -INFINITY ? 0.0f : tile_max;
        const float alpha = exp2f(row_max - m_use);
        row_max = tile_max;
        float tile_sum = 0.0f;
#pragma unroll
        for (int jj = 0; jj < kKeysPerThread; jj++) {
            const float p = exp2f(s[jj] - m_use);
            tile_sum += p;
            s_p[row * kLdp + c + 4 * jj] = p;
        }
        row_sum = row_sum * alpha + tile_sum;
        __syncwarp(); /* the row's P was written by this warp's quad */
#pragma unroll
        for (int i = 0; i < kPerThread; i++) acc[i] *= alpha;
        for (int j = 0; j < kF32BlockN; j++) {
            const float p = s_p[row * kLdp + j];
#pragma unroll
            for (int i = 0; i < kPerThread; i++) acc[i] += p * s_v[j * HD + c + 4 * i];
        }
    }

    row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 1);
    row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 2);
    const int64_t i = q0 + row;
    if (i >= n_q) return;
    const float inv_sum = 1.0f / row_sum;
    float *o_row = o + i * ldo + (int64_t)head * HD;
#pragma unroll
    for (int d = 0; d < kPerThread; d++) o_row[c + 4 * d] = acc[d] * inv_sum;
    if (c == 0) lse[(int64_t)head * n_q + i] = row_max * 0.6931471805599453f + logf(row_sum);
}

template <int HD>
ctxpar_status launch_fp32(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v,
                          int64_t ldv, float *o, int64_t ldo, float *lse, int64_t n_q, int64_t n_kv,
                          int heads, float scale, cudaStream_t stream) {
    const size_t smem = fp32_smem_bytes<HD>();
    CTXPAR_CUDA_CHECK(cudaFuncSetAttribute(attention_fp32_kernel<HD>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    const dim3 grid((unsigned)((n_q + kF32BlockM - 1) / kF32BlockM), (unsigned)heads);
    attention_fp32_kernel<HD><<<grid, kF32Threads, smem, stream>>>(
        q, ldq, k, ldk, v, ldv, o, ldo, lse, n_q, n_kv, scale * 1.4426950408889634f);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}

/* No keys: o = 0 over heads*head_dim columns of each row, lse = -inf. */
__global__ void attention_empty_kernel(float *o, int64_t ldo, float *lse, int64_t n_q,
                                       int64_t width, int64_t n_lse) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    const int64_t first = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t idx = first; idx < n_q * width; idx += step)
        o[(idx / width) * ldo + idx % width] = 0.0f;
    for (int64_t idx = first; idx < n_lse; idx += step) lse[idx] = -INFINITY;
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

} // namespace

extern "C" int ctxpar_cuda_attention_supported(int head_dim, ctxpar_cuda_dtype dtype) {
    const bool dim_ok = head_dim == 32 || head_dim == 64 || head_dim == 128;
    return dim_ok &&
           (dtype == CTXPAR_CUDA_FP32 || dtype == CTXPAR_CUDA_BF16 || dtype == CTXPAR_CUDA_FP16);
}

extern "C" ctxpar_status ctxpar_cuda_attention(const void *q, int64_t ldq, const void *k,
                                               int64_t ldk, const void *v, int64_t ldv,
                                               ctxpar_cuda_dtype dtype, float *o, int64_t ldo,
                                               float *lse, int64_t n_q, int64_t n_kv, int heads,
                                               int head_dim, float scale, cudaStream_t stream) {
    if (n_q <= 0 || heads <= 0) return CTXPAR_OK;
    if (!ctxpar_cuda_attention_supported(head_dim, dtype))
        return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                            "attention: head_dim %d with %s (the CUDA kernels take head_dim "
                            "32, 64 or 128 in fp32, bf16 or fp16)",
                            head_dim, ctxpar_cuda_dtype_name(dtype));
    if (heads > 65535)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "attention: %d heads (at most 65535)", heads);
    const int64_t width = (int64_t)heads * head_dim;
    if (ldo < width)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "attention: ldo %lld < heads*head_dim %lld",
                            (long long)ldo, (long long)width);
    if (n_kv <= 0) {
        const int block = 256;
        attention_empty_kernel<<<ctxpar_cuda_grid_1d(n_q * width, block), block, 0, stream>>>(
            o, ldo, lse, n_q, width, n_q * heads);
        CTXPAR_CUDA_CHECK_LAUNCH();
        return CTXPAR_OK;
    }
    if (ldq < width || ldk < width || ldv < width)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "attention: row strides q %lld, k %lld, v %lld below heads*head_dim "
                            "%lld",
                            (long long)ldq, (long long)ldk, (long long)ldv, (long long)width);
    const int64_t block_m = std::min(kF32BlockM, ctxpar_cuda_attention_tc_block_m);
    if ((n_q + block_m - 1) / block_m > 0x7fffffff)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "attention: %lld queries exceed the grid",
                            (long long)n_q);

    if (dtype == CTXPAR_CUDA_FP32) {
        const float *qf = (const float *)q, *kf = (const float *)k, *vf = (const float *)v;
        switch (head_dim) {
        case 32:
            return launch_fp32<32>(qf, ldq, kf, ldk, vf, ldv, o, ldo, lse, n_q, n_kv, heads, scale,
                                   stream);
        case 64:
            return launch_fp32<64>(qf, ldq, kf, ldk, vf, ldv, o, ldo, lse, n_q, n_kv, heads, scale,
                                   stream);
        default:
            return launch_fp32<128>(qf, ldq, kf, ldk, vf, ldv, o, ldo, lse, n_q, n_kv, heads, scale,
                                    stream);
        }
    }

    /* Tensor-core path: cp.async moves 16-byte chunks, so every row start
     * must be 16-byte aligned. */
    if (!aligned16(q) || !aligned16(k) || !aligned16(v) || ldq % 8 || ldk % 8 || ldv % 8)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "attention %s: q, k, v must be 16-byte aligned with row strides a "
                            "multiple of 8 elements (ld %lld, %lld, %lld)",
                            ctxpar_cuda_dtype_name(dtype), (long long)ldq, (long long)ldk,
                            (long long)ldv);
    int device = 0, major = 0;
    CTXPAR_CUDA_CHECK(cudaGetDevice(&device));
    CTXPAR_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    if (major < 8)
        return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                            "attention %s: needs a GPU of compute capability 8.0 or newer "
                            "(this one is %d.x); use --dtype fp32",
                            ctxpar_cuda_dtype_name(dtype), major);
    return ctxpar_cuda_attention_tc(q, ldq, k, ldk, v, ldv, dtype, o, ldo, lse, n_q, n_kv, heads,
                                    head_dim, scale, stream);
}
