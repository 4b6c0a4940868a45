/* The AMX micro-kernel of the bf16 GEMM, written once against five tile
 * operations that its includer defines:
 *   AMX_PREPARE()              this thread's tile configuration (below)
 *   AMX_ZERO(t)                tile t = 0
 *   AMX_LOAD(t, base, stride)  tile t's 16 rows of 64 bytes, stride in bytes
 *   AMX_STORE(t, base, stride)
 *   AMX_DP(c, a, b)            TDPBF16PS: tile c += tile a x tile b
 * and AMX_MICRO_NAME / AMX_MICRO_ATTR, the function's name and attributes.
 * gemm_bf16_amx.c maps them onto the instructions; the test
 * tests/test_gemm_bf16_amx_model.c maps them onto a C model of the tiles,
 * so the tiling (strides, panel offsets, the k tail, partial tiles) is
 * checked on every machine, and the instructions where the CPU has them.
 *
 * Design: a 32 x 32 tile of C in four accumulator tiles (tmm0..3: rows
 * 0-15 / 16-31 by columns 0-15 / 16-31), two A tiles (tmm4, 5: 16 rows x 16
 * pairs each) and two B tiles (tmm6, 7: 16 pairs x 16 columns), eight
 * TDPBF16PS per 16 pairs of the reduction. Every tile is 16 rows of 64
 * bytes, so one configuration serves all eight and stays loaded for the
 * thread's life.
 * - B is the GEMM's packed panel as it is (gemm_bf16.h): a pair row of a
 *   32-column panel is exactly the VNNI rows of two B tiles, 64 bytes
 *   apart, so B tiles load straight from the panel with a 128-byte stride.
 * - A is row-major bf16: a tile row is 16 consecutive pairs of one row.
 * - Edges go through small buffers with zeros: a partial tile of C (rows <
 *   32 or cols < 32), a partial A (rows < 32), and the k tail (kp not a
 *   multiple of 16: zero pairs in A and B add nothing). So every element
 *   of C sees the same sequence of instructions whatever tile it sits in,
 *   and its result depends on its own row and column only (the property
 *   that makes rank counts invisible, gemm_bf16.h); the order of the adds
 *   inside one TDPBF16PS is the hardware's, so the AMX path is not
 *   bit-identical to the others. */
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/gemm_bf16_internal.h"

#define AMX_TILE_ROWS 16
#define AMX_TILE_PAIRS 16 /* pairs of the reduction per A tile row */

AMX_MICRO_ATTR static void AMX_MICRO_NAME(int64_t kp, const ctxpar_bf16 *a, int64_t lda,
                                          int rows, const ctxpar_bf16 *b, float *c, int64_t ldc,
                                          int cols, int load_c) {
    AMX_PREPARE();
    _Alignas(64) float c_edge[GEMM_AMX_MR * GEMM_NR];
    _Alignas(64) ctxpar_bf16 a_edge[GEMM_AMX_MR * 2 * AMX_TILE_PAIRS];
    _Alignas(64) ctxpar_bf16 b_tail[AMX_TILE_PAIRS * 2 * GEMM_NR];
    const int full = rows == GEMM_AMX_MR && cols == GEMM_NR;
    /* C: in place when the tile is whole, else through c_edge */
    float *ct = full ? c : c_edge;
    const int64_t ldct = full ? ldc : GEMM_NR;
    if (!full) {
        memset(c_edge, 0, sizeof c_edge);
        if (load_c)
            for (int i = 0; i < rows; i++)
                memcpy(c_edge + i * GEMM_NR, c + i * ldc, sizeof(float) * (size_t)cols);
    }
    if (load_c) {
        AMX_LOAD(0, ct, ldct * 4);
        AMX_LOAD(1, ct + 16, ldct * 4);
        AMX_LOAD(2, ct + 16 * ldct, ldct * 4);
        AMX_LOAD(3, ct + 16 * ldct + 16, ldct * 4);
    } else {
        AMX_ZERO(0);
        AMX_ZERO(1);
        AMX_ZERO(2);
        AMX_ZERO(3);
    }
    if (rows < GEMM_AMX_MR) memset(a_edge, 0, sizeof a_edge);
    for (int64_t p = 0; p < kp; p += AMX_TILE_PAIRS) {
        const int pairs = (int)(kp - p < AMX_TILE_PAIRS ? kp - p : AMX_TILE_PAIRS);
        /* A: its rows in place, or the live rows (and live pairs) copied */
        const ctxpar_bf16 *at = a + 2 * p;
        int64_t ldat = lda;
        if (rows < GEMM_AMX_MR || pairs < AMX_TILE_PAIRS) {
            if (pairs < AMX_TILE_PAIRS) memset(a_edge, 0, sizeof a_edge);
            for (int i = 0; i < rows; i++)
                memcpy(a_edge + i * 2 * AMX_TILE_PAIRS, a + i * lda + 2 * p,
                       sizeof(ctxpar_bf16) * 2 * (size_t)pairs);
            at = a_edge;
            ldat = 2 * AMX_TILE_PAIRS;
        }
        /* B: the panel's pair rows, or the tail's followed by zero rows */
        const ctxpar_bf16 *bt = b + p * 2 * GEMM_NR;
        if (pairs < AMX_TILE_PAIRS) {
            memset(b_tail, 0, sizeof b_tail);
            memcpy(b_tail, bt, sizeof(ctxpar_bf16) * 2 * GEMM_NR * (size_t)pairs);
            bt = b_tail;
        }
        AMX_LOAD(4, at, ldat * 2);
        AMX_LOAD(5, at + AMX_TILE_ROWS * ldat, ldat * 2);
        AMX_LOAD(6, bt, 2 * GEMM_NR * 2);
        AMX_LOAD(7, bt + GEMM_NR, 2 * GEMM_NR * 2);
        AMX_DP(0, 4, 6);
        AMX_DP(1, 4, 7);
        AMX_DP(2, 5, 6);
        AMX_DP(3, 5, 7);
    }
    AMX_STORE(0, ct, ldct * 4);
    AMX_STORE(1, ct + 16, ldct * 4);
    AMX_STORE(2, ct + 16 * ldct, ldct * 4);
    AMX_STORE(3, ct + 16 * ldct + 16, ldct * 4);
    if (!full)
        for (int i = 0; i < rows; i++)
            memcpy(c + i * ldc, c_edge + i * GEMM_NR, sizeof(float) * (size_t)cols);
}
