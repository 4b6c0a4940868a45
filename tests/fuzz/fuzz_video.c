/* Fuzz target: video files through FFmpeg (runtime/input/video_file.c,
 * video_decode.c): the collective probe (the packet index, frame numbering,
 * rotation, geometry) and reads that start at the first frame, in the
 * middle (a seek) and at the last frame. The first input byte picks the
 * selection options (--fps, --start, --resize), so the selection and the
 * resize are fuzzed with the container; the rest is the file. A probe that
 * accepts must give a shape every read then fills with values in [-1, 1]. */
#include "runtime/input/source.h"

#include "tests/fuzz/fuzz_util.h"

#if CTXPAR_HAVE_VIDEO
static void set_options(uint8_t choice, ctxpar_video_options *v) {
    static const char *const fps[] = {NULL, "3", "29.97", "30000/1001"};
    static const char *const start[] = {NULL, "0.1", "0.5"};
    static const char *const resize[] = {NULL, "short:16", "24x20"};
    const char *f = fps[choice & 3], *s = start[(choice >> 2) % 3], *r = resize[(choice >> 4) % 3];
    if (f && ctxpar_source_parse_video_option("--fps", f, v) != CTXPAR_OK) abort();
    if (s && ctxpar_source_parse_video_option("--start", s, v) != CTXPAR_OK) abort();
    if (r && ctxpar_source_parse_video_option("--resize", r, v) != CTXPAR_OK) abort();
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#if CTXPAR_HAVE_VIDEO
    if (size < 1) return 0;
    ctxpar_comm_t comm = fuzz_comm();
    const char *path = fuzz_scratch("input.video");
    fuzz_write_file(path, data + 1, size - 1);

    ctxpar_source src;
    memset(&src, 0, sizeof src);
    src.kind = CTXPAR_SOURCE_VIDEO;
    snprintf(src.path, sizeof src.path, "%s", path);
    set_options(data[0], &src.video);
    ctxpar_status status = ctxpar_source_probe(comm, &src);
    fuzz_check_failure(status);
    if (status == CTXPAR_OK) {
        fuzz_check_shape(&src);
        if (src.height * src.width <= (1 << 16) && src.frames <= 4096) {
            fuzz_read_frames(comm, &src, 0, src.frames < 2 ? src.frames : 2);
            fuzz_read_frames(comm, &src, src.frames / 2, 1);
            fuzz_read_frames(comm, &src, src.frames - 1, 1);
        }
    }
    unlink(path);
#else
    (void)data, (void)size;
#endif
    return 0;
}
