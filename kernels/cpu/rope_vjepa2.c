/* V-JEPA 2's 3D RoPE, exactly as its released checkpoints were trained with.
 *
 * Each head's first 3a dims (a = 2*((dh/3)/2)) are three blocks [t | y | x] of
 * a dims; the rest are not rotated. Inside a block, with m = a/2 and
 * w_k = 10000^(-k/m), dim j uses the angle pos * w_(j mod m): the m-entry
 * angle table is tiled twice, not repeated per pair, so the two dims of a
 * rotated pair (2i, 2i+1) use DIFFERENT angles and the map is not a rotation.
 * Standard RoPE would differ by about 20% on the output: the checkpoints need
 * this form. Positions are global (t = tubelet, y and x on the token grid).
 * Angles are formed in double, as in rope.c. */
#include <math.h>

#include "kernels/cpu/transformer_cpu.h"

enum { ROPE_MAX_DIMS = 512 };

void ctxpar_cpu_rope3d_vjepa2(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                              int64_t first_token, int64_t grid_h, int64_t grid_w) {
    const int a = 2 * ((head_dim / 3) / 2), m = a / 2;
    const int64_t per_frame = grid_h * grid_w;
    if (a == 0 || 3 * a > ROPE_MAX_DIMS) return;
#pragma omp parallel for schedule(static) if (n * heads * head_dim > (1 << 15))
    for (int64_t row = 0; row < n; row++) {
        const int64_t g = first_token + row;
        const int64_t pos[3] = {g / per_frame, (g % per_frame) / grid_w, g % grid_w};
        float cs[ROPE_MAX_DIMS][2];
        for (int axis = 0; axis < 3; axis++)
            for (int j = 0; j < a; j++) {
                const double angle = (double)pos[axis] * pow(10000.0, -(double)(j % m) / m);
                cs[axis * a + j][0] = (float)cos(angle);
                cs[axis * a + j][1] = (float)sin(angle);
            }
        for (int hh = 0; hh < heads; hh++) {
            float *xp = x + row * ld + (int64_t)hh * head_dim;
            for (int j = 0; j < 3 * a; j += 2) {
                const float u = xp[j], v = xp[j + 1];
                xp[j] = u * cs[j][0] - v * cs[j][1];
                xp[j + 1] = v * cs[j + 1][0] + u * cs[j + 1][1];
            }
        }
    }
}
