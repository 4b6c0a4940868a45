/* Tensor-core flash attention (bf16 or fp16 inputs, fp32 accumulation,
 * fp32 o and lse) for sm_80 and newer.
 *
 * Design, FlashAttention-2 style, with the fragment layouts of the PTX
 * mma.sync.m16n8k16 instruction spelled out rather than hidden behind WMMA:
 *   - A block owns kBlockM = 64 queries of one head: 4 warps, each warp 16
 *     query rows (one mma M tile). Keys stream through shared memory in tiles
 *     of kBlockN = 64, double-buffered with cp.async so the next K/V tile
 *     loads while this one is multiplied; Q is loaded once and kept in
 *     registers as A fragments.
 *   - S = Q K^T for the warp's 16 rows x 64 keys lives in registers (the
 *     mma C fragments); softmax statistics (running max, running sum) are
 *     per row, reduced across the 4 lanes that share a row with two
 *     shuffles. Everything is in log2 units (scores pre-multiplied by
 *     scale*log2 e, exp2f), as on the CPU.
 *   - The C fragment of S has exactly the register layout of the A fragment
 *     of the next mma, so P goes from registers to the P V product without
 *     touching shared memory; only the rounding to bf16/fp16 happens there.
 *     The row sum adds the ROUNDED probabilities, so o = sum p v / sum p is a
 *     true weighted mean of the v rows the tensor cores saw.
 *   - V is kept row-major ([key][dim]) in shared memory; ldmatrix.trans
 *     hands out the column-major B fragments, so V needs no transpose pass.
 *   - Rows are padded by 8 elements (16 bytes): with a row pitch of an odd
 *     number of 16-byte units every ldmatrix phase hits 8 distinct bank
 *     groups, no swizzle needed.
 * Why these sizes: 64x64 tiles with 4 warps keep head_dim 128 at ~170
 * registers per thread without spills (64 fp32 accumulators for O, 32 for S,
 * 32 for the Q fragments) and 87 KB of shared memory, so two blocks fit on an
 * SM of sm_80 (164 KB) or sm_90 (227 KB); head_dim 32 and 64 use the same
 * shape with less of both. Larger query blocks (128 rows, 8 warps) would
 * halve K/V traffic from L2 but cost occupancy at head_dim 128; the
 * benchmark in tests/gpu is there to settle that on real hardware.
 * Ragged edges: query rows past n_q and key rows past n_kv are zero-filled
 * by cp.async (src-size 0) and the missing keys' scores masked to -inf, so
 * garbage never reaches the accumulators. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "kernels/cuda/attention_internal_cuda.h"
#include "kernels/cuda/cuda_check.h"

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kBlockM = 16 * kWarps;
constexpr int kBlockN = 64;
static_assert(kBlockM == ctxpar_cuda_attention_tc_block_m, "launcher and kernel disagree");

template <int HD> struct tile_shape {
    static constexpr int kLds = HD + 8;                           /* padded row pitch in elements */
    static constexpr int kElems = (kBlockM + 4 * kBlockN) * kLds; /* Q + 2x(K, V) */
    static constexpr size_t kSmemBytes = sizeof(uint16_t) * (size_t)kElems;
};

/* ---- PTX wrappers (sm_80+) ---------------------------------------------- */

__device__ __forceinline__ uint32_t smem_addr(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global -> shared, asynchronously; valid == false zero-fills. */
__device__ __forceinline__ void cp_async_16(void *smem, const void *gmem, bool valid) {
    const int src_bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)),
                 "l"(gmem), "r"(src_bytes)
                 : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/* Four 8x8 b16 matrices; lane L gives the row address of matrix L/8, row
 * L%8. Lane t receives, of each matrix, row t/4, columns 2(t%4) and +1. */
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void *smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(smem)));
}
/* The same, transposed: lane t receives column t/4, rows 2(t%4) and +1. */
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void *smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(smem)));
}

/* Element-type specifics: the mma opcode and the packing of two fp32
 * values into the A operand (lower column in the low half). pack() also
 * returns the rounded values, which the row sum accumulates. */
template <typename T> struct elem;

template <> struct elem<__nv_bfloat16> {
    __device__ __forceinline__ static void mma(float c[4], const uint32_t a[4], uint32_t b0,
                                               uint32_t b1) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
            "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    __device__ __forceinline__ static uint32_t pack(float lo, float hi, float &lo_r, float &hi_r) {
        const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        lo_r = __low2float(h);
        hi_r = __high2float(h);
        return *reinterpret_cast<const uint32_t *>(&h);
    }
};

