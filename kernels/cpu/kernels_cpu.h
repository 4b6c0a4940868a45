/* The CPU kernels: plain C over raw float32 buffers, no MPI and no HDF5, so
 * each one is tested alone against a naive double-precision reference.
 *
 * Layouts. VAE activations are channel-major, [C][T][H][W] per rank, with a
 * channel stride (cstride, in floats) that is at least T*H*W: a run of frames
 * of one channel is contiguous, so a chunk of F frames is one GEMM operand
 * whose columns are (t, y, x) and a temporal tap is a pointer shift of H*W.
 * Tokens are row-major [n_tokens][d]. Conv weights follow PyTorch:
 * [Cout][Cin][kt][kh][kw]; linear weights are [out][in] and y = x*W^T + b.
 *
 * Threads: GEMMs go to OpenBLAS (its own threads); element-wise loops use
 * OpenMP. No kernel allocates: scratch comes from the caller, sized by the
 * matching *_scratch_floats() function, so the runtime's allocator counts it. */
#pragma once
#include <stdint.h>

#include "base/moments.h"
#include "kernels/cpu/gemm_bf16.h"

/* ---- convolution ------------------------------------------------------- */

/* Test and benchmark hook (also read from CTXPAR_CONV_PATH by the CPU
 * backend at selection): make ctxpar_cpu_conv3d_causal (and its scratch
 * size) use the named path, "direct", "winograd" (its automatic tile),
 * "winograd-f2", "winograd-f4" or "gemm", wherever that
 * path supports the shape (elsewhere the automatic choice stands); NULL
 * restores the automatic choice. Returns 0, or -1 (nothing changed) when the
 * name is unknown or this CPU lacks that path. Process-wide: call it between
 * convolutions, and ask for the scratch size after it. */
int ctxpar_cpu_conv3d_force_path(const char *path);
/* The path ctxpar_cpu_conv3d_causal takes for this shape now: "direct",
 * "winograd-f2", "winograd-f4" or "gemm" (for benchmark and test output). */
const char *ctxpar_cpu_conv3d_path_name(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                        int64_t h, int64_t w);

/* Work folded into a causal conv where its path allows
 * (ctxpar_cpu_conv3d_fuses), so an activation does not make an extra trip
 * through memory:
 * - in_scale, in_shift (both or neither): the conv's input is
 *   silu(x*scale + shift), a GroupNorm's affine map and SiLU, given per frame
 *   and input channel for frames [-(kt-1), frames) of halo ++ x: frame t,
 *   channel c at [(t + kt - 1)*cin + c]. x and halo stay as they are; the
 *   spatial zero padding pads the activated input, as in the unfused model.
 * - residual (with residual_cstride): added to the output after the bias,
 *   y[co][t] += residual[co*residual_cstride + t*h*w]; must not alias y.
 * - first_frame: the index of x's frame 0 in the whole video. Winograd in
 *   time pairs frames by that index's parity, which makes the result of
 *   every frame the same whichever rank holds it (0 without a fusion). */
typedef struct ctxpar_conv3d_fusion {
    const float *in_scale, *in_shift;
    const float *residual;
    int64_t residual_cstride;
    int64_t first_frame;
} ctxpar_conv3d_fusion;

/* Whether ctxpar_cpu_conv3d_causal_fused takes this shape (the path chosen
 * for it, under any forcing, is Winograd). */
int ctxpar_cpu_conv3d_fuses(int64_t cin, int64_t cout, int kt, int kh, int kw, int64_t h,
                            int64_t w);

/* ctxpar_cpu_conv3d_causal with fused work; only where
 * ctxpar_cpu_conv3d_fuses() says so. Same scratch size, arguments and
 * aliasing rules. */
void ctxpar_cpu_conv3d_causal_fused(const float *x, int64_t x_cstride, const float *halo,
                                    float *y, int64_t y_cstride, const float *weight,
                                    const float *bias, int64_t cin, int64_t cout, int kt, int kh,
                                    int kw, int64_t h, int64_t w, int64_t t_begin, int64_t t_end,
                                    const ctxpar_conv3d_fusion *fuse, float *scratch);

