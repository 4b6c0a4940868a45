/* Spatial im2col of one frame, shared by the stride-1 causal conv and the
 * stride-2 downsample. Internal to kernels/cpu. Rows are (ky, kx), each row
 * spaced ld floats apart; a row holds the out_h x out_w output pixels. Output
 * (oy, ox) tap (ky, kx) reads input (oy*stride + ky - pad_y, ox*stride + kx -
 * pad_x); positions outside the frame are zeros. Whole in-range spans are memcpy'd for
 * stride 1 so the expansion runs at copy speed. */
#pragma once
#include <stdint.h>
#include <string.h>

static inline void ctxpar_im2col_frame(float *dst, int64_t ld, const float *frame, int64_t h,
                                       int64_t w, int kh, int kw, int stride, int64_t pad_y,
                                       int64_t pad_x, int64_t out_h, int64_t out_w) {
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            float *row = dst + (int64_t)(ky * kw + kx) * ld;
            /* Output columns whose input column lies inside the frame. */
            int64_t ox_lo = 0, ox_hi = out_w;
            while (ox_lo < out_w && ox_lo * stride + kx - pad_x < 0) ox_lo++;
            while (ox_hi > ox_lo && (ox_hi - 1) * stride + kx - pad_x >= w) ox_hi--;
            for (int64_t oy = 0; oy < out_h; oy++) {
                float *out = row + oy * out_w;
                int64_t iy = oy * stride + ky - pad_y;
                if (iy < 0 || iy >= h) {
                    memset(out, 0, (size_t)out_w * sizeof(float));
                    continue;
                }
                const float *in = frame + iy * w;
                for (int64_t ox = 0; ox < ox_lo; ox++) out[ox] = 0.0f;
                if (stride == 1) {
                    memcpy(out + ox_lo, in + ox_lo + kx - pad_x,
                           (size_t)(ox_hi - ox_lo) * sizeof(float));
                } else {
                    for (int64_t ox = ox_lo; ox < ox_hi; ox++)
                        out[ox] = in[ox * stride + kx - pad_x];
                }
                for (int64_t ox = ox_hi; ox < out_w; ox++) out[ox] = 0.0f;
            }
        }
}
