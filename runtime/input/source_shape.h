/* The end of every file kind's probe, in one place: agree on rank 0's
 * outcome, then hand every rank rank 0's shape. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/input/source_types.h"

/* The end of every file kind's probe: agree on rank 0's outcome, then give
 * every rank rank 0's [frames, height, width] (frames = 0 before: all of them). */
ctxpar_status ctxpar_source_agree_shape(ctxpar_comm_t comm, ctxpar_status root_status,
                                        int64_t shape[3], ctxpar_source *source);
