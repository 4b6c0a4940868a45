/* Video files as a source kind: which frames (--start, --fps, --frames), what
 * size (--resize, --crop), and which rank decodes what.
 *
 * The one decision here: every rank must agree on the frame numbering
 * without decoding anything but its own frames. So rank 0 indexes the file
 * by demuxing alone (timestamps and keyframe flags, no decoding) and
 * broadcasts the index; the selection of frames is then a pure function of
 * the index and the options, computed the same way on every rank in exact
 * integer arithmetic, and each rank decodes only the frames of its slice of
 * that selection (video_decode.c finds the keyframe each one needs). */
#include "runtime/input/video_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/core/memory.h"
#include "runtime/input/source_shape.h"
#include "runtime/input/synthetic.h"
#include "runtime/input/video_decode.h"
#include "runtime/input/video_resize.h"

/* ---- options ------------------------------------------------------------- */

/* "12", "2.5", "30000/1001" -> num/den > = 0; 0 on failure. */
static int parse_fraction(const char *text, int64_t *num, int64_t *den) {
    const char *slash = strchr(text, '/');
    char *end = NULL;
    errno = 0;
    if (slash) {
        long long a = strtoll(text, &end, 10);
        if (errno || end != slash || a < 0) return 0;
        long long b = strtoll(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || b <= 0) return 0;
        *num = a, *den = b;
        return 1;
    }
    int64_t whole = 0, frac = 0, scale = 1;
    const char *p = text;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > (INT64_MAX / 1000000000) / 10) return 0;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (scale >= 1000000000) return 0; /* at most 9 decimals */
            frac = frac * 10 + (*p - '0');
            scale *= 10;
        }
    }
    if (*p || digits == 0) return 0;
    *num = whole * scale + frac, *den = scale;
    return 1;
}

ctxpar_status ctxpar_source_parse_video_option(const char *flag, const char *value,
                                               ctxpar_video_options *video) {
    if (!strcmp(flag, "--start")) {
        if (!parse_fraction(value, &video->start_num, &video->start_den))
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "--start: '%s' is not a time in seconds >= 0 (e.g. 12.5)", value);
        return CTXPAR_OK;
    }
    if (!strcmp(flag, "--fps")) {
        if (!parse_fraction(value, &video->fps_num, &video->fps_den) || video->fps_num <= 0 ||
            video->fps_num / video->fps_den > 10000)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "--fps: '%s' is not a frame rate in (0, 10000] (e.g. 8, 29.97 or "
                                "30000/1001)",
                                value);
        return CTXPAR_OK;
    }
    if (!strcmp(flag, "--max-pixels")) {
        char *end = NULL;
        errno = 0;
        long long p = strtoll(value, &end, 10);
        if (errno || end == value || *end || p < 1 ||
            p > (long long)CTXPAR_SOURCE_MAX_SIDE * CTXPAR_SOURCE_MAX_SIDE)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "--max-pixels: '%s' is not a pixel count per frame (e.g. 200704 "
                                "= 448x448)",
                                value);
        video->user_max_pixels = p;
        return CTXPAR_OK;
    }
    if (!strcmp(flag, "--resize")) {
        char *end = NULL;
        errno = 0;
        if (!strncmp(value, "short:", 6)) {
            long long s = strtoll(value + 6, &end, 10);
            if (!errno && end != value + 6 && !*end && s > 0 && s <= CTXPAR_SOURCE_MAX_SIDE) {
                video->resize = CTXPAR_VIDEO_RESIZE_SHORT;
                video->resize_short = s;
                return CTXPAR_OK;
            }
        } else {
            long long w = strtoll(value, &end, 10);
            if (!errno && end != value && (*end == 'x' || *end == 'X')) {
                const char *rest = end + 1;
                long long h = strtoll(rest, &end, 10);
                if (!errno && end != rest && !*end && w > 0 && h > 0 &&
                    w <= CTXPAR_SOURCE_MAX_SIDE && h <= CTXPAR_SOURCE_MAX_SIDE) {
                    video->resize = CTXPAR_VIDEO_RESIZE_EXACT;
                    video->resize_width = w, video->resize_height = h;
                    return CTXPAR_OK;
                }
            }
        }
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "--resize: '%s' is neither short:S (short side to S pixels) nor "
                            "WxH (sides up to 32768)",
                            value);
    }
    if (!strcmp(flag, "--crop")) {
        if (strcmp(value, "center") != 0)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "--crop: '%s' is not 'center' (the crop size is --size WxH)",
                                value);
        video->crop_center = 1;
        return CTXPAR_OK;
    }
    return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s is not a video option", flag);
}

