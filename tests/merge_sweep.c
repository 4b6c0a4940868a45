/* Threshold sweep for token merging (docs/merge.md): reads a features file
 * written with every token (the pipeline before merging, or --no-merge) of the
 * seeded synthetic video, marks which token-frames an object touches (any
 * pixel of the token's patch, in any of the latent frame's input frames,
 * differs from the per-pixel median over the video = the static background),
 * and for each (levels, tau_s, tau_t) runs ctxpar_merge_run on one rank and
 * reports: records, token reduction, the share of static token-frames that
 * merged with others, and the share of object token-frames that ended up in
 * a record together with static ones (objects merged into the background).
 *
 *   merge_sweep FEATURES.h5 [SEED] [REPEATS] [LEVELS:TAU_S:TAU_T ...]
 * (not a test: a measurement tool; without configurations it sweeps a grid) */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "runtime/core/memory.h"
#include "runtime/stages/merge.h"
#include "runtime/input/source.h"
#include "runtime/stages/writer.h"

static int cmp_u8(const void *a, const void *b) {
    return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b;
}
static int cmp_f64(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int read_attr_i64(hid_t file, const char *name, int64_t *v) {
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t rc = H5Aread(a, H5T_NATIVE_INT64, v);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: merge_sweep FEATURES.h5 [SEED] [REPEATS]\n");
        return 2;
    }
    const uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    const int repeats = argc > 3 ? atoi(argv[3]) : 5;
    ctxpar_comm_t comm;
    if (ctxpar_comm_init(&comm, MPI_COMM_WORLD) != CTXPAR_OK) return 1;

    hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return 1;
    int64_t frames = 0, height = 0, width = 0;
    read_attr_i64(file, "frames", &frames);
    read_attr_i64(file, "height", &height);
    read_attr_i64(file, "width", &width);
    hid_t ds = H5Dopen(file, "tokens/features", H5P_DEFAULT);
    hid_t space = H5Dget_space(ds);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(space, dims, NULL);
    const int64_t n = (int64_t)dims[0], d = (int64_t)dims[1];
    float *tokens = malloc(sizeof(float) * (size_t)(n * d));
    H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tokens);
    H5Sclose(space), H5Dclose(ds);
    int32_t *ys = malloc(sizeof(int32_t) * (size_t)n), *ts = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *xs = malloc(sizeof(int32_t) * (size_t)n);
    ds = H5Dopen(file, "tokens/y", H5P_DEFAULT);
    H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ys);
    H5Dclose(ds);
    ds = H5Dopen(file, "tokens/x", H5P_DEFAULT);
    H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, xs);
    H5Dclose(ds);
    ds = H5Dopen(file, "tokens/t_start", H5P_DEFAULT);
    H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ts);
    H5Dclose(ds);
    H5Fclose(file);
    int64_t grid_h = 0, grid_w = 0, latent_frames = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ys[i] + 1 > grid_h) grid_h = ys[i] + 1;
        if (xs[i] + 1 > grid_w) grid_w = xs[i] + 1;
        if (ts[i] + 1 > latent_frames) latent_frames = ts[i] + 1;
    }
    const int64_t tpf = grid_h * grid_w, c_t = frames / latent_frames;
    const int64_t patch_h = height / grid_h, patch_w = width / grid_w;

    /* object mask per token-frame from the synthetic video */
    uint8_t *video = malloc((size_t)(frames * height * width * 3));
    for (int64_t t = 0; t < frames; t++)
        ctxpar_source_synthetic_frame(seed, t, height, width, video + t * height * width * 3);
    uint8_t *background = malloc((size_t)(height * width * 3)), *column = malloc((size_t)frames);
    for (int64_t p = 0; p < height * width * 3; p++) {
        for (int64_t t = 0; t < frames; t++) column[t] = video[t * height * width * 3 + p];
        qsort(column, (size_t)frames, 1, cmp_u8);
        background[p] = column[frames / 2];
    }
    uint8_t *moving = calloc((size_t)n, 1);
    int64_t n_moving = 0;
    for (int64_t t = 0; t < frames; t++)
        for (int64_t y = 0; y < height; y++)
            for (int64_t x = 0; x < width; x++)
                for (int c = 0; c < 3; c++)
                    if (video[((t * height + y) * width + x) * 3 + c] != background[(y * width + x) * 3 + c])
                        moving[(t / c_t) * tpf + (y / patch_h) * grid_w + x / patch_w] = 1;
    for (int64_t i = 0; i < n; i++) n_moving += moving[i];

    int64_t first_latent[1] = {0}, n_latent[1] = {latent_frames};
    ctxpar_plan plan = {0};
    plan.ranks = 1;
    plan.latent_frames = latent_frames;
    plan.grid_h = grid_h, plan.grid_w = grid_w;
    plan.tokens_per_frame = tpf, plan.total_tokens = n;
    plan.first_latent = first_latent, plan.n_latent = n_latent;
    printf("# merge_sweep %s: %lld tokens (%lld latent frames of %lldx%lld), d %lld, "
           "%lld token-frames touched by objects (%.1f%%)\n",
           argv[1], (long long)n, (long long)latent_frames, (long long)grid_h, (long long)grid_w,
           (long long)d, (long long)n_moving, 100.0 * n_moving / n);
    printf("# static_merged: share of static token-frames in records of size > 1\n"
           "# object_mixed: share of object token-frames in a record that also covers static ones\n");
    printf("%6s %6s %6s %8s %8s %8s %14s %13s %10s\n", "levels", "tau_s", "tau_t", "records",
           "ratio", "longest", "static_merged", "object_mixed", "ms_median");
    const double taus[] = {0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995};
    const int n_taus = (int)(sizeof taus / sizeof taus[0]);
    const int level_choices[] = {1, 2, 3};
    /* explicit configurations LEVELS:TAU_S:TAU_T after the repeats, or the grid */
    const int n_explicit = argc > 4 ? argc - 4 : 0;
    const int n_configs = n_explicit ? n_explicit : 3 * n_taus * n_taus;
    for (int ci = 0; ci < n_configs; ci++) {
        ctxpar_merge_config config = {taus[(ci / n_taus) % n_taus], taus[ci % n_taus],
                                      level_choices[ci / (n_taus * n_taus)],
                                      CTXPAR_MERGE_QUADTREE, 1};
        if (n_explicit &&
            sscanf(argv[4 + ci], "%d:%lf:%lf", &config.levels, &config.spatial_threshold,
                   &config.temporal_threshold) != 3) {
            fprintf(stderr, "merge_sweep: bad configuration %s (LEVELS:TAU_S:TAU_T)\n",
                    argv[4 + ci]);
            return 2;
        }
        double ms[32];
        ctxpar_merge_result r = {0};
        for (int k = 0; k < repeats && k < 32; k++) {
            if (k) ctxpar_merge_result_free(&r);
            double t0 = MPI_Wtime();
            if (ctxpar_merge_run(comm, &plan, &config, 0, tokens, d, &r) != CTXPAR_OK) return 1;
            ms[k] = 1e3 * (MPI_Wtime() - t0);
        }
        qsort(ms, (size_t)(repeats < 32 ? repeats : 32), sizeof(double), cmp_f64);
        int64_t static_merged = 0, object_mixed = 0, n_static = n - n_moving;
        for (int64_t i = 0; i < r.records.count; i++) {
            const int side = 1 << r.records.level[i];
            int64_t mov = 0, stat = 0;
            for (int t = r.records.t_start[i]; t <= r.records.t_end[i]; t++)
                for (int y = r.records.y[i]; y < r.records.y[i] + side; y++)
                    for (int x = r.records.x[i]; x < r.records.x[i] + side; x++) {
                        if (moving[t * tpf + y * grid_w + x]) mov++;
                        else stat++;
                    }
            if (r.records.size[i] > 1) static_merged += stat;
            if (mov && stat) object_mixed += mov;
        }
        printf("%6d %6.4f %6.4f %8lld %8.2f %8lld %13.1f%% %12.1f%% %10.2f\n",
               config.levels, config.spatial_threshold, config.temporal_threshold,
               (long long)r.records.count, (double)n / r.records.count,
               (long long)r.stats.longest_chain,
               n_static ? 100.0 * static_merged / n_static : 0.0,
               n_moving ? 100.0 * object_mixed / n_moving : 0.0, ms[repeats / 2]);
        const char *write_path = getenv("MERGE_SWEEP_WRITE"); /* keep the last result */
        if (write_path && ci == n_configs - 1) {
            ctxpar_output out = {
                .n_records = r.records.count, .dim = d, .features = r.features,
                .t_start = r.records.t_start, .t_end = r.records.t_end, .level = r.records.level,
                .y = r.records.y, .x = r.records.x, .size = r.records.size,
                .config_json = "{\"merge_sweep\": 1}", .frames = frames, .height = height,
                .width = width, .ranks = 1};
            if (ctxpar_output_write(comm, write_path, 1, &out) != CTXPAR_OK) return 1;
            printf("# wrote %s\n", write_path);
        }
        ctxpar_merge_result_free(&r);
    }
    ctxpar_mem_stats stats;
    ctxpar_mem_get_stats(&stats);
    printf("# merge scratch peak %.2f MiB (CTXPAR_MEM_MERGE), output peak %.2f MiB\n",
           stats.stage_peak[CTXPAR_MEM_MERGE] / 1048576.0,
           stats.stage_peak[CTXPAR_MEM_OUTPUT] / 1048576.0);
    free(tokens), free(ys), free(xs), free(ts), free(video), free(background), free(column),
        free(moving);
    ctxpar_comm_free(comm);
    MPI_Finalize();
    return 0;
}
