/* STTM's token merge (docs/merge-sttm.md): the multi-granular quadtree of one
 * frame, the links between two consecutive frames, and the representatives
 * of the linked nodes, exactly as the reference implementation decides them.
 *
 * Design: the reference's pyramid is described per axis. A level of size n
 * over a finer one of size m = 2n (even) or 2n - 1 (odd) takes children
 * {2i, 2i+1}, or {0} for i = 0 and {2i-1, 2i} after it when m is odd, so one
 * small table per axis and level gives every node's children and its box
 * in finest-grid coordinates; parents are plain means of their valid
 * children (means of means, as the reference pools). A parent's four child
 * slots are (dy, dx) in raster order; a slot past the node's children on an
 * odd border is the reference's (0, 0) child, whose cosine still counts in
 * the stop test. Features and cosines are double: the reference's float32
 * differs by rounding only, and decisions are tested away from thresholds.
 * The representatives run the reference's synchronous min-label iteration,
 * including where it stops short of connected components. */
#include "kernels/cpu/merge_cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Children of index i on one axis: the first child and how many (1 or 2). */
static void axis_children(int64_t i, int64_t fine, int64_t *first, int *count) {
    if (fine % 2 == 0) {
        *first = 2 * i, *count = 2;
    } else if (i == 0) {
        *first = 0, *count = 1;
    } else {
        *first = 2 * i - 1, *count = 2;
    }
}

int ctxpar_cpu_sttm_levels(int64_t grid_h, int64_t grid_w, int root_level, int64_t *level_h,
                           int64_t *level_w) {
    /* The reference's size list, finest last: halve (ceil) until a side is 2.
     * A 1x1 grid would halve forever there: it stays one level here. */
    int64_t sizes[CTXPAR_STTM_MAX_LEVELS][2];
    int n = 0;
    int64_t h = grid_h, w = grid_w;
    sizes[n][0] = h, sizes[n][1] = w, n++;
    while (h != 2 && w != 2 && (h > 1 || w > 1) && n < CTXPAR_STTM_MAX_LEVELS) {
        h = (h + 1) / 2, w = (w + 1) / 2;
        sizes[n][0] = h, sizes[n][1] = w, n++;
    }
    /* sizes[] is finest first here; the pyramid keeps its n - root_level finest */
    int root = root_level < n ? root_level : n - 1;
    const int levels = n - root;
    for (int l = 0; l < levels; l++) { /* coarsest (the root) first */
        level_h[l] = sizes[levels - 1 - l][0];
        level_w[l] = sizes[levels - 1 - l][1];
    }
    return levels;
}

int64_t ctxpar_cpu_sttm_scratch_doubles(int64_t grid_h, int64_t grid_w, int64_t d,
                                        int root_level) {
    int64_t lh[CTXPAR_STTM_MAX_LEVELS], lw[CTXPAR_STTM_MAX_LEVELS];
    const int levels = ctxpar_cpu_sttm_levels(grid_h, grid_w, root_level, lh, lw);
    int64_t cells = 0;
    for (int l = 0; l < levels; l++) cells += lh[l] * lw[l];
    /* pyramid features, then two candidate lists of (y, x) per level */
    return cells * d + 2 * 2 * grid_h * grid_w + 16;
}

static double norm_of(const double *a, int64_t d) {
    double s = 0.0;
    for (int64_t c = 0; c < d; c++) s += a[c] * a[c];
    return sqrt(s);
}

/* F.cosine_similarity: x.y / (max(|x|, eps) max(|y|, eps)), eps 1e-8. */
static double cosine_eps(const double *a, const double *b, int64_t d) {
    double dot = 0.0;
    for (int64_t c = 0; c < d; c++) dot += a[c] * b[c];
    const double na = fmax(norm_of(a, d), 1e-8), nb = fmax(norm_of(b, d), 1e-8);
    return dot / (na * nb);
}

static int compare_nodes(const void *pa, const void *pb) {
    const ctxpar_sttm_node *a = pa, *b = pb;
    if (a->y0 != b->y0) return a->y0 < b->y0 ? -1 : 1;
    return (a->x0 > b->x0) - (a->x0 < b->x0);
}

