/* The family table reader: the steps of loading a folder that depend only on
 * one family's tables (family.h), never on which families exist. */
#pragma once
#include "base/status.h"
#include "runtime/families/family.h"
#include "runtime/formats/safetensors.h"
#include "runtime/model/config.h"
#include "runtime/model/model.h"

/* Parse a config.json text with a family's key table. */
ctxpar_status ctxpar_family_read_config(const ctxpar_family *family, const char *text,
                                        const char *source, ctxpar_model_config *out);

/* Every tensor the layout needs is in the checkpoint with its shape, and
 * every checkpoint tensor outside the family's ignored prefixes is needed. */
ctxpar_status ctxpar_family_check_tensors(const ctxpar_family *family, const ctxpar_model *layout,
                                          const ctxpar_safetensors *st);

/* Local rank `part` of a node's `parts` ranks converts its share of the
 * checkpoint's tensors to float32 into the model's (node-shared) blob, or
 * packs them into its packed buffer (ctxpar_model_fill_begin/_end). */
ctxpar_status ctxpar_family_fill_blob(const ctxpar_family *family, const char *weights,
                                      ctxpar_model *model, int part, int parts);
