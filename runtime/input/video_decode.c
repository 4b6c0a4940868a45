/* FFmpeg demuxing, decoding and colour conversion (see video_decode.h).
 *
 * Two choices shape this file. First, frames are identified by timestamp,
 * never by counting decoder output: the index gives every packet's
 * presentation timestamp, frame k is the k-th smallest, and a decoded frame
 * is matched by its own timestamp, so seeking, B-frame reordering, open GOPs
 * and edit lists cannot shift the numbering. Second, the pixels go through
 * libswscale set up the way the ffmpeg command line's scale filter sets it up
 * (bicubic flags, the frame's own matrix and range), and rotation is the same
 * pixel permutation as its transpose/flip filters, so a frame decoded here is
 * byte-identical to `ffmpeg -i FILE -pix_fmt rgb24 -f rawvideo`. */
#include "runtime/input/video_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CTXPAR_HAVE_VIDEO

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <omp.h>
#include <sys/stat.h>

typedef struct video_file {
    const char *path;
    AVFormatContext *fmt;
    int stream;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int sws_w, sws_h, sws_format, sws_space, sws_range;
    uint8_t *rgb, *shown; /* coded-size RGB24, displayed-size RGB24 */
} video_file;

static const char *av_text(int err, char *buf, size_t cap) {
    av_strerror(err, buf, cap);
    return buf;
}

static void quiet_ffmpeg(void) {
    /* Our own one-line errors say what failed; FFmpeg's log would add noise. */
    if (!getenv("CTXPAR_FFMPEG_LOG")) av_log_set_level(AV_LOG_QUIET);
}

static void file_close(video_file *v) {
    if (v->sws) sws_freeContext(v->sws);
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    free(v->rgb);
    free(v->shown);
    v->sws = NULL;
    v->rgb = v->shown = NULL;
}

static ctxpar_status open_demuxer(video_file *v) {
    char err[AV_ERROR_MAX_STRING_SIZE];
    int ret = avformat_open_input(&v->fmt, v->path, NULL, NULL);
    if (ret < 0)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: not an HDF5 file, and FFmpeg cannot read it as a video (%s): "
                            "truncated, corrupt or not a video",
                            v->path, av_text(ret, err, sizeof err));
    return CTXPAR_OK;
}

/* Open the file, find the video stream and its decoder. */
static ctxpar_status file_open(const char *path, video_file *v, int threads) {
    char err[AV_ERROR_MAX_STRING_SIZE];
    memset(v, 0, sizeof *v);
    v->path = path;
    quiet_ffmpeg();
    struct stat st;
    if (stat(path, &st) != 0) return ctxpar_error(CTXPAR_ERR_IO, "%s: no such file", path);
    if (st.st_size == 0)
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s is empty (0 bytes): not a video", path);
    CTXPAR_TRY(open_demuxer(v));
    int ret = avformat_find_stream_info(v->fmt, NULL);
    if (ret < 0) {
        file_close(v);
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: cannot read the stream headers (%s)", path,
                            av_text(ret, err, sizeof err));
    }
    const AVCodec *codec = NULL;
    ret = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (ret == AVERROR_STREAM_NOT_FOUND || ret == AVERROR_DECODER_NOT_FOUND) {
        /* Tell "no video at all" from "a video we cannot decode". */
        int video = -1;
        for (unsigned i = 0; i < v->fmt->nb_streams; i++)
            if (v->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) video = (int)i;
        if (video < 0) {
            char kinds[256] = "";
            size_t len = 0;
            for (unsigned i = 0; i < v->fmt->nb_streams && len < sizeof kinds; i++) {
                const char *kind =
                    av_get_media_type_string(v->fmt->streams[i]->codecpar->codec_type);
                len += (size_t)snprintf(kinds + len, sizeof kinds - len, "%s%s", i ? ", " : "",
                                        kind ? kind : "unknown");
            }
            file_close(v);
            return ctxpar_error(CTXPAR_ERR_FORMAT, "%s has no video stream (streams: %s)", path,
                                kinds[0] ? kinds : "none");
        }
        const AVCodecParameters *par = v->fmt->streams[video]->codecpar;
        char tag[AV_FOURCC_MAX_STRING_SIZE];
        av_fourcc_make_string(tag, par->codec_tag);
        const char *name = avcodec_get_name(par->codec_id);
        file_close(v);
        return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                            "%s: the video stream's codec (%s, tag %s) is not one this FFmpeg "
                            "build can decode",
                            path, name, tag);
    }
    if (ret < 0) {
        file_close(v);
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: no usable video stream (%s)", path,
                            av_text(ret, err, sizeof err));
    }
    v->stream = ret;
    AVStream *stream = v->fmt->streams[v->stream];
    for (unsigned i = 0; i < v->fmt->nb_streams; i++)
        if ((int)i != v->stream) v->fmt->streams[i]->discard = AVDISCARD_ALL;
    v->dec = avcodec_alloc_context3(codec);
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    if (!v->dec || !v->pkt || !v->frame) {
        file_close(v);
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory opening %s", path);
    }
    if ((ret = avcodec_parameters_to_context(v->dec, stream->codecpar)) < 0) goto codec_fail;
    v->dec->pkt_timebase = stream->time_base;
    v->dec->thread_count = threads > 0 ? threads : 1;
    if ((ret = avcodec_open2(v->dec, codec, NULL)) < 0) goto codec_fail;
    if (stream->codecpar->width <= 0 || stream->codecpar->height <= 0) {
        file_close(v);
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: the video stream has no frame size", path);
    }
    return CTXPAR_OK;
