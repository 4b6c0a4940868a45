/* Causal 3D convolution as a direct convolution with an AVX-512 register tile.
 *
 * Design: im2col + sgemm writes a 9x copy of the input and streams it from
 * DRAM once per temporal tap; here nothing is expanded. An output tile is MR
 * output channels x 32 consecutive pixels of one output row (MR x 2 zmm
 * accumulators, started from the bias). For every reduction index
 * k = (ci, dt, ky, kx) the kernel loads the 32 input pixels it needs straight
 * from the input row (masked at the frame's left/right edge, which is the
 * zero padding), broadcasts MR weights and does 2*MR FMAs; input rows that
 * fall in the vertical padding are skipped, not multiplied by zero. Weights
 * are repacked per block of MR output channels into [K][MR] panels so the
 * broadcasts walk memory in order. The chunk's input frames (halo frames
 * included) are first gathered into scratch, which makes y aliasing x safe
 * and removes the halo branch from the inner loop. OpenMP splits output rows;
 * each output value is one fixed-order sum, so results are bit-identical for
 * any thread count and any chunking. */
#include "kernels/cpu/conv3d_internal.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

enum { TILE_COLS = 32, MAX_KW = 16 };

int ctxpar_cpu_conv3d_have_avx512(void) { return __builtin_cpu_supports("avx512f"); }

/* Output-channel blocks: as many MR = 12 as fit, then 8, 4, 1. */
static int block_rows(int64_t remaining) {
    return remaining >= 12 ? 12 : remaining >= 8 ? 8 : remaining >= 4 ? 4 : 1;
}

int64_t ctxpar_cpu_conv3d_direct_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                                int64_t h, int64_t w, int64_t n_frames) {
    int64_t packed_weight = cout * cin * kt * kh * kw;
    int64_t gathered_input = cin * (n_frames + kt - 1) * h * w;
    return packed_weight + gathered_input + 16; /* +16: room to align to 64 bytes */
}

typedef struct tile_args {
    const float *in;    /* input frames, channel stride in_cstride */
    int64_t in_cstride;
    int64_t frame0;     /* first input frame this output frame reads */
    int64_t cin, h, w;  /* input frame size */
    int kt, kh, kw;
    int64_t pad_y, pad_x; /* input (oy*stride + ky - pad_y, x*stride + kx - pad_x) */
    int64_t oy, x0;     /* output row and first output column of the tile */
    const __mmask16 (*load_mask)[4];
    __mmask16 store_mask[2];
    int64_t k_total;
} tile_args;

/* Lanes 0..15 of the even elements of (a, b): stride-2 columns. */
__attribute__((target("avx512f"), always_inline)) static inline __m512 even_lanes(__m512 a,
                                                                                   __m512 b) {
    const __m512i idx = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2,
                                         0);
    return _mm512_permutex2var_ps(a, idx, b);
}

/* One MR x 32 output tile. mr, stride and packed are compile-time constants
 * after inlining, so the accumulators live in registers. packed: weights are
 * a [K][mr] panel; otherwise the original [cout][K] rows (stride-2 path,
 * whose scratch size has no room for panels). */
__attribute__((target("avx512f"), always_inline)) static inline void
tile_kernel(const int mr, const int stride, const int packed, const tile_args *a,
            const float *wblock, const float *bias_block, float *out, int64_t y_cstride) {
    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        acc[i][0] = _mm512_set1_ps(bias_block ? bias_block[i] : 0.0f);
        acc[i][1] = acc[i][0];
    }
    int64_t hw = a->h * a->w;
    int64_t pad_y = a->pad_y, pad_x = a->pad_x;
    for (int64_t ci = 0; ci < a->cin; ci++)
        for (int dt = 0; dt < a->kt; dt++) {
            const float *frame = a->in + ci * a->in_cstride + (a->frame0 + dt) * hw;
            for (int ky = 0; ky < a->kh; ky++) {
                int64_t iy = a->oy * stride + ky - pad_y;
                if (iy < 0 || iy >= a->h) continue;
                const float *row = frame + iy * a->w + a->x0 * stride - pad_x;
                int64_t k0 = ((ci * a->kt + dt) * a->kh + ky) * a->kw;
                for (int kx = 0; kx < a->kw; kx++) {
                    __m512 b0, b1;
                    if (stride == 1) {
                        b0 = _mm512_maskz_loadu_ps(a->load_mask[kx][0], row + kx);
                        b1 = _mm512_maskz_loadu_ps(a->load_mask[kx][1], row + kx + 16);
                    } else {
                        b0 = even_lanes(_mm512_maskz_loadu_ps(a->load_mask[kx][0], row + kx),
                                        _mm512_maskz_loadu_ps(a->load_mask[kx][1], row + kx + 16));
                        b1 = even_lanes(_mm512_maskz_loadu_ps(a->load_mask[kx][2], row + kx + 32),
                                        _mm512_maskz_loadu_ps(a->load_mask[kx][3], row + kx + 48));
                    }
#pragma GCC unroll 12
                    for (int i = 0; i < mr; i++) {
                        float wv_scalar = packed ? wblock[(k0 + kx) * mr + i]
                                                 : wblock[i * a->k_total + k0 + kx];
                        __m512 wv = _mm512_set1_ps(wv_scalar);
                        acc[i][0] = _mm512_fmadd_ps(wv, b0, acc[i][0]);
                        acc[i][1] = _mm512_fmadd_ps(wv, b1, acc[i][1]);
                    }
                }
            }
        }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        _mm512_mask_storeu_ps(out + i * y_cstride, a->store_mask[0], acc[i][0]);
        _mm512_mask_storeu_ps(out + i * y_cstride + 16, a->store_mask[1], acc[i][1]);
    }
}