/* Floats of scratch ctxpar_cpu_conv3d_causal needs for a chunk of n_frames. */
int64_t ctxpar_cpu_conv3d_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                         int64_t h, int64_t w, int64_t n_frames);

/* Causal 3D convolution, stride 1, spatial zero padding (kh-1)/2, (kw-1)/2:
 *   y[:, t] = b + sum_dt W[:, :, dt] (*) x[t - (kt-1) + dt]
 * for output frames t in [t_begin, t_end). Input frame indices below 0 read
 * halo: [cin][kt-1][h][w] (contiguous), the kt-1 frames that precede x's
 * frame 0 (the previous rank's last frames, or frame 0 replicated). halo may
 * be NULL when kt == 1. x frame t of channel c is at x + c*x_cstride + t*h*w;
 * y likewise with y_cstride. y may alias x (same cstride, cin == cout) when the
 * caller processes chunks from the last to the first: the chunk's inputs are
 * gathered into scratch before any output is written. */
void ctxpar_cpu_conv3d_causal(const float *x, int64_t x_cstride, const float *halo, float *y,
                              int64_t y_cstride, const float *weight, const float *bias,
                              int64_t cin, int64_t cout, int kt, int kh, int kw, int64_t h,
                              int64_t w, int64_t t_begin, int64_t t_end, float *scratch);

/* Floats of scratch for ctxpar_cpu_conv2d_stride2 over n_frames input frames. */
int64_t ctxpar_cpu_conv2d_stride2_scratch_floats(int64_t cin, int64_t h, int64_t w,
                                                 int64_t n_frames);

/* Per-frame 3x3 convolution, stride 2 (the spatial downsample): weight
 * [cout][cin][1][3][3]; input frames [t_begin, t_end) of x (h x w, both even)
 * give the same frames of y (h/2 x w/2). Output (i, j) reads input rows
 * 2i - pad_begin .. 2i - pad_begin + 2 and the same columns; rows and columns
 * outside the frame read zero. pad_begin = 1: zero padding 1 on every side;
 * pad_begin = 0: CogVideoX's F.pad(x, (0, 1, 0, 1)) then padding 0. */
void ctxpar_cpu_conv2d_stride2(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                               const float *weight, const float *bias, int64_t cin, int64_t cout,
                               int64_t h, int64_t w, int pad_begin, int64_t t_begin,
                               int64_t t_end, float *scratch);

/* Pointwise (1x1x1) convolution over n_frames frames of hw pixels:
 * y[co][i] = b[co] + sum_ci W[co][ci] x[ci][i]. bias may be NULL; y must not
 * overlap x. A pixel's result depends only on hw, not on n_frames. */
void ctxpar_cpu_conv1x1(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                        const float *weight, const float *bias, int64_t cin, int64_t cout,
                        int64_t n_frames, int64_t hw);

/* ---- normalisation and element-wise ------------------------------------ */

/* Per-group moments of x (channels c, n values per channel at x + ch*cstride):
 * group g covers channels [g*c/groups, (g+1)*c/groups). out has `groups` entries.
 * Deterministic: the same inputs give bit-identical moments whatever the
 * thread count. */
void ctxpar_cpu_group_moments(const float *x, int64_t cstride, int64_t c, int64_t n, int groups,
                              ctxpar_moments *out);

/* The per-channel form of GroupNorm's affine map: y = x*scale[ch] + shift[ch]
 * with scale = weight/sqrt(var_g + eps), shift = bias - mean_g*scale (var =
 * M2/count), computed in double and rounded once. */
void ctxpar_cpu_group_norm_scale_shift(int64_t c, int groups, const ctxpar_moments *moments,
                                       const float *weight, const float *bias, float eps,
                                       float *scale, float *shift);

/* y = (x - mean_g) / sqrt(var_g + eps) * weight[ch] + bias[ch], var = M2/count,
 * then SiLU if silu != 0 (as x*scale + shift, scale and shift from
 * ctxpar_cpu_group_norm_scale_shift). y may alias x. */
void ctxpar_cpu_group_norm_apply(float *y, int64_t y_cstride, const float *x, int64_t x_cstride,
                                 int64_t c, int64_t n, int groups, const ctxpar_moments *moments,
                                 const float *weight, const float *bias, float eps, int silu);

