/* HDF5 helpers (see hdf5_io.h). Errors keep the innermost description of
 * HDF5's stack, which is the one that names the real cause. */
#include "runtime/formats/hdf5_io.h"

#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ctxpar_hdf5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct innermost {
    char desc[256];
    char func[128];
} innermost;

static herr_t keep_innermost(unsigned n, const H5E_error2_t *err, void *data) {
    innermost *out = data;
    if (n == 0) {
        snprintf(out->desc, sizeof out->desc, "%s", err->desc ? err->desc : "?");
        snprintf(out->func, sizeof out->func, "%s", err->func_name ? err->func_name : "?");
    }
    return 0;
}

/* The innermost error, and a cleared stack; NULL desc when there is none. */
static int take_innermost(innermost *e) {
    e->desc[0] = e->func[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, e);
    H5Eclear2(H5E_DEFAULT);
    return e->desc[0] != '\0';
}

const char *ctxpar_hdf5_cause(char *buf, size_t cap) {
    innermost e;
    snprintf(buf, cap, "%s", take_innermost(&e) ? e.desc : "unknown HDF5 error");
    return buf;
}

ctxpar_status ctxpar_hdf5_error(const char *call, const char *file, int line) {
    innermost e;
    char desc[512] = "no HDF5 error description";
    if (take_innermost(&e)) snprintf(desc, sizeof desc, "%s (in %s)", e.desc, e.func);
    int rank = 0, initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return ctxpar_error(CTXPAR_ERR_HDF5, "rank %d: %s:%d: %s failed: %s", rank, file, line, call,
                        desc);
}

/* ---- attributes ---- */

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

ctxpar_status ctxpar_hdf5_read_string_attr(hid_t loc, const char *name, char **out) {
    *out = NULL;
    ctxpar_status status = CTXPAR_OK;
    hid_t attr = -1, type = -1, mem = -1, space = -1;
    htri_t exists = H5Aexists(loc, name);
    if (exists <= 0) return CTXPAR_OK;
    CTXPAR_H5_CHECK_GOTO(attr = H5Aopen(loc, name, H5P_DEFAULT));
    CTXPAR_H5_CHECK_GOTO(type = H5Aget_type(attr));
    CTXPAR_H5_CHECK_GOTO(space = H5Aget_space(attr));
    if (H5Tget_class(type) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) goto fail;
    htri_t variable = H5Tis_variable_str(type);
    CTXPAR_H5_CHECK_GOTO(variable);
    CTXPAR_H5_CHECK_GOTO(mem = H5Tcopy(H5T_C_S1));
    if (variable) {
        CTXPAR_H5_CHECK_GOTO(H5Tset_size(mem, H5T_VARIABLE));
        CTXPAR_H5_CHECK_GOTO(H5Tset_cset(mem, H5Tget_cset(type)));
        char *value = NULL;
        CTXPAR_H5_CHECK_GOTO(H5Aread(attr, mem, &value));
        if (value) {
            *out = strdup(value);
            H5free_memory(value);
        }
    } else {
        size_t size = H5Tget_size(type);
        CTXPAR_H5_CHECK_GOTO(H5Tset_size(mem, size + 1));
        CTXPAR_H5_CHECK_GOTO(H5Tset_strpad(mem, H5T_STR_NULLTERM));
        char *value = calloc(1, size + 1);
        if (!value) {
            status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory reading attribute %s", name);
            goto fail;
        }
        if (H5Aread(attr, mem, value) < 0) {
            free(value);
            status = ctxpar_hdf5_error("H5Aread(attr, mem, value)", __FILE__, __LINE__);
            goto fail;
        }
        *out = value;
    }
fail:
    if (mem >= 0) H5Tclose(mem);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return status;
}

/* One scalar attribute of `type` holding *value. */
static herr_t write_scalar_attr(hid_t loc, const char *name, hid_t type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0) return -1;
    hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, type, value);
    if (attr >= 0 && H5Aclose(attr) < 0) rc = -1;
    H5Sclose(space);
    return rc;
}