int64_t ctxpar_cpu_sttm_frame(const float *tokens, int64_t grid_h, int64_t grid_w, int64_t d,
                              int root_level, double tau_s, double *scratch,
                              ctxpar_sttm_node *nodes, double *node_features) {
    int64_t lh[CTXPAR_STTM_MAX_LEVELS], lw[CTXPAR_STTM_MAX_LEVELS];
    const int levels = ctxpar_cpu_sttm_levels(grid_h, grid_w, root_level, lh, lw);
    /* pyramid: level l's features at feat[l], [lh][lw][d]; the finest is the tokens */
    double *feat[CTXPAR_STTM_MAX_LEVELS];
    double *at = scratch;
    for (int l = 0; l < levels; l++) feat[l] = at, at += lh[l] * lw[l] * d;
    int64_t *cand = (int64_t *)at, *next = cand + 2 * grid_h * grid_w;
    const int finest = levels - 1;
    for (int64_t i = 0; i < grid_h * grid_w * d; i++) feat[finest][i] = tokens[i];
    for (int l = finest - 1; l >= 0; l--)
        for (int64_t y = 0; y < lh[l]; y++)
            for (int64_t x = 0; x < lw[l]; x++) {
                int64_t y0, x0;
                int ny, nx;
                axis_children(y, lh[l + 1], &y0, &ny);
                axis_children(x, lw[l + 1], &x0, &nx);
                double *out = feat[l] + (y * lw[l] + x) * d;
                memset(out, 0, sizeof(double) * (size_t)d);
                for (int dy = 0; dy < ny; dy++)
                    for (int dx = 0; dx < nx; dx++) {
                        const double *child = feat[l + 1] + ((y0 + dy) * lw[l + 1] + x0 + dx) * d;
                        for (int64_t c = 0; c < d; c++) out[c] += child[c];
                    }
                const double inv = 1.0 / (double)(ny * nx);
                for (int64_t c = 0; c < d; c++) out[c] *= inv;
            }

    /* boxes: the finest-grid range of index i at level l, per axis */
    int64_t n_out = 0, n_cand = 0;
    for (int64_t y = 0; y < lh[0]; y++)
        for (int64_t x = 0; x < lw[0]; x++) cand[2 * n_cand] = y, cand[2 * n_cand + 1] = x, n_cand++;
    for (int l = 0; l < levels; l++) {
        int64_t n_next = 0;
        for (int64_t k = 0; k < n_cand; k++) {
            const int64_t y = cand[2 * k], x = cand[2 * k + 1];
            const double *parent = feat[l] + (y * lw[l] + x) * d;
            int64_t y0 = y, x0 = x;
            int ny = 1, nx = 1, stop = 1;
            if (l < finest) {
                axis_children(y, lh[l + 1], &y0, &ny);
                axis_children(x, lw[l + 1], &x0, &nx);
                for (int slot = 0; slot < 4 && stop; slot++) {
                    const int dy = slot / 2, dx = slot % 2;
                    const int valid = dy < ny && dx < nx;
                    const int64_t cy = valid ? y0 + dy : 0, cx = valid ? x0 + dx : 0;
                    const double *child = feat[l + 1] + (cy * lw[l + 1] + cx) * d;
                    stop = cosine_eps(parent, child, d) >= tau_s;
                }
            }
            if (stop) {
                /* the node's box in finest coordinates: descend its first and last children */
                int64_t by0 = y, by1 = y, bx0 = x, bx1 = x;
                for (int m = l; m < finest; m++) {
                    int64_t f;
                    int c;
                    axis_children(by0, lh[m + 1], &f, &c);
                    by0 = f;
                    axis_children(by1, lh[m + 1], &f, &c);
                    by1 = f + c - 1;
                    axis_children(bx0, lw[m + 1], &f, &c);
                    bx0 = f;
                    axis_children(bx1, lw[m + 1], &f, &c);
                    bx1 = f + c - 1;
                }
                ctxpar_sttm_node *node = &nodes[n_out];
                node->y0 = (int32_t)by0, node->x0 = (int32_t)bx0;
                node->y1 = (int32_t)(by1 + 1), node->x1 = (int32_t)(bx1 + 1);
                node->depth = finest - l;
                node->index = n_out;
                memcpy(node_features + n_out * d, parent, sizeof(double) * (size_t)d);
                n_out++;
            } else {
                for (int dy = 0; dy < ny; dy++)
                    for (int dx = 0; dx < nx; dx++)
                        next[2 * n_next] = y0 + dy, next[2 * n_next + 1] = x0 + dx, n_next++;
            }
        }
        int64_t *swap = cand;
        cand = next, next = swap;
        n_cand = n_next;
    }
    /* the reference's order: by the top-left corner, raster; features follow
     * their nodes through the index each node carries */
    qsort(nodes, (size_t)n_out, sizeof *nodes, compare_nodes);
    double *sorted = scratch; /* the pyramid is done with */
    for (int64_t k = 0; k < n_out; k++)
        memcpy(sorted + k * d, node_features + nodes[k].index * d, sizeof(double) * (size_t)d);
    memcpy(node_features, sorted, sizeof(double) * (size_t)(n_out * d));
    for (int64_t k = 0; k < n_out; k++) nodes[k].index = k;
    return n_out;
}