template <> struct elem<__half> {
    __device__ __forceinline__ static void mma(float c[4], const uint32_t a[4], uint32_t b0,
                                               uint32_t b1) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
            "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    __device__ __forceinline__ static uint32_t pack(float lo, float hi, float &lo_r, float &hi_r) {
        const __half2 h = __floats2half2_rn(lo, hi);
        lo_r = __low2float(h);
        hi_r = __high2float(h);
        return *reinterpret_cast<const uint32_t *>(&h);
    }
};

/* ROWS rows of HD elements starting at global row row0 (of `rows_valid`)
 * into shared memory with pitch kLds; rows past the end become zeros. */
template <int ROWS, int HD, typename T>
__device__ __forceinline__ void load_rows_async(T *smem, const T *global, int64_t ld, int64_t row0,
                                                int64_t rows_valid) {
    constexpr int kChunks = HD / 8; /* 16-byte chunks per row */
    constexpr int kLds = tile_shape<HD>::kLds;
    for (int idx = threadIdx.x; idx < ROWS * kChunks; idx += kThreads) {
        const int r = idx / kChunks, c = idx % kChunks;
        const bool valid = row0 + r < rows_valid;
        const T *src = valid ? global + (row0 + r) * ld + c * 8 : global;
        cp_async_16(smem + r * kLds + c * 8, src, valid);
    }
}

/* grid (ceil(n_q / kBlockM), heads), kThreads threads, tile_shape<HD>::kSmemBytes
 * of dynamic shared memory. q, k, v point at column 0; n_kv > 0. */
template <typename T, int HD>
__global__ void __launch_bounds__(kThreads)
    attention_tc_kernel(const T *__restrict__ q, int64_t ldq, const T *__restrict__ k, int64_t ldk,
                        const T *__restrict__ v, int64_t ldv, float *__restrict__ o, int64_t ldo,
                        float *__restrict__ lse, int64_t n_q, int64_t n_kv, float scale_log2) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap(); /* mma.sync bf16/f16 m16n8k16 and cp.async need sm_80; the launcher checks */
#else
    constexpr int kLds = tile_shape<HD>::kLds;
    constexpr int kTilesN = kBlockN / 8; /* n8 tiles of S per warp */
    constexpr int kTilesD = HD / 8;      /* n8 tiles of O per warp */
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T *s_q = reinterpret_cast<T *>(smem_raw);
    T *s_k = s_q + kBlockM * kLds; /* [2][kBlockN][kLds] */
    T *s_v = s_k + 2 * kBlockN * kLds;

    const int head = blockIdx.y;
    const int64_t q0 = (int64_t)blockIdx.x * kBlockM;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int group = lane / 4, quad = lane % 4; /* mma "groupID", "threadID_in_group" */
    q += (int64_t)head * HD;
    k += (int64_t)head * HD;
    v += (int64_t)head * HD;
    const int64_t n_tiles = (n_kv + kBlockN - 1) / kBlockN;

    load_rows_async<kBlockM, HD>(s_q, q, ldq, q0, n_q);
    load_rows_async<kBlockN, HD>(s_k, k, ldk, 0, n_kv);
    load_rows_async<kBlockN, HD>(s_v, v, ldv, 0, n_kv);
    cp_async_commit();

    uint32_t q_frag[HD / 16][4];
    float o_acc[kTilesD][4];
