/* RoPE-3D (section 2.2): rotary position embedding with each head's dims
 * split [t | y | x], positions taken from the GLOBAL token index so that a
 * rank's slice is rotated exactly as the whole video would be.
 *
 * Design: the angles depend on the token only, not on the head, so each row
 * builds its cos/sin table once (in chunks on the stack, so there is no
 * allocation that could fail) and applies it to every head. Angles are
 * formed in double: pos * freq reaches 10^4 rad on long videos, where a float
 * angle would already be off by ~1e-3 rad. */
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>

enum { ROPE_CHUNK = 64 }; /* pairs whose cos/sin are tabled at once */

/* Position and frequency of pair `pair` (0 <= pair < head_dim/2) of a head. */
static double pair_angle(int pair, int head_dim, const int64_t pos[3]) {
    const int part_pairs[3] = {head_dim / 8, 3 * head_dim / 16, 3 * head_dim / 16};
    int part = 0;
    while (part < 2 && pair >= part_pairs[part]) pair -= part_pairs[part++];
    const double m = 2.0 * part_pairs[part]; /* the part's size in dims */
    return (double)pos[part] * pow(10000.0, -2.0 * pair / m);
}

void ctxpar_cpu_rope3d(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                       int64_t first_token, int64_t grid_h, int64_t grid_w) {
    const int half = head_dim / 2;
    const int64_t per_frame = grid_h * grid_w;
#pragma omp parallel for schedule(static) if (n * heads * head_dim > (1 << 15))
    for (int64_t row = 0; row < n; row++) {
        const int64_t g = first_token + row;
        const int64_t pos[3] = {g / per_frame, (g % per_frame) / grid_w, g % grid_w};
        float cs[ROPE_CHUNK][2];
        for (int p0 = 0; p0 < half; p0 += ROPE_CHUNK) {
            const int np = half - p0 < ROPE_CHUNK ? half - p0 : ROPE_CHUNK;
            for (int p = 0; p < np; p++) {
                const double angle = pair_angle(p0 + p, head_dim, pos);
                cs[p][0] = (float)cos(angle);
                cs[p][1] = (float)sin(angle);
            }
            for (int hh = 0; hh < heads; hh++) {
                float *xp = x + row * ld + (int64_t)hh * head_dim + 2 * p0;
                for (int p = 0; p < np; p++) {
                    const float a = xp[2 * p], b = xp[2 * p + 1];
                    xp[2 * p] = a * cs[p][0] - b * cs[p][1];
                    xp[2 * p + 1] = a * cs[p][1] + b * cs[p][0];
                }
            }
        }
    }
}
