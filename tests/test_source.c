/* Video sources: the synthetic video is a pure function of (seed, t, y, x)
 * (same frames however the range is split), has a static background and
 * moving objects, and an HDF5 copy of it reads back bit-identical through the
 * collective MPI-IO read (on 3 ranks one rank reads no frames). Probe errors
 * name the file and dataset and are the same on every rank. Runs on any
 * number of ranks. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "runtime/formats/hdf5_io.h"
#include "runtime/core/memory.h"
#include "runtime/input/source.h"
#include "test_mpi_util.h"
#include "test_util.h"

static char tmpdir[64];
static int rank = 0, n_ranks = 1;

enum { H = 48, W = 64, T_FILE = 10 };

static float *alloc_frames(int64_t n) {
    return calloc((size_t)(3 * (n > 0 ? n : 1) * H * W), sizeof(float));
}

static void test_parse(void) {
    ctxpar_source s;
    memset(&s, 0, sizeof s);
    s.frames = 5;
    ASSERT_EQ_INT(ctxpar_source_parse_input("clip.h5:frames", &s), CTXPAR_OK);
    ASSERT_EQ_INT(s.kind, CTXPAR_SOURCE_HDF5);
    ASSERT_TRUE(strcmp(s.path, "clip.h5") == 0);
    ASSERT_TRUE(strcmp(s.dataset, "frames") == 0);
    ASSERT_EQ_INT(s.frames, 5); /* left as the caller set it */
    ASSERT_EQ_INT(ctxpar_source_parse_input("dir/clip.h5", &s), CTXPAR_OK);
    ASSERT_TRUE(strcmp(s.path, "dir/clip.h5") == 0);
    ASSERT_TRUE(strcmp(s.dataset, "video") == 0);
    ASSERT_EQ_INT(ctxpar_source_parse_input("a.h5:group/clip", &s), CTXPAR_OK);
    ASSERT_TRUE(strcmp(s.dataset, "group/clip") == 0);
    ASSERT_EQ_INT(ctxpar_source_parse_input("a.h5:", &s), CTXPAR_OK);
    ASSERT_TRUE(strcmp(s.dataset, "video") == 0);
    ASSERT_TRUE(ctxpar_source_parse_input(":video", &s) != CTXPAR_OK);
    ASSERT_TRUE(ctxpar_source_parse_input("", &s) != CTXPAR_OK);
    ctxpar_error_clear();
}

static void test_synthetic(void) {
    ctxpar_source src;
    ctxpar_source_init_synthetic(&src, 11, 8, H, W);
    const int64_t plane = H * W;
    float *whole = alloc_frames(8), *a = alloc_frames(3), *b = alloc_frames(5);
    ASSERT_EQ_INT(ctxpar_source_read_synthetic(&src, 0, 8, whole), CTXPAR_OK);
    ASSERT_EQ_INT(ctxpar_source_read_synthetic(&src, 0, 3, a), CTXPAR_OK);
    ASSERT_EQ_INT(ctxpar_source_read_synthetic(&src, 3, 5, b), CTXPAR_OK);
    int64_t split_mismatch = 0, out_of_range = 0;
    for (int c = 0; c < 3; c++)
        for (int64_t f = 0; f < 8; f++)
            for (int64_t p = 0; p < plane; p++) {
                float x = whole[(c * 8 + f) * plane + p];
                float y = f < 3 ? a[(c * 3 + f) * plane + p] : b[(c * 5 + f - 3) * plane + p];
                split_mismatch += x != y;
                out_of_range += !(x >= -1.0f && x <= 1.0f);
            }
    ASSERT_EQ_INT(split_mismatch, 0);
    ASSERT_EQ_INT(out_of_range, 0);

    /* the uint8 frame function agrees with the normalised read */
    uint8_t *rgb = malloc(3 * plane);
    int64_t frame_mismatch = 0, lo = 255, hi = 0;
    for (int64_t f = 0; f < 8; f++) {
        ctxpar_source_synthetic_frame(11, f, H, W, rgb);
        for (int64_t p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++) {
                frame_mismatch += (float)rgb[p * 3 + c] / 127.5f - 1.0f !=
                                  whole[(c * 8 + f) * plane + p];
                if (rgb[p * 3 + c] < lo) lo = rgb[p * 3 + c];
                if (rgb[p * 3 + c] > hi) hi = rgb[p * 3 + c];
            }
    }
    ASSERT_EQ_INT(frame_mismatch, 0);
    ASSERT_TRUE(lo < 40 && hi > 215); /* values spread over the byte range */

    /* background static, objects move: most pixels equal between frames 0
     * and 7, some differ, and none differs in a background-only comparison */
    int64_t same = 0, moved = 0;
    for (int64_t p = 0; p < plane; p++) {
        int equal = 1;
        for (int c = 0; c < 3; c++)
            equal &= whole[(c * 8 + 0) * plane + p] == whole[(c * 8 + 7) * plane + p];
        same += equal;
        moved += !equal;
    }
    if (rank == 0) printf("  synthetic: %lld of %lld pixels moved between frames 0 and 7\n",
                          (long long)moved, (long long)plane);
    ASSERT_TRUE(same > plane / 2);
    ASSERT_TRUE(moved > 20);
    for (int64_t f = 1; f < 8; f++) {
        int64_t diff = 0;
        for (int64_t p = 0; p < plane; p++)
            diff += whole[f * plane + p] != whole[(f - 1) * plane + p];
        ASSERT_TRUE(diff > 0); /* every frame differs from the one before */
    }
    /* the seed matters */
    ctxpar_source other;
    ctxpar_source_init_synthetic(&other, 12, 8, H, W);
    ASSERT_EQ_INT(ctxpar_source_read_synthetic(&other, 0, 3, a), CTXPAR_OK);
    int64_t differ = 0;
    for (int64_t i = 0; i < 3 * plane; i++) differ += a[i] != whole[i];
    ASSERT_TRUE(differ > plane);
    free(rgb);
    free(whole);
    free(a);
    free(b);
}

