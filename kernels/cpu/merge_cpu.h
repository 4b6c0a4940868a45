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

/* ---- STTM (docs/merge-sttm.md): the reference's multi-granular quadtree,
 * its consecutive-frame links and its representatives ---- */

enum { CTXPAR_STTM_MAX_LEVELS = 32 };

/* One node of a frame: its box [y0, y1) x [x0, x1) on the token grid, its
 * depth (levels above the tokens: 0 is a single token) and its row in the
 * frame's features. */
typedef struct ctxpar_sttm_node {
    int32_t y0, x0, y1, x1, depth;
    int64_t index;
} ctxpar_sttm_node;

/* The pyramid of a grid_h x grid_w frame, root first: sides halved (ceil)
 * until one is 2, the root_level coarsest dropped (at least one level kept).
 * Fills level_h/level_w [CTXPAR_STTM_MAX_LEVELS]; returns the level count. */
int ctxpar_cpu_sttm_levels(int64_t grid_h, int64_t grid_w, int root_level, int64_t *level_h,
                           int64_t *level_w);
int64_t ctxpar_cpu_sttm_scratch_doubles(int64_t grid_h, int64_t grid_w, int64_t d,
                                        int root_level);
/* The frame's nodes, tokens [grid_h*grid_w][d] row-major: from each root, a
 * parent whose cosine with each of its four child slots is >= tau_s is a
 * node (feature: its pooled mean), else its children are tried, down to
 * single tokens. nodes and node_features [n][d] hold grid_h*grid_w rows;
 * out in the reference's order (by top-left corner). Returns n. */
int64_t ctxpar_cpu_sttm_frame(const float *tokens, int64_t grid_h, int64_t grid_w, int64_t d,
                              int root_level, double tau_s, double *scratch,
                              ctxpar_sttm_node *nodes, double *node_features);
/* Links from frame a's nodes to the next frame b's: one box holds the other
 * and the features normalised by |x| + 1e-8 have a dot product >= tau_t.
 * pairs [n_a*n_b][2] gets (i in a, j in b) in (i, j) order; scratch 2d
 * doubles. Returns the count. */
int64_t ctxpar_cpu_sttm_links(const ctxpar_sttm_node *a, const double *a_features, int64_t n_a,
                              const ctxpar_sttm_node *b, const double *b_features, int64_t n_b,
                              int64_t d, double tau_t, double *scratch, int64_t *pairs);
/* The reference's representatives of n nodes (in video order) linked by
 * pairs (earlier node, later node): labels start at their index; each
 * round lowers both ends of every pair to the pair's lower label, then takes
 * one pointer jump, until the labels are a fixed point of the jump.
 * scratch: n_pairs + n. */
void ctxpar_cpu_sttm_representatives(int64_t n, const int64_t *pairs, int64_t n_pairs,
                                     int64_t *rep, int64_t *scratch);

