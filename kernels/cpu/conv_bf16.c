/* The VAE's convolutions on the bf16 GEMM (--dtype bf16, docs/bf16.md): the
 * causal 3D convs (3x3x3, conv_in, conv_out), the 1x1 shortcuts and the
 * stride-2 downsample, all as one implicit GEMM.
 *
 * Design: C^T [output pixels][cout] = A [pixels][K] x B [K][cout], with
 * K = taps x cin2 in tap-major order (tap = (dt, dy, dx), cin2 = cin rounded
 * up to even, the pad channel zero). B is the weight, packed once per node
 * as the GEMM's panels (ctxpar_cpu_conv_bf16_pack_weight). A is built per
 * block of pixels from a pixel-major bf16 copy of the input rows the block
 * needs, so the im2col is a memcpy of cin2 values per pixel and tap: each
 * input value is converted to bf16 a few times (once per band of output
 * rows that reads it, for each of the kt frames), not kt x kh x kw times as
 * an element-wise im2col would. A work item is a band of output rows of one
 * output frame: its input rows (kt frames, causal frames from the halo
 * before x's frame 0, zeros outside the frame) are converted into the
 * thread's band buffer, then blocks of CONV_BLOCK pixels are gathered into
 * A rows, multiplied, and written back channel-major with the bias. The
 * GEMM's K is the whole conv (taps x cin), which keeps its inner loops long
 * (what the AMX tiles need).
 *
 * Every output element is the sum over K, in one fixed order, of its own
 * input window, plus the bias: the band, block, chunk or rank it falls in
 * does not change a bit (gemm_bf16.h: a row's result does not depend on the
 * rows beside it).
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

enum {
    CONV_BLOCK = 96,       /* output pixels per A block: the GEMM's rows per work item */
    CONV_BAND_PIXELS = 512 /* a band has at least this many output pixels (or the frame) */
};

static int64_t cin_even(const ctxpar_conv_bf16_shape *s) { return (s->cin + 1) / 2 * 2; }
static int64_t conv_k(const ctxpar_conv_bf16_shape *s) {
    return (int64_t)s->kt * s->kh * s->kw * cin_even(s);
}

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Output rows per band: enough pixels for long GEMM calls, but no more than
 * leaves a band for every thread (small frames on many cores). A row's
 * result does not depend on its band, so neither does the output. */
static int64_t band_rows(const ctxpar_conv_bf16_shape *s) {
    int64_t r = (CONV_BAND_PIXELS + s->wo - 1) / (s->wo > 0 ? s->wo : 1);
    const int64_t per_thread = (s->ho + max_threads() - 1) / max_threads();
    if (r > per_thread) r = per_thread;
    return r < 1 ? 1 : r > s->ho ? s->ho : r;
}

/* The band buffer's geometry: input rows and padded columns of one band. */
static int64_t band_in_rows(const ctxpar_conv_bf16_shape *s) {
    return (band_rows(s) - 1) * s->stride + s->kh;
}
static int64_t band_in_cols(const ctxpar_conv_bf16_shape *s) {
    return (s->wo - 1) * s->stride + s->kw;
}

int64_t ctxpar_cpu_conv_bf16_weight_values(int64_t cin, int64_t cout, int kt, int kh, int kw) {
    return ctxpar_bf16_packed_count((int64_t)kt * kh * kw * ((cin + 1) / 2 * 2), cout);
}

void ctxpar_cpu_conv_bf16_pack_weight(ctxpar_bf16 *dst, const float *weight, int64_t cin,
                                      int64_t cout, int kt, int kh, int kw) {
    /* B(kk, co), kk = tap * cin2 + ci, in the panel layout of gemm_bf16.h */
    const int64_t cin2 = (cin + 1) / 2 * 2, taps = (int64_t)kt * kh * kw;
    const int64_t k = taps * cin2, kp = k / 2;
    memset(dst, 0, sizeof(ctxpar_bf16) * (size_t)ctxpar_bf16_packed_count(k, cout));
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < cout; co++)
        for (int64_t tap = 0; tap < taps; tap++)
            for (int64_t ci = 0; ci < cin; ci++) {
                const int64_t kk = tap * cin2 + ci;
                dst[(co / 32) * kp * 64 + (kk / 2) * 64 + (co % 32) * 2 + (kk & 1)] =
                    ctxpar_bf16_from_f32(weight[(co * cin + ci) * taps + tap]);
            }
}

/* Per thread: the band buffer, an A block, a C^T block; in floats. */
static int64_t thread_floats(const ctxpar_conv_bf16_shape *s) {
    const int64_t band = (int64_t)s->kt * band_in_rows(s) * band_in_cols(s) * cin_even(s);
    const int64_t a = CONV_BLOCK * ctxpar_bf16_row_ld(conv_k(s));
    return (band + a + 1) / 2 + CONV_BLOCK * s->cout + 32;
}

int64_t ctxpar_cpu_conv_bf16_scratch_floats(const ctxpar_conv_bf16_shape *s, int in_place) {
    const int64_t frame = in_place ? s->cout * s->ho * s->wo : 0;
    return thread_floats(s) * max_threads() + frame;
}

/* The band's input, pixel-major bf16: band[f][r][c][ci] for frame f of the
 * kt (input frame t - (kt-1) + f), input row iy0 + r, padded column c
 * (input column c - pad_left); zeros outside the frame. */
