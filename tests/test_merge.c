/* Token merging on one process: STTM's pyramid, corner quirk and
 * representatives (the rest of STTM is checked end to end against its
 * reference, tests/e2e_sttm.py); the quadtree kernel and the whole merge
 * (ctxpar_merge_run on a one-rank communicator) against the naive reference
 * of merge_reference.h, and hand-made videos whose answer is known: all
 * tokens equal, features that flip sign every frame, one equal 2x2 block
 * among random tokens, blocks that do not fit an odd grid, thresholds >= 1,
 * and coverage (every token in exactly one record, sizes add up). */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "kernels/cpu/merge_cpu.h"
#include "merge_reference.h"
#include "runtime/stages/merge.h"
#include "test_util.h"

static ctxpar_comm_t comm;

typedef struct video {
    int T, H, W, d;
    float *tokens; /* [T][H*W][d] */
} video;

static video video_new(int T, int H, int W, int d) {
    video v = {T, H, W, d, calloc((size_t)T * H * W * d, sizeof(float))};
    return v;
}
static float *tok(video *v, int t, int y, int x) {
    return v->tokens + (((int64_t)t * v->H + y) * v->W + x) * v->d;
}

/* A one-rank plan holding only what merging reads. */
typedef struct small_plan {
    ctxpar_plan plan;
    int64_t first_latent[1], n_latent[1];
} small_plan;
static void plan_init(small_plan *p, const video *v) {
    memset(p, 0, sizeof *p);
    p->plan.ranks = 1;
    p->plan.latent_frames = v->T;
    p->plan.grid_h = v->H, p->plan.grid_w = v->W;
    p->plan.tokens_per_frame = (int64_t)v->H * v->W;
    p->plan.total_tokens = p->plan.tokens_per_frame * v->T;
    p->first_latent[0] = 0, p->n_latent[0] = v->T;
    p->plan.first_latent = p->first_latent, p->plan.n_latent = p->n_latent;
}

static ctxpar_merge_result run(video *v, double tau_s, double tau_t, int levels, int no_merge) {
    small_plan p;
    plan_init(&p, v);
    ctxpar_merge_config config = {tau_s, tau_t, levels, CTXPAR_MERGE_QUADTREE, 1};
    ctxpar_merge_result result;
    ctxpar_status status = ctxpar_merge_run(comm, &p.plan, &config, no_merge, v->tokens, v->d, &result);
    ASSERT_EQ_INT(status, CTXPAR_OK);
    return result;
}

/* every token of every frame in exactly one record, sizes add up */
static void check_coverage(const video *v, const ctxpar_merge_result *r, const char *name) {
    const int64_t n = (int64_t)v->T * v->H * v->W;
    int *covered = calloc((size_t)n, sizeof(int));
    int64_t size_sum = 0;
    const ctxpar_records *rec = &r->records;
    for (int64_t i = 0; i < rec->count; i++) {
        const int side = 1 << rec->level[i];
        ASSERT_EQ_INT(rec->size[i], (rec->t_end[i] - rec->t_start[i] + 1) * side * side);
        size_sum += rec->size[i];
        for (int t = rec->t_start[i]; t <= rec->t_end[i]; t++)
            for (int y = rec->y[i]; y < rec->y[i] + side && y < v->H; y++)
                for (int x = rec->x[i]; x < rec->x[i] + side && x < v->W; x++)
                    covered[((int64_t)t * v->H + y) * v->W + x]++;
        if (i > 0) {
            int ordered = rec->t_start[i - 1] < rec->t_start[i] ||
                          (rec->t_start[i - 1] == rec->t_start[i] &&
                           (rec->y[i - 1] < rec->y[i] ||
                            (rec->y[i - 1] == rec->y[i] && rec->x[i - 1] < rec->x[i])));
            if (!ordered) fprintf(stderr, "%s: record %lld out of order\n", name, (long long)i);
            ASSERT_TRUE(ordered);
        }
    }
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += covered[i] != 1;
    if (bad) fprintf(stderr, "%s: %lld tokens not covered exactly once\n", name, (long long)bad);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(size_sum, n);
    free(covered);
}

