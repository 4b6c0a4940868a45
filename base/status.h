/* Status codes and the error message that goes with them.
 *
 * Library code returns a ctxpar_status; only launch/ exits. The codes come from
 * one X-macro table (name and generic message side by side), and the detail a
 * user can act on (which file, which tensor, what was expected, what to try)
 * is kept per process by ctxpar_error(), so a caller can just propagate the
 * code. The comm layer moves the first failing rank's detail to rank 0. */
#pragma once
#include <stdarg.h>

#define CTXPAR_STATUS_TABLE(X)                                                 \
    X(OK, "success")                                                           \
    X(ERR_ARGUMENT, "invalid argument")                                        \
    X(ERR_IO, "input/output error")                                            \
    X(ERR_FORMAT, "invalid or foreign file format")                            \
    X(ERR_SHAPE, "shape mismatch")                                             \
    X(ERR_PLAN, "the run cannot be split across these ranks")                  \
    X(ERR_MEMORY_LIMIT, "the run does not fit the memory limit")               \
    X(ERR_NO_MEMORY, "out of memory")                                          \
    X(ERR_MPI, "MPI error")                                                    \
    X(ERR_HDF5, "HDF5 error")                                                  \
    X(ERR_CUDA, "CUDA error")                                                  \
    X(ERR_UNSUPPORTED, "not supported by this build or device")                \
    X(ERR_EXISTS, "output exists")

typedef enum ctxpar_status {
#define CTXPAR_STATUS_ENUM(name, msg) CTXPAR_##name,
    CTXPAR_STATUS_TABLE(CTXPAR_STATUS_ENUM)
#undef CTXPAR_STATUS_ENUM
    CTXPAR_STATUS_COUNT
} ctxpar_status;

const char *ctxpar_status_name(ctxpar_status status);

/* Record a detailed message for `status` and return it:
 *   return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: tensor %s missing", file, name);
 * The first detail recorded since the last ctxpar_error_clear() wins: the root
 * cause, not the callers that pass it on. */
ctxpar_status ctxpar_error(ctxpar_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The recorded detail, or the status's generic message when none was recorded. */
const char *ctxpar_error_detail(void);
void ctxpar_error_clear(void);

/* Propagate a non-OK status to the caller. */
#define CTXPAR_TRY(expr)                                \
    do {                                                \
        ctxpar_status try_status_ = (expr);             \
        if (try_status_ != CTXPAR_OK) return try_status_; \
    } while (0)

/* In functions with a `fail:` label and a `status` variable. */
#define CTXPAR_TRY_GOTO(expr)              \
    do {                                   \
        status = (expr);                   \
        if (status != CTXPAR_OK) goto fail; \
    } while (0)
