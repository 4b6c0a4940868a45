/* ctxpar_cpu_conv3d_causal: picks the implementation for this CPU and shape.
 *
 * Design: measured on the VAE shapes (docs/bench-conv.md), a direct
 * convolution with an AVX-512 register tile beats im2col + sgemm because the
 * im2col buffer (9x the input) goes through DRAM several times; so AVX-512
 * CPUs take conv3d_avx512.c and everything else (and kernels too large for
 * its tables) conv3d_gemm.c. For 3x3 spatial kernels with enough channels
 * and pixels, Winograd (conv3d_winograd.c: F(2x2, 3x3), 2.25x fewer
 * multiplications, or F(4x4, 3x3), 4x fewer, its tile chosen per shape)
 * wins despite its transforms; WINOGRAD_MIN_* below holds the measured
 * threshold. The choice is made per call from CPUID
 * (cheap, cached by libgcc) and the shape; the only global state is the
 * test hook ctxpar_cpu_conv3d_force_path. The scratch size covers the chosen
 * path. */
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/kernels_cpu.h"

#include "kernels/cpu/conv3d_internal.h"

/* Winograd threshold (docs/bench-conv.md, "Where Winograd starts"): both
 * paths at 1 and 2 threads, square frames, 5 frames. With the temporal
 * transform, Winograd wins at both thread counts from 32 input and 32
 * output channels (32 -> 32 at 256x256: 246 vs 102 effective GFLOP/s on one
 * thread, 213 vs 197 on two; 512 -> 32 at 32x32: 185 vs 102 and 241 vs
 * 180). Below that it still wins on one thread (16 -> 16 at 64x64: 199 vs
 * 101) but loses on two (101 vs 148): the per-(chunk, p) work is too small
 * to share, so those stay direct; the choice depends on the shape only,
 * never on the thread count, so results do not either. conv_in (3 input
 * channels) is level at best. */
enum { WINOGRAD_MIN_CIN = 32, WINOGRAD_MIN_COUT = 32, WINOGRAD_MIN_SIDE = 8 };
/* Winograd's scratch is bounded whatever the frame size: it transforms the
 * frame in bands of tile rows, and its ring of transformed bands stays under
 * 64 MiB (plus one saved row per input channel and frame of the call; 73 MB
 * for one frame of 128 channels at 480x720). The cap only guards against a
 * shape whose transformed weights alone are huge. */
#define WINOGRAD_MAX_SCRATCH_FLOATS ((int64_t)128 << 20) /* 512 MiB */

typedef enum conv3d_path {
    PATH_AUTO,
    PATH_DIRECT,
    PATH_WINOGRAD, /* forced only: the automatic tile */
    PATH_WINOGRAD_F2,
    PATH_WINOGRAD_F4,
    PATH_GEMM
} conv3d_path;

static conv3d_path forced_path = PATH_AUTO;

int ctxpar_cpu_conv3d_force_path(const char *path) {
    conv3d_path chosen;
    if (!path)
        chosen = PATH_AUTO;
    else if (!strcmp(path, "direct") && ctxpar_cpu_conv3d_have_avx512())
        chosen = PATH_DIRECT;
    else if (!strcmp(path, "winograd") && ctxpar_cpu_conv3d_have_avx512())
        chosen = PATH_WINOGRAD;
    else if (!strcmp(path, "winograd-f2") && ctxpar_cpu_conv3d_have_avx512())
        chosen = PATH_WINOGRAD_F2;
    else if (!strcmp(path, "winograd-f4") && ctxpar_cpu_conv3d_have_avx512())
        chosen = PATH_WINOGRAD_F4;
    else if (!strcmp(path, "gemm"))
        chosen = PATH_GEMM;
    else
        return -1;
    forced_path = chosen;
    return 0;
}

static conv3d_path winograd_path(int64_t cin, int64_t cout, int kt, int64_t h, int64_t w) {
    return ctxpar_cpu_conv3d_winograd_tile(cin, cout, kt, h, w) == 4 ? PATH_WINOGRAD_F4
                                                                      : PATH_WINOGRAD_F2;
}

static int is_winograd(conv3d_path path) {
    return path == PATH_WINOGRAD_F2 || path == PATH_WINOGRAD_F4;
}

/* Scratch of a resolved path. */
static int64_t path_scratch_floats(conv3d_path path, int64_t cin, int64_t cout, int kt, int kh,
                                   int kw, int64_t h, int64_t w, int64_t n_frames) {
    switch (path) {
    case PATH_WINOGRAD_F2:
        return ctxpar_cpu_conv3d_winograd_f2_scratch_floats(cin, cout, kt, kh, kw, h, w,
                                                            n_frames);
    case PATH_WINOGRAD_F4:
        return ctxpar_cpu_conv3d_winograd_f4_scratch_floats(cin, cout, kt, kh, kw, h, w,
                                                            n_frames);
    case PATH_DIRECT:
        return ctxpar_cpu_conv3d_direct_scratch_floats(cin, cout, kt, kh, kw, h, w, n_frames);
    default: return ctxpar_cpu_conv3d_gemm_scratch_floats(cin, cout, kt, kh, kw, h, w, n_frames);
    }
}

