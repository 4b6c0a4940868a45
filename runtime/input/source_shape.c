/* The end of every file kind's probe (see source_shape.h). */
#include "runtime/input/source_shape.h"

ctxpar_status ctxpar_source_agree_shape(ctxpar_comm_t comm, ctxpar_status root_status,
                                        int64_t shape[3], ctxpar_source *source) {
    CTXPAR_TRY(ctxpar_comm_agree(comm, root_status));
    CTXPAR_TRY(ctxpar_comm_bcast(comm, shape, 3 * sizeof shape[0], 0));
    source->file_frames = shape[0];
    if (source->frames <= 0) source->frames = shape[0];
    source->height = shape[1];
    source->width = shape[2];
    return CTXPAR_OK;
}
