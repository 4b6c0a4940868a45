/* Token-merging kernels (docs/design.md section 2.3): the per-frame spatial
 * quadtree and the cosine it is decided by. Plain C, no MPI, no allocation:
 * scratch comes from the caller, sized by ctxpar_cpu_quadtree_scratch_doubles,
 * so the runtime's allocator counts it.
 *
 * Node features are double: a node's feature is both what the temporal step
 * compares across frames (possibly on another rank, which receives these very
 * doubles) and what group sums accumulate, so keeping them in double makes
 * every link decision independent of the rank count and keeps the sums
 * accurate. Level-l features are means of their 4 children's means, which is
 * the mean of the node's tokens because the children are equal-size. */
#pragma once
#include <stdint.h>

/* cos(a, b) in double. Both zero: 1 (identical); one zero: 0. */
double ctxpar_cpu_cosine(const double *a, const double *b, int64_t d);

/* A merge threshold switches its step off when it is >= 1 (docs/design.md: tau >= 1
 * never merges), even though identical vectors have cosine exactly 1. */
static inline int ctxpar_merge_threshold_on(double tau) { return tau < 1.0; }

/* Scratch (doubles) for one frame of grid_h x grid_w tokens of width d. */
int64_t ctxpar_cpu_quadtree_scratch_doubles(int64_t grid_h, int64_t grid_w, int64_t d, int levels);

/* Spatial merging of one latent frame, tokens [grid_h*grid_w][d] row-major in
 * (y, x) order. For l = 1..levels, a 2^l x 2^l block aligned to 2^l and wholly
 * inside the grid becomes a node when its 4 level-(l-1) children are nodes and
 * min over children cos(child, mean of children) >= tau_s (tau_s >= 1: never).
 * A formed node replaces its children.
 *
 * Output: the frame's final nodes in (y, x) order of their top-left tokens:
 * node_level/node_y/node_x [n] (y, x in token-grid coordinates) and
 * node_features [n][d] (mean of the node's tokens); each array must hold
 * grid_h*grid_w entries (rows). Returns n. */
int64_t ctxpar_cpu_quadtree_frame(const float *tokens, int64_t grid_h, int64_t grid_w, int64_t d,
                                  int levels, double tau_s, int32_t *node_level, int32_t *node_y,
                                  int32_t *node_x, double *node_features, double *scratch);