/* the merge equals the naive reference: records exactly, features within tolerance */
static void check_reference(video *v, double tau_s, double tau_t, int levels, const char *name) {
    ctxpar_merge_result r = run(v, tau_s, tau_t, levels, 0);
    ref_record *ref;
    int64_t n_ref = ref_merge(v->tokens, v->T, v->H, v->W, v->d, levels, tau_s, tau_t, &ref);
    check_coverage(v, &r, name);
    ASSERT_EQ_INT(r.records.count, n_ref);
    ASSERT_EQ_INT(r.stats.records_out, n_ref);
    ASSERT_EQ_INT(r.stats.tokens_in, (int64_t)v->T * v->H * v->W);
    int64_t bad = 0, longest = 0;
    double *want = malloc(sizeof(double) * (size_t)v->d);
    for (int64_t i = 0; i < n_ref; i++)
        if (ref[i].t_end - ref[i].t_start + 1 > longest) longest = ref[i].t_end - ref[i].t_start + 1;
    for (int64_t i = 0; i < n_ref && i < r.records.count; i++) {
        const ctxpar_records *g = &r.records;
        if (g->t_start[i] != ref[i].t_start || g->t_end[i] != ref[i].t_end ||
            g->level[i] != ref[i].level || g->y[i] != ref[i].y || g->x[i] != ref[i].x ||
            g->size[i] != ref[i].size) {
            if (bad < 5)
                fprintf(stderr,
                        "%s: record %lld: got t %d-%d level %d (%d,%d) size %d, want t %d-%d "
                        "level %d (%d,%d) size %d\n",
                        name, (long long)i, g->t_start[i], g->t_end[i], g->level[i], g->y[i],
                        g->x[i], g->size[i], ref[i].t_start, ref[i].t_end, ref[i].level,
                        ref[i].y, ref[i].x, ref[i].size);
            bad++;
            continue;
        }
        memcpy(want, ref[i].feature, sizeof(double) * (size_t)v->d);
        bad += test_compare(name, r.features + i * v->d, want, v->d, 1e-5, 1e-4);
    }
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(r.stats.longest_chain, longest);
    free(want);
    ref_free(ref, n_ref);
    ctxpar_merge_result_free(&r);
}

static void fill_random(video *v, uint64_t seed) {
    test_fill(v->tokens, (int64_t)v->T * v->H * v->W * v->d, seed, 1.0f);
}

static void test_all_equal(void) {
    /* 8x8 grid, levels 2: four 4x4 nodes, each one group over all 5 frames */
    video v = video_new(5, 8, 8, 16);
    for (int t = 0; t < v.T; t++)
        for (int y = 0; y < v.H; y++)
            for (int x = 0; x < v.W; x++)
                for (int c = 0; c < v.d; c++) tok(&v, t, y, x)[c] = 0.5f + 0.1f * c;
    ctxpar_merge_result r = run(&v, 0.9, 0.9, 2, 0);
    ASSERT_EQ_INT(r.records.count, 4);
    for (int64_t i = 0; i < r.records.count; i++) {
        ASSERT_EQ_INT(r.records.level[i], 2);
        ASSERT_EQ_INT(r.records.t_start[i], 0);
        ASSERT_EQ_INT(r.records.t_end[i], 4);
        ASSERT_EQ_INT(r.records.size[i], 80);
        ASSERT_EQ_INT(r.records.y[i], (i / 2) * 4);
        ASSERT_EQ_INT(r.records.x[i], (i % 2) * 4);
        ASSERT_NEAR(r.features[i * v.d + 3], 0.8, 1e-6);
    }
    ASSERT_EQ_INT(r.stats.longest_chain, 5);
    check_coverage(&v, &r, "all equal");
    ctxpar_merge_result_free(&r);
    /* odd 5x6 grid: one 4x4 node, level-1 nodes (0,4) and (2,4), row 4 stays tokens */
    video odd = video_new(3, 5, 6, 8);
    for (int64_t i = 0; i < (int64_t)3 * 5 * 6 * 8; i++) odd.tokens[i] = 1.0f + (float)(i % 8);
    r = run(&odd, 0.9, 0.9, 2, 0);
    ASSERT_EQ_INT(r.records.count, 9);
    int levels[3] = {0};
    for (int64_t i = 0; i < r.records.count; i++) {
        levels[r.records.level[i]]++;
        ASSERT_EQ_INT(r.records.t_end[i] - r.records.t_start[i], 2);
        if (r.records.level[i] == 1) ASSERT_EQ_INT(r.records.x[i], 4);
        if (r.records.level[i] == 0) ASSERT_EQ_INT(r.records.y[i], 4);
    }
    ASSERT_EQ_INT(levels[2], 1);
    ASSERT_EQ_INT(levels[1], 2);
    ASSERT_EQ_INT(levels[0], 6);
    check_coverage(&odd, &r, "all equal, odd grid");
    ctxpar_merge_result_free(&r);
    check_reference(&odd, 0.9, 0.9, 2, "all equal, odd grid vs reference");
    free(v.tokens), free(odd.tokens);
}

