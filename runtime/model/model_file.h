/* The ctxpar model file: what `ctxpar init-model` writes and `--model FILE`
 * reads (docs/design.md section 4). */
#pragma once

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/model/model.h"

/* Write the model file (serial HDF5; called by one process). */
ctxpar_status ctxpar_model_save(const ctxpar_model *model, const char *path);

/* Collective: rank 0 reads and validates the file (format, version, config,
 * every tensor present with its shape), then broadcasts config and weights
 * to the first rank of every node, which holds them in a node-shared buffer.
 * Errors name the file and the tensor and are agreed across ranks. */
ctxpar_status ctxpar_model_load_file(ctxpar_comm_t comm, const char *path, ctxpar_model **out);
/* The same with a load hook (model.h; NULL: every weight in float32). */
ctxpar_status ctxpar_model_load_file_with(ctxpar_comm_t comm, const char *path,
                                          const ctxpar_load_hook *hook, ctxpar_model **out);
