/* Progress on rank 0: a bar with stage, percentage and ETA on a terminal;
 * plain timestamped lines (at most every few seconds, and at each stage's end)
 * when stdout is a file, as in a Slurm log; nothing with --quiet.
 * CTXPAR_PROGRESS=bar|lines overrides the choice. */
#pragma once
#include <stdint.h>

typedef struct ctxpar_progress {
    int enabled, tty;
    double run_start, stage_start, last_print;
    char stage[32];
    int64_t last_done, last_total;
} ctxpar_progress;

void ctxpar_progress_init(ctxpar_progress *p, int enabled);
void ctxpar_progress_stage(ctxpar_progress *p, const char *stage);
void ctxpar_progress_update(ctxpar_progress *p, int64_t done, int64_t total);
void ctxpar_progress_end_stage(ctxpar_progress *p);
