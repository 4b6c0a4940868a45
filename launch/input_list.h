/* Many videos (ctxpar --input-list FILE): one pipeline run per listed input,
 * complete outputs skipped, failures reported without stopping the rest. */
#pragma once
#include "comm/comm.h"
#include "launch/cli.h"

ctxpar_status ctxpar_command_input_list(ctxpar_comm_t comm, const ctxpar_cli *cli);