static void fill_band(ctxpar_bf16 *band, const float *x, int64_t x_cstride, const float *halo,
                      const ctxpar_conv_bf16_shape *s, int64_t t, int64_t iy0) {
    const int64_t rows = band_in_rows(s), cols = band_in_cols(s), cin2 = cin_even(s);
    const int64_t hw = s->h * s->w, halo_n = s->kt - 1;
    memset(band, 0, sizeof(ctxpar_bf16) * (size_t)(s->kt * rows * cols * cin2));
    for (int f = 0; f < s->kt; f++) {
        const int64_t tin = t - halo_n + f;
        for (int64_t ci = 0; ci < s->cin; ci++) {
            const float *frame = tin >= 0 ? x + ci * x_cstride + tin * hw
                                          : halo + (ci * halo_n + (tin + halo_n)) * hw;
            for (int64_t r = 0; r < rows; r++) {
                const int64_t iy = iy0 + r;
                if (iy < 0 || iy >= s->h) continue;
                ctxpar_bf16 *dst = band + ((f * rows + r) * cols) * cin2 + ci;
                const int64_t c0 = s->pad_left > 0 ? s->pad_left : 0;
                for (int64_t c = c0; c < cols; c++) {
                    const int64_t ix = c - s->pad_left;
                    if (ix >= s->w) break;
                    dst[c * cin2] = ctxpar_bf16_from_f32(frame[iy * s->w + ix]);
                }
            }
        }
    }
}

/* Output rows [y0, y0 + n_rows) of output frame t into dst (channel-major,
 * ld_dst floats between channels, pixel oy * wo + ox). */
static void run_band(const float *x, int64_t x_cstride, const float *halo, float *dst,
                     int64_t ld_dst, const ctxpar_bf16 *weight, const float *bias,
                     const ctxpar_conv_bf16_shape *s, int64_t t, int64_t y0, int64_t n_rows,
                     float *scratch) {
    const int64_t rows = band_in_rows(s), cols = band_in_cols(s), cin2 = cin_even(s);
    const int64_t k = conv_k(s), lda = ctxpar_bf16_row_ld(k);
    const int64_t band_values = (int64_t)s->kt * rows * cols * cin2;
    ctxpar_bf16 *band = (ctxpar_bf16 *)scratch, *a = band + band_values;
    float *ct = scratch + (band_values + CONV_BLOCK * lda + 1) / 2 + 16;
    const int64_t iy0 = y0 * s->stride - s->pad_top;
    fill_band(band, x, x_cstride, halo, s, t, iy0);
    const int64_t first = y0 * s->wo, n_px = n_rows * s->wo;
    for (int64_t p0 = 0; p0 < n_px; p0 += CONV_BLOCK) {
        const int64_t m = n_px - p0 < CONV_BLOCK ? n_px - p0 : CONV_BLOCK;
        for (int64_t i = 0; i < m; i++) {
            const int64_t px = first + p0 + i, oy = px / s->wo - y0, ox = px % s->wo;
            ctxpar_bf16 *arow = a + i * lda;
            int64_t at = 0;
            for (int f = 0; f < s->kt; f++)
                for (int dy = 0; dy < s->kh; dy++) {
                    const ctxpar_bf16 *src =
                        band + ((f * rows + oy * s->stride + dy) * cols + ox * s->stride) * cin2;
                    memcpy(arow + at, src, sizeof(ctxpar_bf16) * (size_t)(s->kw * cin2));
                    at += s->kw * cin2;
                }
            for (int64_t c = k; c < lda; c++) arow[c] = 0;
        }
        ctxpar_cpu_gemm_bf16(m, s->cout, k, a, lda, weight, ct, s->cout, 0);
        for (int64_t co = 0; co < s->cout; co++) {
            float *out = dst + co * ld_dst + first + p0;
            const float b = bias ? bias[co] : 0.0f;
            for (int64_t i = 0; i < m; i++) out[i] = ct[i * s->cout + co] + b;
        }
    }
}

void ctxpar_cpu_conv_bf16(const float *x, int64_t x_cstride, const float *halo, float *y,
                          int64_t y_cstride, const ctxpar_bf16 *weight, const float *bias,
                          const ctxpar_conv_bf16_shape *s, int64_t t_begin, int64_t t_end,
                          int in_place, float *scratch) {
    const int64_t out_hw = s->ho * s->wo, per_thread = thread_floats(s);
    const int64_t r = band_rows(s), bands = (s->ho + r - 1) / r;
    float *frame_out = scratch + per_thread * max_threads();
    for (int64_t t = t_end - 1; t >= t_begin; t--) {
        float *dst = in_place ? frame_out : y + t * out_hw;
        const int64_t ld_dst = in_place ? out_hw : y_cstride;
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t band = 0; band < bands; band++) {
            int thread = 0;
#ifdef _OPENMP
            thread = omp_get_thread_num();
#endif
            const int64_t y0 = band * r, n_rows = s->ho - y0 < r ? s->ho - y0 : r;
            run_band(x, x_cstride, halo, dst, ld_dst, weight, bias, s, t, y0, n_rows,
                     scratch + per_thread * thread);
        }
        if (in_place)
#pragma omp parallel for schedule(static)
            for (int64_t co = 0; co < s->cout; co++)
                memcpy(y + co * y_cstride + t * out_hw, frame_out + co * out_hw,
                       sizeof(float) * (size_t)out_hw);
    }
}