static void test_alternating(void) {
    /* every frame the negation of the previous: spatial merges, no temporal link */
    video v = video_new(6, 4, 4, 8);
    for (int t = 0; t < v.T; t++)
        for (int y = 0; y < v.H; y++)
            for (int x = 0; x < v.W; x++)
                for (int c = 0; c < v.d; c++) tok(&v, t, y, x)[c] = (t % 2 ? -1.0f : 1.0f) * (c + 1);
    ctxpar_merge_result r = run(&v, 0.9, 0.9, 2, 0);
    ASSERT_EQ_INT(r.records.count, 6);
    for (int64_t i = 0; i < r.records.count; i++) {
        ASSERT_EQ_INT(r.records.t_start[i], i);
        ASSERT_EQ_INT(r.records.t_end[i], i);
        ASSERT_EQ_INT(r.records.level[i], 2);
    }
    ASSERT_EQ_INT(r.stats.longest_chain, 1);
    ctxpar_merge_result_free(&r);
    free(v.tokens);
}

static void test_one_block(void) {
    /* random tokens (d = 32: cosines far below 0.9) and one equal 2x2 block at (2, 4) */
    video v = video_new(2, 6, 8, 32);
    fill_random(&v, 11);
    for (int t = 0; t < v.T; t++)
        for (int y = 2; y < 4; y++)
            for (int x = 4; x < 6; x++)
                for (int c = 0; c < v.d; c++) tok(&v, t, y, x)[c] = tok(&v, t, 2, 4)[c];
    ctxpar_merge_result r = run(&v, 0.9, 0.9, 2, 0);
    int level1 = 0;
    for (int64_t i = 0; i < r.records.count; i++)
        if (r.records.level[i] == 1) {
            level1++;
            ASSERT_EQ_INT(r.records.y[i], 2);
            ASSERT_EQ_INT(r.records.x[i], 4);
            ASSERT_EQ_INT(r.records.size[i], 4);
        } else {
            ASSERT_EQ_INT(r.records.level[i], 0);
        }
    ASSERT_EQ_INT(level1, 2); /* one per frame: random frames do not link */
    ASSERT_EQ_INT(r.records.count, 2 * (48 - 3));
    check_coverage(&v, &r, "one block");
    ctxpar_merge_result_free(&r);
    check_reference(&v, 0.9, 0.9, 2, "one block vs reference");
    free(v.tokens);
}

static void test_edges(void) {
    /* 3x3 grid, all equal, levels 1: the (0,0) block is a node, nothing at the odd edge */
    video v = video_new(1, 3, 3, 4);
    for (int64_t i = 0; i < 36; i++) v.tokens[i] = (float)(1 + i % 4);
    ctxpar_merge_result r = run(&v, 0.9, 0.9, 1, 0);
    ASSERT_EQ_INT(r.records.count, 6);
    if (r.records.count == 6) {
        int want_y[6] = {0, 0, 1, 2, 2, 2}, want_x[6] = {0, 2, 2, 0, 1, 2};
        for (int i = 0; i < 6; i++) {
            ASSERT_EQ_INT(r.records.y[i], want_y[i]);
            ASSERT_EQ_INT(r.records.x[i], want_x[i]);
            ASSERT_EQ_INT(r.records.level[i], i == 0 ? 1 : 0);
        }
    }
    ctxpar_merge_result_free(&r);
    /* a 1-row grid has no 2x2 block at all */
    video row = video_new(2, 1, 8, 4);
    for (int64_t i = 0; i < 64; i++) row.tokens[i] = 1.0f;
    r = run(&row, 0.5, 1.5, 3, 0);
    ASSERT_EQ_INT(r.records.count, 16);
    ctxpar_merge_result_free(&r);
    free(v.tokens), free(row.tokens);
}

static void test_thresholds_off(void) {
    /* identical tokens have cosine exactly 1, yet tau >= 1 never merges */
    video v = video_new(3, 4, 4, 8);
    for (int64_t i = 0; i < (int64_t)3 * 16 * 8; i++) v.tokens[i] = 2.0f;
    ctxpar_merge_result r = run(&v, 1.0, 1.0, 2, 0);
    ASSERT_EQ_INT(r.records.count, 48);
    ASSERT_EQ_INT(r.stats.longest_chain, 1);
    ctxpar_merge_result_free(&r);
    r = run(&v, 1.0, 0.5, 2, 0); /* temporal only: one chain per token */
    ASSERT_EQ_INT(r.records.count, 16);
    for (int64_t i = 0; i < r.records.count; i++) ASSERT_EQ_INT(r.records.size[i], 3);
    ctxpar_merge_result_free(&r);
    r = run(&v, 0.5, 1.0, 2, 0); /* spatial only: one node per frame */
    ASSERT_EQ_INT(r.records.count, 3);
    ctxpar_merge_result_free(&r);
    r = run(&v, 0.5, 0.5, 0, 0); /* levels 0: temporal chains of tokens */
    ASSERT_EQ_INT(r.records.count, 16);
    ctxpar_merge_result_free(&r);
    free(v.tokens);
}

