/* Video sources, as the pipeline sees them: parse --input, probe the
 * source and read a rank's frames, whatever the kind. Each kind lives in its
 * own file (synthetic.h, hdf5_frames.h, video_file.h); this header also
 * offers theirs, so callers include only this one. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/input/hdf5_frames.h"
#include "runtime/input/source_types.h"
#include "runtime/input/synthetic.h"
#include "runtime/input/video_file.h"

/* Parse "FILE[:DATASET]" into an HDF5 source: sets kind, path and dataset
 * (default "video"; the split is at the last ':', unless the whole spec names
 * an existing file) and leaves frames/height/width as the caller set them.
 * frames = 0 before the probe means "all frames of the file". */
ctxpar_status ctxpar_source_parse_input(const char *spec, ctxpar_source *out);

/* Collective: for file sources, open the file, check the dataset is uint8
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

/* What --input named, for records of a run: "FILE:DATASET" (HDF5), "FILE"
 * (a video file) or "synthetic". */
void ctxpar_source_describe(const ctxpar_source *source, char *out, size_t cap);
