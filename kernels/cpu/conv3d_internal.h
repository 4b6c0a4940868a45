/* The implementations behind ctxpar_cpu_conv3d_causal, internal to
 * kernels/cpu (tests call each directly so the one a CPU does not dispatch to
 * stays tested). Same arguments and aliasing rules as the public function;
 * each has its own scratch size. */
#pragma once
#include <stdint.h>

/* im2col + OpenBLAS sgemm (conv3d_gemm.c); any x86-64 or other CPU. */
int64_t ctxpar_cpu_conv3d_gemm_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                              int64_t h, int64_t w, int64_t n_frames);
void ctxpar_cpu_conv3d_causal_gemm(const float *x, int64_t x_cstride, const float *halo,
                                   float *y, int64_t y_cstride, const float *weight,
                                   const float *bias, int64_t cin, int64_t cout, int kt, int kh,
                                   int kw, int64_t h, int64_t w, int64_t t_begin, int64_t t_end,
                                   float *scratch);

/* Direct convolution with an AVX-512 register-tile kernel (conv3d_avx512.c).
 * Only call when ctxpar_cpu_conv3d_direct_supports() says so: the CPU has
 * AVX-512 and the kernel fits its tables (kw <= 16, kt*kh*kw <= 864). */
int ctxpar_cpu_conv3d_have_avx512(void);
int ctxpar_cpu_conv3d_direct_supports(int kt, int kh, int kw);
int64_t ctxpar_cpu_conv3d_direct_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                                int64_t h, int64_t w, int64_t n_frames);
void ctxpar_cpu_conv3d_causal_direct(const float *x, int64_t x_cstride, const float *halo,
                                     float *y, int64_t y_cstride, const float *weight,
                                     const float *bias, int64_t cin, int64_t cout, int kt, int kh,
                                     int kw, int64_t h, int64_t w, int64_t t_begin,
                                     int64_t t_end, float *scratch);

/* Winograd F(2x2, 3x3) and F(4x4, 3x3) for kh = kw = 3 (conv3d_winograd.c).
 * Only call when ctxpar_cpu_conv3d_winograd_supports() says so: the CPU has
 * AVX-512, kh = kw = 3, 1 <= kt <= 4 and w <= 4096. Results differ from the
 * direct path by float rounding only; each output frame is computed the
 * same way whatever t_begin, t_end and the thread count. The _f2 and _f4
 * entries fix the tile; the dispatch (conv3d_causal.c) takes
 * ctxpar_cpu_conv3d_winograd_tile's choice for the shape (2 or 4), which
 * depends on the shape only. */
int ctxpar_cpu_conv3d_winograd_supports(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                        int64_t h, int64_t w);
int ctxpar_cpu_conv3d_winograd_tile(int64_t cin, int64_t cout, int kt, int64_t h, int64_t w);
/* Either tile with fused input activation and residual (kernels_cpu.h). */
typedef struct ctxpar_conv3d_fusion ctxpar_conv3d_fusion;
void ctxpar_cpu_conv3d_causal_winograd_fused(int tile, const float *x, int64_t x_cstride,
                                             const float *halo, float *y, int64_t y_cstride,
                                             const float *weight, const float *bias, int64_t cin,
                                             int64_t cout, int kt, int64_t h, int64_t w,
                                             int64_t t_begin, int64_t t_end,
                                             const ctxpar_conv3d_fusion *fuse, float *scratch);
/* --dtype bf16's causal 3x3x3 convs on a VDPBF16PS core (conv_bf16.c picks
 * it): the same Winograd in space and in time, its tile by
 * ctxpar_cpu_conv3d_winograd_tile, with the temporally transformed inputs
 * E_j and the transformed weights U rounded to bf16 (nearest even) and the
 * GEMMs on VDPBF16PS with float32 accumulation. The weights come from the
 * bf16 conv's packed panels (ctxpar_cpu_conv_bf16_pack_weight) and are
 * transformed per call like float32's; scratch as the float32 entry of the
 * same tile (ctxpar_cpu_conv3d_winograd_f{2,4}_scratch_floats, kt = 3).
 * Needs kt = 3, an even cin, AVX512-BF16 and AVX512-BW: _supports. */
int ctxpar_cpu_conv3d_winograd_bf16_supports(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                             int64_t h, int64_t w);
void ctxpar_cpu_conv3d_causal_winograd_bf16(const float *x, int64_t x_cstride, const float *halo,
                                            float *y, int64_t y_cstride,
                                            const uint16_t *packed, const float *bias,
                                            int64_t cin, int64_t cout, int64_t h, int64_t w,
                                            int64_t t_begin, int64_t t_end,
                                            const ctxpar_conv3d_fusion *fuse, float *scratch);
int64_t ctxpar_cpu_conv3d_winograd_f2_scratch_floats(int64_t cin, int64_t cout, int kt, int kh,
                                                     int kw, int64_t h, int64_t w,
                                                     int64_t n_frames);
void ctxpar_cpu_conv3d_causal_winograd_f2(const float *x, int64_t x_cstride, const float *halo,
                                          float *y, int64_t y_cstride, const float *weight,
                                          const float *bias, int64_t cin, int64_t cout, int kt,
                                          int kh, int kw, int64_t h, int64_t w, int64_t t_begin,
                                          int64_t t_end, float *scratch);
int64_t ctxpar_cpu_conv3d_winograd_f4_scratch_floats(int64_t cin, int64_t cout, int kt, int kh,
                                                     int kw, int64_t h, int64_t w,
                                                     int64_t n_frames);
void ctxpar_cpu_conv3d_causal_winograd_f4(const float *x, int64_t x_cstride, const float *halo,
                                          float *y, int64_t y_cstride, const float *weight,
                                          const float *bias, int64_t cin, int64_t cout, int kt,
                                          int kh, int kw, int64_t h, int64_t w, int64_t t_begin,
                                          int64_t t_end, float *scratch);


/* The stride-2 downsample on the same AVX-512 tile; its scratch holds the
 * gathered, column-deinterleaved input. Only call when
 * ctxpar_cpu_conv3d_have_avx512(). */
int64_t ctxpar_cpu_conv2d_stride2_direct_scratch_floats(int64_t cin, int64_t h, int64_t w,
                                                        int64_t n_frames);
void ctxpar_cpu_conv2d_stride2_direct(const float *x, int64_t x_cstride, float *y,
                                      int64_t y_cstride, const float *weight, const float *bias,
                                      int64_t cin, int64_t cout, int64_t h, int64_t w,
                                      int pad_begin, int64_t t_begin, int64_t t_end,
                                      float *scratch);

/* The portable stride-2 path (conv2d_stride2.c): im2col + sgemm; scratch is
 * its im2col buffer, cin*9*n_frames*(h/2)*(w/2) floats. */
void ctxpar_cpu_conv2d_stride2_gemm(const float *x, int64_t x_cstride, float *y,
                                    int64_t y_cstride, const float *weight, const float *bias,
                                    int64_t cin, int64_t cout, int64_t h, int64_t w,
                                    int pad_begin, int64_t t_begin, int64_t t_end,
                                    float *scratch);