/* y[i] = SiLU(x[i] * scale + shift) for i < n, one thread: the same bits as
 * ctxpar_cpu_group_norm_apply with silu, for kernels that fold the norm
 * into their input (conv_bf16.c). */
void ctxpar_cpu_scale_shift_silu(float *y, const float *x, int64_t n, float scale, float shift);

/* y[c][t] = (x[c][2t] + x[c][2t+1]) / 2 for t in [0, frames_out); hw values per frame.
 * y may alias x (same cstride): the pooled frames are written in place. */
void ctxpar_cpu_pool_time2(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                           int64_t c, int64_t frames_out, int64_t hw);

/* y[ch][i] += x[ch][i] for i < n. */
void ctxpar_cpu_add(float *y, int64_t y_cstride, const float *x, int64_t x_cstride, int64_t c,
                    int64_t n);

/* ---- tokens ------------------------------------------------------------- */

/* y[n][out] = x[n][in] * W^T + b (W [out][in]); b may be NULL. */
void ctxpar_cpu_linear(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                       const float *weight, const float *bias);

/* The same in bf16 (docs/bf16.md): x rounded to bf16, W given packed by
 * ctxpar_bf16_pack_transposed(packed, W, in, out), float32 accumulation and
 * bias. scratch holds ctxpar_cpu_linear_bf16_scratch_values(in) bf16 values. */
enum { CTXPAR_LINEAR_BF16_ROWS = 384 }; /* rows converted per GEMM: 4 row blocks */
int64_t ctxpar_cpu_linear_bf16_scratch_values(int64_t in);
void ctxpar_cpu_linear_bf16(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                            const ctxpar_bf16 *packed, const float *bias, ctxpar_bf16 *scratch);
/* The same with W [out][in] read in place (in even; gemm_bf16.h,
 * ctxpar_cpu_gemm_bf16_rows), in the same scratch: the same bits on the
 * VDPBF16PS path. */
void ctxpar_cpu_linear_bf16_rows(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                                 const ctxpar_bf16_rows *w, const float *bias,
                                 ctxpar_bf16 *scratch);

/* Tubelet embedding (a Conv3d with kernel = stride = kt x p x p) of x [c][frames][h][w]
 * (channel stride cstride): token (t, y, x), row t*(h/p)*(w/p) + y*(w/p) + x of
 * tokens [.][d], is weight [d][c][kt][p][p] . x[:, t*kt.., y*p.., x*p..] + bias. */
/* The gather alone: token rows [n][c*kt*p*p] in the weight's (c, a, i, j)
 * order, into scratch (the embedding is then any linear on them). */
void ctxpar_cpu_tubelet_rows(const float *x, int64_t cstride, int64_t c, int64_t frames,
                             int64_t h, int64_t w, int kt, int p, float *scratch);
int64_t ctxpar_cpu_tubelet_embed_scratch_floats(int64_t c, int64_t frames, int64_t h, int64_t w,
                                                int kt, int p);
void ctxpar_cpu_tubelet_embed(const float *x, int64_t cstride, int64_t c, int64_t frames,
                              int64_t h, int64_t w, int kt, int p, const float *weight,
                              const float *bias, int64_t d, float *tokens, float *scratch);

/* The gather alone: token rows [n][p*p*z] in (dy, dx, c) order, into scratch. */
void ctxpar_cpu_patch_rows(const float *latents, int64_t cstride, int64_t z, int64_t frames,
                           int64_t h, int64_t w, int p, float *scratch);
int64_t ctxpar_cpu_patch_embed_scratch_floats(int64_t z, int64_t frames, int64_t h, int64_t w,
                                              int p);

/* Patch embedding of latents [z][frames][h][w] (channel stride cstride) with
 * patch p: token (t, y, x), row t*(h/p)*(w/p) + y*(w/p) + x of tokens [.][d],
 * has input vector index (dy*p + dx)*z + c and is weight [d][p*p*z] times it
 * plus bias. */
void ctxpar_cpu_patch_embed(const float *latents, int64_t cstride, int64_t z, int64_t frames,
                            int64_t h, int64_t w, int p, const float *weight, const float *bias,
                            int64_t d, float *tokens, float *scratch);
