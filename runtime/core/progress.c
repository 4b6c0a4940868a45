/* Progress reporting (see progress.h). The ETA of a stage extrapolates its
 * elapsed time over the fraction done; layers differ in cost, so it is a
 * guide, and it settles as the stage advances. */
#include "runtime/core/progress.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PLAIN_LINE_INTERVAL 5.0

static void timestamp(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* Whether rank 0's stdout ends on a terminal. mpirun gives its ranks a
 * pseudo-terminal even when mpirun's own stdout is a log file, so a terminal
 * here counts only if the parent's stdout is one too (when it can be read).
 * CTXPAR_PROGRESS=bar|lines overrides. */
static int stdout_reaches_terminal(void) {
    const char *force = getenv("CTXPAR_PROGRESS");
    if (force && !strcmp(force, "bar")) return 1;
    if (force && !strcmp(force, "lines")) return 0;
    if (!isatty(STDOUT_FILENO)) return 0;
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/%d/fd/1", (int)getppid());
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 1;
    target[n] = '\0';
    return strncmp(target, "/dev/pts/", 9) == 0 || strncmp(target, "/dev/tty", 8) == 0;
}

void ctxpar_progress_init(ctxpar_progress *p, int enabled) {
    memset(p, 0, sizeof *p);
    p->enabled = enabled;
    p->tty = stdout_reaches_terminal();
    p->run_start = MPI_Wtime();
}

void ctxpar_progress_stage(ctxpar_progress *p, const char *stage) {
    snprintf(p->stage, sizeof p->stage, "%s", stage);
    p->stage_start = MPI_Wtime();
    p->last_print = 0;
    p->last_done = 0;
    p->last_total = 0;
}

void ctxpar_progress_update(ctxpar_progress *p, int64_t done, int64_t total) {
    if (!p->enabled || total <= 0) return;
    double now = MPI_Wtime(), elapsed = now - p->stage_start;
    double frac = (double)done / (double)total;
    double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
    p->last_done = done, p->last_total = total;
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30.0 + 0.5);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        printf("\r%-12s [%s] %5.1f%%  ETA %5.0fs", p->stage, bar, 100.0 * frac, eta);
        fflush(stdout);
    } else if (now - p->last_print >= PLAIN_LINE_INTERVAL || done == total) {
        char ts[32];
        timestamp(ts, sizeof ts);
        printf("%s %s %5.1f%% (%lld/%lld, elapsed %.1fs, ETA %.0fs)\n", ts, p->stage,
               100.0 * frac, (long long)done, (long long)total, elapsed, eta);
        fflush(stdout);
        p->last_print = now;
    }
}

void ctxpar_progress_end_stage(ctxpar_progress *p) {
    if (!p->enabled) return;
    double elapsed = MPI_Wtime() - p->stage_start;
    if (p->tty) {
        printf("\r%-12s done in %.2fs%40s\n", p->stage, elapsed, "");
    } else {
        char ts[32];
        timestamp(ts, sizeof ts);
        printf("%s %s done in %.2fs\n", ts, p->stage, elapsed);
    }
    fflush(stdout);
}
