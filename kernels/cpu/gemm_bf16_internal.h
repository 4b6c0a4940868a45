/* Private interface between the bf16 GEMM's blocking loop (gemm_bf16.c) and
 * its micro-kernels (portable in gemm_bf16.c, the AVX-512 ones in
 * gemm_bf16_avx512.c, the AMX one in gemm_bf16_amx.c, the AVX2 one in
 * gemm_bf16_avx2.c). A micro-kernel computes one tile of C, up to its
 * path's rows (GEMM_MR, GEMM_AMX_MR or GEMM_AVX2_MR)
 * by GEMM_NR columns, over kp pairs of the reduction; it knows nothing of
 * threads or blocking, so every path is forced and tested through the same
 * loop. */
#pragma once
#include <stdint.h>

typedef uint16_t ctxpar_bf16; /* as gemm_bf16.h (C11 allows the repeat) */

enum {
    GEMM_MR = 12,  /* rows of C per micro-tile: A values broadcast */
    GEMM_NR = 32,  /* columns per micro-tile: two 16-lane vectors of B pairs */
    GEMM_KCP = 512, /* pairs per pass: fewer C reloads; the A block stays in L2 */
    GEMM_MB = 8 * GEMM_MR, /* rows per work item: A's block (192 KiB) stays in L2 */
    GEMM_NB = 4 * GEMM_NR, /* columns per work item */
    GEMM_AMX_MR = 32, /* rows of C per AMX micro-tile: two 16-row tiles */
    GEMM_AVX2_MR = 4, /* rows of C per AVX2 micro-tile: 8 of 16 ymm accumulate */
};

/* C tile (rows <= the path's rows, cols <= GEMM_NR) = (load_c ? C : 0) + A B over kp
 * pairs. a: row 0 of the tile at the pass's first pair, rows lda apart; b:
 * the tile's panel at the pass's first pair, pair rows 2*GEMM_NR values
 * apart, all GEMM_NR columns readable (the packing pads them). */
typedef void (*ctxpar_gemm_bf16_micro)(int64_t kp, const ctxpar_bf16 *a, int64_t lda, int rows,
                                       const ctxpar_bf16 *b, float *c, int64_t ldc, int cols,
                                       int load_c);

/* NULL where the compiler cannot build them (not x86-64 GNU C). */
extern const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_avx512bf16;
extern const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_avx512;
/* Tiles of GEMM_AVX2_MR rows. */
extern const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_avx2;
/* Tiles of GEMM_AMX_MR rows; NULL where the compiler has no AMX intrinsics. */
extern const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_amx;

/* The blocking loop itself, with a given micro-kernel of mr rows per tile
 * (mr divides GEMM_MB): what ctxpar_cpu_gemm_bf16 runs with the current
 * path's kernel, and what a test runs with a model of one. */
void ctxpar_gemm_bf16_blocked(ctxpar_gemm_bf16_micro micro, int mr, int64_t m, int64_t n,
                              int64_t k, const ctxpar_bf16 *a, int64_t lda, const ctxpar_bf16 *b,
                              float *c, int64_t ldc, int accumulate);
/* The same loop on the calling thread alone (no OpenMP region). */
void ctxpar_gemm_bf16_blocked_serial(ctxpar_gemm_bf16_micro micro, int mr, int64_t m, int64_t n,
                                     int64_t k, const ctxpar_bf16 *a, int64_t lda,
                                     const ctxpar_bf16 *b, float *c, int64_t ldc,
                                     int accumulate);
/* The micro-kernel ctxpar_cpu_gemm_bf16 runs now, and its rows per tile:
 * for kernels that drive the micro-kernel themselves (conv_bf16.c). */
void ctxpar_gemm_bf16_current_micro(ctxpar_gemm_bf16_micro *micro, int *mr);
/* Vector conversion of n floats (any n); NULL as above. */
extern void (*const ctxpar_bf16_convert_avx512bf16)(ctxpar_bf16 *dst, const float *src,
                                                    int64_t n);
