/* Decoding video files with FFmpeg: the packet index and frame-accurate
 * decoding of a set of frames (runtime/video_decode.c).
 *
 * Frames are numbered in presentation order: frame k is the k-th smallest
 * presentation timestamp among the packets the demuxer does not mark for
 * discarding (edit lists). The index is built by demuxing alone, which is
 * cheap next to decoding; it is plain data so rank 0 can broadcast it, and
 * every rank then finds, without touching the file, the keyframe it must
 * start from. Without FFmpeg at build time every function here returns
 * CTXPAR_ERR_UNSUPPORTED. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define CTXPAR_VIDEO_PACKET_KEY 1
#define CTXPAR_VIDEO_PACKET_DISCARD 2
#define CTXPAR_VIDEO_NO_TS INT64_MIN

/* One packet of the video stream, in decode order. */
typedef struct ctxpar_video_packet {
    int64_t pts, dts; /* CTXPAR_VIDEO_NO_TS when the demuxer gives none */
    int64_t flags;    /* CTXPAR_VIDEO_PACKET_* */
} ctxpar_video_packet;

/* What the probe learns, broadcast as is (header, then the packets). */
typedef struct ctxpar_video_header {
    int64_t n_packets;
    int64_t tb_num, tb_den;      /* stream time base */
    int64_t fps_num, fps_den;    /* the stream's average frame rate (0/1: unknown) */
    int64_t width, height;       /* displayed size: after the rotation */
    int64_t coded_width, coded_height;
    int64_t rotation;            /* CTXPAR_VIDEO_ROTATE_* */
    char codec[32];
} ctxpar_video_header;

enum {
    CTXPAR_VIDEO_ROTATE_NONE,
    CTXPAR_VIDEO_ROTATE_CLOCK,       /* 90 degrees clockwise */
    CTXPAR_VIDEO_ROTATE_CCLOCK,      /* 90 degrees counter-clockwise */
    CTXPAR_VIDEO_ROTATE_180,         /* horizontal and vertical flip */
    CTXPAR_VIDEO_ROTATE_TRANSPOSE,   /* transpose (90 cclock + vertical flip) */
    CTXPAR_VIDEO_ROTATE_ANTITRANSPOSE, /* 90 clock + vertical flip */
    CTXPAR_VIDEO_ROTATE_HFLIP,
    CTXPAR_VIDEO_ROTATE_VFLIP
};

typedef struct ctxpar_video_index {
    ctxpar_video_header header;
    ctxpar_video_packet *packets; /* header.n_packets, decode order */
    /* Each packet's presentation time (derived, not broadcast): its pts, or
     * for a packet the demuxer gives no pts (MPEG program streams carry one
     * only every few frames) the time it must be shown at (see
     * ctxpar_video_index_finish); CTXPAR_VIDEO_NO_TS when unknown. */
    int64_t *shown_pts;
    int64_t n_frames;
    int64_t *frame_pts;           /* presentation order, strictly increasing */
} ctxpar_video_index;

/* Rank-local: open `path`, check it has a decodable video stream, and index
 * its packets. Errors name the file and, for truncation, the frame. */
ctxpar_status ctxpar_video_index_build(const char *path, ctxpar_video_index *index);
/* Derive shown_pts and frame_pts from the packets (after a broadcast).
 * Packets without a pts are given one when the stream's timestamps allow
 * it exactly: the presentation times are the decode times shifted by the
 * reorder delay (pts - dts of the first packet with both), every known pts
 * is one of them, and the times no known pts claims go, in increasing
 * order, to the packets without one in decode order (those are reference
 * pictures, shown in decode order). Otherwise such a packet's dts stands in. */
ctxpar_status ctxpar_video_index_finish(ctxpar_video_index *index);
void ctxpar_video_index_free(ctxpar_video_index *index);

/* Receives one decoded frame: RGB24 [height][width][3] of the displayed
 * size, for position `slot` of the request. */
typedef ctxpar_status (*ctxpar_video_frame_fn)(void *user, int64_t slot, const uint8_t *rgb);

/* Decode frames frame_ids[0..n) (non-decreasing presentation indices; a
 * repeated id is delivered once per slot) and hand each to `deliver`. Seeks
 * to the keyframe a frame needs whenever that is ahead of the decoder. */
ctxpar_status ctxpar_video_decode(const char *path, const ctxpar_video_index *index,
                                  const int64_t *frame_ids, int64_t n, ctxpar_video_frame_fn deliver,
                                  void *user);

/* Write frames as an MP4 (H.264 when libavcodec has an encoder for it,
 * MPEG-4 Part 2 otherwise): `next` fills RGB24 frame t. Even sizes only. */
typedef void (*ctxpar_video_rgb_fn)(void *user, int64_t t, uint8_t *rgb);
ctxpar_status ctxpar_video_write_mp4(const char *path, int64_t frames, int64_t height,
                                     int64_t width, int fps, ctxpar_video_rgb_fn next, void *user,
                                     char *codec_used, size_t codec_cap);
