/* Video sources: where a rank's frames come from. Each rank produces only its
 * own frames [first_frame, first_frame + n_frames), normalised to
 * x = u/127.5 - 1 and laid out channel-major [3][n_frames][H][W] (the VAE's
 * activation layout). The synthetic video is a pure function of
 * (seed, t, y, x), quantised to uint8 first, so every rank count sees the same
 * frames and an HDF5 copy of it gives the same result. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"
#include "base/status.h"

typedef enum ctxpar_source_kind {
    CTXPAR_SOURCE_SYNTHETIC,
    CTXPAR_SOURCE_HDF5,
    CTXPAR_SOURCE_VIDEO /* a video file FFmpeg decodes (runtime/source_video.c) */
} ctxpar_source_kind;

/* ---- video files (CTXPAR_SOURCE_VIDEO; see docs/video.md) ----
 * Which frames and how they are shaped. Times are exact fractions so that
 * "the last frame with pts <= start + i/fps" has no rounding. The final frame
 * size is the source's height x width: after --resize, or the --size centre
 * crop with --crop center. */
typedef enum ctxpar_video_resize_mode {
    CTXPAR_VIDEO_RESIZE_NONE,
    CTXPAR_VIDEO_RESIZE_SHORT, /* short side to resize_short, long side int(S*long/short) */
    CTXPAR_VIDEO_RESIZE_EXACT  /* to resize_width x resize_height */
} ctxpar_video_resize_mode;

typedef struct ctxpar_video_options {
    int64_t start_num, start_den; /* --start SEC as a fraction; 0/1: from the first frame */
    int64_t fps_num, fps_den;     /* --fps F; fps_num 0: every decoded frame */
    ctxpar_video_resize_mode resize;
    int64_t resize_short, resize_width, resize_height;
    int crop_center;              /* --crop center: centre crop to --size */
} ctxpar_video_options;
/* ---- end video files ---- */

typedef struct ctxpar_source {
    ctxpar_source_kind kind;
    char path[1024];    /* HDF5 file (HDF5 kind) */
    char dataset[256];  /* dataset in it, default "video" */
    uint64_t seed;      /* synthetic kind */
    int64_t frames;     /* frames the run uses (T) */
    int64_t height, width;
    int64_t file_frames; /* frames present in the file (HDF5 kind, after probe) */
    ctxpar_video_options video; /* video kind: selection and resizing */
} ctxpar_source;

/* A synthetic source of frames x height x width (all other fields zeroed). */
void ctxpar_source_init_synthetic(ctxpar_source *out, uint64_t seed, int64_t frames,
                                  int64_t height, int64_t width);

/* Parse "FILE[:DATASET]" into an HDF5 source: sets kind, path and dataset
 * (default "video"; the split is at the last ':', unless the whole spec names
 * an existing file) and leaves frames/height/width as the caller set them.
 * frames = 0 before the probe means "all frames of the file". */
ctxpar_status ctxpar_source_parse_input(const char *spec, ctxpar_source *out);

/* Collective for HDF5 sources: open the file, check the dataset is uint8
 * [T, H, W, 3] with T >= frames, and (when height/width are 0) take H and W
 * from the file, or reject a --size that disagrees. Errors name the file, the
 * dataset and what was expected; all ranks agree on the outcome. */
ctxpar_status ctxpar_source_probe(ctxpar_comm_t comm, ctxpar_source *source);

/* The end of every file kind's probe: agree on rank 0's outcome, then give
 * every rank rank 0's [frames, height, width] (frames = 0 before: all of them). */
ctxpar_status ctxpar_source_agree_shape(ctxpar_comm_t comm, ctxpar_status root_status,
                                        int64_t shape[3], ctxpar_source *source);

/* This rank's frames, normalised, into out [3][n_frames][height][width].
 * HDF5: independent hyperslab read of only these frames (file opened with the
 * MPI-IO driver by every rank: the call is collective). Both kinds end with
 * ctxpar_comm_agree, so every rank returns the same status. */
ctxpar_status ctxpar_source_read(ctxpar_comm_t comm, const ctxpar_source *source,
                                 int64_t first_frame, int64_t n_frames, float *out);

/* ---- video files (runtime/source_video.c) ----
 * The video kind's probe and read, called through the two functions above.
 * Probe: rank 0 indexes the file's packets (no decoding), every rank learns
 * the frame count after --start/--fps and the final frame size. Read: rank 0
 * indexes again and broadcasts the index; each rank seeks to the keyframe its
 * first frame needs and decodes only its frames. Without FFmpeg at build time
 * both return CTXPAR_ERR_UNSUPPORTED with a message saying so. */
ctxpar_status ctxpar_source_probe_video(ctxpar_comm_t comm, ctxpar_source *source);
ctxpar_status ctxpar_source_read_video(ctxpar_comm_t comm, const ctxpar_source *source,
                                       int64_t first_frame, int64_t n_frames, float *out);
/* 1 when the file starts with the HDF5 signature (at 0, 512, 1024, ...),
 * 0 when it does not or cannot be read: what --input uses to tell HDF5 from
 * video by content. */
int ctxpar_source_is_hdf5_file(const char *path);
/* One of --start, --fps, --resize, --crop with its value into `video`;
 * errors name the flag and the accepted forms. */
ctxpar_status ctxpar_source_parse_video_option(const char *flag, const char *value,
                                               ctxpar_video_options *video);
/* 1 when any of --start, --fps, --resize, --crop was set. */
int ctxpar_source_video_options_set(const ctxpar_video_options *video);
/* Write frames [0, frames) of the synthetic video as an MP4 at `fps` frames
 * per second (H.264 where libavcodec has it, else MPEG-4 Part 2; lossy,
 * BT.601 limited range); names the encoder used in codec_used. */
ctxpar_status ctxpar_source_write_synthetic_mp4(const char *path, uint64_t seed, int64_t frames,
                                                int64_t height, int64_t width, int fps,
                                                char *codec_used, size_t codec_cap);
/* ---- end video files ---- */

/* The synthetic kind's read: no communication, a pure function of
 * (seed, frame, height, width). */
ctxpar_status ctxpar_source_read_synthetic(const ctxpar_source *source, int64_t first_frame,
                                           int64_t n_frames, float *out);

/* One synthetic frame as uint8 RGB [height][width][3] (for writing test videos). */
void ctxpar_source_synthetic_frame(uint64_t seed, int64_t t, int64_t height, int64_t width,
                                   uint8_t *rgb);

/* Write frames [0, frames) of the synthetic video to an HDF5 file as uint8
 * [T, H, W, 3] under `dataset` (serial; used by `ctxpar make-video` and tests). */
ctxpar_status ctxpar_source_write_synthetic(const char *path, const char *dataset, uint64_t seed,
                                            int64_t frames, int64_t height, int64_t width);
