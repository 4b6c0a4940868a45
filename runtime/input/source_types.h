/* The source types: what --input names and how its frames are selected.
 * Plain data shared by the dispatch (source.h) and every kind's reader.
 *
 * Video sources: where a rank's frames come from. Each rank produces only its
 * own frames [first_frame, first_frame + n_frames), normalised to
 * x = u/127.5 - 1 and laid out channel-major [3][n_frames][H][W] (the VAE's
 * activation layout). The synthetic video is a pure function of
 * (seed, t, y, x), quantised to uint8 first, so every rank count sees the same
 * frames and an HDF5 copy of it gives the same result. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum ctxpar_source_kind {
    CTXPAR_SOURCE_SYNTHETIC,
    CTXPAR_SOURCE_HDF5,
    CTXPAR_SOURCE_VIDEO /* a video file FFmpeg decodes (video_file.c) */
} ctxpar_source_kind;

/* ---- video files (CTXPAR_SOURCE_VIDEO; see docs/video.md) ----
 * Which frames and how they are shaped. Times are exact fractions so that
 * "the last frame with pts <= start + i/fps" has no rounding. The final frame
 * size is the source's height x width: after --resize, or the --size centre
 * crop with --crop center. */
typedef enum ctxpar_video_resize_mode {
    CTXPAR_VIDEO_RESIZE_NONE,
    CTXPAR_VIDEO_RESIZE_SHORT, /* short side to resize_short, long side int(S*long/short) */
    CTXPAR_VIDEO_RESIZE_EXACT, /* to resize_width x resize_height */
    CTXPAR_VIDEO_RESIZE_BUDGET /* Qwen2-VL's smart_resize within a pixel budget (below) */
} ctxpar_video_resize_mode;

typedef struct ctxpar_video_options {
    int64_t start_num, start_den; /* --start SEC as a fraction; 0/1: from the first frame */
    int64_t fps_num, fps_den;     /* --fps F; fps_num 0: every decoded frame */
    ctxpar_video_resize_mode resize;
    int64_t resize_short, resize_width, resize_height;
    int crop_center;              /* --crop center: centre crop to --size */
    /* A model's processor that samples uniformly (Qwen2-VL's, qwen-vl-utils):
     * n frames at torch.linspace(0, frames - 1, n).round(), n = duration x
     * the rate (--fps F, else uniform_fps) clamped to [min_frames,
     * min(max_frames, frames)] and floored to even. 0: --fps's rule above. */
    int uniform;
    double uniform_fps;
    int64_t min_frames, max_frames;
    /* resize BUDGET: multiples of budget_factor by smart_resize, within
     * min_pixels and max(min(max_pixels, total_pixels / n * 2), 1.05 *
     * min_pixels) for n frames sampled, or --max-pixels when lower */
    int64_t budget_factor;
    double min_pixels, max_pixels, total_pixels;
    int64_t user_max_pixels;      /* --max-pixels P; 0: none */
    int bicubic;                  /* resample with the bicubic filter (else bilinear) */
    double sampled_fps;           /* set by the probe: the rate of a uniform sampling */
} ctxpar_video_options;
/* ---- end video files ---- */

/* The largest frames any source gives: beyond any real video (8K is 7680
 * pixels wide), and small enough that frames x height x width x 3 and every
 * size derived from it fit in 64 bits. A file header that claims more is
 * damaged or hostile; --resize takes no more either. */
#define CTXPAR_SOURCE_MAX_SIDE 32768
#define CTXPAR_SOURCE_MAX_FRAMES 2147483647LL

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
