/* The subcommands besides the main run: init-model, inspect, make-video. */
#pragma once
#include "comm/comm.h"
#include "launch/cli.h"

ctxpar_status ctxpar_command_init_model(ctxpar_comm_t comm, const ctxpar_cli *cli);
ctxpar_status ctxpar_command_inspect(ctxpar_comm_t comm, const ctxpar_cli *cli);
ctxpar_status ctxpar_command_make_video(ctxpar_comm_t comm, const ctxpar_cli *cli);
