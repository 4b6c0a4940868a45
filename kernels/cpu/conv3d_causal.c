/* ctxpar_cpu_conv3d_causal: picks the implementation for this CPU.
 *
 * Design: measured on the VAE shapes (docs/bench-conv.md), a direct
 * convolution with an AVX-512 register tile beats im2col + sgemm because the
 * im2col buffer (9x the input) goes through DRAM several times; so AVX-512
 * CPUs take conv3d_avx512.c and everything else (and kernels too large for
 * its tables) conv3d_gemm.c. The choice is made per call from CPUID (cheap,
 * cached by libgcc) and the kernel size, never from global state a caller
 * could change; the scratch size covers the chosen path. */
#include "kernels/cpu/kernels_cpu.h"

#include "kernels/cpu/conv3d_internal.h"

int64_t ctxpar_cpu_conv3d_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                         int64_t h, int64_t w, int64_t n_frames) {
    if (ctxpar_cpu_conv3d_direct_supports(kt, kh, kw))
        return ctxpar_cpu_conv3d_direct_scratch_floats(cin, cout, kt, kh, kw, h, w, n_frames);
    return ctxpar_cpu_conv3d_gemm_scratch_floats(cin, cout, kt, kh, kw, h, w, n_frames);
}

void ctxpar_cpu_conv3d_causal(const float *x, int64_t x_cstride, const float *halo, float *y,
                              int64_t y_cstride, const float *weight, const float *bias,
                              int64_t cin, int64_t cout, int kt, int kh, int kw, int64_t h,
                              int64_t w, int64_t t_begin, int64_t t_end, float *scratch) {
    if (ctxpar_cpu_conv3d_direct_supports(kt, kh, kw))
        ctxpar_cpu_conv3d_causal_direct(x, x_cstride, halo, y, y_cstride, weight, bias, cin, cout,
                                        kt, kh, kw, h, w, t_begin, t_end, scratch);
    else
        ctxpar_cpu_conv3d_causal_gemm(x, x_cstride, halo, y, y_cstride, weight, bias, cin, cout,
                                      kt, kh, kw, h, w, t_begin, t_end, scratch);
}
