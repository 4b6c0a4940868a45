/* Pointwise (1x1x1) convolution, the ResBlock skip when Cin != Cout.
 *
 * Design: with channel-major activations a 1x1x1 conv is exactly one GEMM,
 * weight [cout][cin] times x [cin][n] (ldb = x_cstride) into y (ldc =
 * y_cstride); no im2col and no scratch. The bias is written first and the GEMM
 * accumulates onto it (beta = 1), saving a pass over y. y must not overlap x. */
#include "kernels/cpu/kernels_cpu.h"

#include <cblas.h>

void ctxpar_cpu_conv1x1(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                        const float *weight, const float *bias, int64_t cin, int64_t cout,
                        int64_t n) {
    if (n <= 0 || cout <= 0) return;
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < cout; co++) {
        float *row = y + co * y_cstride;
        float b = bias ? bias[co] : 0.0f;
        for (int64_t i = 0; i < n; i++) row[i] = b;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout, (int)n, (int)cin, 1.0f,
                weight, (int)cin, x, (int)x_cstride, 1.0f, y, (int)y_cstride);
}
