/* The bf16 GEMM: conversion, packing, the blocking loop shared by every path,
 * and the portable micro-kernel that the SIMD ones must equal bit for bit.
 *
 * Design: a work item is a GEMM_MB x GEMM_NB block of C, owned by one thread.
 * Within it the reduction runs in passes of GEMM_KCP pairs; a pass walks the
 * block's 32-column panels and, for each, its 12-row micro-tiles (32-row
 * on AMX), so a B
 * sub-panel (512 pairs x 32 columns, 64 KiB, contiguous) is reused by 8
 * tiles and the A block (96 rows x 1024 values, 192 KiB) from L2 by 4
 * panels. Passes of 512 pairs beat 128 and 256 on Zen 4 (docs/bf16.md). Each pass
 * adds onto C what it found there: every element is one sequential sum over
 * the pairs, whatever the blocking (gemm_bf16.h). */
#include "kernels/cpu/gemm_bf16.h"

#include <string.h>

#include "base/cpu_features.h"
#include "kernels/cpu/gemm_bf16_internal.h"

/* ---------------------------------------------------------------- convert */

/* ctxpar_bf16_from_f32 without branches, so that the compiler vectorises
 * the loop below: the same bits (test_gemm_bf16's conversion cases). */
static inline ctxpar_bf16 from_f32_select(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const uint32_t quiet = (u >> 16) | 0x40u, zero = (u >> 16) & 0x8000u;
    const uint32_t r = (u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded;
    return (ctxpar_bf16)((u & 0x7f800000u) == 0 ? zero : r);
}

static void convert_select(ctxpar_bf16 *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = from_f32_select(src[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same loop vectorised on ymm registers: twice the generic build's xmm. */
__attribute__((target("avx2"))) static void convert_select_avx2(ctxpar_bf16 *dst,
                                                                const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = from_f32_select(src[i]);
}
#endif

void ctxpar_bf16_convert(ctxpar_bf16 *dst, const float *src, int64_t n) {
    if (ctxpar_bf16_convert_avx512bf16 && ctxpar_cpu_has(CTXPAR_CPU_AVX512_BF16)) {
        ctxpar_bf16_convert_avx512bf16(dst, src, n);
        return;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    if (ctxpar_cpu_has(CTXPAR_CPU_AVX2)) {
        convert_select_avx2(dst, src, n);
        return;
    }
#endif
    convert_select(dst, src, n);
}

void ctxpar_cpu_bf16_rows(ctxpar_bf16 *dst, int64_t ld_dst, const float *src, int64_t ld_src,
                          int64_t rows, int64_t cols) {
    const int64_t padded = (cols + 1) / 2 * 2;
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
    for (int64_t r = 0; r < rows; r++) {
        ctxpar_bf16 *out = dst + r * ld_dst;
        ctxpar_bf16_convert(out, src + r * ld_src, cols);
        for (int64_t c = cols; c < padded; c++) out[c] = 0;
    }
}

/* ---------------------------------------------------------------- packing */

int64_t ctxpar_bf16_packed_count(int64_t k, int64_t n) {
    return (k + 1) / 2 * 2 * ((n + GEMM_NR - 1) / GEMM_NR * GEMM_NR);
}

/* B(kk, j) = src[kk*row_stride + j*col_stride]. A work item is one panel's
 * 32 columns by 32 pairs: the columns' 64 values are gathered into rows
 * (each a run of src when row_stride is 1: a linear's weight row),
 * converted a row at a time (ctxpar_bf16_convert: vector code, not a
 * scalar call per value), then interleaved into the panel's pair rows. */
enum { PACK_PAIRS = 32 };

/* A work item's np pair rows of its panel (dst: the first) from the
 * columns' converted runs: row p is column jj's values 2p, 2p + 1 for
 * every jj. */
static void interleave_panel(ctxpar_bf16 *dst, ctxpar_bf16 columns[GEMM_NR][2 * PACK_PAIRS],
                             int64_t np) {
    /* a pair is moved as one 32-bit value: half the moves of two bf16 */
    for (int64_t p = 0; p < np; p++) {
        uint32_t row[GEMM_NR];
        for (int64_t jj = 0; jj < GEMM_NR; jj++) memcpy(&row[jj], &columns[jj][2 * p], 4);
        memcpy(dst + p * 2 * GEMM_NR, row, sizeof row);
    }
}

void ctxpar_bf16_pack_strided(ctxpar_bf16 *dst, const float *src, int64_t row_stride,
                              int64_t col_stride, int64_t k, int64_t n) {
    const int64_t kp = (k + 1) / 2, panels = (n + GEMM_NR - 1) / GEMM_NR;
    const int64_t blocks = (kp + PACK_PAIRS - 1) / PACK_PAIRS;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t q = 0; q < panels; q++)
        for (int64_t blk = 0; blk < blocks; blk++) {
            float column[2 * PACK_PAIRS];
            ctxpar_bf16 conv[GEMM_NR][2 * PACK_PAIRS];
            const int64_t p0 = blk * PACK_PAIRS;
            const int64_t np = kp - p0 < PACK_PAIRS ? kp - p0 : PACK_PAIRS;
            const int64_t kk0 = 2 * p0, nk = k - kk0 < 2 * np ? k - kk0 : 2 * np;
            for (int64_t jj = 0; jj < GEMM_NR; jj++) {
                const int64_t j = q * GEMM_NR + jj;
                int64_t live = 0;
                if (j < n) {
                    const float *s = src + kk0 * row_stride + j * col_stride;
                    if (row_stride == 1) {
                        ctxpar_bf16_convert(conv[jj], s, nk);
                    } else {
                        for (int64_t i = 0; i < nk; i++) column[i] = s[i * row_stride];
                        ctxpar_bf16_convert(conv[jj], column, nk);
                    }
                    live = nk;
                }
                for (int64_t i = live; i < 2 * np; i++) conv[jj][i] = 0;
            }
            interleave_panel(dst + (q * kp + p0) * 2 * GEMM_NR, conv, np);
        }
}

void ctxpar_bf16_pack_transposed(ctxpar_bf16 *dst, const float *w, int64_t k, int64_t n) {
    ctxpar_bf16_pack_strided(dst, w, 1, k, k, n);
}

void ctxpar_bf16_pack_rows(ctxpar_bf16 *dst, const float *b, int64_t ld_src, int64_t k,
                           int64_t n) {
    ctxpar_bf16_pack_strided(dst, b, ld_src, 1, k, n);
}

/* Work item: one panel by PACK_PAIRS pairs, as ctxpar_bf16_pack_strided:
 * the panel's 32 rows of w are copied (a run of 2 * PACK_PAIRS values
 * each, vector code) into a tile, then interleaved into the pair rows. */
void ctxpar_bf16_pack_transposed_bf16(ctxpar_bf16 *dst, const ctxpar_bf16 *w, int64_t k,
                                      int64_t n) {
    const int64_t kp = (k + 1) / 2, panels = (n + GEMM_NR - 1) / GEMM_NR;
    const int64_t blocks = (kp + PACK_PAIRS - 1) / PACK_PAIRS;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t q = 0; q < panels; q++)
        for (int64_t blk = 0; blk < blocks; blk++) {
            ctxpar_bf16 tile[GEMM_NR][2 * PACK_PAIRS];
            const int64_t p0 = blk * PACK_PAIRS;
            const int64_t np = kp - p0 < PACK_PAIRS ? kp - p0 : PACK_PAIRS;
            const int64_t kk0 = 2 * p0, nk = k - kk0 < 2 * np ? k - kk0 : 2 * np;
            for (int64_t jj = 0; jj < GEMM_NR; jj++) {
                const int64_t j = q * GEMM_NR + jj;
                const int64_t live = j < n ? nk : 0;
                const ctxpar_bf16 *src = w + (j < n ? j : 0) * k + kk0;
                for (int64_t i = 0; i < live; i++) tile[jj][i] = ctxpar_bf16_round_trip(src[i]);
                for (int64_t i = live; i < 2 * np; i++) tile[jj][i] = 0;
            }
            interleave_panel(dst + (q * kp + p0) * 2 * GEMM_NR, tile, np);
        }
}

/* --------------------------------------------------------------- portable */

static void micro_portable(int64_t kp, const ctxpar_bf16 *a, int64_t lda, int rows,
                           const ctxpar_bf16 *b, float *c, int64_t ldc, int cols, int load_c) {
    for (int i = 0; i < rows; i++) {
        const ctxpar_bf16 *arow = a + i * lda;
        float *crow = c + i * ldc, acc[GEMM_NR];
        for (int j = 0; j < cols; j++) acc[j] = load_c ? crow[j] : 0.0f;
        for (int64_t p = 0; p < kp; p++) {
            const float a_odd = ctxpar_bf16_to_f32(arow[2 * p + 1]);
            const float a_even = ctxpar_bf16_to_f32(arow[2 * p]);
            const ctxpar_bf16 *bp = b + p * 2 * GEMM_NR;
            for (int j = 0; j < cols; j++) {
                acc[j] += a_odd * ctxpar_bf16_to_f32(bp[2 * j + 1]);
                acc[j] += a_even * ctxpar_bf16_to_f32(bp[2 * j]);
            }
        }
        for (int j = 0; j < cols; j++) crow[j] = acc[j];
    }
}

/* ------------------------------------------------------------- dispatcher */

/* Paths, best first, with their micro-kernels' rows per tile. */
static const char *const path_names[] = {"amx", "avx512bf16", "avx512", "avx2", "portable"};
enum { N_PATHS = sizeof path_names / sizeof path_names[0] };
static const int path_rows[N_PATHS] = {GEMM_AMX_MR, GEMM_MR, GEMM_MR, GEMM_AVX2_MR, GEMM_MR};

static ctxpar_gemm_bf16_micro path_micro(int p) {
    if (p == 0) return ctxpar_gemm_bf16_micro_amx;
    if (p == 1) return ctxpar_gemm_bf16_micro_avx512bf16;
    if (p == 2) return ctxpar_gemm_bf16_micro_avx512;
    if (p == 3) return ctxpar_gemm_bf16_micro_avx2;
    return micro_portable;
}

static int path_supported(int p) {
    if (!path_micro(p)) return 0; /* not compiled for this target */
    if (p == 0) return ctxpar_cpu_has(CTXPAR_CPU_AMX_TILE) && ctxpar_cpu_has(CTXPAR_CPU_AMX_BF16);
    if (p == 1) return ctxpar_cpu_has(CTXPAR_CPU_AVX512_BF16);
    if (p == 2) return ctxpar_cpu_has(CTXPAR_CPU_AVX512F) && ctxpar_cpu_has(CTXPAR_CPU_AVX512BW);
    if (p == 3) return ctxpar_cpu_has(CTXPAR_CPU_AVX2) && ctxpar_cpu_has(CTXPAR_CPU_FMA);
    return 1;
}

static int forced = -1; /* test hook: set between calls, never during one */

static int current_path(void) {
    if (forced >= 0) return forced;
    for (int p = 0; p < N_PATHS; p++)
        if (path_supported(p)) return p;
    return N_PATHS - 1;
}

const char *ctxpar_cpu_gemm_bf16_path(void) { return path_names[current_path()]; }

int ctxpar_cpu_gemm_bf16_force_path(const char *path) {
    if (!path) {
        forced = -1;
        return 0;
    }
    for (int p = 0; p < N_PATHS; p++)
        if (!strcmp(path, path_names[p])) {
            if (!path_supported(p)) return -1;
            forced = p;
            return 0;
        }
    return -1;
}

/* Work item (mb, nb) of the blocking: rows [mb*GEMM_MB, ...) by columns
 * [nb*GEMM_NB, ...) of C, the reduction in passes of GEMM_KCP pairs. With a
 * bias, the item's block of C is set to it first (then accumulated onto):
 * the bits of a C filled with the bias beforehand, without a pass of its
 * own over C, and with the block in cache when the first pass loads it. */
static void blocked_item(ctxpar_gemm_bf16_micro micro, int mr, int64_t mb, int64_t nb, int64_t m,
                         int64_t n, int64_t kp, const ctxpar_bf16 *a, int64_t lda,
                         const ctxpar_bf16 *b, const float *bias, float *c, int64_t ldc,
                         int accumulate) {
    const int64_t i_end = m < (mb + 1) * GEMM_MB ? m : (mb + 1) * GEMM_MB;
    const int64_t j_end = n < (nb + 1) * GEMM_NB ? n : (nb + 1) * GEMM_NB;
    if (bias) {
        const int64_t j0 = nb * GEMM_NB;
        for (int64_t i = mb * GEMM_MB; i < i_end; i++)
            memcpy(c + i * ldc + j0, bias + j0, sizeof(float) * (size_t)(j_end - j0));
        accumulate = 1;
    }
    /* at least one pass, so k == 0 still writes C */
    for (int64_t p0 = 0; p0 == 0 || p0 < kp; p0 += GEMM_KCP) {
        const int64_t np = kp - p0 < GEMM_KCP ? kp - p0 : GEMM_KCP;
        const int load_c = accumulate || p0 > 0;
        for (int64_t j0 = nb * GEMM_NB; j0 < j_end; j0 += GEMM_NR) {
            const int cols = (int)(j_end - j0 < GEMM_NR ? j_end - j0 : GEMM_NR);
            for (int64_t i0 = mb * GEMM_MB; i0 < i_end; i0 += mr) {
                const int rows = (int)(i_end - i0 < mr ? i_end - i0 : mr);
                micro(np, a + i0 * lda + 2 * p0, lda, rows,
                      b + ((j0 / GEMM_NR) * kp + p0) * 2 * GEMM_NR, c + i0 * ldc + j0, ldc, cols,
                      load_c);
            }
        }
    }
}

/* Every work item, on OpenMP threads or (serial) on the calling one. */
static void blocked_all(ctxpar_gemm_bf16_micro micro, int mr, int64_t m, int64_t n, int64_t k,
                        const ctxpar_bf16 *a, int64_t lda, const ctxpar_bf16 *b,
                        const float *bias, float *c, int64_t ldc, int accumulate, int serial) {
    if (m <= 0 || n <= 0) return;
    const int64_t kp = (k + 1) / 2;
    const int64_t n_mb = (m + GEMM_MB - 1) / GEMM_MB, n_nb = (n + GEMM_NB - 1) / GEMM_NB;
#pragma omp parallel for collapse(2) schedule(static) if (!serial && m * n * kp > (1 << 18))
    for (int64_t mb = 0; mb < n_mb; mb++)
        for (int64_t nb = 0; nb < n_nb; nb++)
            blocked_item(micro, mr, mb, nb, m, n, kp, a, lda, b, bias, c, ldc, accumulate);
}

void ctxpar_gemm_bf16_blocked(ctxpar_gemm_bf16_micro micro, int mr, int64_t m, int64_t n,
                              int64_t k, const ctxpar_bf16 *a, int64_t lda, const ctxpar_bf16 *b,
                              float *c, int64_t ldc, int accumulate) {
    blocked_all(micro, mr, m, n, k, a, lda, b, NULL, c, ldc, accumulate, 0);
}

void ctxpar_gemm_bf16_blocked_serial(ctxpar_gemm_bf16_micro micro, int mr, int64_t m, int64_t n,
                                     int64_t k, const ctxpar_bf16 *a, int64_t lda,
                                     const ctxpar_bf16 *b, float *c, int64_t ldc,
                                     int accumulate) {
    blocked_all(micro, mr, m, n, k, a, lda, b, NULL, c, ldc, accumulate, 1);
}

void ctxpar_gemm_bf16_current_micro(ctxpar_gemm_bf16_micro *micro, int *mr) {
    const int p = current_path();
    *micro = path_micro(p);
    *mr = path_rows[p];
}

void ctxpar_cpu_gemm_bf16(int64_t m, int64_t n, int64_t k, const ctxpar_bf16 *a, int64_t lda,
                          const ctxpar_bf16 *b, float *c, int64_t ldc, int accumulate) {
    const int p = current_path();
    ctxpar_gemm_bf16_blocked(path_micro(p), path_rows[p], m, n, k, a, lda, b, c, ldc,
                             accumulate);
}

void ctxpar_cpu_gemm_bf16_bias(int64_t m, int64_t n, int64_t k, const ctxpar_bf16 *a,
                               int64_t lda, const ctxpar_bf16 *b, const float *bias, float *c,
                               int64_t ldc) {
    const int p = current_path();
    blocked_all(path_micro(p), path_rows[p], m, n, k, a, lda, b, bias, c, ldc, 0, 0);
}

void ctxpar_cpu_gemm_bf16_serial(int64_t m, int64_t n, int64_t k, const ctxpar_bf16 *a,
                                 int64_t lda, const ctxpar_bf16 *b, float *c, int64_t ldc,
                                 int accumulate) {
    const int p = current_path();
    ctxpar_gemm_bf16_blocked_serial(path_micro(p), path_rows[p], m, n, k, a, lda, b, c, ldc,
                                    accumulate);
}