static void test_no_merge(void) {
    video v = video_new(3, 4, 6, 8);
    fill_random(&v, 5);
    ctxpar_merge_result r = run(&v, 0.0, 0.0, 2, 1);
    ASSERT_EQ_INT(r.records.count, 72);
    ASSERT_TRUE(memcmp(r.features, v.tokens, sizeof(float) * 72 * 8) == 0);
    for (int64_t i = 0; i < 72; i++) {
        ASSERT_EQ_INT(r.records.t_start[i], i / 24);
        ASSERT_EQ_INT(r.records.t_end[i], i / 24);
        ASSERT_EQ_INT(r.records.y[i], (i % 24) / 6);
        ASSERT_EQ_INT(r.records.x[i], i % 6);
        ASSERT_EQ_INT(r.records.level[i], 0);
        ASSERT_EQ_INT(r.records.size[i], 1);
    }
    ctxpar_merge_result_free(&r);
    free(v.tokens);
}

/* The quadtree kernel alone: nodes and features of one frame against the reference. */
static void test_quadtree_kernel(void) {
    const int H = 7, W = 10, d = 12, levels = 3;
    video v = video_new(1, H, W, d);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < d; c++)
                tok(&v, 0, y, x)[c] = (float)(1.0 + 0.3 * ((y / 4) * 3 + (x / 4) == c) +
                                              0.05 * test_uniform(3, (uint64_t)((y * W + x) * d + c)));
    int32_t level[70], ny[70], nx[70];
    double *features = malloc(sizeof(double) * 70 * d);
    double *scratch = malloc(sizeof(double) * ctxpar_cpu_quadtree_scratch_doubles(H, W, d, levels));
    for (double tau = 0.95; tau < 1.0; tau += 0.02) {
        int64_t n = ctxpar_cpu_quadtree_frame(v.tokens, H, W, d, levels, tau, level, ny, nx,
                                              features, scratch);
        ref_record *ref;
        int64_t n_ref = ref_merge(v.tokens, 1, H, W, d, levels, tau, 1.0, &ref);
        ASSERT_EQ_INT(n, n_ref);
        for (int64_t i = 0; i < n && i < n_ref; i++) {
            ASSERT_EQ_INT(level[i], ref[i].level);
            ASSERT_EQ_INT(ny[i], ref[i].y);
            ASSERT_EQ_INT(nx[i], ref[i].x);
            for (int c = 0; c < d; c++) ASSERT_NEAR(features[i * d + c], ref[i].feature[c], 1e-9);
        }
        ref_free(ref, n_ref);
    }
    double a[3] = {1, 2, 3}, b[3] = {2, 4, 6}, z[3] = {0, 0, 0};
    ASSERT_NEAR(ctxpar_cpu_cosine(a, b, 3), 1.0, 1e-15);
    ASSERT_NEAR(ctxpar_cpu_cosine(a, z, 3), 0.0, 0);
    ASSERT_NEAR(ctxpar_cpu_cosine(z, z, 3), 1.0, 0);
    free(features), free(scratch), free(v.tokens);
}

/* Structured random videos (static blocks with noise, changing and moving
 * parts) over a range of thresholds and levels, against the reference. */
/* STTM's representatives stop at a fixed point that is not the connected
 * components: with links (0, 2) and (1, 2), node 2 joins 0 and node 1 stays
 * alone though it is linked to 2 (the reference code does the same). A chain
 * 0-3-6 across three frames collapses to 0 in two rounds. */
static void test_sttm_representatives(void) {
    int64_t rep[8], scratch[16];
    const int64_t fork[] = {0, 2, 1, 2};
    ctxpar_cpu_sttm_representatives(3, fork, 2, rep, scratch);
    ASSERT_EQ_INT(rep[0], 0);
    ASSERT_EQ_INT(rep[1], 1);
    ASSERT_EQ_INT(rep[2], 0);
    const int64_t chain[] = {0, 3, 3, 6, 1, 4};
    ctxpar_cpu_sttm_representatives(7, chain, 3, rep, scratch);
    const int64_t want[] = {0, 1, 2, 0, 1, 5, 0};
    for (int i = 0; i < 7; i++) ASSERT_EQ_INT(rep[i], want[i]);
}

