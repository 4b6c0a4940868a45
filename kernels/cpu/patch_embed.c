/* Patch embedding: latents [z][frames][h][w] -> tokens [n][d].
 *
 * Design: gather every token's p*p*z input vector, ordered (dy, dx, c) as the
 * checkpoint format fixes it, into a dense [n_tokens][p*p*z] matrix in the
 * caller's scratch, then one linear layer does all tokens. The gather is
 * memory-bound and tiny next to the GEMM, so it stays simple. */
#include "kernels/cpu/kernels_cpu.h"

int64_t ctxpar_cpu_patch_embed_scratch_floats(int64_t z, int64_t frames, int64_t h, int64_t w,
                                              int p) {
    return frames * (h / p) * (w / p) * (int64_t)p * p * z;
}

void ctxpar_cpu_patch_rows(const float *latents, int64_t cstride, int64_t z, int64_t frames,
                           int64_t h, int64_t w, int p, float *scratch) {
    int64_t grid_h = h / p, grid_w = w / p;
    int64_t n_tokens = frames * grid_h * grid_w;
    int64_t in_dim = (int64_t)p * p * z;
#pragma omp parallel for schedule(static)
    for (int64_t token = 0; token < n_tokens; token++) {
        int64_t t = token / (grid_h * grid_w);
        int64_t ty = (token / grid_w) % grid_h, tx = token % grid_w;
        float *vec = scratch + token * in_dim;
        for (int dy = 0; dy < p; dy++)
            for (int dx = 0; dx < p; dx++) {
                const float *src = latents + t * h * w + (ty * p + dy) * w + tx * p + dx;
                float *dst = vec + (int64_t)(dy * p + dx) * z;
                for (int64_t c = 0; c < z; c++) dst[c] = src[c * cstride];
            }
    }
}

void ctxpar_cpu_patch_embed(const float *latents, int64_t cstride, int64_t z, int64_t frames,
                            int64_t h, int64_t w, int p, const float *weight, const float *bias,
                            int64_t d, float *tokens, float *scratch) {
    ctxpar_cpu_patch_rows(latents, cstride, z, frames, h, w, p, scratch);
    ctxpar_cpu_linear(tokens, scratch, frames * (h / p) * (w / p), (int64_t)p * p * z, d, weight,
                      bias);
}
