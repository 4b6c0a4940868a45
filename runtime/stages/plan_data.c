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

const char *ctxpar_dtype_name(ctxpar_dtype dtype) {
    switch (dtype) {
    case CTXPAR_DTYPE_AUTO: return "auto";
    case CTXPAR_DTYPE_F32: return "f32";
    case CTXPAR_DTYPE_BF16: return "bf16";
    }
    return "?";
}
