/* The end of every file kind's probe (see source_shape.h). */
#include "runtime/input/source_shape.h"

ctxpar_status ctxpar_source_agree_shape(ctxpar_comm_t comm, ctxpar_status root_status,
                                        int64_t shape[3], ctxpar_source *source) {
    if (root_status == CTXPAR_OK && ctxpar_comm_rank(comm) == 0 &&
        (shape[0] > CTXPAR_SOURCE_MAX_FRAMES || shape[1] > CTXPAR_SOURCE_MAX_SIDE ||
         shape[2] > CTXPAR_SOURCE_MAX_SIDE))
        root_status = ctxpar_error(CTXPAR_ERR_SHAPE,
                                   "%s claims %lld frames of %lldx%lld (WxH): more than ctxpar "
                                   "reads (at most %lld frames, %d pixels a side); the file is "
                                   "damaged or not a video",
                                   source->path, (long long)shape[0], (long long)shape[2],
                                   (long long)shape[1], CTXPAR_SOURCE_MAX_FRAMES,
                                   CTXPAR_SOURCE_MAX_SIDE);
    CTXPAR_TRY(ctxpar_comm_agree(comm, root_status));
    CTXPAR_TRY(ctxpar_comm_bcast(comm, shape, 3 * sizeof shape[0], 0));
    source->file_frames = shape[0];
    if (source->frames <= 0) source->frames = shape[0];
    source->height = shape[1];
    source->width = shape[2];
    return CTXPAR_OK;
}
