/* The status table and the per-process error detail (see status.h). One
 * buffer is enough: a rank reports one root cause, and the ranks agree on it
 * through the communicator before anyone prints. */
#include "base/status.h"

#include <stdio.h>
#include <string.h>

static const char *status_names[] = {
#define CTXPAR_STATUS_NAME(name, msg) #name,
    CTXPAR_STATUS_TABLE(CTXPAR_STATUS_NAME)
#undef CTXPAR_STATUS_NAME
};
static const char *status_messages[] = {
#define CTXPAR_STATUS_MSG(name, msg) msg,
    CTXPAR_STATUS_TABLE(CTXPAR_STATUS_MSG)
#undef CTXPAR_STATUS_MSG
};

static char error_detail[2048];
static ctxpar_status error_status = CTXPAR_OK;

const char *ctxpar_status_name(ctxpar_status status) {
    if ((int)status < 0 || status >= CTXPAR_STATUS_COUNT) return "UNKNOWN";
    return status_names[status];
}

static const char *status_message(ctxpar_status status) {
    if ((int)status < 0 || status >= CTXPAR_STATUS_COUNT) return "unknown status";
    return status_messages[status];
}

ctxpar_status ctxpar_error(ctxpar_status status, const char *fmt, ...) {
    if (error_status != CTXPAR_OK) return status;
    error_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_detail, sizeof error_detail, fmt, ap);
    va_end(ap);
    return status;
}

const char *ctxpar_error_detail(void) {
    return error_status != CTXPAR_OK ? error_detail : status_message(error_status);
}

void ctxpar_error_clear(void) {
    error_status = CTXPAR_OK;
    error_detail[0] = '\0';
}
