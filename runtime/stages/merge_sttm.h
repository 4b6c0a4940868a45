/* STTM's merge (docs/merge-sttm.md) across ranks: each rank builds its
 * frames' multi-granular quadtrees and the links between its consecutive
 * frames (and from the previous rank's last frame to its first); the links,
 * a pair of integers each, are gathered everywhere so every rank runs the
 * reference's representative iteration on the same global list; then each
 * group's partial sums travel to the rank holding its representative (the
 * earliest node), which writes the record. The decisions are the
 * reference's whatever the rank count; features differ by rounding only. */
#pragma once
#include <stdint.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/model/config.h"
#include "runtime/stages/merge.h"
#include "runtime/stages/plan_data.h"

/* Collective; arguments and result as ctxpar_merge_run's. Records: t_start
 * the representative's frame, t_end the group's last frame, level the
 * representative's depth in the tree (0: one token), y, x its box's top-left
 * corner, size the tokens its nodes cover. */
ctxpar_status ctxpar_merge_sttm_run(ctxpar_comm_t comm, const ctxpar_plan *plan,
                                    const ctxpar_merge_config *config, const float *features,
                                    int64_t d, ctxpar_merge_result *out);
