/* Causal 3D convolution (stride 1) by im2col + OpenBLAS sgemm: the portable
 * path, used where AVX-512 is missing (conv3d_avx512.c is the fast path).
 *
 * Design: for a chunk of F output frames the F+kt-1 input frames are
 * im2col'ed ONCE, spatially only, into col[cin*kh*kw][(F+kt-1)*h*w]; the kt
 * temporal taps are then kt GEMMs over the same buffer, tap dt reading the
 * column window that starts dt*h*w further on (ldb stays (F+kt-1)*h*w). The
 * spatial expansion is paid once per input frame instead of kt times, and
 * because activations are [C][T][H][W] the output chunk is one strided matrix
 * (ldc = y_cstride), so the GEMMs write straight into y. Frames before x's
 * frame 0 come from the halo, which is how the conv cache handed over by the
 * previous rank (or the replicated first frame) enters. All of the chunk's
 * input is gathered before y is touched, which is what lets y alias x. The
 * GEMMs run frame by frame (see below) so chunking never changes a bit. */
#include "kernels/cpu/kernels_cpu.h"

#include <cblas.h>
#include <string.h>

#include "kernels/cpu/conv3d_internal.h"
#include "kernels/cpu/conv_im2col.h"

int64_t ctxpar_cpu_conv3d_gemm_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                              int64_t h, int64_t w, int64_t n_frames) {
    int64_t k_spatial = cin * kh * kw;
    int64_t weight_floats = (int64_t)kt * cout * k_spatial;
    int64_t col_floats = k_spatial * (n_frames + kt - 1) * h * w;
    return weight_floats + col_floats;
}

/* [cout][cin][kt][kh][kw] -> [kt][cout][cin*kh*kw]: each tap's matrix must be
 * one dense GEMM operand. */
static void repack_weight_per_tap(float *packed, const float *weight, int64_t cin, int64_t cout,
                                  int kt, int kh, int kw) {
    int64_t khw = (int64_t)kh * kw;
    int64_t k_spatial = cin * khw;
    for (int dt = 0; dt < kt; dt++)
        for (int64_t co = 0; co < cout; co++)
            for (int64_t ci = 0; ci < cin; ci++) {
                const float *src = weight + ((co * cin + ci) * kt + dt) * khw;
                float *dst = packed + ((int64_t)dt * cout + co) * k_spatial + ci * khw;
                memcpy(dst, src, (size_t)khw * sizeof(float));
            }
}

void ctxpar_cpu_conv3d_causal_gemm(const float *x, int64_t x_cstride, const float *halo,
                                   float *y, int64_t y_cstride, const float *weight,
                                   const float *bias, int64_t cin, int64_t cout, int kt, int kh,
                                   int kw, int64_t h, int64_t w, int64_t t_begin, int64_t t_end,
                                   float *scratch) {
    int64_t n_out = t_end - t_begin;
    if (n_out <= 0) return;
    int64_t hw = h * w;
    int64_t k_spatial = cin * kh * kw;
    int64_t n_in = n_out + kt - 1;
    int64_t halo_frames = kt - 1;
    float *packed = scratch;
    float *col = scratch + (int64_t)kt * cout * k_spatial;

    repack_weight_per_tap(packed, weight, cin, cout, kt, kh, kw);

    /* Input frame j of the chunk is global frame t_begin - (kt-1) + j. */
    int64_t first_in = t_begin - halo_frames;
    int64_t n_items = cin * n_in;
#pragma omp parallel for schedule(static)
    for (int64_t item = 0; item < n_items; item++) {
        int64_t ci = item / n_in, j = item % n_in;
        int64_t t = first_in + j;
        const float *frame = t >= 0 ? x + ci * x_cstride + t * hw
                                    : halo + (ci * halo_frames + (t + halo_frames)) * hw;
        float *dst = col + ci * kh * kw * n_in * hw + j * hw;
        ctxpar_im2col_frame(dst, n_in * hw, frame, h, w, kh, kw, 1, (kh - 1) / 2, (kw - 1) / 2, h,
                            w);
    }

    /* Bias first, then every tap accumulates with beta = 1: one pass over the
     * output instead of a zeroing pass plus a bias pass. */
    float *y_chunk = y + t_begin * hw;
    int64_t n_cols = n_out * hw;
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < cout; co++) {
        float *row = y_chunk + co * y_cstride;
        float b = bias ? bias[co] : 0.0f;
        for (int64_t i = 0; i < n_cols; i++) row[i] = b;
    }
    /* One GEMM per output frame and tap, never one across frames: sgemm's
     * edge kernels sum in another order than its main kernel, so a column's
     * result would depend on where the chunk starts. Per frame, every output
     * pixel sits at the same column of the same-sized GEMM whatever the
     * chunking or the rank, and results are bit-identical across both. */
    for (int64_t f = 0; f < n_out; f++)
        for (int dt = 0; dt < kt; dt++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout, (int)hw,
                        (int)k_spatial, 1.0f, packed + (int64_t)dt * cout * k_spatial,
                        (int)k_spatial, col + (f + dt) * hw, (int)(n_in * hw), 1.0f,
                        y_chunk + f * hw, (int)y_cstride);
}