/* Never PATH_AUTO or PATH_WINOGRAD: the tile is always resolved. */
static conv3d_path choose(int64_t cin, int64_t cout, int kt, int kh, int kw, int64_t h,
                          int64_t w) {
    int winograd = ctxpar_cpu_conv3d_winograd_supports(cin, cout, kt, kh, kw, h, w);
    int direct = ctxpar_cpu_conv3d_direct_supports(kt, kh, kw);
    if (forced_path == PATH_GEMM) return PATH_GEMM;
    if (forced_path == PATH_WINOGRAD && winograd) return winograd_path(cin, cout, kt, h, w);
    if ((forced_path == PATH_WINOGRAD_F2 || forced_path == PATH_WINOGRAD_F4) && winograd)
        return forced_path;
    if (forced_path == PATH_DIRECT && direct) return PATH_DIRECT;
    if (winograd && cin >= WINOGRAD_MIN_CIN && cout >= WINOGRAD_MIN_COUT &&
        h >= WINOGRAD_MIN_SIDE && w >= WINOGRAD_MIN_SIDE) {
        conv3d_path path = winograd_path(cin, cout, kt, h, w);
        if (path_scratch_floats(path, cin, cout, kt, kh, kw, h, w, 1) <=
            WINOGRAD_MAX_SCRATCH_FLOATS)
            return path;
    }
    return direct ? PATH_DIRECT : PATH_GEMM;
}

const char *ctxpar_cpu_conv3d_path_name(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                        int64_t h, int64_t w) {
    static const char *const names[] = {"auto",        "direct",      "winograd",
                                        "winograd-f2", "winograd-f4", "gemm"};
    return names[choose(cin, cout, kt, kh, kw, h, w)];
}

int64_t ctxpar_cpu_conv3d_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                         int64_t h, int64_t w, int64_t n_frames) {
    return path_scratch_floats(choose(cin, cout, kt, kh, kw, h, w), cin, cout, kt, kh, kw, h, w,
                               n_frames);
}

void ctxpar_cpu_conv3d_causal(const float *x, int64_t x_cstride, const float *halo, float *y,
                              int64_t y_cstride, const float *weight, const float *bias,
                              int64_t cin, int64_t cout, int kt, int kh, int kw, int64_t h,
                              int64_t w, int64_t t_begin, int64_t t_end, float *scratch) {
    conv3d_path path = choose(cin, cout, kt, kh, kw, h, w);
    switch (path) {
    case PATH_WINOGRAD_F2:
    case PATH_WINOGRAD_F4:
        ctxpar_cpu_conv3d_causal_winograd_fused(path == PATH_WINOGRAD_F4 ? 4 : 2, x, x_cstride,
                                                halo, y, y_cstride, weight, bias, cin, cout, kt,
                                                h, w, t_begin, t_end, NULL, scratch);
        break;
    case PATH_DIRECT:
        ctxpar_cpu_conv3d_causal_direct(x, x_cstride, halo, y, y_cstride, weight, bias, cin, cout,
                                        kt, kh, kw, h, w, t_begin, t_end, scratch);
        break;
    default:
        ctxpar_cpu_conv3d_causal_gemm(x, x_cstride, halo, y, y_cstride, weight, bias, cin, cout,
                                      kt, kh, kw, h, w, t_begin, t_end, scratch);
    }
}

int ctxpar_cpu_conv3d_fuses(int64_t cin, int64_t cout, int kt, int kh, int kw, int64_t h,
                            int64_t w) {
    return is_winograd(choose(cin, cout, kt, kh, kw, h, w));
}

void ctxpar_cpu_conv3d_causal_fused(const float *x, int64_t x_cstride, const float *halo,
                                    float *y, int64_t y_cstride, const float *weight,
                                    const float *bias, int64_t cin, int64_t cout, int kt, int kh,
                                    int kw, int64_t h, int64_t w, int64_t t_begin, int64_t t_end,
                                    const ctxpar_conv3d_fusion *fuse, float *scratch) {
    conv3d_path path = choose(cin, cout, kt, kh, kw, h, w);
    if (!is_winograd(path)) abort(); /* caller's contract */
    ctxpar_cpu_conv3d_causal_winograd_fused(path == PATH_WINOGRAD_F4 ? 4 : 2, x, x_cstride, halo,
                                            y, y_cstride, weight, bias, cin, cout, kt, h, w,
                                            t_begin, t_end, fuse, scratch);
}
