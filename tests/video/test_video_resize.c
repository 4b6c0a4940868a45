/* Resize tool for the torch comparison (tests/video/video_resize.py):
 *
 *   test_video_resize plane IN_H IN_W OUT_H OUT_W < float32 > float32
 *   test_video_resize rgb IN_H IN_W OUT_H OUT_W TOP LEFT WIN_H WIN_W < uint8 > uint8
 *   test_video_resize smart IN_H IN_W FACTOR MIN_PIXELS MAX_PIXELS   (prints H W)
 *
 * reads one float plane or one RGB24 frame on stdin and writes the resized
 * result (the rgb form rounds to uint8 and keeps the window, as the video
 * source does for --resize with --crop center). CTXPAR_RESIZE_FILTER=bicubic
 * picks the bicubic filter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/input/video_resize.h"

int main(int argc, char **argv) {
    if (argc < 6) return 2;
    /* CTXPAR_RESIZE_FILTER=bicubic: the bicubic filter (default bilinear) */
    const char *name = getenv("CTXPAR_RESIZE_FILTER");
    const ctxpar_resize_filter filter = name && !strcmp(name, "bicubic") ? CTXPAR_RESIZE_BICUBIC
                                                                        : CTXPAR_RESIZE_BILINEAR;
    const long long in_h = atoll(argv[2]), in_w = atoll(argv[3]);
    const long long out_h = atoll(argv[4]), out_w = atoll(argv[5]);
    if (!strcmp(argv[1], "plane")) {
        float *src = malloc(sizeof(float) * in_h * in_w), *dst = malloc(sizeof(float) * out_h * out_w);
        int rc = 0;
        if (!src || !dst || fread(src, sizeof(float), in_h * in_w, stdin) != (size_t)(in_h * in_w))
            rc = 3;
        else if (ctxpar_video_resize_plane(src, in_h, in_w, out_h, out_w, filter, dst) !=
                 CTXPAR_OK)
            rc = 4;
        else
            fwrite(dst, sizeof(float), out_h * out_w, stdout);
        free(src);
        free(dst);
        return rc;
    }
    if (!strcmp(argv[1], "rgb") && argc == 10) {
        const long long top = atoll(argv[6]), left = atoll(argv[7]);
        const long long win_h = atoll(argv[8]), win_w = atoll(argv[9]);
        unsigned char *src = malloc(in_h * in_w * 3), *dst = malloc(win_h * win_w * 3);
        int rc = 0;
        if (!src || !dst || fread(src, 1, in_h * in_w * 3, stdin) != (size_t)(in_h * in_w * 3))
            rc = 3;
        else if (ctxpar_video_resize_rgb(src, in_h, in_w, out_h, out_w, top, left, win_h, win_w,
                                         filter, dst) != CTXPAR_OK)
            rc = 4;
        else
            fwrite(dst, 1, win_h * win_w * 3, stdout);
        free(src);
        free(dst);
        return rc;
    }
    if (!strcmp(argv[1], "smart") && argc == 7) { /* smart IN_H IN_W FACTOR MIN MAX */
        int64_t h = 0, w = 0;
        ctxpar_video_smart_size(in_h, in_w, atoll(argv[4]), atof(argv[5]), atof(argv[6]), &h,
                                &w);
        printf("%lld %lld\n", (long long)h, (long long)w);
        return 0;
    }
    return 2;
}
