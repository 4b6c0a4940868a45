/* Token-wise linear layer y = x W^T + b over row-major tokens.
 *
 * Design: PyTorch's [out][in] weight is used in place as the transposed B
 * operand of one row-major sgemm, so weights loaded from a checkpoint need no
 * repacking. The bias is broadcast into y first and the GEMM accumulates onto
 * it (beta = 1). y must not overlap x. */
#include "kernels/cpu/kernels_cpu.h"

#include <cblas.h>

/* y[i][:] = bias for every row: both linears accumulate onto it. */
static void broadcast_bias(float *y, int64_t n, int64_t out, const float *bias) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) y[i * out + o] = bias[o];
}

void ctxpar_cpu_linear(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                       const float *weight, const float *bias) {
    if (n <= 0 || out <= 0) return;
    if (bias) broadcast_bias(y, n, out, bias);
    const float beta = bias ? 1.0f : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x,
                (int)in, weight, (int)in, beta, y, (int)out);
}

/* The bf16 linear: rows of x are converted to bf16 in chunks of
 * CTXPAR_LINEAR_BF16_ROWS (so the scratch stays small whatever n is) and
 * multiplied by the weight packed once (gemm_bf16.h), onto the bias as the
 * float32 linear does (the GEMM writes it block by block, not in a pass of
 * its own). A row's result does not depend on its chunk or on n (the
 * GEMM's per-element order), so the rank count cannot change it. */
int64_t ctxpar_cpu_linear_bf16_scratch_values(int64_t in) {
    return CTXPAR_LINEAR_BF16_ROWS * ctxpar_bf16_row_ld(in);
}

void ctxpar_cpu_linear_bf16(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                            const ctxpar_bf16 *packed, const float *bias, ctxpar_bf16 *scratch) {
    if (n <= 0 || out <= 0) return;
    const int64_t ld = ctxpar_bf16_row_ld(in);
    for (int64_t r0 = 0; r0 < n; r0 += CTXPAR_LINEAR_BF16_ROWS) {
        const int64_t rows = n - r0 < CTXPAR_LINEAR_BF16_ROWS ? n - r0 : CTXPAR_LINEAR_BF16_ROWS;
        ctxpar_cpu_bf16_rows(scratch, ld, x + r0 * in, in, rows, in);
        if (bias) /* the GEMM sets each block of y to the bias as it reaches it */
            ctxpar_cpu_gemm_bf16_bias(rows, out, in, scratch, ld, packed, bias, y + r0 * out, out);
        else
            ctxpar_cpu_gemm_bf16(rows, out, in, scratch, ld, packed, y + r0 * out, out, 0);
    }
}

/* The same with the weight read in place (a bf16 checkpoint's rows,
 * ctxpar_cpu_gemm_bf16_rows): each chunk of x is packed as the GEMM's B
 * instead of converted to rows, in the same scratch. Same bits. */
void ctxpar_cpu_linear_bf16_rows(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                                 const ctxpar_bf16_rows *w, const float *bias,
                                 ctxpar_bf16 *scratch) {
    if (n <= 0 || out <= 0) return;
    for (int64_t r0 = 0; r0 < n; r0 += CTXPAR_LINEAR_BF16_ROWS) {
        const int64_t rows = n - r0 < CTXPAR_LINEAR_BF16_ROWS ? n - r0 : CTXPAR_LINEAR_BF16_ROWS;
        ctxpar_bf16_pack_tokens(scratch, x + r0 * in, in, rows);
        ctxpar_cpu_gemm_bf16_rows(rows, out, in, scratch, w, bias, y + r0 * out, out);
    }
}
