/* Model families: real released models loaded straight from the folders
 * their users already have (diffusers, transformers), weights in safetensors.
 *
 * A family is data, not control flow: one table of its config.json keys
 * (where each value goes in the runtime's model description, or the value it
 * must have), one table translating the runtime's tensor names into the
 * checkpoint's, and the prefixes the checkpoint may carry that the runtime
 * does not use (a VAE's decoder). The table reader (loader.h) is the only
 * code that reads them; the registry (registry.h) lists the families and
 * loads a folder with them. The pipeline sees a ctxpar_model_config and named tensors, the
 * same as for the built-in family's HDF5 files and presets. */
#pragma once
#include <stddef.h>

#include "base/status.h"
#include "runtime/formats/json.h"
#include "runtime/model/config.h"

typedef enum ctxpar_family_value {
    CTXPAR_FAMILY_INT,        /* integer -> int at offset */
    CTXPAR_FAMILY_INT_ARRAY,  /* array of integers -> int[] at offset, count at count_offset */
    CTXPAR_FAMILY_DOUBLE,     /* number -> double at offset */
    CTXPAR_FAMILY_BOOL,       /* true/false -> int at offset */
    CTXPAR_FAMILY_REQUIRE,    /* must equal `expected` (JSON text of the value), nothing stored */
    CTXPAR_FAMILY_IGNORE      /* read by other tools; any value accepted */
} ctxpar_family_value;

typedef struct ctxpar_family_key {
    const char *key;         /* "depth", or a path into objects: "vision_config.depth" */
    ctxpar_family_value kind;
    int required;            /* absent: error naming the key (else the default stays) */
    size_t offset;           /* into ctxpar_model_config */
    size_t count_offset;     /* INT_ARRAY: int element count */
    int max_items;           /* INT_ARRAY */
    const char *expected;    /* REQUIRE: "3", "\"silu\"", "false", "null", ... */
} ctxpar_family_key;

/* Our tensor op (printf pattern over up to two integers, e.g.
 * "vae/stages/%d/res/%d/conv1") and the checkpoint's name of the same op
 * ("encoder.down_blocks.%d.resnets.%d.conv1.conv"); "/weight" and "/bias"
 * become ".weight" and ".bias". Several checkpoint ops joined by '|' are
 * concatenated along the first axis, in that order (separate q, k, v into
 * our fused qkv). drop_dim: the checkpoint stores the weight without this
 * axis (a 2D conv of a [C, C, 1, 3, 3] weight), -1 if none. */
typedef struct ctxpar_family_tensor {
    const char *ours;
    const char *theirs;
    int drop_dim;
} ctxpar_family_tensor;

typedef struct ctxpar_family {
    const char *name;           /* "cogvideox-vae" */
    const char *id_key;         /* the config.json key that names the model class */
    const char *id_value;       /* its value for this family */
    const char *weights_file;   /* next to config.json */
    const char *repo_subfolder; /* where a repository root keeps it ("vae"), or NULL */
    const ctxpar_family_key *keys;
    int n_keys;
    const ctxpar_family_tensor *tensors;
    int n_tensors;
    const char *const *ignored_prefixes; /* NULL-terminated: tensors never read ("decoder.") */
    /* NULL-terminated, or NULL for all: the prefixes of the part of the
     * checkpoint this family runs ("visual."); tensors outside them (a
     * vision-language model's LLM) are neither read nor checked. */
    const char *const *read_prefixes;
    /* A prefix some checkpoints put before every name (a classification
     * model's backbone, "vjepa2."): used when the plain names are absent. */
    const char *wrapper_prefix;
    /* Config keys not in the table are accepted (transformers' configs carry
     * many generic ones) instead of refused. */
    int allow_unknown_keys;
    /* Fills the description fields that follow from the keys, sets the
     * built-in defaults a family does not override, and checks what the keys
     * alone cannot (e.g. a compression ratio that is a power of two). */
    ctxpar_status (*finish)(ctxpar_model_config *config, const ctxpar_json *root,
                            const char *source);
} ctxpar_family;
