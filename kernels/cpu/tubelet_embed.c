/* Tubelet embedding: a Conv3d whose kernel equals its stride (kt x p x p), the
 * token embedding of video ViTs that read pixels directly (V-JEPA 2).
 *
 * Design: non-overlapping tubelets make the conv a plain GEMM. Each token's
 * input vector is gathered in the weight's own order (c, a, i, j) of
 * [d][3][kt][p][p], so the PyTorch weight is used as is, and one sgemm
 * multiplies all tokens at once. The gather is a copy of the input, 1x in
 * size. Tokens come out in (t, y, x) order. */
#include <cblas.h>

#include "kernels/cpu/kernels_cpu.h"

int64_t ctxpar_cpu_tubelet_embed_scratch_floats(int64_t c, int64_t frames, int64_t h, int64_t w,
                                                int kt, int p) {
    return (frames / kt) * (h / p) * (w / p) * c * kt * p * p;
}

void ctxpar_cpu_tubelet_rows(const float *x, int64_t cstride, int64_t c, int64_t frames,
                             int64_t h, int64_t w, int kt, int p, float *scratch) {
    const int64_t nt = frames / kt, gh = h / p, gw = w / p, n = nt * gh * gw;
    const int64_t k = c * kt * p * p;
#pragma omp parallel for schedule(static)
    for (int64_t token = 0; token < n; token++) {
        const int64_t t = token / (gh * gw), y = (token / gw) % gh, xx = token % gw;
        float *row = scratch + token * k;
        for (int64_t ch = 0; ch < c; ch++)
            for (int a = 0; a < kt; a++) {
                const float *frame = x + ch * cstride + (t * kt + a) * h * w;
                for (int i = 0; i < p; i++) {
                    const float *src = frame + (y * p + i) * w + xx * p;
                    float *dst = row + ((ch * kt + a) * p + i) * p;
                    for (int j = 0; j < p; j++) dst[j] = src[j];
                }
            }
    }
}

void ctxpar_cpu_tubelet_embed(const float *x, int64_t cstride, int64_t c, int64_t frames,
                              int64_t h, int64_t w, int kt, int p, const float *weight,
                              const float *bias, int64_t d, float *tokens, float *scratch) {
    const int64_t n = (frames / kt) * (h / p) * (w / p);
    ctxpar_cpu_tubelet_rows(x, cstride, c, frames, h, w, kt, p, scratch);
    ctxpar_cpu_linear(tokens, scratch, n, c * kt * p * p, d, weight, bias);
}
