/* Tensor allocation (see tensor.h): always contiguous, so strides are derived
 * once here and never recomputed by callers. */
#include "runtime/core/tensor.h"

#include <stdio.h>
#include <string.h>

ctxpar_status ctxpar_tensor_alloc(ctxpar_tensor *t, ctxpar_mem_stage stage, const char *what,
                                  int ndim, const int64_t *shape) {
    memset(t, 0, sizeof *t);
    if (ndim < 1 || ndim > CTXPAR_TENSOR_MAX_DIMS)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "tensor %s: %d dimensions", what, ndim);
    t->ndim = ndim;
    int64_t count = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = count;
        count *= shape[i];
    }
    return ctxpar_mem_alloc_floats(&t->data, count, stage, what);
}

ctxpar_status ctxpar_tensor_alloc_video(ctxpar_tensor *t, ctxpar_mem_stage stage, const char *what,
                                        int64_t c, int64_t frames, int64_t h, int64_t w) {
    int64_t shape[4] = {c, frames, h, w};
    return ctxpar_tensor_alloc(t, stage, what, 4, shape);
}

void ctxpar_tensor_free(ctxpar_tensor *t) {
    ctxpar_mem_free(t->data);
    t->data = NULL;
}

int64_t ctxpar_tensor_count(const ctxpar_tensor *t) {
    int64_t count = 1;
    for (int i = 0; i < t->ndim; i++) count *= t->shape[i];
    return count;
}

void ctxpar_shape_text(char *out, size_t cap, int ndim, const int64_t *dims) {
    size_t len = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (len < cap) snprintf(out + len, cap - len, "]");
}