/* Rank r's share of n frames: the first (n mod P) ranks take one more. */
static void share(int64_t n, int64_t *first, int64_t *count) {
    int64_t base = n / n_ranks, extra = n % n_ranks;
    *count = base + (rank < extra);
    *first = rank * base + (rank < extra ? rank : extra);
}

static void test_hdf5_roundtrip(ctxpar_comm_t comm) {
    char path[128];
    snprintf(path, sizeof path, "%s/video.h5", tmpdir);
    ctxpar_status status = CTXPAR_OK;
    if (rank == 0) status = ctxpar_source_write_synthetic(path, "clips/video", 5, T_FILE, H, W);
    ASSERT_EQ_INT(ctxpar_comm_agree(comm, status), CTXPAR_OK);

    ctxpar_source src;
    memset(&src, 0, sizeof src);
    char spec[160];
    snprintf(spec, sizeof spec, "%s:clips/video", path);
    ASSERT_EQ_INT(ctxpar_source_parse_input(spec, &src), CTXPAR_OK);
    src.frames = 0; /* all frames */
    status = ctxpar_source_probe(comm, &src);
    if (status != CTXPAR_OK) fprintf(stderr, "probe: %s\n", ctxpar_error_detail());
    ASSERT_EQ_INT(status, CTXPAR_OK);
    ASSERT_EQ_INT(src.frames, T_FILE);
    ASSERT_EQ_INT(src.file_frames, T_FILE);
    ASSERT_EQ_INT(src.height, H);
    ASSERT_EQ_INT(src.width, W);

    /* 8 of the 10 frames: on 3 ranks the shares are 3, 3, 2; with an extra
     * empty share (all frames to the lower ranks) the last rank reads none. */
    src.frames = 8;
    int64_t first, count;
    share(src.frames, &first, &count);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            /* the last rank (when there are several) reads nothing but still
             * takes part in the collective open and close */
            const int workers = n_ranks > 1 ? n_ranks - 1 : 1;
            const int64_t base = src.frames / workers, extra = src.frames % workers;
            count = rank < workers ? base + (rank < extra) : 0;
            first = rank < workers ? rank * base + (rank < extra ? rank : extra) : src.frames;
        }
        float *got = alloc_frames(count), *want = alloc_frames(count);
        ASSERT_EQ_INT(ctxpar_source_read(comm, &src, first, count, got), CTXPAR_OK);
        ctxpar_source synth;
        ctxpar_source_init_synthetic(&synth, 5, 8, H, W);
        ASSERT_EQ_INT(ctxpar_source_read_synthetic(&synth, first, count, want), CTXPAR_OK);
        int64_t bad = 0;
        for (int64_t i = 0; i < 3 * count * H * W; i++) bad += got[i] != want[i];
        int64_t total_bad = bad;
        ctxpar_comm_allreduce_sum_i64(comm, &total_bad, 1);
        ASSERT_EQ_INT(total_bad, 0);
        free(got);
        free(want);
    }
}

typedef void (*make_file_fn)(const char *path);

static void write_dataset(const char *path, const char *name, hid_t type, int ndim,
                          const hsize_t *dims) {
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t dset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(dset);
    H5Sclose(space);
    H5Fclose(file);
}

