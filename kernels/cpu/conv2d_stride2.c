/* The spatial downsample: per-frame 3x3 convolution, stride 2. pad_begin = 1
 * is zero padding 1 on every side; pad_begin = 0 is CogVideoX's (one zero
 * column on the right and one zero row at the bottom, then no padding).
 *
 * Design: a frame's temporal kernel is 1, so all frames of the call share one
 * im2col buffer col[cin*9][n_frames*(h/2)*(w/2)], and one GEMM per frame
 * writes its output frame into y (channel-major, ldc = y_cstride): one GEMM
 * over all the frames would let OpenBLAS's choice of kernels, which follows
 * the shape, change a pixel's bits with the number of frames in the call (the
 * rank's share). Stride
 * 2 means the im2col is already 4x smaller than the input per row, so the
 * expansion costs 9/4 of the input size. That is the portable path; AVX-512
 * CPUs run the direct register-tile kernel of conv3d_avx512.c instead (no
 * expansion, only a column-deinterleaved copy of the input; measured faster
 * in docs/bench-conv.md). */
#include "kernels/cpu/kernels_cpu.h"

#include <cblas.h>

#include "kernels/cpu/conv3d_internal.h"
#include "kernels/cpu/conv_im2col.h"

/* The larger of the two paths' needs, so a caller's buffer suits either. */
int64_t ctxpar_cpu_conv2d_stride2_scratch_floats(int64_t cin, int64_t h, int64_t w,
                                                 int64_t n_frames) {
    int64_t im2col = cin * 9 * n_frames * (h / 2) * (w / 2);
    int64_t direct = ctxpar_cpu_conv2d_stride2_direct_scratch_floats(cin, h, w, n_frames);
    return im2col > direct ? im2col : direct;
}

void ctxpar_cpu_conv2d_stride2_gemm(const float *x, int64_t x_cstride, float *y,
                                    int64_t y_cstride, const float *weight, const float *bias,
                                    int64_t cin, int64_t cout, int64_t h, int64_t w,
                                    int pad_begin, int64_t t_begin, int64_t t_end,
                                    float *scratch) {
    int64_t n_frames = t_end - t_begin;
    if (n_frames <= 0) return;
    int64_t out_h = h / 2, out_w = w / 2;
    int64_t out_hw = out_h * out_w, in_hw = h * w;
    int64_t n_cols = n_frames * out_hw;
    int64_t n_items = cin * n_frames;
#pragma omp parallel for schedule(static)
    for (int64_t item = 0; item < n_items; item++) {
        int64_t ci = item / n_frames, j = item % n_frames;
        const float *frame = x + ci * x_cstride + (t_begin + j) * in_hw;
        ctxpar_im2col_frame(scratch + ci * 9 * n_cols + j * out_hw, n_cols, frame, h, w, 3, 3, 2,
                            pad_begin, pad_begin, out_h, out_w);
    }
    float *y_chunk = y + t_begin * out_hw;
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < cout; co++) {
        float *row = y_chunk + co * y_cstride;
        float b = bias ? bias[co] : 0.0f;
        for (int64_t i = 0; i < n_cols; i++) row[i] = b;
    }
    /* weight [cout][cin][1][3][3] is already the dense [cout][cin*9] operand. */
    for (int64_t j = 0; j < n_frames; j++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout, (int)out_hw,
                    (int)(cin * 9), 1.0f, weight, (int)(cin * 9), scratch + j * out_hw,
                    (int)n_cols, 1.0f, y_chunk + j * out_hw, (int)y_cstride);
}

void ctxpar_cpu_conv2d_stride2(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                               const float *weight, const float *bias, int64_t cin, int64_t cout,
                               int64_t h, int64_t w, int pad_begin, int64_t t_begin,
                               int64_t t_end, float *scratch) {
    if (ctxpar_cpu_conv3d_have_avx512())
        ctxpar_cpu_conv2d_stride2_direct(x, x_cstride, y, y_cstride, weight, bias, cin, cout, h, w,
                                         pad_begin, t_begin, t_end, scratch);
    else
        ctxpar_cpu_conv2d_stride2_gemm(x, x_cstride, y, y_cstride, weight, bias, cin, cout, h, w,
                                       pad_begin, t_begin, t_end, scratch);
}
