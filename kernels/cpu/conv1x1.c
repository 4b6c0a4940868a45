/* Pointwise (1x1x1) convolution, the ResBlock skip when Cin != Cout.
 *
 * Design: with channel-major activations a 1x1x1 conv is a GEMM, weight
 * [cout][cin] times x [cin][pixels] (ldb = x_cstride) into y (ldc =
 * y_cstride); no im2col and no scratch. The bias is written first and the GEMM
 * accumulates onto it (beta = 1), saving a pass over y. y must not overlap x.
 *
 * One GEMM per frame, not one over all the call's frames: OpenBLAS picks its
 * kernels (and so the order of a column's sum, edge columns included) by the
 * GEMM's shape, so one GEMM over a rank's frames gave a pixel different bits
 * as the rank's frame count changed (seen on a Zen 5). Per frame, a pixel's
 * column and the GEMM's shape depend only on the frame size: rank counts and
 * chunkings stay invisible. */
#include "kernels/cpu/kernels_cpu.h"

#include <cblas.h>

void ctxpar_cpu_conv1x1(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                        const float *weight, const float *bias, int64_t cin, int64_t cout,
                        int64_t n_frames, int64_t hw) {
    if (n_frames <= 0 || hw <= 0 || cout <= 0) return;
    const int64_t n = n_frames * hw;
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < cout; co++) {
        float *row = y + co * y_cstride;
        float b = bias ? bias[co] : 0.0f;
        for (int64_t i = 0; i < n; i++) row[i] = b;
    }
    for (int64_t t = 0; t < n_frames; t++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout, (int)hw, (int)cin, 1.0f,
                    weight, (int)cin, x + t * hw, (int)x_cstride, 1.0f, y + t * hw,
                    (int)y_cstride);
}
