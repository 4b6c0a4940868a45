/* The bf16 GEMM on a linear weight read in place (gemm_bf16.h,
 * ctxpar_cpu_gemm_bf16_rows): a bf16 checkpoint's [out][in] rows, mapped
 * from the file, with no packed copy of them at all (docs/bf16.md).
 *
 * Design: the packed path's loop with the operands' roles swapped. A
 * checkpoint row holds a weight's reduction pairs side by side, which is
 * exactly how the micro-kernels read A (one 32-bit broadcast per row and
 * pair), so W's rows are A as they lie; the activations X, converted once
 * per call anyway, are packed as B (X^T in panels of 32 tokens). Each
 * micro-kernel then computes a block of C^T; a work item (GEMM_MB weight
 * rows by GEMM_NB tokens) gathers its block in a per-thread tile, set to
 * the bias first, and writes it to C transposed, 16 x 16 values at a time
 * in registers where the CPU has AVX-512.
 *
 * Bits: an element of C is the same sequence of operations as on the packed
 * path (the bias, then pair after pair from p = 0, each pair's two products
 * exact), only with each product's factors swapped, so the result is the
 * same on every path but AMX (whose hardware order is its own). The packed
 * path flushes a subnormal weight to zero when it packs; VDPBF16PS treats
 * one as zero anyway, the paths that widen bf16 in software do not: the
 * runtime reads weights in place only on the VDPBF16PS path (model_bf16.c).
 *
 * Rows of one piece are k values apart; a work item never straddles two
 * pieces (a qkv stacked from three checkpoint tensors). Threads: OpenMP over
 * work items, weight blocks outer, so consecutive items of a thread share
 * their weight rows in cache. */
#include "kernels/cpu/gemm_bf16.h"

#include "kernels/cpu/gemm_bf16_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "base/cpu_features.h"
#include "kernels/cpu/transpose_avx512.h"

/* c[t * ldc + i] = tile[i * GEMM_NB + t] for the full 16 x 16 blocks, a
 * token group's blocks one after the other: C's rows are written a run at a
 * time (down C's columns first was twice as slow, Zen 5: its lines were
 * fetched for writing 64 bytes at a time). */
__attribute__((target("avx512f"))) static void store_blocks_avx512(const float *tile, int rows,
                                                                   int tokens, float *c,
                                                                   int64_t ldc) {
    for (int t0 = 0; t0 + 16 <= tokens; t0 += 16)
        for (int i0 = 0; i0 + 16 <= rows; i0 += 16) {
            __m512i r[16];
            for (int a = 0; a < 16; a++)
                r[a] = _mm512_loadu_si512(tile + (int64_t)(i0 + a) * GEMM_NB + t0);
            ctxpar_transpose_16x16(r);
            for (int j = 0; j < 16; j++) _mm512_storeu_si512(c + (int64_t)(t0 + j) * ldc + i0, r[j]);
        }
}

/* Tokens [j0, j0 + 16) of x (rows of k floats, k a multiple of 32) as pair
 * rows of their panel: a token's 32 values become 16 pairs in one
 * VCVTNE2PS2BF16 (the rounding of every bf16 conversion here), and the
 * 16 x 16 pairs are transposed in registers. */
__attribute__((target("avx512f,avx512bf16"))) static void pack_tokens16(ctxpar_bf16 *panel,
                                                                        const float *x,
                                                                        int64_t k, int64_t j0) {
    const int64_t kp = k / 2;
    for (int64_t p0 = 0; p0 < kp; p0 += 16) {
        __m512i r[16];
        for (int a = 0; a < 16; a++) {
            const float *row = x + (j0 + a) * k + 2 * p0;
            r[a] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + 16), _mm512_loadu_ps(row));
        }
        ctxpar_transpose_16x16(r);
        for (int p = 0; p < 16; p++)
            _mm512_storeu_si512(panel + (p0 + p) * 2 * GEMM_NR + (j0 % GEMM_NR) * 2, r[p]);
    }
}
#define HAVE_AVX512_PARTS 1
#else
#define HAVE_AVX512_PARTS 0
#endif

void ctxpar_bf16_pack_tokens(ctxpar_bf16 *dst, const float *x, int64_t k, int64_t m) {
#if HAVE_AVX512_PARTS
    if (k % 32 == 0 && ctxpar_cpu_has(CTXPAR_CPU_AVX512_BF16) && ctxpar_cpu_has(CTXPAR_CPU_AVX512F)) {
        const int64_t kp = k / 2, panels = (m + GEMM_NR - 1) / GEMM_NR;
#pragma omp parallel for schedule(static) if (m * k > (1 << 16))
        for (int64_t q = 0; q < panels; q++) {
            ctxpar_bf16 *panel = dst + q * kp * 2 * GEMM_NR;
            for (int64_t j0 = q * GEMM_NR; j0 < (q + 1) * GEMM_NR; j0 += 16) {
                if (j0 + 16 <= m) {
                    pack_tokens16(panel, x, k, j0);
                    continue;
                }
                /* the last tokens, and zeros past m */
                for (int64_t p = 0; p < kp; p++)
                    for (int64_t j = j0; j < j0 + 16; j++)
                        for (int e = 0; e < 2; e++)
                            panel[p * 2 * GEMM_NR + (j % GEMM_NR) * 2 + e] =
                                j < m ? ctxpar_bf16_from_f32(x[j * k + 2 * p + e]) : 0;
            }
        }
        return;
    }
#endif
    ctxpar_bf16_pack_transposed(dst, x, k, m);
}

