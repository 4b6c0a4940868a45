/* HDF5, the one place that knows its quirks: checked calls, the innermost
 * error description, and the attribute and dataset helpers every HDF5 file
 * of ctxpar's uses (model files, features and latents files, HDF5 video).
 *
 * HDF5's automatic stack printing is switched off at start
 * (ctxpar_hdf5_quiet), so a failure becomes one status whose message carries
 * rank, file:line, the call as text and HDF5's innermost description. Errors a
 * user can cause (missing file, wrong dtype) are checked explicitly before
 * they reach a call like this and get messages of their own. */
#pragma once
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

void ctxpar_hdf5_quiet(void);
ctxpar_status ctxpar_hdf5_error(const char *call, const char *file, int line);
/* HDF5's innermost error description into buf (cap bytes), for messages of
 * our own wording; the error stack is cleared. Returns buf. */
const char *ctxpar_hdf5_cause(char *buf, size_t cap);

#define CTXPAR_H5_CHECK(call)                                                  \
    do {                                                                       \
        if ((call) < 0) return ctxpar_hdf5_error(#call, __FILE__, __LINE__);   \
    } while (0)

/* For functions with a fail: label and a `status` variable. */
#define CTXPAR_H5_CHECK_GOTO(call)                                             \
    do {                                                                       \
        if ((call) < 0) {                                                      \
            status = ctxpar_hdf5_error(#call, __FILE__, __LINE__);             \
            goto fail;                                                         \
        }                                                                      \
    } while (0)

/* ---- attributes (scalar, on a file or group) ---- */

/* An integer attribute of loc: 0 and *out set, or -1 when it is missing or
 * unreadable (no error recorded: callers decide what absence means). */
int ctxpar_hdf5_read_int_attr(hid_t loc, const char *name, long long *out);
/* A string attribute, fixed-length (ctxpar writes those) or variable-length
 * (h5py writes those), into a malloc'd string. Missing or not a scalar
 * string: *out NULL and CTXPAR_OK, so the caller words the message. */
ctxpar_status ctxpar_hdf5_read_string_attr(hid_t loc, const char *name, char **out);
/* Writers: a fixed-length NUL-terminated string, an int64, a double. */
herr_t ctxpar_hdf5_write_string_attr(hid_t loc, const char *name, const char *value);
herr_t ctxpar_hdf5_write_int64_attr(hid_t loc, const char *name, int64_t value);
herr_t ctxpar_hdf5_write_double_attr(hid_t loc, const char *name, double value);

/* ---- files ---- */

/* Open an existing HDF5 file read-only (serial). Every way it can fail is a
 * message naming the path: missing, unreadable, not HDF5 ("expected ..."
 * says what the caller wanted there), truncated or damaged. */
ctxpar_status ctxpar_hdf5_open_readonly(const char *path, const char *expected, hid_t *out);

/* ---- datasets ---- */

/* 1 if `name` is a dataset, 0 if some component of it is missing or it is
 * not a dataset, <0 on an HDF5 error. Every prefix is checked as a link
 * first, so opening the dataset afterwards cannot fail on a missing group. */
int ctxpar_hdf5_dataset_exists(hid_t file, const char *name);

/* 0 when the dataset's layout is one HDF5 itself never writes, which HDF5
 * 1.10 reads past its buffers (found by tests/fuzz/fuzz_hdf5): a chunk
 * larger than the dataset can ever grow or over 4 GiB; compact data whose
 * stored size is not the dataset's, or that claims filters. A reader
 * refuses such a dataset before any H5Dread. 1 otherwise. */
int ctxpar_hdf5_layout_fits(hid_t dset, hid_t space);
