/* The per-frame quadtree of token merging (see merge_cpu.h). Levels are built
 * bottom-up; a level-l block only looks at its 4 children, so each block is
 * independent and the blocks of a level run in parallel with a fixed
 * arithmetic order per block (results do not depend on the thread count).
 * Scratch per level l >= 1: a formed flag per block, then the block features. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/merge_cpu.h"

double ctxpar_cpu_cosine(const double *a, const double *b, int64_t d) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int64_t i = 0; i < d; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    if (aa == 0.0 || bb == 0.0) return (aa == 0.0 && bb == 0.0) ? 1.0 : 0.0;
    return ab / (sqrt(aa) * sqrt(bb));
}

/* The same with a float first operand (a token against a node mean). */
static double cosine_fd(const float *a, const double *b, int64_t d) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int64_t i = 0; i < d; i++) {
        double av = a[i];
        ab += av * b[i];
        aa += av * av;
        bb += b[i] * b[i];
    }
    if (aa == 0.0 || bb == 0.0) return (aa == 0.0 && bb == 0.0) ? 1.0 : 0.0;
    return ab / (sqrt(aa) * sqrt(bb));
}

/* Levels that can hold at least one block. */
static int usable_levels(int64_t grid_h, int64_t grid_w, int levels) {
    int l = 0;
    while (l < levels && l < 30 && (grid_h >> (l + 1)) > 0 && (grid_w >> (l + 1)) > 0) l++;
    return l;
}

int64_t ctxpar_cpu_quadtree_scratch_doubles(int64_t grid_h, int64_t grid_w, int64_t d, int levels) {
    int64_t n = 0;
    for (int l = 1; l <= usable_levels(grid_h, grid_w, levels); l++)
        n += (grid_h >> l) * (grid_w >> l) * (1 + d);
    return n > 0 ? n : 1;
}

int64_t ctxpar_cpu_quadtree_frame(const float *tokens, int64_t grid_h, int64_t grid_w, int64_t d,
                                  int levels, double tau_s, int32_t *node_level, int32_t *node_y,
                                  int32_t *node_x, double *node_features, double *scratch) {
    const int top = ctxpar_merge_threshold_on(tau_s) ? usable_levels(grid_h, grid_w, levels) : 0;
    double *formed[31] = {0}, *feature[31] = {0};
    double *next = scratch;
    for (int l = 1; l <= top; l++) {
        const int64_t blocks = (grid_h >> l) * (grid_w >> l);
        formed[l] = next;
        feature[l] = next + blocks;
        next += blocks * (1 + d);
    }
    for (int l = 1; l <= top; l++) {
        const int64_t bh = grid_h >> l, bw = grid_w >> l, cw = grid_w >> (l - 1);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < bh * bw; b++) {
            const int64_t by = b / bw, bx = b % bw;
            int64_t child[4];
            for (int k = 0; k < 4; k++) child[k] = (2 * by + (k >> 1)) * cw + 2 * bx + (k & 1);
            double *parent = feature[l] + b * d;
            formed[l][b] = 0.0;
            if (l > 1) {
                int all = 1;
                for (int k = 0; k < 4; k++) all &= formed[l - 1][child[k]] != 0.0;
                if (!all) continue;
            }
            for (int64_t i = 0; i < d; i++) {
                double s = 0.0;
                for (int k = 0; k < 4; k++)
                    s += l == 1 ? (double)tokens[child[k] * d + i] : feature[l - 1][child[k] * d + i];
                parent[i] = s * 0.25;
            }
            double min_cos = INFINITY;
            for (int k = 0; k < 4; k++) {
                double c = l == 1 ? cosine_fd(tokens + child[k] * d, parent, d)
                                  : ctxpar_cpu_cosine(feature[l - 1] + child[k] * d, parent, d);
                if (c < min_cos) min_cos = c;
            }
            formed[l][b] = min_cos >= tau_s ? 1.0 : 0.0;
        }
    }
    /* Each token's final node is the highest formed block that holds it (formed
     * blocks nest); the node is emitted at its top-left token, so raster order
     * of tokens gives (y, x) order of nodes. */
    int64_t n = 0;
    for (int64_t y = 0; y < grid_h; y++)
        for (int64_t x = 0; x < grid_w; x++) {
            int level = 0;
            for (int l = top; l >= 1; l--) {
                const int64_t by = y >> l, bx = x >> l;
                if (by < (grid_h >> l) && bx < (grid_w >> l) &&
                    formed[l][by * (grid_w >> l) + bx] != 0.0) {
                    level = l;
                    break;
                }
            }
            if (((y | x) & ((1 << level) - 1)) != 0) continue; /* not the top-left token */
            node_level[n] = level;
            node_y[n] = (int32_t)y;
            node_x[n] = (int32_t)x;
            double *out = node_features + n * d;
            if (level == 0) {
                for (int64_t i = 0; i < d; i++) out[i] = tokens[(y * grid_w + x) * d + i];
            } else {
                const int64_t b = (y >> level) * (grid_w >> level) + (x >> level);
                memcpy(out, feature[level] + b * d, sizeof(double) * (size_t)d);
            }
            n++;
        }
    return n;
}