/* x / (|x| + 1e-8): the temporal step's normalisation (not cosine_similarity's). */
static void normalised(const double *a, int64_t d, double *out) {
    const double inv = 1.0 / (norm_of(a, d) + 1e-8);
    for (int64_t c = 0; c < d; c++) out[c] = a[c] * inv;
}

int64_t ctxpar_cpu_sttm_links(const ctxpar_sttm_node *a, const double *a_features, int64_t n_a,
                              const ctxpar_sttm_node *b, const double *b_features, int64_t n_b,
                              int64_t d, double tau_t, double *scratch, int64_t *pairs) {
    double *ua = scratch, *ub = scratch + d;
    int64_t n = 0;
    for (int64_t i = 0; i < n_a; i++)
        for (int64_t j = 0; j < n_b; j++) {
            const ctxpar_sttm_node *p = &a[i], *q = &b[j];
            const int a_holds_b = p->y0 <= q->y0 && p->x0 <= q->x0 && p->y1 >= q->y1 &&
                                  p->x1 >= q->x1;
            const int b_holds_a = p->y0 >= q->y0 && p->x0 >= q->x0 && p->y1 <= q->y1 &&
                                  p->x1 <= q->x1;
            if (!a_holds_b && !b_holds_a) continue;
            normalised(a_features + i * d, d, ua);
            normalised(b_features + j * d, d, ub);
            double s = 0.0;
            for (int64_t c = 0; c < d; c++) s += ua[c] * ub[c];
            if (s >= tau_t) pairs[2 * n] = i, pairs[2 * n + 1] = j, n++;
        }
    return n;
}

void ctxpar_cpu_sttm_representatives(int64_t n, const int64_t *pairs, int64_t n_pairs,
                                     int64_t *rep, int64_t *scratch) {
    int64_t *low = scratch;  /* [n_pairs] min(rep[dst], rep[src]) before the scatter */
    int64_t *jump = scratch + n_pairs; /* [n] */
    for (int64_t i = 0; i < n; i++) rep[i] = i;
    for (;;) {
        for (int64_t e = 0; e < n_pairs; e++) {
            const int64_t dst = rep[pairs[2 * e]], src = rep[pairs[2 * e + 1]];
            low[e] = dst < src ? dst : src;
        }
        /* scatter amin onto the destinations, then onto the sources */
        for (int64_t e = 0; e < n_pairs; e++)
            if (low[e] < rep[pairs[2 * e]]) rep[pairs[2 * e]] = low[e];
        for (int64_t e = 0; e < n_pairs; e++)
            if (low[e] < rep[pairs[2 * e + 1]]) rep[pairs[2 * e + 1]] = low[e];
        for (int64_t i = 0; i < n; i++) jump[i] = rep[rep[i]]; /* one pointer jump */
        int settled = 1;
        for (int64_t i = 0; i < n && settled; i++) settled = jump[jump[i]] == jump[i];
        memcpy(rep, jump, sizeof(int64_t) * (size_t)n);
        if (settled) return;
    }
}
