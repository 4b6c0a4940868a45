/* Private to the bf16 convolution (conv_bf16.c) and its test: the conv
 * driven by a given GEMM micro-kernel, so that a test runs the AMX path's
 * tiling on a model of the tiles (tests/amx_tile_model.h) and compares the
 * taps read in place with gathered A blocks. */
#pragma once
#include <stdint.h>

#include "kernels/cpu/gemm_bf16_internal.h"

/* as conv_bf16.h (C11 allows the repeat; including it would make a cycle
 * of the conv's two headers) */
typedef struct ctxpar_conv_bf16_shape ctxpar_conv_bf16_shape;
typedef struct ctxpar_conv3d_fusion ctxpar_conv3d_fusion;

/* ctxpar_cpu_conv_bf16 on a given micro-kernel of mr rows per tile; gather:
 * build A blocks from the ring even where the taps could be read in place
 * (they give the same bits). */
void ctxpar_conv_bf16_with(ctxpar_gemm_bf16_micro micro, int mr, int gather, const float *x,
                           int64_t x_cstride, const float *halo, float *y, int64_t y_cstride,
                           const ctxpar_bf16 *weight, const float *bias,
                           const ctxpar_conv_bf16_shape *shape, int64_t t_begin, int64_t t_end,
                           const ctxpar_conv3d_fusion *fuse, float *scratch);

/* Whether ctxpar_cpu_conv_bf16 may take its causal 3x3x3 convs to the bf16
 * Winograd (on by default): off, every conv runs the implicit GEMM on the
 * current GEMM path, as its test checks it. */
void ctxpar_conv_bf16_allow_winograd(int allow);
