/* The family registry: the model families ctxpar knows, which one a folder
 * holds, and loading the model --model names (a family's folder, or a ctxpar
 * model file: the built-in family). A new family is a file of tables in
 * families/ and one line in registry.c. */
#pragma once
#include <stddef.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/families/family.h"
#include "runtime/model/model.h"

/* Collective: the model at `path`: a directory is a family folder (below),
 * a file a ctxpar model file (model_file.h). The hook (may be NULL) decides
 * how the weights are held once the model is laid out (model.h). */
ctxpar_status ctxpar_family_load(ctxpar_comm_t comm, const char *path, ctxpar_model **out);
ctxpar_status ctxpar_family_load_with(ctxpar_comm_t comm, const char *path,
                                      const ctxpar_load_hook *hook, ctxpar_model **out);

/* Rank-local: resolve `dir` to the folder with config.json and identify its
 * family; fills `folder` (cap bytes) and *family. For dry runs and inspect. */
ctxpar_status ctxpar_family_resolve(const char *dir, char *folder, size_t cap,
                                    const ctxpar_family **family, char **config_text);

/* 1 when `path` is a model folder whose model has no transformer (its job
 * writes a latents file), else 0. Rank-local, reads only config.json. */
int ctxpar_family_folder_writes_latents(const char *path);

/* The i-th known family (0, 1, ...), NULL past the last: for tools that
 * try every family's tables (the config fuzz target). */
const ctxpar_family *ctxpar_family_at(int i);