codec_fail:
    file_close(v);
    return ctxpar_error(CTXPAR_ERR_UNSUPPORTED, "%s: cannot open the %s decoder (%s)", path,
                        codec->name, av_text(ret, err, sizeof err));
}

/* The ffmpeg command line's autorotation, from the stream's display matrix. */
static ctxpar_status rotation_of(const char *path, AVStream *stream, int64_t *rotation) {
    const int32_t *m = (const int32_t *)av_stream_get_side_data(
        stream, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    *rotation = CTXPAR_VIDEO_ROTATE_NONE;
    if (!m) return CTXPAR_OK;
    double theta = -round(av_display_rotation_get(m));
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    if (fabs(theta - 90) < 1.0)
        *rotation = m[3] > 0 ? CTXPAR_VIDEO_ROTATE_TRANSPOSE : CTXPAR_VIDEO_ROTATE_CLOCK;
    else if (fabs(theta - 180) < 1.0)
        *rotation = m[0] < 0 && m[4] < 0 ? CTXPAR_VIDEO_ROTATE_180
                    : m[0] < 0           ? CTXPAR_VIDEO_ROTATE_HFLIP
                    : m[4] < 0           ? CTXPAR_VIDEO_ROTATE_VFLIP
                                         : CTXPAR_VIDEO_ROTATE_NONE;
    else if (fabs(theta - 270) < 1.0)
        *rotation = m[3] < 0 ? CTXPAR_VIDEO_ROTATE_ANTITRANSPOSE : CTXPAR_VIDEO_ROTATE_CCLOCK;
    else if (fabs(theta) > 1.0 && fabs(theta - 360) > 1.0)
        return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                            "%s: the display matrix rotates by %.0f degrees; only multiples of "
                            "90 are supported",
                            path, theta);
    else if (m[4] < 0)
        *rotation = CTXPAR_VIDEO_ROTATE_VFLIP;
    return CTXPAR_OK;
}

static int swaps_axes(int64_t rotation) {
    return rotation == CTXPAR_VIDEO_ROTATE_CLOCK || rotation == CTXPAR_VIDEO_ROTATE_CCLOCK ||
           rotation == CTXPAR_VIDEO_ROTATE_TRANSPOSE ||
           rotation == CTXPAR_VIDEO_ROTATE_ANTITRANSPOSE;
}

static int compare_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* True when sorted[0..n) holds value. */
static int sorted_has(const int64_t *sorted, int64_t n, int64_t value) {
    return bsearch(&value, sorted, (size_t)n, sizeof *sorted, compare_i64) != NULL;
}

/* shown_pts for packets without a pts (see the header): 1 when every one
 * got its time exactly, 0 when the timestamps do not allow it. */
static int fill_missing_pts(ctxpar_video_index *index, int64_t *grid, int64_t *known) {
    const int64_t n = index->header.n_packets;
    const ctxpar_video_packet *pk = index->packets;
    int64_t delay = CTXPAR_VIDEO_NO_TS, n_grid = 0, n_known = 0, n_missing = 0;
    for (int64_t i = 0; i < n; i++) {
        if (pk[i].dts == CTXPAR_VIDEO_NO_TS) return 0;
        if (pk[i].pts != CTXPAR_VIDEO_NO_TS && delay == CTXPAR_VIDEO_NO_TS &&
            __builtin_sub_overflow(pk[i].pts, pk[i].dts, &delay))
            return 0;
    }
    if (delay == CTXPAR_VIDEO_NO_TS || delay < 0) return 0;
    for (int64_t i = 0; i < n; i++) {
        if (__builtin_add_overflow(pk[i].dts, delay, &grid[n_grid])) return 0;
        n_grid++;
        if (pk[i].pts != CTXPAR_VIDEO_NO_TS) known[n_known++] = pk[i].pts;
        else n_missing++;
    }
    qsort(grid, (size_t)n_grid, sizeof *grid, compare_i64);
    qsort(known, (size_t)n_known, sizeof *known, compare_i64);
    for (int64_t i = 1; i < n_grid; i++)
        if (grid[i] == grid[i - 1]) return 0; /* two packets decoded at one time */
    for (int64_t i = 0; i < n_known; i++)
        if (!sorted_has(grid, n_grid, known[i]) || (i && known[i] == known[i - 1])) return 0;
    /* The grid's times no known pts claims, in order, to the missing packets. */
    int64_t next = 0;
    for (int64_t i = 0; i < n; i++) {
        if (pk[i].pts != CTXPAR_VIDEO_NO_TS) continue;
        while (next < n_grid && sorted_has(known, n_known, grid[next])) next++;
        if (next == n_grid) return 0;
        index->shown_pts[i] = grid[next++];
    }
    return n_missing > 0;
}

