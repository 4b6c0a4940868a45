/* The VAE's convolutions on the bf16 GEMM (conv_bf16.c): bf16 inputs,
 * float32 accumulation, float32 bias and output. Activations are
 * [C][T][H][W] float32 (x_cstride / y_cstride floats between channels), as
 * every VAE kernel of kernels_cpu.h. */
#pragma once
#include <stdint.h>

#include "kernels/cpu/gemm_bf16.h"

/* One conv: kt causal frames (the kt-1 before each output frame come from x,
 * or from the halo [cin][kt-1][h][w] before x's frame 0), a kh x kw spatial
 * kernel with the given stride, and zero padding pad_top / pad_left before
 * the frame (after it, as far as the output size ho x wo reaches); kt x kh
 * at most 64. */
typedef struct ctxpar_conv_bf16_shape {
    int64_t cin, cout;
    int kt, kh, kw, stride, pad_top, pad_left;
    int64_t h, w;   /* input frame */
    int64_t ho, wo; /* output frame */
} ctxpar_conv_bf16_shape;

/* The weight [cout][cin][kt][kh][kw] as the GEMM's B, packed in panels
 * (gemm_bf16.h): K = kt*kh*kw*cin2 rows in tap-major order (tap (dt, dy,
 * dx), then ci; cin2 = cin rounded up to even, the pad row zero) by cout
 * columns. Converted once per node (model_bf16.c). */
int64_t ctxpar_cpu_conv_bf16_weight_values(int64_t cin, int64_t cout, int kt, int kh, int kw);
/* Where B(kk, co) sits in it, kp = K/2 pairs: an output channel's part
 * (panels of 32 channels, pairs side by side) plus the reduction index's. */
static inline int64_t ctxpar_conv_bf16_packed_co(int64_t co, int64_t kp) {
    return (co / 32) * kp * 64 + (co % 32) * 2;
}
static inline int64_t ctxpar_conv_bf16_packed_k(int64_t kk) { return (kk / 2) * 64 + (kk & 1); }
void ctxpar_cpu_conv_bf16_pack_weight(ctxpar_bf16 *dst, const float *weight, int64_t cin,
                                      int64_t cout, int kt, int kh, int kw);
/* The same from a checkpoint's bf16 values, without a float32 copy: the
 * bits of the float32 entry given the weight widened (a subnormal becomes a
 * signed zero, a NaN quiet). */
void ctxpar_cpu_conv_bf16_pack_weight_bf16(ctxpar_bf16 *dst, const ctxpar_bf16 *weight,
                                           int64_t cin, int64_t cout, int kt, int kh, int kw);

/* Work folded into the conv (kernels_cpu.h): the input of frame t (t < 0:
 * the halo's) is SiLU(x * in_scale[(t + kt-1)*cin + ci] + in_shift[...])
 * (a GroupNorm + SiLU), and residual is added to the output; the same bits
 * as those passes run apart. first_frame: the index of x's frame 0 in the
 * video, by which the bf16 Winograd (below) pairs frames in time; pass it
 * on every call, so that each frame is computed the same way on any rank. */
typedef struct ctxpar_conv3d_fusion ctxpar_conv3d_fusion;

/* Floats of scratch for ctxpar_cpu_conv_bf16: a ring of kt bf16 input
 * frames and a block of output per thread, or the bf16 Winograd's. */
int64_t ctxpar_cpu_conv_bf16_scratch_floats(const ctxpar_conv_bf16_shape *shape, int in_place);

/* Output frames [t_begin, t_end) of y = conv(x) + bias, bias may be NULL.
 * weight: as packed above (its first shape->cout rows are used). in_place:
 * y == x (stride 1, cin == cout). fuse: NULL, or work folded in (above).
 * On a VDPBF16PS core without AMX (the bf16 GEMM's path "avx512bf16") a
 * causal 3x3x3 conv with stride 1, padding 1 and an even cin runs as
 * Winograd in bf16 instead (conv3d_internal.h): within the model's bound,
 * not the implicit GEMM's bits. */
void ctxpar_cpu_conv_bf16(const float *x, int64_t x_cstride, const float *halo, float *y,
                          int64_t y_cstride, const ctxpar_bf16 *weight, const float *bias,
                          const ctxpar_conv_bf16_shape *shape, int64_t t_begin, int64_t t_end,
                          int in_place, const ctxpar_conv3d_fusion *fuse, float *scratch);
