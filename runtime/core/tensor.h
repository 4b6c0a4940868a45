/* A float32 tensor with its shape and int64 strides, allocated through the
 * counting allocator. Activations of the VAE are [C][T][H][W] (channel-major,
 * see kernels/cpu/kernels_cpu.h); tokens are [N][d]. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "runtime/core/memory.h"

#define CTXPAR_TENSOR_MAX_DIMS 5

typedef struct ctxpar_tensor {
    float *data;
    int ndim;
    int64_t shape[CTXPAR_TENSOR_MAX_DIMS];
    int64_t stride[CTXPAR_TENSOR_MAX_DIMS];
} ctxpar_tensor;

/* Contiguous row-major tensor; data zeroed. */
ctxpar_status ctxpar_tensor_alloc(ctxpar_tensor *t, ctxpar_mem_stage stage, const char *what,
                                  int ndim, const int64_t *shape);
/* [c][t][h][w] activation. */
ctxpar_status ctxpar_tensor_alloc_video(ctxpar_tensor *t, ctxpar_mem_stage stage, const char *what,
                                        int64_t c, int64_t frames, int64_t h, int64_t w);
void ctxpar_tensor_free(ctxpar_tensor *t);
int64_t ctxpar_tensor_count(const ctxpar_tensor *t);

/* "[d0, d1, ...]" into out (cap bytes), for messages that name a shape. */
void ctxpar_shape_text(char *out, size_t cap, int ndim, const int64_t *dims);