ctxpar_status ctxpar_video_index_finish(ctxpar_video_index *index) {
    const int64_t n = index->header.n_packets;
    const size_t bytes = sizeof(int64_t) * (size_t)(n > 0 ? n : 1);
    free(index->frame_pts);
    free(index->shown_pts);
    index->frame_pts = malloc(bytes);
    index->shown_pts = malloc(bytes);
    int64_t *scratch = malloc(bytes);
    if (!index->frame_pts || !index->shown_pts || !scratch) {
        free(scratch);
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    }
    int missing = 0;
    for (int64_t i = 0; i < n; i++) {
        index->shown_pts[i] = index->packets[i].pts;
        missing |= index->packets[i].pts == CTXPAR_VIDEO_NO_TS;
    }
    if (missing && !fill_missing_pts(index, index->frame_pts, scratch))
        for (int64_t i = 0; i < n; i++) /* all of them, even any filled before it gave up */
            if (index->packets[i].pts == CTXPAR_VIDEO_NO_TS)
                index->shown_pts[i] = index->packets[i].dts;
    free(scratch);
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        const ctxpar_video_packet *p = &index->packets[i];
        if (!(p->flags & CTXPAR_VIDEO_PACKET_DISCARD) && index->shown_pts[i] != CTXPAR_VIDEO_NO_TS)
            index->frame_pts[count++] = index->shown_pts[i];
    }
    qsort(index->frame_pts, (size_t)count, sizeof(int64_t), compare_i64);
    int64_t unique = 0;
    for (int64_t i = 0; i < count; i++)
        if (unique == 0 || index->frame_pts[unique - 1] != index->frame_pts[i])
            index->frame_pts[unique++] = index->frame_pts[i];
    index->n_frames = unique;
    return CTXPAR_OK;
}

/* Presentation index of the frame shown at `pts` (the last one at or before). */
static int64_t frame_at(const ctxpar_video_index *index, int64_t pts) {
    int64_t lo = 0, hi = index->n_frames - 1, found = 0;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (index->frame_pts[mid] <= pts) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

/* Fewer packets than the container's frame count means the data ends early,
 * unless the packets still reach the stream's declared end: AVI counts the
 * empty chunks of dropped frames, which carry no picture and are no packet. */
static int reaches_declared_end(const AVStream *stream, int64_t data_end) {
    if (stream->duration <= 0 || stream->duration == AV_NOPTS_VALUE || data_end == INT64_MIN)
        return 0;
    const int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    int64_t end;
    return !__builtin_add_overflow(start, stream->duration, &end) && data_end >= end;
}

ctxpar_status ctxpar_video_index_build(const char *path, ctxpar_video_index *index) {
    ctxpar_status status = CTXPAR_OK;
    video_file v;
    char err[AV_ERROR_MAX_STRING_SIZE];
    memset(index, 0, sizeof *index);
    CTXPAR_TRY(file_open(path, &v, 1));
    AVStream *stream = v.fmt->streams[v.stream];
    ctxpar_video_header *h = &index->header;
    h->tb_num = stream->time_base.num;
    h->tb_den = stream->time_base.den;
    /* what PyAV's average_rate and decord's get_avg_fps report */
    AVRational rate = stream->avg_frame_rate.num > 0 && stream->avg_frame_rate.den > 0
                          ? stream->avg_frame_rate
                          : stream->r_frame_rate;
    h->fps_num = rate.num > 0 && rate.den > 0 ? rate.num : 0;
    h->fps_den = rate.num > 0 && rate.den > 0 ? rate.den : 1;
    h->coded_width = stream->codecpar->width;
    h->coded_height = stream->codecpar->height;
    snprintf(h->codec, sizeof h->codec, "%s", avcodec_get_name(stream->codecpar->codec_id));
    CTXPAR_TRY_GOTO(rotation_of(path, stream, &h->rotation));
    h->width = swaps_axes(h->rotation) ? h->coded_height : h->coded_width;
    h->height = swaps_axes(h->rotation) ? h->coded_width : h->coded_height;

    int64_t cap = 1024, corrupt_at = -1, data_end = INT64_MIN;
    index->packets = malloc(sizeof(ctxpar_video_packet) * (size_t)cap);
    if (!index->packets) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory indexing %s", path);
        goto fail;
    }
    int ret;
    while ((ret = av_read_frame(v.fmt, v.pkt)) >= 0) {
        if (v.pkt->stream_index == v.stream) {
            if (h->n_packets == cap) {
                ctxpar_video_packet *grown =
                    realloc(index->packets, sizeof(ctxpar_video_packet) * (size_t)(cap *= 2));
                if (!grown) {
                    av_packet_unref(v.pkt);
                    status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory indexing %s", path);
                    goto fail;
                }
                index->packets = grown;
            }
            ctxpar_video_packet *p = &index->packets[h->n_packets];
            p->pts = v.pkt->pts == AV_NOPTS_VALUE ? CTXPAR_VIDEO_NO_TS : v.pkt->pts;
            p->dts = v.pkt->dts == AV_NOPTS_VALUE ? CTXPAR_VIDEO_NO_TS : v.pkt->dts;
            p->flags = ((v.pkt->flags & AV_PKT_FLAG_KEY) ? CTXPAR_VIDEO_PACKET_KEY : 0) |
                       ((v.pkt->flags & AV_PKT_FLAG_DISCARD) ? CTXPAR_VIDEO_PACKET_DISCARD : 0);
            if ((v.pkt->flags & AV_PKT_FLAG_CORRUPT) && corrupt_at < 0) corrupt_at = h->n_packets;
            const int64_t t = v.pkt->pts != AV_NOPTS_VALUE ? v.pkt->pts : v.pkt->dts;
            int64_t end; /* hostile timestamps may sit next to INT64_MAX */
            if (t != AV_NOPTS_VALUE && !__builtin_add_overflow(t, v.pkt->duration, &end) &&
                end > data_end)
                data_end = end;
            h->n_packets++;
        }
        av_packet_unref(v.pkt);
    }
    CTXPAR_TRY_GOTO(ctxpar_video_index_finish(index));
    if (corrupt_at >= 0 || (ret != AVERROR_EOF) ||
        (stream->nb_frames > 0 && h->n_packets < stream->nb_frames &&
         !reaches_declared_end(stream, data_end))) {
        /* Name the first frame that is damaged or missing. */
        int64_t frame = index->n_frames;
        if (corrupt_at >= 0) frame = frame_at(index, index->shown_pts[corrupt_at]);
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s is truncated or corrupt: frame %lld and after cannot be read "
                              "(%s; %lld of %lld packets present)",
                              path, (long long)frame,
                              ret != AVERROR_EOF ? av_text(ret, err, sizeof err)
                                                 : "the data ends early",
                              (long long)h->n_packets,
                              (long long)(stream->nb_frames > 0 ? stream->nb_frames
                                                                : h->n_packets));
        goto fail;
    }
    if (index->n_frames == 0)
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              h->n_packets ? "%s: the video stream's packets carry no timestamps "
                                             "(a raw elementary stream?); remux it, e.g. ffmpeg "
                                             "-r 25 -i FILE -c copy out.mkv"
                                           : "%s: the video stream has no frames",
                              path);
