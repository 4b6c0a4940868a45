/* Token-wise linear layer y = x W^T + b over row-major tokens.
 *
 * Design: PyTorch's [out][in] weight is used in place as the transposed B
 * operand of one row-major sgemm, so weights loaded from a checkpoint need no
 * repacking. The bias is broadcast into y first and the GEMM accumulates onto
 * it (beta = 1). y must not overlap x. */
#include "kernels/cpu/kernels_cpu.h"

#include <cblas.h>

void ctxpar_cpu_linear(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                       const float *weight, const float *bias) {
    if (n <= 0 || out <= 0) return;
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            for (int64_t o = 0; o < out; o++) y[i * out + o] = bias[o];
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x,
                (int)in, weight, (int)in, beta, y, (int)out);
}
