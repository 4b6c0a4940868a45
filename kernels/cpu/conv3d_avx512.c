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
    const float *in;     /* gathered input, [cin][n_in][h*w] */
    int64_t in_cstride;  /* n_in*h*w */
    int64_t frame0;      /* first gathered frame this output frame reads */
    int64_t cin, h, w;
    int kt, kh, kw;
    int64_t oy, x0;
    const __mmask16 (*load_mask)[2];
    __mmask16 store_mask[2];
} tile_args;

/* One MR x 32 output tile; MR is a compile-time constant after inlining, so
 * the accumulators live in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile_kernel(const int mr, const tile_args *a, const float *panel, const float *bias_block,
            float *out, int64_t y_cstride) {
    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        acc[i][0] = _mm512_set1_ps(bias_block ? bias_block[i] : 0.0f);
        acc[i][1] = acc[i][0];
    }
    int64_t hw = a->h * a->w;
    int64_t pad_y = (a->kh - 1) / 2, pad_x = (a->kw - 1) / 2;
    for (int64_t ci = 0; ci < a->cin; ci++)
        for (int dt = 0; dt < a->kt; dt++) {
            const float *frame = a->in + ci * a->in_cstride + (a->frame0 + dt) * hw;
            for (int ky = 0; ky < a->kh; ky++) {
                int64_t iy = a->oy + ky - pad_y;
                if (iy < 0 || iy >= a->h) continue;
                const float *row = frame + iy * a->w + a->x0 - pad_x;
                const float *wk = panel + (((ci * a->kt + dt) * a->kh + ky) * a->kw) * mr;
                for (int kx = 0; kx < a->kw; kx++) {
                    __m512 b0 = _mm512_maskz_loadu_ps(a->load_mask[kx][0], row + kx);
                    __m512 b1 = _mm512_maskz_loadu_ps(a->load_mask[kx][1], row + kx + 16);
#pragma GCC unroll 12
                    for (int i = 0; i < mr; i++) {
                        __m512 wv = _mm512_set1_ps(wk[kx * mr + i]);
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

__attribute__((target("avx512f"))) static void
tile_dispatch(int mr, const tile_args *a, const float *panel, const float *bias_block, float *out,
              int64_t y_cstride) {
    switch (mr) {
    case 12: tile_kernel(12, a, panel, bias_block, out, y_cstride); break;
    case 8: tile_kernel(8, a, panel, bias_block, out, y_cstride); break;
    case 4: tile_kernel(4, a, panel, bias_block, out, y_cstride); break;
    default: tile_kernel(1, a, panel, bias_block, out, y_cstride); break;
    }
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

    /* Load masks per (column tile, kx): lane l reads input column
     * x0 + l + kx - pad_x, which must lie inside [0, w) and inside the tile. */
    int64_t pad_x = (kw - 1) / 2;
    int64_t n_col_tiles = (w + TILE_COLS - 1) / TILE_COLS;
    int64_t n_rows = n_out * h;
#pragma omp parallel for schedule(static)
    for (int64_t row_index = 0; row_index < n_rows; row_index++) {
        int64_t t_local = row_index / h, oy = row_index % h;
        for (int64_t tile = 0; tile < n_col_tiles; tile++) {
            int64_t x0 = tile * TILE_COLS;
            int64_t width = w - x0 < TILE_COLS ? w - x0 : TILE_COLS;
            __mmask16 load_mask[MAX_KW][2];
            for (int kx = 0; kx < kw && kx < MAX_KW; kx++) {
                uint32_t bits = 0;
                for (int64_t l = 0; l < width; l++) {
                    int64_t ix = x0 + l + kx - pad_x;
                    if (ix >= 0 && ix < w) bits |= 1u << l;
                }
                load_mask[kx][0] = (__mmask16)(bits & 0xffff);
                load_mask[kx][1] = (__mmask16)(bits >> 16);
            }
            uint32_t store_bits = width == 32 ? 0xffffffffu : (1u << width) - 1;
            tile_args a = {in, n_in * hw, t_local, cin, h, w, kt, kh, kw, oy, x0,
                           (const __mmask16(*)[2])load_mask,
                           {(__mmask16)(store_bits & 0xffff), (__mmask16)(store_bits >> 16)}};
            float *out_row = y + (t_begin + t_local) * hw + oy * w + x0;
            for (int64_t co0 = 0; co0 < cout;) {
                int mr = block_rows(cout - co0);
                tile_dispatch(mr, &a, panels + co0 * k_total, bias ? bias + co0 : NULL,
                              out_row + co0 * y_cstride, y_cstride);
                co0 += mr;
            }
        }
    }
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
#endif
