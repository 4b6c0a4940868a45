/* The VAE's convolutions on the bf16 GEMM (--dtype bf16, docs/bf16.md): the
 * causal 3D convs (3x3x3, conv_in, conv_out), the 1x1 shortcuts and the
 * stride-2 downsample, all as one implicit GEMM.
 *
 * Design: C [cout][pixels of an output frame] = A [cout][K] x B [K][pixels],
 * K = kt*cin*kh*kw in the order (dt, ci, dy, dx). A is the weight, converted
 * and laid out once per node (ctxpar_cpu_conv_bf16_pack_weight). B is never
 * built whole: each block of CONV_BF16_BLOCK output pixels gathers its K x
 * block window of the input (causal frames from the halo before x's frame
 * 0, zeros outside the frame) straight into the GEMM's packed panel layout,
 * converting to bf16 on the way, and one GEMM of the block follows. So the
 * im2col costs one block per thread of memory, not K x pixels. Every output
 * element is the bias plus one sequential sum over K (gemm_bf16.h), the
 * same whatever block, chunk or rank it falls in: results do not depend on
 * the rank count or the chunking.
 *
 * In place (y == x, a stride-1 conv with cin == cout): frames run last
 * first and each frame's output goes to a frame buffer, copied into y once
 * the frame is done; frame t of y then overwrites x's frame t only when no
 * later-computed frame (all earlier in time) reads it. */
#include "kernels/cpu/conv_bf16.h"

#include <string.h>

#include "kernels/cpu/gemm_bf16.h"

#ifdef _OPENMP
#include <omp.h>
#endif

enum { CONV_BF16_BLOCK = 128 }; /* output pixels per gathered block: 4 panels */

static int64_t conv_k(const ctxpar_conv_bf16_shape *s) {
    return (int64_t)s->kt * s->cin * s->kh * s->kw;
}

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int64_t ctxpar_cpu_conv_bf16_weight_values(int64_t cin, int64_t cout, int kt, int kh, int kw) {
    return cout * ctxpar_bf16_row_ld((int64_t)kt * cin * kh * kw);
}

void ctxpar_cpu_conv_bf16_pack_weight(ctxpar_bf16 *dst, const float *weight, int64_t cin,
                                      int64_t cout, int kt, int kh, int kw) {
    const int64_t k = (int64_t)kt * cin * kh * kw, ld = ctxpar_bf16_row_ld(k);
    const int64_t khw = (int64_t)kh * kw;
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < cout; co++) {
        ctxpar_bf16 *row = dst + co * ld;
        for (int dt = 0; dt < kt; dt++)
            for (int64_t ci = 0; ci < cin; ci++)
                for (int64_t e = 0; e < khw; e++)
                    row[((int64_t)dt * cin + ci) * khw + e] =
                        ctxpar_bf16_from_f32(weight[((co * cin + ci) * kt + dt) * khw + e]);
        for (int64_t c = k; c < ld; c++) row[c] = 0;
    }
}

int64_t ctxpar_cpu_conv_bf16_scratch_floats(const ctxpar_conv_bf16_shape *s, int in_place) {
    const int64_t block_values = ctxpar_bf16_packed_count(conv_k(s), CONV_BF16_BLOCK);
    const int64_t per_thread = (block_values + 1) / 2 + 16; /* in floats, aligned apart */
    const int64_t frame = in_place ? s->cout * s->ho * s->wo : 0;
    return per_thread * max_threads() + frame;
}

/* B for output pixels [j0, j0 + n) of output frame t, in the panel layout
 * of ctxpar_bf16_pack_rows for a K x n matrix. */
static void gather_block(ctxpar_bf16 *b, const float *x, int64_t x_cstride, const float *halo,
                         const ctxpar_conv_bf16_shape *s, int64_t t, int64_t j0, int64_t n) {
    const int64_t k = conv_k(s), kp = (k + 1) / 2, hw = s->h * s->w;
    const int64_t halo_n = s->kt - 1, panels = (n + 31) / 32;
    memset(b, 0, sizeof(ctxpar_bf16) * (size_t)(panels * kp * 64));
    for (int64_t kk = 0; kk < k; kk++) {
        const int64_t dx = kk % s->kw, dy = kk / s->kw % s->kh, ci = kk / (s->kw * s->kh) % s->cin;
        const int64_t dt = kk / ((int64_t)s->kw * s->kh * s->cin);
        const int64_t tin = t + dt - halo_n; /* causal: taps end at frame t */
        const float *frame = tin >= 0 ? x + ci * x_cstride + tin * hw
                                      : halo + (ci * halo_n + (tin + halo_n)) * hw;
        ctxpar_bf16 *row = b + (kk / 2) * 64 + (kk & 1);
        for (int64_t jj = 0; jj < n; jj++) {
            const int64_t j = j0 + jj, oy = j / s->wo, ox = j % s->wo;
            const int64_t iy = oy * s->stride + dy - s->pad_top;
            const int64_t ix = ox * s->stride + dx - s->pad_left;
            if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
            row[(jj / 32) * kp * 64 + (jj % 32) * 2] = ctxpar_bf16_from_f32(frame[iy * s->w + ix]);
        }
    }
}

void ctxpar_cpu_conv_bf16(const float *x, int64_t x_cstride, const float *halo, float *y,
                          int64_t y_cstride, const ctxpar_bf16 *weight, const float *bias,
                          const ctxpar_conv_bf16_shape *s, int64_t t_begin, int64_t t_end,
                          int in_place, float *scratch) {
    const int64_t k = conv_k(s), lda = ctxpar_bf16_row_ld(k), out_hw = s->ho * s->wo;
    const int64_t per_thread =
        (ctxpar_bf16_packed_count(k, CONV_BF16_BLOCK) + 1) / 2 + 16;
    float *frame_out = scratch + per_thread * max_threads();
    const int64_t blocks = (out_hw + CONV_BF16_BLOCK - 1) / CONV_BF16_BLOCK;
    for (int64_t t = t_end - 1; t >= t_begin; t--) {
        float *dst = in_place ? frame_out : y + t * out_hw;
        const int64_t ld_dst = in_place ? out_hw : y_cstride;
#pragma omp parallel for schedule(static)
        for (int64_t blk = 0; blk < blocks; blk++) {
            int thread = 0;
#ifdef _OPENMP
            thread = omp_get_thread_num();
#endif
            ctxpar_bf16 *b = (ctxpar_bf16 *)(scratch + per_thread * thread);
            const int64_t j0 = blk * CONV_BF16_BLOCK;
            const int64_t n = out_hw - j0 < CONV_BF16_BLOCK ? out_hw - j0 : CONV_BF16_BLOCK;
            gather_block(b, x, x_cstride, halo, s, t, j0, n);
            for (int64_t co = 0; co < s->cout; co++)
                for (int64_t jj = 0; jj < n; jj++)
                    dst[co * ld_dst + j0 + jj] = bias ? bias[co] : 0.0f;
            ctxpar_cpu_gemm_bf16(s->cout, n, k, weight, lda, b, dst + j0, ld_dst, 1);
        }
        if (in_place)
#pragma omp parallel for schedule(static)
            for (int64_t co = 0; co < s->cout; co++)
                memcpy(y + co * y_cstride + t * out_hw, frame_out + co * out_hw,
                       sizeof(float) * (size_t)out_hw);
    }
}