herr_t ctxpar_hdf5_write_string_attr(hid_t loc, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0) return -1;
    size_t len = strlen(value);
    herr_t rc = H5Tset_size(type, len > 0 ? len : 1);
    if (rc >= 0) rc = H5Tset_strpad(type, H5T_STR_NULLTERM);
    if (rc >= 0) rc = write_scalar_attr(loc, name, type, len > 0 ? value : "");
    H5Tclose(type);
    return rc;
}

herr_t ctxpar_hdf5_write_int64_attr(hid_t loc, const char *name, int64_t value) {
    return write_scalar_attr(loc, name, H5T_NATIVE_INT64, &value);
}

herr_t ctxpar_hdf5_write_double_attr(hid_t loc, const char *name, double value) {
    return write_scalar_attr(loc, name, H5T_NATIVE_DOUBLE, &value);
}

/* ---- files ---- */

ctxpar_status ctxpar_hdf5_open_readonly(const char *path, const char *expected, hid_t *out) {
    *out = -1;
    if (access(path, F_OK) != 0) return ctxpar_error(CTXPAR_ERR_IO, "%s: no such file", path);
    if (access(path, R_OK) != 0)
        return ctxpar_error(CTXPAR_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
#if H5_VERSION_GE(1, 12, 0)
    htri_t is_hdf5 = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is_hdf5 = H5Fis_hdf5(path);
#endif
    if (is_hdf5 <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: not an HDF5 file (expected %s)", path,
                            expected);
    }
    *out = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*out < 0) {
        char cause[256];
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: cannot open the HDF5 file (truncated or damaged?): %s", path,
                            ctxpar_hdf5_cause(cause, sizeof cause));
    }
    return CTXPAR_OK;
}

/* ---- datasets ---- */

int ctxpar_hdf5_dataset_exists(hid_t file, const char *name) {
    char prefix[1024];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof prefix) return 0;
    for (size_t i = 1; i <= len; i++) {
        if (name[i] != '/' && name[i] != '\0') continue;
        memcpy(prefix, name, i);
        prefix[i] = '\0';
        htri_t exists = H5Lexists(file, prefix, H5P_DEFAULT);
        if (exists <= 0) return exists < 0 ? -1 : 0;
    }
    H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
    if (H5Oget_info_by_name3(file, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
#else
    if (H5Oget_info_by_name2(file, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
#endif
    return info.type == H5O_TYPE_DATASET ? 1 : 0;
}

int ctxpar_hdf5_layout_fits(hid_t dset, hid_t space) {
    hid_t plist = H5Dget_create_plist(dset);
    if (plist < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    int fits = 1;
    if (H5Pget_layout(plist) == H5D_CHUNKED) {
        hsize_t chunk[H5S_MAX_RANK], maxdims[H5S_MAX_RANK];
        const int rank = H5Pget_chunk(plist, H5S_MAX_RANK, chunk);
        const int ndim = H5Sget_simple_extent_dims(space, NULL, maxdims);
        double bytes = 1;
        fits = rank >= 1 && rank == ndim;
        for (int i = 0; fits && i < rank; i++) {
            fits = chunk[i] > 0 && (maxdims[i] == H5S_UNLIMITED || chunk[i] <= maxdims[i]);
            bytes *= (double)chunk[i];
        }
        fits = fits && bytes <= 4294967295.0;
    } else if (H5Pget_layout(plist) == H5D_COMPACT) {
        /* Compact data lives in the object header: exactly the dataset's
         * bytes, and no filters (HDF5 allows none on compact data). */
        hid_t type = H5Dget_type(dset);
        const hssize_t points = H5Sget_simple_extent_npoints(space);
        const size_t item = type >= 0 ? H5Tget_size(type) : 0;
        fits = points >= 0 && item > 0 && H5Pget_nfilters(plist) == 0 &&
               H5Dget_storage_size(dset) == (hsize_t)points * item;
        if (type >= 0) H5Tclose(type);
    }
    H5Pclose(plist);
    H5Eclear2(H5E_DEFAULT);
    return fits;
}
