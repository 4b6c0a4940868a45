/* Where Winograd starts: the causal 3x3x3 conv on the direct path and on
 * both Winograd tiles, over channel counts and frame sizes from the small
 * presets' to CogVideoX's, at a given thread count. The dispatch threshold in
 * kernels/cpu/conv3d_causal.c (WINOGRAD_MIN_*) is read off this table at one
 * and two threads (docs/bench-conv.md, "Where Winograd starts").
 *
 *   conv_path_sweep [--threads N] [--frames F]
 *
 * Each cell: "effective" GFLOP/s (the direct conv's FLOPs over the time),
 * best of 3 timed calls after a warm-up, every frame of the clip in one call.
 * Data: a fixed pattern (the timing does not depend on the values). */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/kernels_cpu.h"

typedef struct sweep_shape {
    int cin, cout, side;
} sweep_shape;

static const sweep_shape shapes[] = {
    {3, 32, 256},   {3, 128, 256},  {8, 16, 64},    {16, 16, 64},  {16, 32, 128},
    {16, 64, 64},   {32, 32, 256},  {32, 32, 64},   {32, 32, 16},  {32, 32, 8},
    {32, 64, 128},  {64, 64, 128},  {64, 64, 8},    {64, 128, 64}, {128, 128, 32},
    {128, 16, 32},  {128, 32, 32},  {256, 256, 16}, {512, 16, 32}, {512, 32, 32},
};

static const char *const paths[] = {"direct", "winograd-f2", "winograd-f4"};
enum { N_PATHS = 3, REPEAT = 3 };

int main(int argc, char **argv) {
    int threads = 1, frames = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc)
            frames = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: conv_path_sweep [--threads N] [--frames F]\n");
            return 2;
        }
    }
    if (threads < 1 || frames < 1) {
        fprintf(stderr, "conv_path_sweep: --threads and --frames must be positive\n");
        return 2;
    }
    omp_set_num_threads(threads);
    printf("# conv_path_sweep: causal 3x3x3 conv, %d frames, %d thread(s); effective GFLOP/s, "
           "best of %d\n",
           frames, threads, REPEAT);
    printf("%-14s %-9s %8s %8s %8s  %-11s %s\n", "cin->cout", "frame", "direct", "wino-f2",
           "wino-f4", "fastest", "dispatch");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int cin = shapes[s].cin, cout = shapes[s].cout, side = shapes[s].side;
        const int64_t hw = (int64_t)side * side, n_in = cin * frames * hw;
        float *x = malloc(sizeof(float) * n_in), *y = malloc(sizeof(float) * cout * frames * hw);
        float *halo = malloc(sizeof(float) * cin * 2 * hw);
        float *weight = malloc(sizeof(float) * cout * cin * 27);
        float *bias = calloc(cout, sizeof(float));
        if (!x || !y || !halo || !weight || !bias) {
            fprintf(stderr, "conv_path_sweep: out of memory\n");
            return 1;
        }
        for (int64_t i = 0; i < n_in; i++) x[i] = (float)(i % 17) * 0.1f;
        for (int64_t i = 0; i < cin * 2 * hw; i++) halo[i] = 0.5f;
        for (int64_t i = 0; i < cout * cin * 27; i++) weight[i] = (float)(i % 7) * 0.01f;
        double gflop = 2.0 * cout * cin * 27 * frames * hw / 1e9, rate[N_PATHS];
        int fastest = 0;
        for (int p = 0; p < N_PATHS; p++) {
            ctxpar_cpu_conv3d_force_path(paths[p]);
            int64_t n_scratch = ctxpar_cpu_conv3d_scratch_floats(cin, cout, 3, 3, 3, side, side,
                                                                 frames);
            float *scratch = malloc(sizeof(float) * n_scratch);
            double best = 1e30;
            for (int r = 0; r <= REPEAT; r++) {
                double t0 = omp_get_wtime();
                ctxpar_cpu_conv3d_causal(x, frames * hw, halo, y, frames * hw, weight, bias, cin,
                                         cout, 3, 3, 3, side, side, 0, frames, scratch);
                double t = omp_get_wtime() - t0;
                if (r > 0 && t < best) best = t; /* r 0 is the warm-up */
            }
            rate[p] = gflop / best;
            if (rate[p] > rate[fastest]) fastest = p;
            free(scratch);
        }
        ctxpar_cpu_conv3d_force_path(NULL);
        char shape[32], frame[32];
        snprintf(shape, sizeof shape, "%d->%d", cin, cout);
        snprintf(frame, sizeof frame, "%dx%d", side, side);
        printf("%-14s %-9s %8.1f %8.1f %8.1f  %-11s %s\n", shape, frame, rate[0], rate[1], rate[2],
               paths[fastest], ctxpar_cpu_conv3d_path_name(cin, cout, 3, 3, 3, side, side));
        free(x), free(y), free(halo), free(weight), free(bias);
    }
    return 0;
}