int ctxpar_source_video_options_set(const ctxpar_video_options *video) {
    return video->start_num > 0 || video->fps_num > 0 || video->user_max_pixels > 0 ||
           video->resize != CTXPAR_VIDEO_RESIZE_NONE || video->crop_center;
}

void ctxpar_source_video_options_describe(const ctxpar_video_options *video, char *out,
                                          size_t cap) {
    size_t len = 0;
    out[0] = '\0';
#define APPEND(...)                                                                         \
    do {                                                                                    \
        int n_ = snprintf(out + len, len < cap ? cap - len : 0, __VA_ARGS__);              \
        if (n_ > 0) len += (size_t)n_;                                                      \
    } while (0)
    if (video->start_num > 0)
        APPEND("%s--start %lld/%lld", len ? " " : "", (long long)video->start_num,
               (long long)video->start_den);
    if (video->fps_num > 0)
        APPEND("%s--fps %lld/%lld", len ? " " : "", (long long)video->fps_num,
               (long long)video->fps_den);
    if (video->resize == CTXPAR_VIDEO_RESIZE_SHORT)
        APPEND("%s--resize short:%lld", len ? " " : "", (long long)video->resize_short);
    if (video->resize == CTXPAR_VIDEO_RESIZE_EXACT)
        APPEND("%s--resize %lldx%lld", len ? " " : "", (long long)video->resize_width,
               (long long)video->resize_height);
    if (video->crop_center) APPEND("%s--crop center", len ? " " : "");
    if (video->uniform)
        APPEND("%suniform sampling at %g frames/s (the model's processor)", len ? "; " : "",
               video->fps_num > 0 ? (double)video->fps_num / (double)video->fps_den
                                  : video->uniform_fps);
    if (video->resize == CTXPAR_VIDEO_RESIZE_BUDGET)
        APPEND("%ssmart_resize to multiples of %lld, bicubic%s", len ? "; " : "",
               (long long)video->budget_factor, video->user_max_pixels ? " (--max-pixels)" : "");
    else if (video->user_max_pixels > 0)
        APPEND("%s--max-pixels %lld", len ? " " : "", (long long)video->user_max_pixels);
#undef APPEND
}

/* ---- selection and geometry ---------------------------------------------- */

typedef __int128 wide;

/* The frames the run uses, as presentation indices (see docs/video.md):
 * without --fps, every frame from the first one at or after --start; with
 * --fps F, frame i is the last frame with time <= start + i/F, for every i
 * with start + i/F <= the last frame's time. Times are relative to the first
 * frame. *ids is allocated; *count frames. */
/* qwen-vl-utils' uniform sampling (see source_types.h), on the frames from
 * --start on. torch.linspace runs in float: step = (last - 0) / (n - 1),
 * the first half counted up from 0, the second down from the end, then
 * rounded half to even; so is this. */
static ctxpar_status select_uniform(const ctxpar_video_index *index,
                                    const ctxpar_video_options *opt, int64_t first,
                                    int64_t **ids, int64_t *count, double *sampled_fps) {
    const int64_t total = index->n_frames - first;
    const ctxpar_video_header *h = &index->header;
    if (h->fps_num <= 0)
        return ctxpar_error(CTXPAR_ERR_FORMAT, "the video states no frame rate; the model's "
                            "processor samples by time (give frames as an HDF5 video instead)");
    const double video_fps = (double)h->fps_num / (double)h->fps_den;
    const double fps = opt->fps_num > 0 ? (double)opt->fps_num / (double)opt->fps_den
                                        : opt->uniform_fps;
    const int64_t min_frames = (opt->min_frames + 1) / 2 * 2; /* ceil to even */
    const int64_t max_cap = opt->max_frames < total ? opt->max_frames : total;
    const int64_t max_frames = max_cap / 2 * 2;              /* floor to even */
    double n = (double)total / video_fps * fps;
    if (n < (double)min_frames) n = (double)min_frames;
    if (n > (double)max_frames) n = (double)max_frames;
    if (n > (double)total) n = (double)total;
    const int64_t frames = (int64_t)floor(n / 2.0) * 2;
    if (frames < 2 || frames > total)
        return ctxpar_error(CTXPAR_ERR_SHAPE, "%lld frames in the video: the model's processor "
                            "needs at least 2", (long long)total);
    if (!(*ids = malloc(sizeof(int64_t) * (size_t)frames)))
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    const float end = (float)(total - 1), step = end / (float)(frames - 1);
    for (int64_t i = 0; i < frames; i++) {
        const float v = i < frames / 2 ? step * (float)i : end - step * (float)(frames - i - 1);
        (*ids)[i] = first + (int64_t)nearbyintf(v);
    }
    *count = frames;
    *sampled_fps = (double)frames / (double)total * video_fps;
    return CTXPAR_OK;
}