fail:
    file_close(&v);
    if (status != CTXPAR_OK) ctxpar_video_index_free(index);
    return status;
}

void ctxpar_video_index_free(ctxpar_video_index *index) {
    free(index->packets);
    free(index->frame_pts);
    free(index->shown_pts);
    index->packets = NULL;
    index->frame_pts = NULL;
    index->shown_pts = NULL;
    index->n_frames = 0;
}

/* ---- decoding ------------------------------------------------------------ */

/* Packets sorted by their demuxed timestamp, to find where a seek landed:
 * the pts, or for a packet without one its dts, told apart (a packet's dts
 * may equal another's pts). Not both: a dts the demuxer derives can differ
 * after a seek (Matroska). */
typedef struct packet_key {
    int64_t by_dts, time, ordinal;
} packet_key;

static packet_key key_of(int64_t pts, int64_t dts, int64_t ordinal) {
    return pts != CTXPAR_VIDEO_NO_TS ? (packet_key){0, pts, ordinal}
                                     : (packet_key){1, dts, ordinal};
}

static int compare_key(const void *a, const void *b) {
    const packet_key *x = a, *y = b;
    if (x->by_dts != y->by_dts) return x->by_dts < y->by_dts ? -1 : 1;
    return x->time < y->time ? -1 : x->time > y->time;
}

/* Decode-order position of the keyframe to start from so that `frame` is
 * decoded correctly: the last keyframe before the frame's packet whose own
 * timestamp is not after the frame's (which excludes the keyframes whose
 * leading pictures the frame would be). */
static int64_t start_keyframe(const ctxpar_video_index *index, const int64_t *frame_packet,
                              int64_t frame) {
    const int64_t target = index->frame_pts[frame];
    for (int64_t i = frame_packet[frame]; i >= 0; i--) {
        if ((index->packets[i].flags & CTXPAR_VIDEO_PACKET_KEY) && index->shown_pts[i] <= target)
            return i;
    }
    return 0;
}

typedef struct decoder_state {
    video_file v;
    const ctxpar_video_index *index;
    packet_key *keys;       /* packets with a unique timestamp, sorted */
    int64_t n_keys;
    int64_t next_ordinal;   /* decode-order position of the next packet read */
    int have_pending;       /* v.pkt holds packet next_ordinal, already read */
    int fresh;              /* just opened: nothing read yet */
    int eof_sent;
    int64_t last_shown;     /* timestamp of the decoder's last frame since the seek, or NO_TS */
    int64_t packets_decoded, seeks, reopens; /* for CTXPAR_VIDEO_TRACE */
} decoder_state;

static int64_t ordinal_of(const decoder_state *s, const AVPacket *pkt) {
    packet_key probe = key_of(pkt->pts == AV_NOPTS_VALUE ? CTXPAR_VIDEO_NO_TS : pkt->pts,
                              pkt->dts == AV_NOPTS_VALUE ? CTXPAR_VIDEO_NO_TS : pkt->dts, 0);
    const packet_key *hit = bsearch(&probe, s->keys, (size_t)s->n_keys, sizeof *s->keys,
                                    compare_key);
    return hit ? hit->ordinal : -1;
}

/* Read the next packet of the video stream into v.pkt; 0, AVERROR_EOF or an
 * error. */
static int read_stream_packet(decoder_state *s) {
    for (;;) {
        int ret = av_read_frame(s->v.fmt, s->v.pkt);
        if (ret < 0) return ret;
        if (s->v.pkt->stream_index == s->v.stream) return 0;
        av_packet_unref(s->v.pkt);
    }
}

/* Position the demuxer so that the next packet read is packet `target` (a
 * keyframe) and reset the decoder. A seek that lands on a packet it cannot
 * identify, or after the target, falls back to reopening the file and
 * skipping packets from the start: slower, never wrong. */
