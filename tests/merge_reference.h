/* A naive token-merging reference for the merge tests, written from
 * docs/design.md section 2.3 independently of kernels/cpu/merge.c and
 * runtime/stages/merge.c: block means straight from the tokens, block formation by
 * recursion, links by a search over the previous frame, group features as the
 * plain double sum of every covered token divided by the token count. */
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_record {
    int t_start, t_end, level, y, x, size;
    double *feature; /* [d] */
} ref_record;

typedef struct ref_node {
    int level, y, x, group;
} ref_node;

static double ref_cos(const double *a, const double *b, int d) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < d; i++) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
    if (aa == 0 || bb == 0) return (aa == 0 && bb == 0) ? 1.0 : 0.0;
    return ab / sqrt(aa * bb);
}

/* mean of the tokens of the 2^l block at block coordinates (by, bx) */
static void ref_block_mean(const float *frame, int W, int d, int l, int by, int bx, double *mean) {
    const int side = 1 << l;
    for (int c = 0; c < d; c++) mean[c] = 0;
    for (int y = by * side; y < (by + 1) * side; y++)
        for (int x = bx * side; x < (bx + 1) * side; x++)
            for (int c = 0; c < d; c++) mean[c] += frame[(y * W + x) * d + c];
    for (int c = 0; c < d; c++) mean[c] /= (double)(side * side);
}

static int ref_formed(const float *frame, int H, int W, int d, int l, int by, int bx, double tau) {
    if (l == 0) return 1;
    if (((by + 1) << l) > H || ((bx + 1) << l) > W) return 0;
    for (int k = 0; k < 4; k++)
        if (!ref_formed(frame, H, W, d, l - 1, 2 * by + k / 2, 2 * bx + k % 2, tau)) return 0;
    double *parent = malloc(sizeof(double) * d), *child = malloc(sizeof(double) * d);
    ref_block_mean(frame, W, d, l, by, bx, parent);
    double min_cos = 2.0;
    for (int k = 0; k < 4; k++) {
        ref_block_mean(frame, W, d, l - 1, 2 * by + k / 2, 2 * bx + k % 2, child);
        double c = ref_cos(child, parent, d);
        if (c < min_cos) min_cos = c;
    }
    free(parent), free(child);
    return min_cos >= tau;
}

static int ref_record_order(const void *pa, const void *pb) {
    const ref_record *a = pa, *b = pb;
    if (a->t_start != b->t_start) return a->t_start < b->t_start ? -1 : 1;
    if (a->y != b->y) return a->y < b->y ? -1 : 1;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    return 0;
}

/* tokens [T][H*W][d]; returns the record count, *out sorted by (t_start, y, x). */
static int64_t ref_merge(const float *tokens, int T, int H, int W, int d, int levels,
                         double tau_s, double tau_t, ref_record **out) {
    const int tpf = H * W;
    ref_node *prev = malloc(sizeof(ref_node) * tpf), *cur = malloc(sizeof(ref_node) * tpf);
    int n_prev = 0;
    ref_record *groups = malloc(sizeof(ref_record) * (size_t)T * tpf);
    int64_t n_groups = 0;
    double *a = malloc(sizeof(double) * d), *b = malloc(sizeof(double) * d);
    for (int t = 0; t < T; t++) {
        const float *frame = tokens + (int64_t)t * tpf * d;
        int n_cur = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int level = 0;
                if (tau_s < 1.0)
                    for (int l = levels; l >= 1; l--)
                        if (ref_formed(frame, H, W, d, l, y >> l, x >> l, tau_s)) {
                            level = l;
                            break;
                        }
                if ((y % (1 << level)) || (x % (1 << level))) continue;
                ref_node *node = &cur[n_cur++];
                node->level = level, node->y = y, node->x = x, node->group = -1;
                for (int p = 0; p < n_prev && t > 0 && tau_t < 1.0; p++)
                    if (prev[p].level == level && prev[p].y == y && prev[p].x == x) {
                        ref_block_mean(frame, W, d, level, y >> level, x >> level, a);
                        ref_block_mean(frame - (int64_t)tpf * d, W, d, level, y >> level,
                                       x >> level, b);
                        if (ref_cos(a, b, d) >= tau_t) node->group = prev[p].group;
                    }
                if (node->group < 0) {
                    ref_record *g = &groups[n_groups];
                    node->group = (int)n_groups++;
                    g->t_start = t, g->level = level, g->y = y, g->x = x, g->size = 0;
                    g->feature = calloc((size_t)d, sizeof(double));
                }
                ref_record *g = &groups[node->group];
                g->t_end = t;
                const int side = 1 << level;
                for (int yy = y; yy < y + side; yy++)
                    for (int xx = x; xx < x + side; xx++) {
                        for (int c = 0; c < d; c++) g->feature[c] += frame[(yy * W + xx) * d + c];
                        g->size++;
                    }
            }
        ref_node *swap = prev;
        prev = cur, cur = swap;
        n_prev = n_cur;
    }
    for (int64_t g = 0; g < n_groups; g++)
        for (int c = 0; c < d; c++) groups[g].feature[c] /= groups[g].size;
    qsort(groups, (size_t)n_groups, sizeof(ref_record), ref_record_order);
    free(prev), free(cur), free(a), free(b);
    *out = groups;
    return n_groups;
}

static void ref_free(ref_record *records, int64_t n) {
    for (int64_t i = 0; i < n; i++) free(records[i].feature);
    free(records);
}