static ctxpar_status select_frames(const ctxpar_video_index *index,
                                   const ctxpar_video_options *opt, int64_t **ids,
                                   int64_t *count, double *sampled_fps) {
    const int64_t n = index->n_frames, t0 = index->frame_pts[0];
    const wide tb_num = index->header.tb_num, tb_den = index->header.tb_den;
    const wide s_num = opt->start_num, s_den = opt->start_den > 0 ? opt->start_den : 1;
    *ids = NULL;
    *count = 0;
    *sampled_fps = 0.0;
    if (opt->fps_num <= 0 || opt->uniform) {
        /* first frame with (pts - t0) * tb >= start */
        int64_t first = 0;
        while (first < n && (wide)(index->frame_pts[first] - t0) * tb_num * s_den < s_num * tb_den)
            first++;
        if (opt->uniform) return select_uniform(index, opt, first, ids, count, sampled_fps);
        *count = n - first;
        if (*count > 0 && !(*ids = malloc(sizeof(int64_t) * (size_t)*count)))
            return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
        for (int64_t i = 0; i < *count; i++) (*ids)[i] = first + i;
        return CTXPAR_OK;
    }
    const wide f_num = opt->fps_num, f_den = opt->fps_den > 0 ? opt->fps_den : 1;
    /* i qualifies while i * f_den * tb_den * s_den <= D * f_num with
     * D = (last - t0) * tb_num * s_den - s_num * tb_den. */
    const wide span = (wide)(index->frame_pts[n - 1] - t0) * tb_num * s_den - s_num * tb_den;
    if (span < 0) return CTXPAR_OK;
    const wide total = span * f_num / (f_den * tb_den * s_den) + 1;
    if (total > ((wide)1 << 40)) return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--fps: too many frames");
    *count = (int64_t)total;
    if (!(*ids = malloc(sizeof(int64_t) * (size_t)*count)))
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    int64_t k = 0;
    for (int64_t i = 0; i < *count; i++) {
        /* last k with (pts_k - t0) * tb_num * s_den * f_num <= (s_num * f_num + i * f_den * s_den) * tb_den */
        const wide limit = (s_num * f_num + (wide)i * f_den * s_den) * tb_den;
        while (k + 1 < n && (wide)(index->frame_pts[k + 1] - t0) * tb_num * s_den * f_num <= limit)
            k++;
        (*ids)[i] = k;
    }
    return CTXPAR_OK;
}

typedef struct video_geometry {
    int64_t resized_h, resized_w; /* after --resize (the decoded size without it) */
    int64_t top, left, height, width; /* the window kept: the crop, or all of it */
    int resample;                 /* 0: decoded pixels pass through untouched */
} video_geometry;

static ctxpar_status geometry_of(const ctxpar_source *source, const ctxpar_video_header *h,
                                 int64_t n_sampled, video_geometry *g) {
    const ctxpar_video_options *o = &source->video;
    memset(g, 0, sizeof *g);
    g->resized_h = h->height, g->resized_w = h->width;
    if (o->resize == CTXPAR_VIDEO_RESIZE_BUDGET) {
        const double n = (double)(n_sampled > 0 ? n_sampled : 1);
        double max_pixels = fmin(o->max_pixels, o->total_pixels / n * 2.0);
        max_pixels = fmax(max_pixels, (double)(int64_t)(o->min_pixels * 1.05));
        if (o->user_max_pixels > 0 && (double)o->user_max_pixels < max_pixels)
            max_pixels = (double)o->user_max_pixels;
        if (max_pixels < o->min_pixels)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--max-pixels %lld is below the model's "
                                "minimum of %.0f pixels a frame",
                                (long long)o->user_max_pixels, o->min_pixels);
        ctxpar_video_smart_size(h->height, h->width, o->budget_factor, o->min_pixels, max_pixels,
                                &g->resized_h, &g->resized_w);
    } else if (o->resize == CTXPAR_VIDEO_RESIZE_SHORT)
        ctxpar_video_resize_short_size(h->height, h->width, o->resize_short, &g->resized_h,
                                       &g->resized_w);
    else if (o->resize == CTXPAR_VIDEO_RESIZE_EXACT)
        g->resized_h = o->resize_height, g->resized_w = o->resize_width;
    g->height = g->resized_h, g->width = g->resized_w;
    if (o->crop_center) {
        if (source->height <= 0 || source->width <= 0)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--crop center needs --size WxH (the crop)");
        if (source->height > g->resized_h || source->width > g->resized_w)
            return ctxpar_error(CTXPAR_ERR_SHAPE,
                                "--crop center to %lldx%lld (WxH) does not fit %s, which is "
                                "%lldx%lld%s",
                                (long long)source->width, (long long)source->height, source->path,
                                (long long)g->resized_w, (long long)g->resized_h,
                                o->resize != CTXPAR_VIDEO_RESIZE_NONE ? " after --resize" : "");
        g->height = source->height, g->width = source->width;
        g->top = ctxpar_video_center_offset(g->resized_h, g->height);
        g->left = ctxpar_video_center_offset(g->resized_w, g->width);
    } else if ((source->height > 0 && source->height != g->height) ||
               (source->width > 0 && source->width != g->width)) {
        return ctxpar_error(CTXPAR_ERR_SHAPE,
                            "--size %lldx%lld but %s is %lldx%lld (WxH)%s; add --crop center to "
                            "crop, or --resize WxH to resize",
                            (long long)source->width, (long long)source->height, source->path,
                            (long long)g->width, (long long)g->height,
                            o->resize != CTXPAR_VIDEO_RESIZE_NONE ? " after --resize" : "");
    }
    g->resample = g->resized_h != h->height || g->resized_w != h->width;
    return CTXPAR_OK;
}