static ctxpar_status seek_to(decoder_state *s, int64_t target) {
    const ctxpar_video_packet *k = &s->index->packets[target];
    int64_t ts = k->dts != CTXPAR_VIDEO_NO_TS ? k->dts : k->pts;
    if (s->fresh && target == 0) { /* already there */
        s->fresh = 0;
        return CTXPAR_OK;
    }
    s->fresh = 0;
    if (s->have_pending) av_packet_unref(s->v.pkt);
    s->have_pending = 0;
    avcodec_flush_buffers(s->v.dec);
    s->eof_sent = 0;
    s->last_shown = CTXPAR_VIDEO_NO_TS;
    int landed = -1;
    if (target > 0 && av_seek_frame(s->v.fmt, s->v.stream, ts, AVSEEK_FLAG_BACKWARD) >= 0 &&
        read_stream_packet(s) == 0) {
        const int64_t at = ordinal_of(s, s->v.pkt);
        if (at >= 0 && at <= target) {
            landed = 1;
            s->next_ordinal = at;
            s->have_pending = 1;
        } else {
            av_packet_unref(s->v.pkt);
        }
    }
    s->seeks++;
    if (landed < 0) {
        s->reopens++;
        avformat_close_input(&s->v.fmt);
        CTXPAR_TRY(open_demuxer(&s->v));
        for (unsigned i = 0; i < s->v.fmt->nb_streams; i++)
            if ((int)i != s->v.stream) s->v.fmt->streams[i]->discard = AVDISCARD_ALL;
        s->next_ordinal = 0;
    }
    /* Skip to the keyframe without decoding. */
    while (s->next_ordinal < target) {
        if (!s->have_pending && read_stream_packet(s) < 0)
            return ctxpar_error(CTXPAR_ERR_FORMAT,
                                "%s: the file ended while seeking to packet %lld: truncated?",
                                s->v.path, (long long)target);
        av_packet_unref(s->v.pkt);
        s->have_pending = 0;
        s->next_ordinal++;
    }
    return CTXPAR_OK;
}

/* Coded frame -> RGB24 of the coded size, as the command line's scale
 * filter converts it. */
static ctxpar_status convert_frame(decoder_state *s, const AVFrame *f) {
    video_file *v = &s->v;
    const int range = f->color_range;
    if (!v->sws || v->sws_w != f->width || v->sws_h != f->height || v->sws_format != f->format ||
        v->sws_space != (int)f->colorspace || v->sws_range != range) {
        if (v->sws) sws_freeContext(v->sws);
        v->sws = sws_getContext(f->width, f->height, f->format, f->width, f->height,
                                AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
        if (!v->sws)
            return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                                "%s: cannot convert pixel format %s to RGB", v->path,
                                av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format)
                                                               : "?");
        int *inv_table, *table, in_full, out_full, brightness, contrast, saturation;
        sws_getColorspaceDetails(v->sws, &inv_table, &in_full, &table, &out_full, &brightness,
                                 &contrast, &saturation);
        const int *matrix = sws_getCoefficients(f->colorspace);
        if (range != AVCOL_RANGE_UNSPECIFIED) in_full = range == AVCOL_RANGE_JPEG;
        sws_setColorspaceDetails(v->sws, matrix, in_full, matrix, out_full, brightness, contrast,
                                 saturation);
        v->sws_w = f->width, v->sws_h = f->height, v->sws_format = f->format;
        v->sws_space = (int)f->colorspace, v->sws_range = range;
    }
    uint8_t *dst[4] = {v->rgb, NULL, NULL, NULL};
    int dst_stride[4] = {f->width * 3, 0, 0, 0};
    sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst,
              dst_stride);
    return CTXPAR_OK;
}

/* Coded-size RGB -> displayed RGB (see the ROTATE names in the header). */
static void rotate_rgb(const uint8_t *in, int64_t h, int64_t w, int64_t rotation, uint8_t *out) {
    const int64_t oh = swaps_axes(rotation) ? w : h, ow = swaps_axes(rotation) ? h : w;
    for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < ow; x++) {
            int64_t sy = y, sx = x;
            switch (rotation) {
            case CTXPAR_VIDEO_ROTATE_CLOCK: sy = h - 1 - x, sx = y; break;
            case CTXPAR_VIDEO_ROTATE_CCLOCK: sy = x, sx = w - 1 - y; break;
            case CTXPAR_VIDEO_ROTATE_TRANSPOSE: sy = x, sx = y; break;
            case CTXPAR_VIDEO_ROTATE_ANTITRANSPOSE: sy = h - 1 - x, sx = w - 1 - y; break;
            case CTXPAR_VIDEO_ROTATE_180: sy = h - 1 - y, sx = w - 1 - x; break;
            case CTXPAR_VIDEO_ROTATE_HFLIP: sx = w - 1 - x; break;
            case CTXPAR_VIDEO_ROTATE_VFLIP: sy = h - 1 - y; break;
            default: break;
            }
            memcpy(out + (y * ow + x) * 3, in + (sy * w + sx) * 3, 3);
        }
}

