/* bf16 matrix products: C (float32) = A (bf16) x B (bf16, packed), with
 * float32 accumulation, for the linears, convolutions and attention of a
 * --dtype bf16 run (docs/bf16.md).
 *
 * Numbers. bf16 is the top half of a float32. Conversion rounds to nearest
 * even, flushes denormals to signed zero and quiets NaNs: exactly what
 * VCVTNEPS2BF16 does, so the scalar and SIMD conversions agree bit for bit.
 * A product of two bf16 values is exact in float32, and every path adds the
 * pairs of the reduction in one fixed order, C + a[2p+1]b[2p+1] + a[2p]b[2p]
 * rounded after each add (how VDPBF16PS is specified and what Zen 4 does),
 * pair after pair from p = 0. So the result of an element depends on its own
 * row and column only: not on the matrix sizes, the blocking, the thread
 * count or the path (portable C, AVX2 or AVX-512 widening, AVX512-BF16), for inputs
 * without denormals (VDPBF16PS flushes them; the other paths keep them).
 * The AMX path (TDPBF16PS) adds 16 pairs per instruction in the hardware's
 * own order, so its bits differ from the other paths'; an element's result
 * still depends on its own row and column only (gemm_bf16_amx_micro.h).
 *
 * Layouts. A is row-major bf16 [m][lda], lda even, its columns k..lda-1 zero
 * when k is odd (ctxpar_cpu_bf16_rows writes them so). B is packed in
 * panels of 32 columns, each a run of column pairs: with kp = (k+1)/2,
 * element (kk, j) of the k x n matrix is at
 *   b[(j/32)*kp*64 + (kk/2)*64 + (j%32)*2 + kk%2]
 * zeros in the padding. A pair row of a panel is two 64-byte lines, and the
 * rows a micro-tile reads follow each other in memory: a row-major B with
 * a power-of-two width would put them all in one L1 set. */
#pragma once
#include <stdint.h>
#include <string.h>

typedef uint16_t ctxpar_bf16;

/* ---- conversion ---------------------------------------------------------- */

static inline float ctxpar_bf16_to_f32(ctxpar_bf16 h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline ctxpar_bf16 ctxpar_bf16_from_f32(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0) return (ctxpar_bf16)((u >> 16) & 0x8000u); /* 0, denormal */
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ctxpar_bf16)((u >> 16) | 0x40u); /* NaN */
    return (ctxpar_bf16)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* A bf16 value as float32 and back through ctxpar_bf16_from_f32: itself,
 * except a subnormal (signed zero) and a signalling NaN (quiet). */
static inline ctxpar_bf16 ctxpar_bf16_round_trip(ctxpar_bf16 x) {
    if ((x & 0x7f80u) == 0) return (ctxpar_bf16)(x & 0x8000u);
    if ((x & 0x7fffu) > 0x7f80u) return (ctxpar_bf16)(x | 0x40u);
    return x;
}

/* A good leading dimension for a bf16 A with k columns: k rounded up to
 * even, plus 32 values when that is a multiple of 64 (128 bytes), so the
 * 12 rows a micro-tile reads do not share one L1 set. */
static inline int64_t ctxpar_bf16_row_ld(int64_t k) {
    const int64_t even = (k + 1) / 2 * 2;
    return even % 64 == 0 ? even + 32 : even;
}

/* dst[i] = bf16(src[i]) for i < n: one thread, vector where the CPU has
 * AVX512-BF16 (the same bits either way). */
void ctxpar_bf16_convert(ctxpar_bf16 *dst, const float *src, int64_t n);

/* dst[r*ld_dst + c] = bf16(src[r*ld_src + c]) for c < cols, and zero for
 * cols <= c < ld_dst rounded up to even (the pad pair of an odd k). */
void ctxpar_cpu_bf16_rows(ctxpar_bf16 *dst, int64_t ld_dst, const float *src, int64_t ld_src,
                          int64_t rows, int64_t cols);

/* ---- packing ------------------------------------------------------------- */

/* The size of a packed B in bf16 values, padding included. */
int64_t ctxpar_bf16_packed_count(int64_t k, int64_t n);

/* Pack B = W^T for a PyTorch linear weight W [n][k] (row j of W is column j
 * of B). Writes ctxpar_bf16_packed_count(k, n) values, padding included. */
void ctxpar_bf16_pack_transposed(ctxpar_bf16 *dst, const float *w, int64_t k, int64_t n);

