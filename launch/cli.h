/* Command-line parsing for the ctxpar program. Every rank parses the same
 * argv, so a usage error is found by all ranks at once with no messages
 * exchanged; rank 0 prints it. */
#pragma once
#include "base/status.h"
#include "runtime/options.h"

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
    int frames_given;      /* --frames was on the command line */
    int out_given;         /* --out was on the command line */
    /* --bench: warm-up runs, then timed repeats, one table row / JSON line */
    int bench, repeat, warmup;
    char json_path[1024];  /* --json FILE: one JSON object per line; empty: none */
    /* --input-list FILE: one run per listed input, outputs under out_dir */
    char input_list[1024];
    char out_dir[1024];
} ctxpar_cli;

ctxpar_status ctxpar_cli_parse(int argc, char **argv, ctxpar_cli *cli);
void ctxpar_cli_print_help(void);
