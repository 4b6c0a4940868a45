/* --json FILE: one JSON object appended per line, for machines to read (a
 * sweep accumulates lines; tests parse them instead of the human summary).
 * Rank 0 only. The file is opened before the work so a bad path fails
 * first, and written with one write(2) under O_APPEND so concurrent jobs
 * never interleave a line; a file this call created and never wrote to is
 * removed. */
#pragma once
#include "base/status.h"
#include "launch/cli.h"
#include "runtime/pipeline.h"

typedef struct ctxpar_json_lines {
    const char *path;
    int fd;      /* -1: closed */
    int created; /* the file did not exist before */
} ctxpar_json_lines;

ctxpar_status ctxpar_json_lines_open(const char *path, ctxpar_json_lines *out);
/* Appends `line` (a JSON object, no newline) and closes the file. */
ctxpar_status ctxpar_json_lines_write(ctxpar_json_lines *lines, const char *line);
/* Closes without writing (after a failure); removes a file it created. */
void ctxpar_json_lines_abandon(ctxpar_json_lines *lines);

/* Writes the members of a run's JSON object that describe the run rather
 * than its timings: version, ranks, nodes, threads, device, model and
 * input, sizes, FLOPs, bytes, memory. */
void ctxpar_json_put_run(ctxpar_json_writer *w, const ctxpar_cli *cli,
                         const ctxpar_run_summary *s);
/* The line of a plain run (format "ctxpar-run"): the above, the stage times
 * and, for --dry-run, only the plan's numbers. NULL when out of memory. */
char *ctxpar_json_run_line(const ctxpar_cli *cli, const ctxpar_run_summary *s);
