/* Video files as a source kind (FFmpeg): the selection and resizing
 * options, the probe and the read. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/input/source_types.h"

/* The video kind's probe and read, called through the dispatch (source.h).
 * Probe: rank 0 indexes the file's packets (no decoding), every rank learns
 * the frame count after --start/--fps and the final frame size. Read: rank 0
 * indexes again and broadcasts the index; each rank seeks to the keyframe its
 * first frame needs and decodes only its frames. Without FFmpeg at build time
 * both return CTXPAR_ERR_UNSUPPORTED with a message saying so. */
ctxpar_status ctxpar_source_probe_video(ctxpar_comm_t comm, ctxpar_source *source);
ctxpar_status ctxpar_source_read_video(ctxpar_comm_t comm, const ctxpar_source *source,
                                       int64_t first_frame, int64_t n_frames, float *out);
/* One of --start, --fps, --resize, --crop with its value into `video`;
 * errors name the flag and the accepted forms. */
ctxpar_status ctxpar_source_parse_video_option(const char *flag, const char *value,
                                               ctxpar_video_options *video);
/* 1 when any of --start, --fps, --resize, --crop was set. */
int ctxpar_source_video_options_set(const ctxpar_video_options *video);
/* Those options as exact text ("--start 1/2 --fps 30000/1001 --crop center";
 * "" when none): what the features file records, so a resumed input list
 * can tell an output made with other options. */
void ctxpar_source_video_options_describe(const ctxpar_video_options *video, char *out,
                                          size_t cap);
/* Write frames [0, frames) of the synthetic video as an MP4 at `fps` frames
 * per second (H.264 where libavcodec has it, else MPEG-4 Part 2; lossy,
 * BT.601 limited range); names the encoder used in codec_used. */
ctxpar_status ctxpar_source_write_synthetic_mp4(const char *path, uint64_t seed, int64_t frames,
                                                int64_t height, int64_t width, int fps,
                                                char *codec_used, size_t codec_cap);