/* ---- probe ---------------------------------------------------------------- */

static ctxpar_status probe_on_root(const ctxpar_source *source, int64_t *shape,
                                   double *sampled_fps) {
    ctxpar_video_index index;
    int64_t *ids = NULL, available = 0;
    ctxpar_status status = ctxpar_video_index_build(source->path, &index);
    if (status != CTXPAR_OK) return status;
    if (source->dataset[0]) {
        status = ctxpar_error(CTXPAR_ERR_ARGUMENT,
                              "%s is a video file (%s), not HDF5: it has no dataset '%s'; drop "
                              "':%s' from --input",
                              source->path, index.header.codec, source->dataset, source->dataset);
        goto fail;
    }
    video_geometry g;
    CTXPAR_TRY_GOTO(select_frames(&index, &source->video, &ids, &available, sampled_fps));
    CTXPAR_TRY_GOTO(geometry_of(source, &index.header, available, &g));
    if (available == 0 || source->frames > available) {
        char how[160] = "";
        if (source->video.start_num > 0 || source->video.fps_num > 0)
            snprintf(how, sizeof how, " (%lld decoded, after --start/--fps)",
                     (long long)index.n_frames);
        status = ctxpar_error(CTXPAR_ERR_SHAPE, "%s has %lld frames%s, the run asks for %lld",
                              source->path, (long long)available, how,
                              (long long)(source->frames > 0 ? source->frames : 1));
        goto fail;
    }
    shape[0] = available;
    shape[1] = g.height;
    shape[2] = g.width;
fail:
    free(ids);
    ctxpar_video_index_free(&index);
    return status;
}

ctxpar_status ctxpar_source_probe_video(ctxpar_comm_t comm, ctxpar_source *source) {
    int64_t shape[3] = {0, 0, 0};
    double sampled_fps = 0.0;
    ctxpar_status status = CTXPAR_OK;
    if (ctxpar_comm_rank(comm) == 0) status = probe_on_root(source, shape, &sampled_fps);
    CTXPAR_TRY(ctxpar_source_agree_shape(comm, status, shape, source));
    CTXPAR_TRY(ctxpar_comm_bcast(comm, &sampled_fps, sizeof sampled_fps, 0));
    source->video.sampled_fps = sampled_fps;
    return CTXPAR_OK;
}

/* ---- read ----------------------------------------------------------------- */

typedef struct read_target {
    const ctxpar_source *source;
    const ctxpar_video_header *header;
    video_geometry geometry;
    uint8_t *window; /* resized window, [H][W][3] */
    float *out;
    int64_t n_frames;
} read_target;

