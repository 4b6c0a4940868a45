/* Frame and window attention (see frame_attention.h).
 *
 * Design: a whole frame is one kernel call on the qkv rows in place. A
 * window's rows are not contiguous (a w x w block of a raster grid), so its
 * q|k|v rows are gathered into a small buffer, attended, and the outputs
 * scattered back; the gather is 3d floats a token against the kernel's
 * 4*n*d flops a token, so it costs little. Attention is order-free over
 * keys, so gathering in raster order gives the same result as the
 * reference's window permutation. */
#include "runtime/stages/frame_attention.h"

#include <math.h>
#include <string.h>

#include "runtime/core/memory.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int64_t ctxpar_frame_attention_scratch_bytes(int64_t grid_h, int64_t grid_w, int window,
                                             int heads, int head_dim) {
    const int64_t d = (int64_t)heads * head_dim;
    const int64_t rows = window > 0 ? min64(window, grid_h) * min64(window, grid_w)
                                    : grid_h * grid_w;
    const int64_t gathered = window > 0 ? rows * 4 * d : 0; /* q|k|v and the output */
    return (rows * heads + gathered) * (int64_t)sizeof(float);
}

double ctxpar_frame_attention_flops(int64_t grid_h, int64_t grid_w, int window, int64_t dim) {
    if (window <= 0) return 4.0 * (double)(grid_h * grid_w) * (double)(grid_h * grid_w) * dim;
    double flops = 0.0;
    for (int64_t y0 = 0; y0 < grid_h; y0 += window)
        for (int64_t x0 = 0; x0 < grid_w; x0 += window) {
            const double n = (double)(min64(window, grid_h - y0) * min64(window, grid_w - x0));
            flops += 4.0 * n * n * (double)dim;
        }
    return flops;
}

ctxpar_status ctxpar_frame_attention(ctxpar_attention_fn attention, const float *qkv,
                                     int64_t n_frames, int64_t grid_h, int64_t grid_w,
                                     int window, int heads, int head_dim, float *out) {
    const int64_t d = (int64_t)heads * head_dim, tpf = grid_h * grid_w;
    const float scale = 1.0f / sqrtf((float)head_dim);
    float *scratch = NULL;
    const int64_t bytes = ctxpar_frame_attention_scratch_bytes(grid_h, grid_w, window, heads,
                                                               head_dim);
    CTXPAR_TRY(ctxpar_mem_alloc_floats(&scratch, bytes / (int64_t)sizeof(float),
                                       CTXPAR_MEM_TRANSFORMER, "frame attention"));
    float *lse = scratch;
    for (int64_t f = 0; f < n_frames; f++) {
        const float *frame = qkv + f * tpf * 3 * d;
        float *frame_out = out + f * tpf * d;
        if (window <= 0) {
            attention(frame, 3 * d, frame + d, 3 * d, frame + 2 * d, 3 * d, frame_out, d, lse,
                      tpf, tpf, heads, head_dim, scale);
            continue;
        }
        const int64_t max_rows = min64(window, grid_h) * min64(window, grid_w);
        float *gathered = lse + max_rows * heads, *gathered_out = gathered + max_rows * 3 * d;
        for (int64_t y0 = 0; y0 < grid_h; y0 += window)
            for (int64_t x0 = 0; x0 < grid_w; x0 += window) {
                const int64_t wh = min64(window, grid_h - y0), ww = min64(window, grid_w - x0);
                for (int64_t y = 0; y < wh; y++)
                    memcpy(gathered + y * ww * 3 * d, frame + ((y0 + y) * grid_w + x0) * 3 * d,
                           sizeof(float) * (size_t)(ww * 3 * d));
                attention(gathered, 3 * d, gathered + d, 3 * d, gathered + 2 * d, 3 * d,
                          gathered_out, d, lse, wh * ww, wh * ww, heads, head_dim, scale);
                for (int64_t y = 0; y < wh; y++)
                    memcpy(frame_out + ((y0 + y) * grid_w + x0) * d, gathered_out + y * ww * d,
                           sizeof(float) * (size_t)(ww * d));
            }
    }
    ctxpar_mem_free(scratch);
    return CTXPAR_OK;
}
