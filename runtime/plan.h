/* The planner: which frames each rank owns, and what the run will cost.
 * It fills ctxpar_plan (stages/plan_data.h, what the stages read) and sits
 * above the stages because its estimates walk their layers.
 *
 * The shard unit is one latent frame (c_t input frames) in exact mode, one
 * norm chunk in chunk mode, so temporal pooling never crosses ranks. Ranks get
 * contiguous unit ranges; the first (units mod P) ranks take one more. The
 * estimates (memory, FLOPs, bytes) are computed from the same layer walk the
 * VAE executes (vae.h), so --dry-run and --mem-limit see what the run will do. */
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "base/status.h"
#include "runtime/model/config.h"
#include "runtime/options.h"
#include "runtime/stages/plan_data.h"

ctxpar_status ctxpar_plan_make(const ctxpar_model_config *config,
                               const ctxpar_run_options *options, int ranks, ctxpar_plan *out);
void ctxpar_plan_free(ctxpar_plan *plan);
/* The --dry-run report. */
void ctxpar_plan_print(FILE *f, const ctxpar_plan *plan, const ctxpar_model_config *config);
