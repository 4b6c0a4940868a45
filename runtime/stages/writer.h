/* The features file and the latents file (docs/design.md, docs/models/), written by all ranks at once with
 * parallel HDF5: one collective write per dataset, each rank's rows placed by
 * an exclusive prefix sum of the row counts. The file is created under a
 * temporary name beside the output and renamed only after the `complete`
 * attribute went in last, so a failed or killed run never leaves a file at
 * the output path that looks finished. */
#pragma once
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"

typedef struct ctxpar_output {
    /* A latents file (format "ctxpar-latents", a VAE-only model's job): no
     * token records; latents (and optionally latents_logvar) are required. */
    int latents_only;
    const float *latents_logvar; /* same layout as latents; NULL: not saved */
    double scaling_factor;       /* latents files: how a consumer scales the mean */
    int invert_scale_latents;    /* -1: the model's config has no such key */
    const char *family;          /* the model family's registry name */
    /* token records, this rank's rows, in output order */
    int64_t n_records, dim;
    const float *features; /* [n_records][dim] */
    const int32_t *t_start, *t_end, *level, *y, *x, *size;
    /* optional: [n_records][3] M-RoPE positions (t, y, x) of a video LLM's
     * tokens, written as tokens/position_ids; NULL: none */
    const int32_t *position_ids;
    /* optional latents: this rank's frames of [latent_frames][latent_h][latent_w][latent_z] */
    const float *latents; /* NULL: not saved */
    int64_t latent_first, latent_count, latent_frames, latent_h, latent_w, latent_z;
    /* root attributes */
    const char *config_json;
    int64_t frames, height, width;
    int64_t tokens; /* tokens of the whole video (records cover them) */
    int ranks;
    /* optional per-rank timings (seconds), each written as timings/<name> [ranks] */
    int n_timings;
    const char *const *timing_names;
    const double *timings;
} ctxpar_output;

/* Collective, before any work: refuse an existing output without overwrite,
 * an output directory that cannot take a new file, and a file system with
 * less free space than max_bytes (the largest the file can be), with one
 * agreed message. Nothing is left behind. */
ctxpar_status ctxpar_output_check(ctxpar_comm_t comm, const char *path, int overwrite,
                                  int64_t max_bytes);

/* Collective: write the file under a temporary name, then rename it to path. */
ctxpar_status ctxpar_output_write(ctxpar_comm_t comm, const char *path, int overwrite,
                                  const ctxpar_output *out);

