/* Command-line parsing for the ctxpar program. Every rank parses the same
 * argv, so a usage error is found by all ranks at once with no messages
 * exchanged; rank 0 prints it. */
#pragma once
#include "runtime/options.h"
#include "runtime/status.h"

typedef enum ctxpar_command {
    CTXPAR_CMD_RUN,
    CTXPAR_CMD_INIT_MODEL,
    CTXPAR_CMD_INSPECT,
    CTXPAR_CMD_MAKE_VIDEO,
    CTXPAR_CMD_HELP,
    CTXPAR_CMD_VERSION
} ctxpar_command;

typedef struct ctxpar_cli {
    ctxpar_command command;
    ctxpar_run_options run;
    char file[1024];       /* inspect FILE; init-model / make-video -o FILE */
    int seed_given;
} ctxpar_cli;

ctxpar_status ctxpar_cli_parse(int argc, char **argv, ctxpar_cli *cli);
void ctxpar_cli_print_help(void);
