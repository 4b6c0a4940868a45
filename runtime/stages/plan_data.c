/* Names of the plan's enumerations (see plan_data.h). */
#include "runtime/stages/plan_data.h"

const char *ctxpar_norm_mode_name(ctxpar_norm_mode mode) {
    switch (mode) {
    case CTXPAR_NORM_EXACT: return "exact";
    case CTXPAR_NORM_CHUNK: return "chunk";
    case CTXPAR_NORM_DIFFUSERS: return "diffusers";
    }
    return "?";
}
