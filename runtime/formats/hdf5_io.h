/* Checked HDF5 calls. HDF5's automatic stack printing is switched off at start
 * (ctxpar_hdf5_quiet), so a failure becomes one status whose message carries
 * rank, file:line, the call as text and HDF5's innermost description. Errors a
 * user can cause (missing file, wrong dtype) are checked explicitly before
 * they reach a call like this and get messages of their own. */
#pragma once
#include <hdf5.h>

#include "base/status.h"

void ctxpar_hdf5_quiet(void);
ctxpar_status ctxpar_hdf5_error(const char *call, const char *file, int line);

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

/* An integer attribute of loc: 0 and *out set, or -1 when it is missing or
 * unreadable (no error recorded: callers decide what absence means). */
int ctxpar_hdf5_read_int_attr(hid_t loc, const char *name, long long *out);
