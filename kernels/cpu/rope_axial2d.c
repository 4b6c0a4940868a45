/* Qwen2-VL's 2D rotary embedding (the vision tower's "axial" RoPE): each
 * head's first half pairs with its second half (rotate_half), dims
 * [0, dh/4) turn by the token's row, [dh/4, dh/2) by its column, both at the
 * frequencies 10000^(-2i/(dh/2)), i < dh/4. There is no time axis: every
 * token frame is rotated alike (its attention never leaves the frame).
 *
 * Design: the same row-wise table as rope.c (angles in double, applied to
 * every head); positions come from the token's index in its frame, so the
 * rank that holds the frame does not matter. */
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>

enum { AXIAL_MAX_QUARTER = 256 }; /* head dims up to 1024 */

void ctxpar_cpu_rope_axial2d(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                             int64_t first_token, int64_t grid_h, int64_t grid_w) {
    const int quarter = head_dim / 4, half = head_dim / 2;
    if (quarter > AXIAL_MAX_QUARTER) return; /* refused by the config check */
    const int64_t per_frame = grid_h * grid_w;
    double inv_freq[AXIAL_MAX_QUARTER];
    for (int i = 0; i < quarter; i++) inv_freq[i] = pow(10000.0, -2.0 * i / (double)half);
#pragma omp parallel for schedule(static) if (n * heads * head_dim > (1 << 15))
    for (int64_t row = 0; row < n; row++) {
        const int64_t in_frame = (first_token + row) % per_frame;
        const double pos[2] = {(double)(in_frame / grid_w), (double)(in_frame % grid_w)};
        float cs[2 * AXIAL_MAX_QUARTER][2];
        for (int j = 0; j < half; j++) {
            const double angle = pos[j / quarter] * inv_freq[j % quarter];
            cs[j][0] = (float)cos(angle);
            cs[j][1] = (float)sin(angle);
        }
        for (int hh = 0; hh < heads; hh++) {
            float *xp = x + row * ld + (int64_t)hh * head_dim;
            for (int j = 0; j < half; j++) {
                const float a = xp[j], b = xp[j + half];
                xp[j] = a * cs[j][0] - b * cs[j][1];
                xp[j + half] = b * cs[j][0] + a * cs[j][1];
            }
        }
    }
}