/* STTM's pyramid: 14x15 halves to 7x8, 4x4, 2x2; the root level drops the
 * coarsest; a 1x1 grid (where the reference loops) is one level. The odd
 * corner parent of a 3x3 frame is a copy of its one child, so any tau <= 1
 * stops there: the top-left token is a node of depth 1 covering 1 token. */
static void test_sttm_levels_and_corner(void) {
    int64_t h[CTXPAR_STTM_MAX_LEVELS], w[CTXPAR_STTM_MAX_LEVELS];
    ASSERT_EQ_INT(ctxpar_cpu_sttm_levels(14, 15, 0, h, w), 4);
    ASSERT_EQ_INT(h[0], 2);
    ASSERT_EQ_INT(w[0], 2);
    ASSERT_EQ_INT(h[1], 4);
    ASSERT_EQ_INT(w[2], 8);
    ASSERT_EQ_INT(h[3], 14);
    ASSERT_EQ_INT(ctxpar_cpu_sttm_levels(14, 15, 1, h, w), 3);
    ASSERT_EQ_INT(h[0], 4);
    ASSERT_EQ_INT(ctxpar_cpu_sttm_levels(1, 1, 1, h, w), 1);
    const int64_t d = 4, n = 9;
    float tokens[9 * 4];
    for (int64_t i = 0; i < n * d; i++) tokens[i] = (float)((i * 7919) % 13) - 6.0f;
    double *scratch = malloc(sizeof(double) * (size_t)ctxpar_cpu_sttm_scratch_doubles(3, 3, d, 0));
    ctxpar_sttm_node nodes[9];
    double features[9 * 4];
    const int64_t count = ctxpar_cpu_sttm_frame(tokens, 3, 3, d, 0, 0.999, scratch, nodes, features);
    ASSERT_TRUE(count >= 1);
    ASSERT_EQ_INT(nodes[0].y0, 0);
    ASSERT_EQ_INT(nodes[0].x0, 0);
    ASSERT_EQ_INT(nodes[0].y1, 1);
    ASSERT_EQ_INT(nodes[0].x1, 1);
    ASSERT_EQ_INT(nodes[0].depth, 1);
    int64_t area = 0;
    for (int64_t k = 0; k < count; k++)
        area += (int64_t)(nodes[k].y1 - nodes[k].y0) * (nodes[k].x1 - nodes[k].x0);
    ASSERT_EQ_INT(area, n); /* the nodes tile the frame */
    free(scratch);
}

static void test_random_vs_reference(void) {
    const int T = 9, H = 9, W = 12, d = 16;
    video v = video_new(T, H, W, d);
    for (int t = 0; t < T; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const int block = (y / 4) * 4 + x / 4;
                const int epoch = (x >= 8) ? t / 3 : 0; /* right part changes every 3 frames */
                const int moving = (x == (t % W)) || (y == 8);
                for (int c = 0; c < d; c++) {
                    float base = test_uniform(7, (uint64_t)((block * 16 + epoch) * d + c));
                    float noise = test_uniform(8, (uint64_t)(((t * H + y) * W + x) * d + c));
                    tok(&v, t, y, x)[c] = moving ? noise : base + 0.08f * noise;
                }
            }
    const double taus[][2] = {{0.9, 0.9}, {0.97, 0.95}, {0.5, 0.99}, {0.99, 0.5}, {-1, -1}};
    char name[64];
    for (int k = 0; k < 5; k++)
        for (int levels = 0; levels <= 3; levels++) {
            snprintf(name, sizeof name, "random tau %.2f/%.2f levels %d", taus[k][0], taus[k][1],
                     levels);
            check_reference(&v, taus[k][0], taus[k][1], levels, name);
        }
    free(v.tokens);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (ctxpar_comm_init(&comm, MPI_COMM_WORLD) != CTXPAR_OK) return 1;
    test_quadtree_kernel();
    test_all_equal();
    test_alternating();
    test_one_block();
    test_edges();
    test_thresholds_off();
    test_no_merge();
    test_random_vs_reference();
    test_sttm_representatives();
    test_sttm_levels_and_corner();
    int rc = test_finish("test_merge");
    ctxpar_comm_free(comm);
    MPI_Finalize();
    return rc;
}