#define CTXPAR_TILE_CASES(stride, packed)                                                  \
    switch (mr) {                                                                          \
    case 12: tile_kernel(12, stride, packed, a, wblock, bias_block, out, y_cstride); break; \
    case 8: tile_kernel(8, stride, packed, a, wblock, bias_block, out, y_cstride); break;   \
    case 4: tile_kernel(4, stride, packed, a, wblock, bias_block, out, y_cstride); break;   \
    default: tile_kernel(1, stride, packed, a, wblock, bias_block, out, y_cstride); break;  \
    }

__attribute__((target("avx512f"))) static void
tile_dispatch(int mr, int stride, const tile_args *a, const float *wblock,
              const float *bias_block, float *out, int64_t y_cstride) {
    if (stride == 1) {
        CTXPAR_TILE_CASES(1, 1)
    } else {
        CTXPAR_TILE_CASES(2, 0)
    }
}

/* Output frames [0, n_out) of a direct conv: output frame t reads input
 * frames frame0 + t + dt of `in`, and is written at y + (y_frame0 + t)*out_hw.
 * stride 1: packed panels (see block_rows); stride 2: raw weight rows. */
static void conv_direct(const float *in, int64_t in_cstride, int64_t frame0, int64_t n_out,
                        const float *wmat, int stride, const float *bias, int64_t cin,
                        int64_t cout, int kt, int kh, int kw, int64_t pad_y, int64_t pad_x,
                        int64_t h, int64_t w, float *y, int64_t y_cstride, int64_t y_frame0) {
    int64_t out_h = h / stride, out_w = w / stride, out_hw = out_h * out_w;
    int64_t k_total = cin * kt * kh * kw;
    int64_t n_col_tiles = (out_w + TILE_COLS - 1) / TILE_COLS;
    int64_t n_rows = n_out * out_h;
#pragma omp parallel for schedule(static)
    for (int64_t row_index = 0; row_index < n_rows; row_index++) {
        int64_t t_local = row_index / out_h, oy = row_index % out_h;
        for (int64_t tile = 0; tile < n_col_tiles; tile++) {
            int64_t x0 = tile * TILE_COLS;
            int64_t width = out_w - x0 < TILE_COLS ? out_w - x0 : TILE_COLS;
            /* Load lane j of vector v reads input column x0*stride - pad_x + kx
             * + 16v + j: it must lie inside the frame, and (stride 1) inside
             * the tile, (stride 2) belong to an output column of the tile. */
            __mmask16 load_mask[MAX_KW][4];
            for (int kx = 0; kx < kw && kx < MAX_KW; kx++)
                for (int v = 0; v < 4; v++) {
                    uint32_t bits = 0;
                    for (int j = 0; j < 16; j++) {
                        int64_t lane = 16 * v + j;
                        int64_t ix = x0 * stride - pad_x + kx + lane;
                        int64_t out_col = lane / stride;
                        if (ix >= 0 && ix < w && out_col < width) bits |= 1u << j;
                    }
                    load_mask[kx][v] = (__mmask16)bits;
                }
            uint32_t store_bits = width == 32 ? 0xffffffffu : (1u << width) - 1;
            tile_args a = {in, in_cstride, frame0 + t_local, cin, h, w, kt, kh, kw,
                           pad_y, pad_x, oy, x0,
                           (const __mmask16(*)[4])load_mask,
                           {(__mmask16)(store_bits & 0xffff), (__mmask16)(store_bits >> 16)},
                           k_total};
            float *out_row = y + (y_frame0 + t_local) * out_hw + oy * out_w + x0;
            for (int64_t co0 = 0; co0 < cout;) {
                int mr = block_rows(cout - co0);
                tile_dispatch(mr, stride, &a, wmat + co0 * k_total, bias ? bias + co0 : NULL,
                              out_row + co0 * y_cstride, y_cstride);
                co0 += mr;
            }
        }
    }
}