#pragma unroll
    for (int dt = 0; dt < kTilesD; dt++)
        o_acc[dt][0] = o_acc[dt][1] = o_acc[dt][2] = o_acc[dt][3] = 0.0f;
    /* Rows `group` (fragment elements 0, 1) and `group + 8` (elements 2, 3). */
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};

    for (int64_t tile = 0; tile < n_tiles; tile++) {
        const int buf = (int)(tile & 1);
        if (tile + 1 < n_tiles) { /* prefetch the next K/V tile into the other buffer */
            load_rows_async<kBlockN, HD>(s_k + (buf ^ 1) * kBlockN * kLds, k, ldk,
                                         (tile + 1) * kBlockN, n_kv);
            load_rows_async<kBlockN, HD>(s_v + (buf ^ 1) * kBlockN * kLds, v, ldv,
                                         (tile + 1) * kBlockN, n_kv);
            cp_async_commit();
            cp_async_wait<1>(); /* everything but the prefetch has landed */
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();

        if (tile == 0) { /* Q A fragments: matrices (rows 0-7 | 8-15) x (cols 0-7 | 8-15) */
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++)
                ldmatrix_x4(q_frag[kk],
                            s_q + (warp * 16 + lane % 16) * kLds + kk * 16 + (lane / 16) * 8);
        }
        const T *k_tile = s_k + buf * kBlockN * kLds;
        const T *v_tile = s_v + buf * kBlockN * kLds;

        /* S = Q K^T: B fragment of keys nb..nb+7 is K rows nb.. read as is. */
        float s[kTilesN][4];
#pragma unroll
        for (int nt = 0; nt < kTilesN; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < HD / 16; kk++) {
#pragma unroll
            for (int nb = 0; nb < kBlockN; nb += 16) {
                uint32_t b[4]; /* keys nb..+7: b[0], b[1]; keys nb+8..+15: b[2], b[3] */
                ldmatrix_x4(b, k_tile + (nb + lane % 8 + (lane / 16) * 8) * kLds + kk * 16 +
                                   ((lane / 8) % 2) * 8);
                elem<T>::mma(s[nb / 8], q_frag[kk], b[0], b[1]);
                elem<T>::mma(s[nb / 8 + 1], q_frag[kk], b[2], b[3]);
            }
        }

        /* Scale into log2 units; mask keys past n_kv (last tile only). */
        const int64_t kv0 = tile * kBlockN;
        const bool ragged = kv0 + kBlockN > n_kv;
#pragma unroll
        for (int nt = 0; nt < kTilesN; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                s[nt][e] *= scale_log2;
                if (ragged && kv0 + nt * 8 + 2 * quad + (e & 1) >= n_kv) s[nt][e] = -INFINITY;
            }

        /* Online softmax: new running max, rescale factor for the old state. */
        float tile_max[2] = {row_max[0], row_max[1]};
#pragma unroll
        for (int nt = 0; nt < kTilesN; nt++) {
            tile_max[0] = fmaxf(tile_max[0], fmaxf(s[nt][0], s[nt][1]));
            tile_max[1] = fmaxf(tile_max[1], fmaxf(s[nt][2], s[nt][3]));
        }
        float alpha[2], m_use[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
            /* A tile always holds a valid key, so tile_max is finite; the guard
             * keeps -inf - -inf = NaN out should inputs hold -inf. */
            m_use[r] = tile_max[r] == -INFINITY ? 0.0f : tile_max[r];
            alpha[r] = exp2f(row_max[r] - m_use[r]);
            row_max[r] = tile_max[r];
        }

        /* P = exp2(S - max), rounded to T; C fragments become A fragments:
         * keys 16kc..16kc+15 = S tiles 2kc (a[0], a[1]) and 2kc+1 (a[2], a[3]). */
        uint32_t p_frag[kBlockN / 16][4];
        float tile_sum[2] = {0.0f, 0.0f};
#pragma unroll
        for (int nt = 0; nt < kTilesN; nt++) {
            float r0, r1, r2, r3;
            const uint32_t lo =
                elem<T>::pack(exp2f(s[nt][0] - m_use[0]), exp2f(s[nt][1] - m_use[0]), r0, r1);
            const uint32_t hi =
                elem<T>::pack(exp2f(s[nt][2] - m_use[1]), exp2f(s[nt][3] - m_use[1]), r2, r3);
            tile_sum[0] += r0 + r1;
            tile_sum[1] += r2 + r3;
            p_frag[nt / 2][(nt % 2) * 2 + 0] = lo;
            p_frag[nt / 2][(nt % 2) * 2 + 1] = hi;
        }
        row_sum[0] = row_sum[0] * alpha[0] + tile_sum[0]; /* lane-partial; reduced at the end */
        row_sum[1] = row_sum[1] * alpha[1] + tile_sum[1];
#pragma unroll
        for (int dt = 0; dt < kTilesD; dt++) {
            o_acc[dt][0] *= alpha[0];
            o_acc[dt][1] *= alpha[0];
            o_acc[dt][2] *= alpha[1];
            o_acc[dt][3] *= alpha[1];
        }

        /* O += P V: B fragments of dims d0..d0+7 / d0+8..+15 over keys 16kc..+15
         * via ldmatrix.trans of row-major V. */
#pragma unroll
        for (int kc = 0; kc < kBlockN / 16; kc++) {
#pragma unroll
            for (int dp = 0; dp < HD / 16; dp++) {
                uint32_t b[4]; /* dims 16dp..+7: b[0], b[1]; dims 16dp+8..+15: b[2], b[3] */
                ldmatrix_x4_trans(b, v_tile + (kc * 16 + lane % 8 + ((lane / 8) % 2) * 8) * kLds +
                                         dp * 16 + (lane / 16) * 8);
                elem<T>::mma(o_acc[2 * dp], p_frag[kc], b[0], b[1]);
                elem<T>::mma(o_acc[2 * dp + 1], p_frag[kc], b[2], b[3]);
            }
        }
        __syncthreads(); /* this buffer is the target of the next prefetch */
    }

    /* Epilogue: finish the row sums across the 4 lanes of a row, normalise. */