ctxpar_status ctxpar_video_decode(const char *path, const ctxpar_video_index *index,
                                  const int64_t *frame_ids, int64_t n, ctxpar_video_frame_fn deliver,
                                  void *user) {
    ctxpar_status status = CTXPAR_OK;
    char err[AV_ERROR_MAX_STRING_SIZE];
    decoder_state s;
    memset(&s, 0, sizeof s);
    s.index = index;
    s.last_shown = CTXPAR_VIDEO_NO_TS;
    if (n <= 0) return CTXPAR_OK;
    const ctxpar_video_header *h = &index->header;
    int64_t *frame_packet = NULL;
    const double t_start = omp_get_wtime();
    CTXPAR_TRY(file_open(path, &s.v, omp_get_max_threads()));
    s.fresh = 1;
    const int64_t n_packets = h->n_packets;
    s.keys = malloc(sizeof(packet_key) * (size_t)(n_packets > 0 ? n_packets : 1));
    frame_packet = malloc(sizeof(int64_t) * (size_t)(index->n_frames > 0 ? index->n_frames : 1));
    s.v.rgb = malloc((size_t)(h->coded_width * h->coded_height * 3));
    s.v.shown = malloc((size_t)(h->width * h->height * 3));
    if (!s.keys || !frame_packet || !s.v.rgb || !s.v.shown) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory decoding %s", path);
        goto fail;
    }
    for (int64_t i = 0; i < n_packets; i++)
        s.keys[i] = key_of(index->packets[i].pts, index->packets[i].dts, i);
    qsort(s.keys, (size_t)n_packets, sizeof *s.keys, compare_key);
    /* Keep only the timestamps that name exactly one packet. */
    for (int64_t i = 0; i < n_packets;) {
        int64_t j = i + 1;
        while (j < n_packets && compare_key(&s.keys[j], &s.keys[i]) == 0) j++;
        if (j - i == 1 && s.keys[i].time != CTXPAR_VIDEO_NO_TS)
            s.keys[s.n_keys++] = s.keys[i];
        i = j;
    }
    for (int64_t f = 0; f < index->n_frames; f++) frame_packet[f] = 0;
    for (int64_t i = 0; i < n_packets; i++) {
        const int64_t shown = index->shown_pts[i];
        if (index->packets[i].flags & CTXPAR_VIDEO_PACKET_DISCARD || shown == CTXPAR_VIDEO_NO_TS)
            continue;
        int64_t f = frame_at(index, shown);
        if (index->frame_pts[f] == shown) frame_packet[f] = i;
    }

    int started = 0, retried = 0;
    int64_t slot = 0;
    while (slot < n) {
        const int64_t want = frame_ids[slot];
        if (want < 0 || want >= index->n_frames) {
            status = ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: frame %lld is out of range [0, %lld)",
                                  path, (long long)want, (long long)index->n_frames);
            goto fail;
        }
        const int64_t target = index->frame_pts[want];
        const int64_t key = start_keyframe(index, frame_packet, want);
        if (!started || key > s.next_ordinal) {
            CTXPAR_TRY_GOTO(seek_to(&s, key));
            started = 1;
        }
        int ret = avcodec_receive_frame(s.v.dec, s.v.frame);
        if (ret == 0) {
            AVFrame *f = s.v.frame;
            int64_t ts = f->best_effort_timestamp;
            if (ts == AV_NOPTS_VALUE) {
                /* No timestamp at all (a stream whose packets mostly lack a
                 * pts gives its last picture at the flush without one): it
                 * is the frame after the decoder's previous one. */
                const int64_t next = s.last_shown == CTXPAR_VIDEO_NO_TS
                                         ? -1 : frame_at(index, s.last_shown) + 1;
                ts = next >= 0 && next < index->n_frames ? index->frame_pts[next]
                                                         : CTXPAR_VIDEO_NO_TS;
            }
            s.last_shown = ts;
            const int64_t at = frame_at(index, ts);
            if (ts < target) {
                av_frame_unref(f);
                continue;
            }
            if (ts > target) {
                av_frame_unref(f);
                if (!retried) { /* one more try from the frame's own keyframe */
                    retried = 1;
                    CTXPAR_TRY_GOTO(seek_to(&s, key));
                    continue;
                }
                status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                      "%s: frame %lld was not produced by the decoder (it went on "
                                      "to frame %lld): the file is corrupt near frame %lld",
                                      path, (long long)want, (long long)at, (long long)want);
                goto fail;
            }
            retried = 0;
            if (f->width != h->coded_width || f->height != h->coded_height) {
                status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                      "%s: frame %lld is %dx%d but the video starts at %lldx%lld "
                                      "(WxH): a frame size that changes mid-stream is not "
                                      "supported",
                                      path, (long long)want, f->width, f->height,
                                      (long long)h->coded_width, (long long)h->coded_height);
                av_frame_unref(f);
                goto fail;
            }
            if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT)) {
                status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                      "%s is corrupt: decoding failed at frame %lld (the decoder "
                                      "had to conceal errors)",
                                      path, (long long)want);
                av_frame_unref(f);
                goto fail;
            }
            status = convert_frame(&s, f);
            av_frame_unref(f);
            if (status != CTXPAR_OK) goto fail;
            const uint8_t *rgb = s.v.rgb;
            if (h->rotation != CTXPAR_VIDEO_ROTATE_NONE) {
                rotate_rgb(s.v.rgb, h->coded_height, h->coded_width, h->rotation, s.v.shown);
                rgb = s.v.shown;
            }
            while (slot < n && frame_ids[slot] == want) CTXPAR_TRY_GOTO(deliver(user, slot++, rgb));
            continue;
        }
        if (ret == AVERROR(EAGAIN)) {
            if (!s.have_pending) {
                ret = read_stream_packet(&s);
                if (ret == AVERROR_EOF) {
                    avcodec_send_packet(s.v.dec, NULL);
                    if (s.eof_sent++) {
                        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                              "%s: the decoder stalled before frame %lld", path,
                                              (long long)want);
                        goto fail;
                    }
                    continue;
                }
                if (ret < 0) {
                    status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                          "%s is truncated or corrupt: reading failed before "
                                          "frame %lld (%s)",
                                          path, (long long)want, av_text(ret, err, sizeof err));
                    goto fail;
                }
            }
            s.have_pending = 0;
            AVPacket *pkt = s.v.pkt;
            const int64_t time = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            const int64_t at = time != AV_NOPTS_VALUE ? frame_at(index, time) : want;
            s.next_ordinal++;
            if (pkt->flags & AV_PKT_FLAG_CORRUPT) {
                av_packet_unref(pkt);
                status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                      "%s is truncated or corrupt: the data of frame %lld is "
                                      "incomplete",
                                      path, (long long)at);
                goto fail;
            }
            ret = avcodec_send_packet(s.v.dec, pkt);
            s.packets_decoded++;
            av_packet_unref(pkt);
            if (ret < 0 && ret != AVERROR(EAGAIN)) {
                status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                      "%s is corrupt: decoding failed at frame %lld (%s)", path,
                                      (long long)at, av_text(ret, err, sizeof err));
                goto fail;
            }
            continue;
        }
        if (ret == AVERROR_EOF) {
            status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                  "%s: the stream ended before frame %lld was decoded: the file "
                                  "is truncated or corrupt near frame %lld",
                                  path, (long long)want, (long long)want);
            goto fail;
        }
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s is corrupt: decoding failed at frame %lld (%s)",
                              path, (long long)want, av_text(ret, err, sizeof err));
        goto fail;
    }
