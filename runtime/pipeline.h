/* The whole job on one rank: model, plan, frames, VAE, tokens, output. Every
 * rank calls ctxpar_pipeline_run with the same options; errors come back
 * agreed (same status and message everywhere), except inside stages where
 * neighbours exchange messages, which end the job (see comm.h). */
#pragma once
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/model/config.h"
#include "runtime/options.h"

typedef enum ctxpar_stage {
    CTXPAR_STAGE_SETUP,   /* model, plan, checks */
    CTXPAR_STAGE_INPUT,   /* reading or generating frames */
    CTXPAR_STAGE_VAE,
    CTXPAR_STAGE_TOKENS,  /* patch embedding */
    CTXPAR_STAGE_TRANSFORMER,
    CTXPAR_STAGE_MERGE,
    CTXPAR_STAGE_OUTPUT,
    CTXPAR_STAGE_COUNT
} ctxpar_stage;

const char *ctxpar_stage_name(ctxpar_stage stage);

typedef struct ctxpar_run_summary {
    int ranks, nodes, threads;
    int64_t frames, height, width, tokens, records;
    int64_t latent_frames;
    int64_t longest_chain;                   /* latent frames of the longest record */
    double seconds[CTXPAR_STAGE_COUNT]; /* max over ranks */
    double seconds_total;
    double vae_flops, embed_flops, attention_flops, dense_flops;
    double vae_conv_seconds, vae_norm_seconds, vae_other_seconds; /* rank 0 */
    double attention_seconds;                /* max over ranks, ring attention only */
    double ring_wait_max, ring_exchange_max; /* seconds */
    int64_t bytes_sent_total, bytes_sent_max; /* this run only */
    double comm_wait_max, comm_exchange_max; /* halo exchanges, seconds */
    int64_t peak_tracked_max, peak_rss_max;  /* bytes, max over ranks */
    int64_t planned_bytes;                   /* the plan's estimate for the largest rank */
    int64_t weights_bytes;                   /* the model's weights as run: float32 + packed */
    int64_t packed_bytes;                    /* of which packed bf16 (--dtype bf16) */
    int64_t in_place_bytes;                  /* of which bf16 read in place (--dtype bf16) */
    int64_t weights_pss_sum;                 /* PSS of the weights summed over all ranks */
    const char *device;                      /* the backend's name ("cpu", ...) */
    const char *dtype;                       /* "f32" or "bf16" (plan_data.h) */
    const char *gemm_path;                   /* what the linears ran on */
    const char *isa;                         /* the CPU's ISA level in effect */
    const char *attention_path;              /* what the attention ran on */
    ctxpar_model_config model;               /* the model that ran (preset or file) */
    int dry_run;
} ctxpar_run_summary;

ctxpar_status ctxpar_pipeline_run(ctxpar_comm_t comm, const ctxpar_run_options *options,
                                  ctxpar_run_summary *summary);

/* The share of communication time hidden under compute: 1 - wait / in
 * flight; nothing in flight counts as all hidden. */
double ctxpar_hidden_share(double wait_seconds, double in_flight_seconds);

/* Rank 0 prints the run summary to stdout. */
void ctxpar_summary_print(const ctxpar_run_summary *summary);
