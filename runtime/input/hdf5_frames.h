/* Video from an HDF5 dataset uint8 [T, H, W, 3] as a source kind. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/input/source_types.h"

/* Collective: rank 0 opens the file and checks the dataset is uint8
 * [T, H, W, 3] with T >= frames; every rank then learns the shape (see
 * ctxpar_source_probe). */
ctxpar_status ctxpar_source_probe_hdf5(ctxpar_comm_t comm, ctxpar_source *source);
/* Collective: every rank opens the file with MPI-IO and reads only its own
 * frames into out [3][n_frames][H][W], normalised. */
ctxpar_status ctxpar_source_read_hdf5(ctxpar_comm_t comm, const ctxpar_source *source,
                                      int64_t first_frame, int64_t n_frames, float *out);
