/* V-JEPA 2's 3D RoPE, exactly as its released checkpoints were trained with.
 *
 * Each head's first 3a dims (a = 2*((dh/3)/2)) are three blocks [t | y | x] of
 * a dims; the rest are not rotated. Inside a block, with m = a/2 and
 * w_k = 10000^(-k/m), dim j uses the angle pos * w_(j mod m): the m-entry
 * angle table is tiled twice, not repeated per pair, so the two dims of a
 * rotated pair (2i, 2i+1) use DIFFERENT angles and the map is not a rotation.
 * Standard RoPE would differ by about 20% on the output: the checkpoints need
 * this form. Positions are global (t = tubelet, y and x on the token grid).
 * Angles are formed in double, as in rope.c.
 *
 * The cos/sin of an angle depend only on an axis's position and j mod m, so
 * each call fills one table per axis (the call's tubelets, the grid's rows
 * and columns: a few dozen positions) and every row reads it: computing them
 * per row was 2% of a V-JEPA 2 ViT-L bf16 run. The same double arithmetic
 * either way, so the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/transformer_cpu.h"

enum { ROPE_MAX_DIMS = 512 };

/* One token's row, every head: pairs (2i, 2i+1) of the first 3a dims mix
 * with the cos/sin of their own dims, cs[j] = (cos, sin) of dim j. */
static void rotate_row(float *x, int heads, int head_dim, int a,
                       const float cs[ROPE_MAX_DIMS][2]) {
    for (int hh = 0; hh < heads; hh++) {
        float *xp = x + (int64_t)hh * head_dim;
        for (int j = 0; j < 3 * a; j += 2) {
            const float u = xp[j], v = xp[j + 1];
            xp[j] = u * cs[j][0] - v * cs[j][1];
            xp[j + 1] = v * cs[j + 1][0] + u * cs[j + 1][1];
        }
    }
}

void ctxpar_cpu_rope3d_vjepa2(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                              int64_t first_token, int64_t grid_h, int64_t grid_w) {
    const int a = 2 * ((head_dim / 3) / 2), m = a / 2;
    const int64_t per_frame = grid_h * grid_w;
    if (a == 0 || 3 * a > ROPE_MAX_DIMS || n <= 0) return;
    double freq[ROPE_MAX_DIMS / 2];
    for (int k = 0; k < m; k++) freq[k] = pow(10000.0, -(double)k / m);
    /* tables [position][k][cos, sin]: tubelets t_first.., rows, columns */
    const int64_t t_first = first_token / per_frame;
    const int64_t counts[3] = {(first_token + n - 1) / per_frame - t_first + 1, grid_h, grid_w};
    const int64_t firsts[3] = {t_first, 0, 0};
    float *table[3] = {NULL, NULL, NULL};
    for (int axis = 0; axis < 3; axis++) {
        table[axis] = malloc(sizeof(float) * 2 * (size_t)(counts[axis] * m));
        if (!table[axis]) {
            free(table[0]), free(table[1]), free(table[2]);
            ctxpar_cpu_rope3d_vjepa2_rows(x, ld, n, heads, head_dim, first_token, grid_h, grid_w);
            return;
        }
        for (int64_t i = 0; i < counts[axis]; i++)
            for (int k = 0; k < m; k++) {
                const double angle = (double)(firsts[axis] + i) * freq[k];
                table[axis][(i * m + k) * 2] = (float)cos(angle);
                table[axis][(i * m + k) * 2 + 1] = (float)sin(angle);
            }
    }
#pragma omp parallel for schedule(static) if (n * heads * head_dim > (1 << 15))
    for (int64_t row = 0; row < n; row++) {
        const int64_t g = first_token + row;
        const int64_t pos[3] = {g / per_frame - t_first, (g % per_frame) / grid_w, g % grid_w};
        float cs[ROPE_MAX_DIMS][2]; /* each axis's m angles, tiled twice */
        for (int axis = 0; axis < 3; axis++) {
            const float *angles = table[axis] + pos[axis] * m * 2;
            memcpy(cs[axis * a], angles, sizeof(float) * 2 * (size_t)m);
            memcpy(cs[axis * a + m], angles, sizeof(float) * 2 * (size_t)m);
        }
        rotate_row(x + row * ld, heads, head_dim, a, cs);
    }
    free(table[0]), free(table[1]), free(table[2]);
}

/* The same, each row's angles computed on their own: the reference the
 * tables are checked against, and the fallback when they cannot be
 * allocated. */
void ctxpar_cpu_rope3d_vjepa2_rows(float *x, int64_t ld, int64_t n, int heads, int head_dim,
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
        rotate_row(x + row * ld, heads, head_dim, a, cs);
    }
}