fail:
    if (getenv("CTXPAR_VIDEO_TRACE"))
        fprintf(stderr,
                "video trace: frames %lld..%lld: %lld of %lld packets decoded, %lld seeks, %lld "
                "from the start, %lld frames delivered in %.4f s\n",
                (long long)frame_ids[0], (long long)frame_ids[n - 1],
                (long long)s.packets_decoded, (long long)h->n_packets, (long long)s.seeks,
                (long long)s.reopens, (long long)n, omp_get_wtime() - t_start);
    if (s.have_pending) av_packet_unref(s.v.pkt);
    free(s.keys);
    free(frame_packet);
    file_close(&s.v);
    return status;
}

/* ---- writing MP4 --------------------------------------------------------- */

static ctxpar_status open_encoder(const char *name, enum AVCodecID id, int64_t height,
                                  int64_t width, int fps, int global_header,
                                  AVCodecContext **out) {
    const AVCodec *codec = name ? avcodec_find_encoder_by_name(name) : avcodec_find_encoder(id);
    if (!codec) return CTXPAR_ERR_UNSUPPORTED;
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) return CTXPAR_ERR_NO_MEMORY;
    c->width = (int)width;
    c->height = (int)height;
    c->time_base = (AVRational){1, fps};
    c->framerate = (AVRational){fps, 1};
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->gop_size = 12;
    c->max_b_frames = 2;
    c->thread_count = 1;
    c->color_range = AVCOL_RANGE_MPEG;
    c->colorspace = AVCOL_SPC_SMPTE170M;
    c->color_primaries = AVCOL_PRI_SMPTE170M;
    c->color_trc = AVCOL_TRC_SMPTE170M;
    if (global_header) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (codec->id == AV_CODEC_ID_H264) {
        av_opt_set(c->priv_data, "crf", "16", 0);
        av_opt_set(c->priv_data, "preset", "medium", 0);
    } else {
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = FF_QP2LAMBDA * 2;
    }
    if (avcodec_open2(c, codec, NULL) < 0) {
        avcodec_free_context(&c);
        return CTXPAR_ERR_UNSUPPORTED;
    }
    *out = c;
    return CTXPAR_OK;
}

