/* One linear op as every stage runs it: on the bf16 GEMM when the op has a
 * packed weight or one read in place (--dtype bf16,
 * runtime/model/model_bf16.h), else the float32 linear. One place decides,
 * so a stage cannot forget the bf16 path. */
#pragma once
#include <stdint.h>

#include "kernels/backend.h"
#include "runtime/model/model.h"

/* scratch: backend->linear_bf16_scratch_values(in) values when
 * ctxpar_op_is_bf16(op). */
static inline void ctxpar_dense(const ctxpar_backend *backend, float *y, const float *x,
                                int64_t n, int64_t in, int64_t out, const ctxpar_op *op,
                                ctxpar_bf16 *scratch) {
    if (op->rows)
        backend->linear_bf16_rows(y, x, n, in, out, op->rows, op->bias, scratch);
    else if (op->packed)
        backend->linear_bf16(y, x, n, in, out, op->packed, op->bias, scratch);
    else
        backend->linear(y, x, n, in, out, op->weight, op->bias);
}
