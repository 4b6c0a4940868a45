/* What the user asked for: the run's options after command-line parsing and
 * before planning. Plain data; launch/ fills it, runtime/ reads it. */
#pragma once
#include <stdint.h>

#include "base/device.h"
#include "runtime/input/source.h"
#include "runtime/stages/plan_data.h"

typedef struct ctxpar_run_options {
    ctxpar_source source;     /* frames, size, synthetic seed or HDF5 input */
    char model_path[1024];    /* empty: seeded preset */
    char preset[32];          /* "small" by default */
    uint64_t seed;            /* model and synthetic video seed */
    char out_path[1024];
    int overwrite;
    ctxpar_norm_mode norm;
    int64_t chunk_frames;     /* 0: automatic */
    double merge_spatial, merge_temporal; /* < 0: from the model config */
    int merge_levels;                     /* < 0: from the model config */
    int merge_rule;           /* --merge: a ctxpar_merge_rule (quadtree by default) */
    int merge_root_level;     /* --merge-root-level (STTM); < 0: the model config's */
    int no_merge;
    int save_latents;
    int layer;                /* --layer K: features after block K (0: the final norm's) */
    int save_logvar;          /* VAE-only models: also write the posterior log-variance */
    ctxpar_device device;
    ctxpar_dtype dtype;       /* --dtype; AUTO until the pipeline resolves it */
    int threads;              /* 0: cores on the node / ranks on the node */
    int ranks_per_node;       /* set by the launcher: the node's share of the weights */
    int64_t mem_limit_mib;
    int64_t node_mem_mib;     /* set by the launcher: this node's memory (0: unknown) */    /* 0: the node's memory divided among its ranks */
    int dry_run;
    int quiet;
} ctxpar_run_options;

void ctxpar_run_options_default(ctxpar_run_options *options);