static ctxpar_status drain(AVFormatContext *oc, AVCodecContext *c, AVStream *st, AVPacket *pkt,
                           const char *path) {
    char err[AV_ERROR_MAX_STRING_SIZE];
    for (;;) {
        int ret = avcodec_receive_packet(c, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return CTXPAR_OK;
        if (ret < 0)
            return ctxpar_error(CTXPAR_ERR_IO, "%s: encoding failed (%s)", path,
                                av_text(ret, err, sizeof err));
        if (pkt->duration <= 0) pkt->duration = 1; /* else the muxer's edit list drops the last frame */
        av_packet_rescale_ts(pkt, c->time_base, st->time_base);
        pkt->stream_index = st->index;
        ret = av_interleaved_write_frame(oc, pkt);
        if (ret < 0)
            return ctxpar_error(CTXPAR_ERR_IO, "%s: writing failed (%s)", path,
                                av_text(ret, err, sizeof err));
    }
}

ctxpar_status ctxpar_video_write_mp4(const char *path, int64_t frames, int64_t height,
                                     int64_t width, int fps, ctxpar_video_rgb_fn next, void *user,
                                     char *codec_used, size_t codec_cap) {
    ctxpar_status status = CTXPAR_OK;
    char err[AV_ERROR_MAX_STRING_SIZE];
    AVFormatContext *oc = NULL;
    AVCodecContext *c = NULL;
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL;
    struct SwsContext *sws = NULL;
    uint8_t *rgb = NULL;
    int ret;
    quiet_ffmpeg();
    if (height % 2 || width % 2)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "an MP4 video needs an even width and height (4:2:0), got %lldx%lld",
                            (long long)width, (long long)height);
    if ((ret = avformat_alloc_output_context2(&oc, NULL, "mp4", path)) < 0 || !oc)
        return ctxpar_error(CTXPAR_ERR_UNSUPPORTED, "this FFmpeg has no MP4 muxer");
    const int global = (oc->oformat->flags & AVFMT_GLOBALHEADER) != 0;
    if (open_encoder("libx264", AV_CODEC_ID_NONE, height, width, fps, global, &c) != CTXPAR_OK &&
        open_encoder(NULL, AV_CODEC_ID_MPEG4, height, width, fps, global, &c) != CTXPAR_OK) {
        status = ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                              "this FFmpeg has neither an H.264 (libx264) nor an MPEG-4 encoder");
        goto fail;
    }
    ctxpar_error_clear();
    snprintf(codec_used, codec_cap, "%s", c->codec->name);
    AVStream *st = avformat_new_stream(oc, NULL);
    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    rgb = malloc((size_t)(height * width * 3));
    if (!st || !pkt || !frame || !rgb) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory writing %s", path);
        goto fail;
    }
    avcodec_parameters_from_context(st->codecpar, c);
    st->time_base = c->time_base;
    frame->format = c->pix_fmt;
    frame->width = c->width;
    frame->height = c->height;
    if (av_frame_get_buffer(frame, 0) < 0) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory writing %s", path);
        goto fail;
    }
    sws = sws_getContext((int)width, (int)height, AV_PIX_FMT_RGB24, (int)width, (int)height,
                         AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
    if (!sws) {
        status = ctxpar_error(CTXPAR_ERR_UNSUPPORTED, "cannot convert RGB to YUV 4:2:0");
        goto fail;
    }
    {
        const int *bt601 = sws_getCoefficients(SWS_CS_ITU601);
        sws_setColorspaceDetails(sws, bt601, 1, bt601, 0, 0, 1 << 16, 1 << 16);
    }
    if ((ret = avio_open(&oc->pb, path, AVIO_FLAG_WRITE)) < 0) {
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot create (%s)", path,
                              av_text(ret, err, sizeof err));
        goto fail;
    }
    if ((ret = avformat_write_header(oc, NULL)) < 0) {
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot write the header (%s)", path,
                              av_text(ret, err, sizeof err));
        goto fail;
    }
    for (int64_t t = 0; t < frames; t++) {
        next(user, t, rgb);
        if (av_frame_make_writable(frame) < 0) {
            status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory writing %s", path);
            goto fail;
        }
        const uint8_t *src[4] = {rgb, NULL, NULL, NULL};
        int src_stride[4] = {(int)width * 3, 0, 0, 0};
        sws_scale(sws, src, src_stride, 0, (int)height, frame->data, frame->linesize);
        frame->pts = t;
        if ((ret = avcodec_send_frame(c, frame)) < 0) {
            status = ctxpar_error(CTXPAR_ERR_IO, "%s: encoding failed (%s)", path,
                                  av_text(ret, err, sizeof err));
            goto fail;
        }
        CTXPAR_TRY_GOTO(drain(oc, c, st, pkt, path));
    }
    avcodec_send_frame(c, NULL);
    CTXPAR_TRY_GOTO(drain(oc, c, st, pkt, path));
    if ((ret = av_write_trailer(oc)) < 0) {
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot finish the file (%s)", path,
                              av_text(ret, err, sizeof err));
        goto fail;
    }
fail:
    if (oc && oc->pb) {
        if (avio_closep(&oc->pb) < 0 && status == CTXPAR_OK)
            status = ctxpar_error(CTXPAR_ERR_IO, "%s: closing failed (disk full?)", path);
    }
    sws_freeContext(sws);
    free(rgb);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
    avformat_free_context(oc);
    return status;
}

#else /* no FFmpeg at build time */

static ctxpar_status no_video(const char *path) {
    return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                        "%s: not an HDF5 file, and this ctxpar was built without FFmpeg, so it "
                        "cannot read video files (install libavformat-dev, libavcodec-dev, "
                        "libswscale-dev and pkg-config, then rebuild)",
                        path);
}

ctxpar_status ctxpar_video_index_build(const char *path, ctxpar_video_index *index) {
    memset(index, 0, sizeof *index);
    return no_video(path);
}

ctxpar_status ctxpar_video_index_finish(ctxpar_video_index *index) {
    (void)index;
    return ctxpar_error(CTXPAR_ERR_UNSUPPORTED, "built without FFmpeg");
}

void ctxpar_video_index_free(ctxpar_video_index *index) {
    free(index->packets);
    free(index->frame_pts);
    free(index->shown_pts);
    index->packets = NULL;
    index->frame_pts = NULL;
    index->shown_pts = NULL;
}

ctxpar_status ctxpar_video_decode(const char *path, const ctxpar_video_index *index,
                                  const int64_t *frame_ids, int64_t n, ctxpar_video_frame_fn deliver,
                                  void *user) {
    (void)index, (void)frame_ids, (void)n, (void)deliver, (void)user;
    return no_video(path);
}

ctxpar_status ctxpar_video_write_mp4(const char *path, int64_t frames, int64_t height,
                                     int64_t width, int fps, ctxpar_video_rgb_fn next, void *user,
                                     char *codec_used, size_t codec_cap) {
    (void)frames, (void)height, (void)width, (void)fps, (void)next, (void)user;
    (void)codec_used, (void)codec_cap;
    return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                        "%s: writing MP4 needs FFmpeg, which this ctxpar was built without "
                        "(write HDF5 instead: an -o name that does not end in .mp4)",
                        path);
}

#endif
