/* Video sources: where a rank's frames come from. Each rank produces only its
 * own frames [first_frame, first_frame + n_frames), normalised to
 * x = u/127.5 - 1 and laid out channel-major [3][n_frames][H][W] (the VAE's
 * activation layout). The synthetic video is a pure function of
 * (seed, t, y, x), quantised to uint8 first, so every rank count sees the same
 * frames and an HDF5 copy of it gives the same result. */
#pragma once
#include <stdint.h>

#include "comm/comm.h"
#include "base/status.h"

typedef enum ctxpar_source_kind { CTXPAR_SOURCE_SYNTHETIC, CTXPAR_SOURCE_HDF5 } ctxpar_source_kind;

typedef struct ctxpar_source {
    ctxpar_source_kind kind;
    char path[1024];    /* HDF5 file (HDF5 kind) */
    char dataset[256];  /* dataset in it, default "video" */
    uint64_t seed;      /* synthetic kind */
    int64_t frames;     /* frames the run uses (T) */
    int64_t height, width;
    int64_t file_frames; /* frames present in the file (HDF5 kind, after probe) */
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

/* This rank's frames, normalised, into out [3][n_frames][height][width].
 * HDF5: independent hyperslab read of only these frames (file opened with the
 * MPI-IO driver by every rank: the call is collective). Both kinds end with
 * ctxpar_comm_agree, so every rank returns the same status. */
ctxpar_status ctxpar_source_read(ctxpar_comm_t comm, const ctxpar_source *source,
                                 int64_t first_frame, int64_t n_frames, float *out);

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
