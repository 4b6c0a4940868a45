/* HDF5 error capture (see hdf5_check.h): walk the error stack and keep the
 * innermost description, which is the one that names the real cause. */
#include "runtime/formats/hdf5_io.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

void ctxpar_hdf5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t keep_innermost(unsigned n, const H5E_error2_t *err, void *data) {
    char *out = data;
    if (n == 0) snprintf(out, 512, "%s (in %s)", err->desc ? err->desc : "?",
                         err->func_name ? err->func_name : "?");
    return 0;
}

ctxpar_status ctxpar_hdf5_error(const char *call, const char *file, int line) {
    char desc[512] = "no HDF5 error description";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, desc);
    H5Eclear2(H5E_DEFAULT);
    int rank = 0, initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return ctxpar_error(CTXPAR_ERR_HDF5, "rank %d: %s:%d: %s failed: %s", rank, file, line, call,
                        desc);
}

int ctxpar_hdf5_read_int_attr(hid_t loc, const char *name, long long *out) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    if (attr < 0) return -1;
    long long v = 0;
    int rc = H5Aread(attr, H5T_NATIVE_LLONG, &v) >= 0 ? 0 : -1;
    H5Aclose(attr);
    *out = v;
    return rc;
}