#pragma unroll
    for (int r = 0; r < 2; r++) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
        const int64_t row = q0 + warp * 16 + group + 8 * r;
        if (row >= n_q) continue;
        const float inv_sum = 1.0f / row_sum[r];
        float *o_row = o + row * ldo + (int64_t)head * HD;
#pragma unroll
        for (int dt = 0; dt < kTilesD; dt++) {
            o_row[dt * 8 + 2 * quad] = o_acc[dt][2 * r] * inv_sum;
            o_row[dt * 8 + 2 * quad + 1] = o_acc[dt][2 * r + 1] * inv_sum;
        }
        if (quad == 0)
            lse[(int64_t)head * n_q + row] = row_max[r] * 0.6931471805599453f + logf(row_sum[r]);
    }
#endif
}

template <typename T, int HD>
ctxpar_status launch(const void *q, int64_t ldq, const void *k, int64_t ldk, const void *v,
                     int64_t ldv, float *o, int64_t ldo, float *lse, int64_t n_q, int64_t n_kv,
                     int heads, float scale, cudaStream_t stream) {
    const size_t smem = tile_shape<HD>::kSmemBytes;
    CTXPAR_CUDA_CHECK(cudaFuncSetAttribute(attention_tc_kernel<T, HD>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    const dim3 grid((unsigned)((n_q + kBlockM - 1) / kBlockM), (unsigned)heads);
    attention_tc_kernel<T, HD>
        <<<grid, kThreads, smem, stream>>>((const T *)q, ldq, (const T *)k, ldk, (const T *)v, ldv,
                                           o, ldo, lse, n_q, n_kv, scale * 1.4426950408889634f);
    CTXPAR_CUDA_CHECK_LAUNCH();
    return CTXPAR_OK;
}

template <typename T>
ctxpar_status launch_head_dim(const void *q, int64_t ldq, const void *k, int64_t ldk, const void *v,
                              int64_t ldv, float *o, int64_t ldo, float *lse, int64_t n_q,
                              int64_t n_kv, int heads, int head_dim, float scale,
                              cudaStream_t stream) {
    switch (head_dim) {
    case 32:
        return launch<T, 32>(q, ldq, k, ldk, v, ldv, o, ldo, lse, n_q, n_kv, heads, scale, stream);
    case 64:
        return launch<T, 64>(q, ldq, k, ldk, v, ldv, o, ldo, lse, n_q, n_kv, heads, scale, stream);
    case 128:
        return launch<T, 128>(q, ldq, k, ldk, v, ldv, o, ldo, lse, n_q, n_kv, heads, scale, stream);
    }
    return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                        "attention: head_dim %d (tensor-core path: 32, 64, 128)", head_dim);
}

} // namespace

ctxpar_status ctxpar_cuda_attention_tc(const void *q, int64_t ldq, const void *k, int64_t ldk,
                                       const void *v, int64_t ldv, ctxpar_cuda_dtype dtype,
                                       float *o, int64_t ldo, float *lse, int64_t n_q, int64_t n_kv,
                                       int heads, int head_dim, float scale, cudaStream_t stream) {
    if (dtype == CTXPAR_CUDA_BF16)
        return launch_head_dim<__nv_bfloat16>(q, ldq, k, ldk, v, ldv, o, ldo, lse, n_q, n_kv, heads,
                                              head_dim, scale, stream);
    if (dtype == CTXPAR_CUDA_FP16)
        return launch_head_dim<__half>(q, ldq, k, ldk, v, ldv, o, ldo, lse, n_q, n_kv, heads,
                                       head_dim, scale, stream);
    return ctxpar_error(CTXPAR_ERR_ARGUMENT, "attention_tc: dtype %s is not a tensor-core type",
                        ctxpar_cuda_dtype_name(dtype));
}
