/* Benchmark mode (ctxpar --bench): the whole pipeline run --warmup times
 * untimed and --repeat times timed, reported as median and spread per stage. */
#pragma once
#include "comm/comm.h"
#include "launch/cli.h"

ctxpar_status ctxpar_command_bench(ctxpar_comm_t comm, const ctxpar_cli *cli, int threads);