void ctxpar_cpu_conv2d_stride2_direct(const float *x, int64_t x_cstride, float *y,
                                      int64_t y_cstride, const float *weight, const float *bias,
                                      int64_t cin, int64_t cout, int64_t h, int64_t w,
                                      int pad_begin, int64_t t_begin, int64_t t_end) {
    if (t_end <= t_begin) return;
    conv_direct(x, x_cstride, t_begin, t_end - t_begin, weight, 2, bias, cin, cout, 1, 3, 3,
                pad_begin, pad_begin, h, w, y, y_cstride, t_begin);
}

void ctxpar_cpu_conv3d_causal_direct(const float *x, int64_t x_cstride, const float *halo,
                                     float *y, int64_t y_cstride, const float *weight,
                                     const float *bias, int64_t cin, int64_t cout, int kt, int kh,
                                     int kw, int64_t h, int64_t w, int64_t t_begin,
                                     int64_t t_end, float *scratch) {
    int64_t n_out = t_end - t_begin;
    if (n_out <= 0) return;
    int64_t hw = h * w, k_total = cin * kt * kh * kw;
    int64_t halo_frames = kt - 1, n_in = n_out + halo_frames;
    float *panels = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *in = panels + cout * k_total;

    /* Panels: block [co0, co0+mr) stored at panels + co0*K as [K][mr]. The
     * PyTorch order [cin][kt][kh][kw] already is the k order of the kernel. */
    for (int64_t co0 = 0; co0 < cout;) {
        int mr = block_rows(cout - co0);
        float *panel = panels + co0 * k_total;
        for (int64_t k = 0; k < k_total; k++)
            for (int i = 0; i < mr; i++) panel[k * mr + i] = weight[(co0 + i) * k_total + k];
        co0 += mr;
    }

    /* Gather input frames [t_begin - (kt-1), t_end) before any output is
     * written (y may alias x); frames below 0 come from the halo. */
    int64_t first_in = t_begin - halo_frames;
#pragma omp parallel for schedule(static)
    for (int64_t item = 0; item < cin * n_in; item++) {
        int64_t ci = item / n_in, j = item % n_in, t = first_in + j;
        const float *src = t >= 0 ? x + ci * x_cstride + t * hw
                                  : halo + (ci * halo_frames + t + halo_frames) * hw;
        memcpy(in + ci * n_in * hw + j * hw, src, (size_t)hw * sizeof(float));
    }

    conv_direct(in, n_in * hw, 0, n_out, panels, 1, bias, cin, cout, kt, kh, kw, (kh - 1) / 2,
                (kw - 1) / 2, h, w, y, y_cstride, t_begin);
}

#else /* not x86-64 with GCC/Clang: only the GEMM path exists */

int ctxpar_cpu_conv3d_have_avx512(void) { return 0; }
int64_t ctxpar_cpu_conv3d_direct_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                                int64_t h, int64_t w, int64_t n_frames) {
    return ctxpar_cpu_conv3d_gemm_scratch_floats(cin, cout, kt, kh, kw, h, w, n_frames);
}
void ctxpar_cpu_conv3d_causal_direct(const float *x, int64_t x_cstride, const float *halo,
                                     float *y, int64_t y_cstride, const float *weight,
                                     const float *bias, int64_t cin, int64_t cout, int kt, int kh,
                                     int kw, int64_t h, int64_t w, int64_t t_begin,
                                     int64_t t_end, float *scratch) {
    ctxpar_cpu_conv3d_causal_gemm(x, x_cstride, halo, y, y_cstride, weight, bias, cin, cout, kt,
                                  kh, kw, h, w, t_begin, t_end, scratch);
}
void ctxpar_cpu_conv2d_stride2_direct(const float *x, int64_t x_cstride, float *y,
                                      int64_t y_cstride, const float *weight, const float *bias,
                                      int64_t cin, int64_t cout, int64_t h, int64_t w,
                                      int pad_begin, int64_t t_begin, int64_t t_end) {}
#endif