static ctxpar_status deliver_frame(void *user, int64_t slot, const uint8_t *rgb) {
    read_target *t = user;
    const video_geometry *g = &t->geometry;
    const int64_t plane = g->height * g->width, channel_stride = t->n_frames * plane;
    const uint8_t *src = rgb;
    int64_t src_w = t->header->width, top = g->top, left = g->left;
    if (g->resample) {
        CTXPAR_TRY(ctxpar_video_resize_rgb(
            rgb, t->header->height, t->header->width, g->resized_h, g->resized_w, g->top, g->left,
            g->height, g->width,
            t->source->video.bicubic ? CTXPAR_RESIZE_BICUBIC : CTXPAR_RESIZE_BILINEAR,
            t->window));
        src = t->window, src_w = g->width, top = 0, left = 0;
    }
    float *dst = t->out + slot * plane;
    for (int64_t y = 0; y < g->height; y++) {
        const uint8_t *row = src + ((y + top) * src_w + left) * 3;
        for (int64_t x = 0; x < g->width; x++)
            for (int c = 0; c < 3; c++)
                dst[c * channel_stride + y * g->width + x] = (float)row[x * 3 + c] / 127.5f - 1.0f;
    }
    return CTXPAR_OK;
}

/* Rank 0 indexes the file; every rank gets the index. */
static ctxpar_status share_index(ctxpar_comm_t comm, const char *path, ctxpar_video_index *index) {
    ctxpar_status status = CTXPAR_OK;
    memset(index, 0, sizeof *index);
    if (ctxpar_comm_rank(comm) == 0) status = ctxpar_video_index_build(path, index);
    CTXPAR_TRY(ctxpar_comm_agree(comm, status));
    CTXPAR_TRY(ctxpar_comm_bcast(comm, &index->header, sizeof index->header, 0));
    if (ctxpar_comm_rank(comm) != 0) {
        index->packets = malloc(sizeof(ctxpar_video_packet) *
                                (size_t)(index->header.n_packets > 0 ? index->header.n_packets : 1));
        if (!index->packets) status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    }
    status = ctxpar_comm_agree(comm, status);
    if (status == CTXPAR_OK)
        status = ctxpar_comm_bcast(comm, index->packets,
                                   index->header.n_packets * (int64_t)sizeof(ctxpar_video_packet), 0);
    if (status == CTXPAR_OK && ctxpar_comm_rank(comm) != 0)
        status = ctxpar_video_index_finish(index);
    status = ctxpar_comm_agree(comm, status);
    if (status != CTXPAR_OK) ctxpar_video_index_free(index);
    return status;
}

ctxpar_status ctxpar_source_read_video(ctxpar_comm_t comm, const ctxpar_source *source,
                                       int64_t first_frame, int64_t n_frames, float *out) {
    ctxpar_video_index index;
    CTXPAR_TRY(share_index(comm, source->path, &index));
    ctxpar_status status = CTXPAR_OK;
    int64_t *ids = NULL, available = 0;
    read_target t = {.source = source, .header = &index.header, .out = out, .n_frames = n_frames};
    double sampled_fps = 0.0;
    CTXPAR_TRY_GOTO(select_frames(&index, &source->video, &ids, &available, &sampled_fps));
    CTXPAR_TRY_GOTO(geometry_of(source, &index.header, available, &t.geometry));
    if (t.geometry.height != source->height || t.geometry.width != source->width ||
        first_frame < 0 || first_frame + n_frames > available) {
        status = ctxpar_error(CTXPAR_ERR_SHAPE,
                              "%s changed since it was probed, or frames [%lld, %lld) are out of "
                              "range (%lld frames)",
                              source->path, (long long)first_frame,
                              (long long)(first_frame + n_frames), (long long)available);
        goto fail;
    }
    if (t.geometry.resample) {
        t.window = ctxpar_mem_alloc((size_t)(t.geometry.height * t.geometry.width * 3),
                                    CTXPAR_MEM_INPUT, "resized frame");
        if (!t.window) {
            status = CTXPAR_ERR_NO_MEMORY;
            goto fail;
        }
    }
    if (n_frames > 0)
        status = ctxpar_video_decode(source->path, &index, ids + first_frame, n_frames,
                                     deliver_frame, &t);
fail:
    ctxpar_mem_free(t.window);
    free(ids);
    ctxpar_video_index_free(&index);
    return status;
}

/* ---- make-video as MP4 ---------------------------------------------------- */

typedef struct synthetic_target {
    uint64_t seed;
    int64_t height, width;
} synthetic_target;

static void synthetic_rgb(void *user, int64_t t, uint8_t *rgb) {
    const synthetic_target *s = user;
    ctxpar_source_synthetic_frame(s->seed, t, s->height, s->width, rgb);
}

ctxpar_status ctxpar_source_write_synthetic_mp4(const char *path, uint64_t seed, int64_t frames,
                                                int64_t height, int64_t width, int fps,
                                                char *codec_used, size_t codec_cap) {
    synthetic_target s = {seed, height, width};
    return ctxpar_video_write_mp4(path, frames, height, width, fps, synthetic_rgb, &s, codec_used,
                                  codec_cap);
}
