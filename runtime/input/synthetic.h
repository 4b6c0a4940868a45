/* The seeded synthetic video as a source kind: a pure function of
 * (seed, t, y, x), and writers of copies of it (HDF5, MP4 in video_file.h). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/input/source_types.h"

/* A synthetic source of frames x height x width (all other fields zeroed). */
void ctxpar_source_init_synthetic(ctxpar_source *out, uint64_t seed, int64_t frames,
                                  int64_t height, int64_t width);

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
