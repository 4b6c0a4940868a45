/* Fuzz target: the readers of HDF5 files ctxpar did not write: the video
 * probe and frame read (runtime/input/hdf5_frames.c) and the ctxpar model
 * file loader (runtime/model/model_file.c). HDF5 itself parses the file;
 * what is fuzzed is everything ctxpar decides from what HDF5 reports
 * (types, ranks, shapes, attributes). A probe that accepts must give a
 * shape the read then honours, for the first and the last frame; after
 * every input no HDF5 object may be left open. */
#include <hdf5.h>

#include "runtime/formats/hdf5_io.h"
#include "runtime/input/source.h"
#include "runtime/model/model.h"
#include "runtime/model/model_file.h"

#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ctxpar_comm_t comm = fuzz_comm();
    ctxpar_hdf5_quiet();
    const char *path = fuzz_scratch("input.h5");
    fuzz_write_file(path, data, size);

    ctxpar_source src;
    memset(&src, 0, sizeof src);
    ctxpar_status status = ctxpar_source_parse_input(path, &src);
    fuzz_check_failure(status);
    if (status == CTXPAR_OK) {
        src.kind = CTXPAR_SOURCE_HDF5; /* HDF5 video probe, whatever the content says */
        snprintf(src.dataset, sizeof src.dataset, "video");
        status = ctxpar_source_probe(comm, &src);
        fuzz_check_failure(status);
        if (status == CTXPAR_OK) {
            fuzz_check_shape(&src);
            if (src.height * src.width <= (1 << 16)) {
                fuzz_read_frames(comm, &src, 0, 1);
                fuzz_read_frames(comm, &src, src.frames - 1, 1);
            }
        }
    }

    ctxpar_model *model = NULL;
    status = ctxpar_model_load_file(comm, path, &model);
    fuzz_check_failure(status);
    if (status == CTXPAR_OK) {
        if (ctxpar_model_parameter_count(model) <= 0) abort();
        ctxpar_model_free(model);
    }
    /* Every HDF5 object a reader opened is closed again, on every path. */
    const ssize_t open_objects = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open_objects != 0) {
        fprintf(stderr, "fuzz: %zd HDF5 object(s) left open\n", open_objects);
        abort();
    }
    unlink(path);
    return 0;
}
