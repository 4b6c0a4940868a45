/* Decode a video file through the source API the pipeline uses and write
 * the frames as raw RGB24, one contiguous file, so tests can compare them
 * byte for byte with the ffmpeg command line's output.
 *
 *   mpirun -np R video_dump FILE OUT [--frames N] [--size WxH] [--start S]
 *                           [--fps F] [--resize R] [--crop center]
 *                           [--qwen-processor FACTOR] [--max-pixels P]
 *
 * --qwen-processor FACTOR sets what the Qwen2-VL family's folder sets in a
 * run (runtime/families/qwen2_vl.c, qwen-vl-utils' defaults): uniform
 * sampling at 2 frames/s (or --fps) within 4 to 768 frames, smart_resize to
 * multiples of FACTOR within 128 to 768 tokens a frame and 128000 x 0.9 for
 * the video, bicubic.
 *
 * Every rank probes collectively, reads only its contiguous share of the
 * frames (uneven shares, as the pipeline's plan can give) and writes it at
 * its own offset in OUT, so the file is the concatenation over ranks. The
 * first line on stdout (rank 0) is "frames H W". */
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "runtime/input/source.h"

static int fail(const char *what) {
    fprintf(stderr, "ctxpar video_dump: %s: %s\n", what, ctxpar_error_detail());
    return 1;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    ctxpar_comm_t comm = NULL;
    int rc = 0;
    if (ctxpar_comm_init(&comm, MPI_COMM_WORLD) != CTXPAR_OK) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    if (argc < 3) {
        if (rank == 0) fprintf(stderr, "usage: video_dump FILE OUT [options]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    ctxpar_source src;
    memset(&src, 0, sizeof src);
    if (ctxpar_source_parse_input(argv[1], &src) != CTXPAR_OK) {
        rc = fail("input");
        goto done;
    }
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--frames")) {
            src.frames = atoll(argv[i + 1]);
        } else if (!strcmp(argv[i], "--qwen-processor")) {
            const double f = (double)atoll(argv[i + 1]);
            src.video.uniform = 1, src.video.uniform_fps = 2.0;
            src.video.min_frames = 4, src.video.max_frames = 768;
            src.video.resize = CTXPAR_VIDEO_RESIZE_BUDGET;
            src.video.budget_factor = atoll(argv[i + 1]);
            src.video.min_pixels = 128.0 * f * f, src.video.max_pixels = 768.0 * f * f;
            src.video.total_pixels = 128000.0 * f * f * 0.9;
            src.video.bicubic = 1;
        } else if (!strcmp(argv[i], "--size")) {
            long long w = 0, h = 0;
            sscanf(argv[i + 1], "%lldx%lld", &w, &h);
            src.width = w, src.height = h;
        } else if (ctxpar_source_parse_video_option(argv[i], argv[i + 1], &src.video) != CTXPAR_OK) {
            rc = fail(argv[i]);
            goto done;
        }
    }
    if (ctxpar_source_probe(comm, &src) != CTXPAR_OK) {
        rc = fail("probe");
        goto done;
    }
    const int64_t T = src.frames, H = src.height, W = src.width, plane = H * W;
    /* Uneven contiguous shares: the first T % ranks ranks get one more. */
    const int64_t base = T / ranks, extra = T % ranks;
    const int64_t n = base + (rank < extra), first = rank * base + (rank < extra ? rank : extra);
    float *frames = malloc(sizeof(float) * (size_t)(3 * (n > 0 ? n : 1) * plane));
    uint8_t *rgb = malloc((size_t)((n > 0 ? n : 1) * plane * 3));
    if (ctxpar_source_read(comm, &src, first, n, frames) != CTXPAR_OK) {
        rc = fail("read");
        goto done;
    }
    for (int64_t f = 0; f < n; f++)
        for (int64_t p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++) {
                float x = frames[(c * n + f) * plane + p];
                rgb[(f * plane + p) * 3 + c] = (uint8_t)((x + 1.0f) * 127.5f + 0.5f);
            }
    if (rank == 0) {
        int fd = open(argv[2], O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd >= 0) close(fd);
        printf("%lld %lld %lld\n", (long long)T, (long long)H, (long long)W);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    int fd = open(argv[2], O_WRONLY);
    if (fd < 0 || pwrite(fd, rgb, (size_t)(n * plane * 3), (off_t)(first * plane * 3)) !=
                      (ssize_t)(n * plane * 3)) {
        fprintf(stderr, "ctxpar video_dump: cannot write %s\n", argv[2]);
        rc = 1;
    }
    if (fd >= 0) close(fd);
    free(frames);
    free(rgb);
done:
    ctxpar_comm_free(comm);
    MPI_Finalize();
    return rc;
}