/* C (tokens x rows, row stride ldc) = the tile (rows x tokens) transposed. */
static void store_transposed(const float *tile, int rows, int tokens, float *c, int64_t ldc) {
    int rows16 = 0, tokens16 = 0;
#if HAVE_AVX512_PARTS
    if (ctxpar_cpu_has(CTXPAR_CPU_AVX512F)) {
        rows16 = rows / 16 * 16, tokens16 = tokens / 16 * 16;
        store_blocks_avx512(tile, rows, tokens, c, ldc);
    }
#endif
    for (int t = 0; t < tokens; t++)
        for (int i = t < tokens16 ? rows16 : 0; i < rows; i++)
            c[(int64_t)t * ldc + i] = tile[(int64_t)i * GEMM_NB + t];
}

/* One work item: weight rows w[0 .. rows) (k values apart; C's columns
 * col0 ...) by tokens [t0, t0 + tokens) (t0 a multiple of GEMM_NR). */
static void rows_item(ctxpar_gemm_bf16_micro micro, int mr, const ctxpar_bf16 *w, int rows,
                      int64_t k, int64_t col0, int64_t t0, int tokens, const ctxpar_bf16 *xt,
                      const float *bias, float *c, int64_t ldc, float *tile) {
    const int64_t kp = k / 2;
    for (int i = 0; i < rows; i++) {
        const float b = bias ? bias[col0 + i] : 0.0f;
        for (int t = 0; t < tokens; t++) tile[(int64_t)i * GEMM_NB + t] = b;
    }
    /* a micro-tile's weight rows (a pass's 24 KiB) stay in L1 across the
     * item's token panels: a few percent faster than panels outer (Zen 5) */
    for (int64_t p0 = 0; p0 < kp; p0 += GEMM_KCP) {
        const int64_t np = kp - p0 < GEMM_KCP ? kp - p0 : GEMM_KCP;
        for (int i0 = 0; i0 < rows; i0 += mr)
            for (int j = 0; j < tokens; j += GEMM_NR) {
                const int cols = tokens - j < GEMM_NR ? tokens - j : GEMM_NR;
                const ctxpar_bf16 *panel = xt + (((t0 + j) / GEMM_NR) * kp + p0) * 2 * GEMM_NR;
                micro(np, w + i0 * k + 2 * p0, k, rows - i0 < mr ? rows - i0 : mr, panel,
                      tile + (int64_t)i0 * GEMM_NB + j, GEMM_NB, cols, 1);
            }
    }
    store_transposed(tile, rows, tokens, c + t0 * ldc + col0, ldc);
}

void ctxpar_cpu_gemm_bf16_rows(int64_t m, int64_t n, int64_t k, const ctxpar_bf16 *xt,
                               const ctxpar_bf16_rows *w, const float *bias, float *c,
                               int64_t ldc) {
    if (m <= 0 || n <= 0 || w->pieces <= 0) return;
    ctxpar_gemm_bf16_micro micro;
    int mr;
    ctxpar_gemm_bf16_current_micro(&micro, &mr);
    const int64_t piece_rows = n / w->pieces;
    const int64_t blocks = (piece_rows + GEMM_MB - 1) / GEMM_MB;
    const int64_t token_blocks = (m + GEMM_NB - 1) / GEMM_NB;
    const int64_t items = w->pieces * blocks * token_blocks;
#pragma omp parallel if (m * n * k > (1 << 19))
    {
        float tile[GEMM_MB * GEMM_NB] __attribute__((aligned(64)));
#pragma omp for schedule(static)
        for (int64_t item = 0; item < items; item++) {
            const int64_t tb = item % token_blocks, rb = item / token_blocks;
            const int piece = (int)(rb / blocks);
            const int64_t r0 = (rb % blocks) * GEMM_MB, t0 = tb * GEMM_NB;
            const int rows = (int)(piece_rows - r0 < GEMM_MB ? piece_rows - r0 : GEMM_MB);
            const int tokens = (int)(m - t0 < GEMM_NB ? m - t0 : GEMM_NB);
            rows_item(micro, mr, w->piece[piece] + r0 * k, rows, k, piece * piece_rows + r0, t0,
                      tokens, xt, bias, c, ldc, tile);
        }
    }
}
