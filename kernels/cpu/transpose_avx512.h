/* A 16 x 16 transpose of 32-bit values in AVX-512 registers, for kernels
 * that turn a block of columns into rows (the in-place bf16 GEMM's C^T
 * tiles and token panels, the bf16 attention's query pairs and outputs).
 * Gathers and scatters of 16 strided values do the same job at several
 * times the cost on the CPUs measured (Zen 5). Internal to kernels/cpu;
 * include it after <immintrin.h> on x86-64 GNU C only. */
#pragma once
#include <immintrin.h>

/* r_j becomes column j of the block of rows r_0..r_15: two rounds of
 * unpacks transpose the 4 x 4 blocks inside each 128-bit lane, then two of
 * lane shuffles move the lanes. */
static inline __attribute__((always_inline, target("avx512f"))) void
ctxpar_transpose_16x16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int a = 0; a < 8; a++) {
        t[2 * a] = _mm512_unpacklo_epi32(r[2 * a], r[2 * a + 1]);
        t[2 * a + 1] = _mm512_unpackhi_epi32(r[2 * a], r[2 * a + 1]);
    }
    /* u[4b + c], lane L: column 4L + c of rows 4b..4b+3 */
    for (int b = 0; b < 4; b++) {
        u[4 * b] = _mm512_unpacklo_epi64(t[4 * b], t[4 * b + 2]);
        u[4 * b + 1] = _mm512_unpackhi_epi64(t[4 * b], t[4 * b + 2]);
        u[4 * b + 2] = _mm512_unpacklo_epi64(t[4 * b + 1], t[4 * b + 3]);
        u[4 * b + 3] = _mm512_unpackhi_epi64(t[4 * b + 1], t[4 * b + 3]);
    }
    for (int c = 0; c < 4; c++) {
        const __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
        const __m512i v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xee);
        const __m512i v2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
        const __m512i v3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xee);
        r[c] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        r[8 + c] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        r[12 + c] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}