/* Probe `path`:`dataset` expecting failure with `needle` in the message, the
 * same on every rank. */
static void expect_probe_error(ctxpar_comm_t comm, const char *what, const char *file,
                               const char *dataset, int64_t frames, int64_t height, int64_t width,
                               const char *needle) {
    ctxpar_error_clear();
    ctxpar_source src;
    memset(&src, 0, sizeof src);
    char spec[256];
    snprintf(spec, sizeof spec, "%s/%s:%s", tmpdir, file, dataset);
    ctxpar_source_parse_input(spec, &src);
    src.frames = frames;
    src.height = height;
    src.width = width;
    ctxpar_status status = ctxpar_source_probe(comm, &src);
    const char *detail = ctxpar_error_detail();
    ASSERT_TRUE(status != CTXPAR_OK);
    int ok = status != CTXPAR_OK && strstr(detail, file) && strstr(detail, needle);
    if (!ok) {
        fprintf(stderr, "rank %d: %s: status %s, message '%s' lacks '%s'\n", rank, what,
                ctxpar_status_name(status), detail, needle);
        test_failures++;
    } else if (rank == 0) {
        printf("  %-14s -> %s\n", what, detail);
    }
    /* every rank holds the same status */
    int64_t codes[2] = {status, -(int64_t)status};
    ctxpar_comm_allreduce_max_i64(comm, codes, 2);
    ASSERT_EQ_INT(codes[0], -codes[1]);
    ctxpar_error_clear();
}

static void test_probe_errors(ctxpar_comm_t comm) {
    char path[128];
    if (rank == 0) {
        snprintf(path, sizeof path, "%s/float.h5", tmpdir);
        write_dataset(path, "video", H5T_IEEE_F32LE, 4, (hsize_t[]){10, H, W, 3});
        snprintf(path, sizeof path, "%s/rank3.h5", tmpdir);
        write_dataset(path, "video", H5T_STD_U8LE, 3, (hsize_t[]){10, H, W});
        snprintf(path, sizeof path, "%s/rgba.h5", tmpdir);
        write_dataset(path, "video", H5T_STD_U8LE, 4, (hsize_t[]){10, H, W, 4});
        snprintf(path, sizeof path, "%s/int8.h5", tmpdir);
        write_dataset(path, "video", H5T_STD_I8LE, 4, (hsize_t[]){10, H, W, 3});
        snprintf(path, sizeof path, "%s/text.h5", tmpdir);
        FILE *f = fopen(path, "w");
        fputs("this is not an HDF5 file\n", f);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    expect_probe_error(comm, "missing file", "absent.h5", "video", 8, 0, 0, "no such file");
    expect_probe_error(comm, "not HDF5", "text.h5", "video", 8, 0, 0, "not an HDF5 file");
    expect_probe_error(comm, "no dataset", "video.h5", "frames", 8, 0, 0, "no dataset 'frames'");
    expect_probe_error(comm, "group", "video.h5", "clips", 8, 0, 0, "no dataset 'clips'");
    expect_probe_error(comm, "float", "float.h5", "video", 8, 0, 0,
                       "float.h5:video has type float32, expected uint8");
    expect_probe_error(comm, "int8", "int8.h5", "video", 8, 0, 0, "has type int8, expected uint8");
    expect_probe_error(comm, "rank 3", "rank3.h5", "video", 8, 0, 0,
                       "rank3.h5:video has 3 dimensions [10, 48, 64], expected 4");
    expect_probe_error(comm, "last dim 4", "rgba.h5", "video", 8, 0, 0,
                       "the last dimension must be 3");
    expect_probe_error(comm, "too few frames", "video.h5", "clips/video", 16, 0, 0,
                       "video.h5:clips/video has 10 frames, the run asks for 16");
    expect_probe_error(comm, "wrong size", "video.h5", "clips/video", 8, 64, 64,
                       "--size 64x64 but ");
    expect_probe_error(comm, "wrong width", "video.h5", "clips/video", 8, 0, 32,
                       "clips/video is 64x48 (WxH)");
}

int main(int argc, char **argv) {
    ctxpar_comm_t comm =
        test_mpi_start(&argc, &argv, "ctxpar_test_source", tmpdir, sizeof tmpdir);
    rank = ctxpar_comm_rank(comm);
    n_ranks = ctxpar_comm_size(comm);
    test_parse();
    test_synthetic();
    test_hdf5_roundtrip(comm);
    test_probe_errors(comm);

    return test_mpi_finish(comm, tmpdir, "test_source");
}