/* The same from W given in bf16 (a checkpoint's own values), without a
 * float32 copy: the packed bits equal ctxpar_bf16_pack_transposed's of W
 * widened to float32, so a subnormal becomes a signed zero and a NaN quiet. */
void ctxpar_bf16_pack_transposed_bf16(ctxpar_bf16 *dst, const ctxpar_bf16 *w, int64_t k,
                                      int64_t n);

/* Pack B with B(kk, j) = src[kk * row_stride + j * col_stride] (floats). */
void ctxpar_bf16_pack_strided(ctxpar_bf16 *dst, const float *src, int64_t row_stride,
                              int64_t col_stride, int64_t k, int64_t n);

/* Pack B [k][n] given row-major with leading dimension ld_src (floats). */
void ctxpar_bf16_pack_rows(ctxpar_bf16 *dst, const float *b, int64_t ld_src, int64_t k,
                           int64_t n);

/* ---- product ------------------------------------------------------------- */

/* C[i][j] (row stride ldc) = (accumulate ? C[i][j] : 0) + sum_kk A[i][kk] B[kk][j]
 * for i < m, j < n; b packed for (k, n). Threads: OpenMP over blocks of C,
 * each element owned by one thread. */
void ctxpar_cpu_gemm_bf16(int64_t m, int64_t n, int64_t k, const ctxpar_bf16 *a, int64_t lda,
                          const ctxpar_bf16 *b, float *c, int64_t ldc, int accumulate);

/* C[i][j] = bias[j] + sum_kk A[i][kk] B[kk][j]: the bits of filling C with
 * the bias and calling ctxpar_cpu_gemm_bf16 with accumulate, in one pass
 * (each work item sets its block of C just before its products). */
void ctxpar_cpu_gemm_bf16_bias(int64_t m, int64_t n, int64_t k, const ctxpar_bf16 *a,
                               int64_t lda, const ctxpar_bf16 *b, const float *bias, float *c,
                               int64_t ldc);

/* The same on the calling thread alone, with no OpenMP region (for kernels
 * whose work items already run in one: small products where even an
 * inactive region's set-up would show). The same bits. */
void ctxpar_cpu_gemm_bf16_serial(int64_t m, int64_t n, int64_t k, const ctxpar_bf16 *a,
                                 int64_t lda, const ctxpar_bf16 *b, float *c, int64_t ldc,
                                 int accumulate);

/* ---- weights read in place --------------------------------------------- */

/* A linear weight W [n][k] (k even) where it lies, as a bf16 checkpoint
 * stores it: its rows split evenly over `pieces` runs (a qkv stacked from
 * three tensors), row j at piece[j / (n / pieces)] + (j % (n / pieces)) * k. */
enum { CTXPAR_BF16_ROWS_PIECES_MAX = 4 };
typedef struct ctxpar_bf16_rows {
    const ctxpar_bf16 *piece[CTXPAR_BF16_ROWS_PIECES_MAX];
    int pieces;
} ctxpar_bf16_rows;

/* X [m][k] packed as B = X^T for ctxpar_cpu_gemm_bf16_rows: the bits of
 * ctxpar_bf16_pack_transposed(dst, x, k, m), transposed in registers where
 * the CPU has AVX512-BF16 and k is a multiple of 32. */
void ctxpar_bf16_pack_tokens(ctxpar_bf16 *dst, const float *x, int64_t k, int64_t m);

/* C[i][j] = (bias ? bias[j] : 0) + sum_kk X[i][kk] W[j][kk] for i < m, j < n,
 * with X^T packed as B (ctxpar_bf16_pack_transposed(xt, x, k, m)) and W read
 * in place (gemm_bf16_rows.c). k even, n a multiple of w->pieces. The bits
 * of ctxpar_cpu_gemm_bf16_bias on W packed, on every path but AMX, for
 * weights without subnormals (VDPBF16PS flushes those either way). */
void ctxpar_cpu_gemm_bf16_rows(int64_t m, int64_t n, int64_t k, const ctxpar_bf16 *xt,
                               const ctxpar_bf16_rows *w, const float *bias, float *c,
                               int64_t ldc);

/* The path ctxpar_cpu_gemm_bf16 takes: "amx", "avx512bf16", "avx512",
 * "avx2" or "portable". */
const char *ctxpar_cpu_gemm_bf16_path(void);
/* Test and benchmark hook: force a path by name (NULL: automatic). Returns
 * -1, changing nothing, when the name is unknown or this CPU lacks it. */
int ctxpar_cpu_gemm_bf16_force_path(const char *path);
