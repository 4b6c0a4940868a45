/* Signal handling (see interrupt.h). Messages are formatted outside the
 * handler: the plain pair at install time, the pair naming the guarded file
 * when the guard is set; the handler only picks one and writes it. */
#include "runtime/core/interrupt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { TERM, INT };
static int my_rank, my_ranks;
static char guarded_path[4096];
static volatile sig_atomic_t have_guarded_path;
static char plain_message[2][256], guarded_message[2][4400];
static volatile sig_atomic_t failed_exit_code; /* nonzero: the job failed and said so */
static char library_message[1400];
static volatile sig_atomic_t in_library;
static struct sigaction previous_segv, previous_bus;

/* SIGSEGV/SIGBUS: inside a guarded library call, the damaged file's line
 * and exit 1; anywhere else, whatever handled the signal before (Open
 * MPI's backtrace, the sanitizers' report, the default core dump). */
static void on_fault(int sig) {
    if (in_library) {
        if (have_guarded_path) unlink(guarded_path);
        ssize_t ignored = write(STDERR_FILENO, library_message, strlen(library_message));
        (void)ignored;
        _exit(1);
    }
    sigaction(sig, sig == SIGBUS ? &previous_bus : &previous_segv, NULL);
    raise(sig);
}

static void on_signal(int sig) {
    int which = sig == SIGINT ? INT : TERM;
    const char *msg = plain_message[which];
    if (have_guarded_path) {
        unlink(guarded_path);
        msg = guarded_message[which];
    }
    if (failed_exit_code) _exit(failed_exit_code);
    ssize_t ignored = write(STDERR_FILENO, msg, strlen(msg));
    (void)ignored;
    _exit(128 + sig);
}

static void format_message(char *buf, size_t cap, int which, const char *removed) {
    const char *name = which == INT ? "SIGINT" : "SIGTERM";
    int code = 128 + (which == INT ? SIGINT : SIGTERM);
    if (removed)
        snprintf(buf, cap,
                 "ctxpar: rank %d of %d stopped by %s (exit %d); removed the unfinished %s\n",
                 my_rank, my_ranks, name, code, removed);
    else
        snprintf(buf, cap,
                 "ctxpar: rank %d of %d stopped by %s (exit %d); no unfinished output is left\n",
                 my_rank, my_ranks, name, code);
}

void ctxpar_interrupt_install(int rank, int ranks) {
    my_rank = rank, my_ranks = ranks;
    format_message(plain_message[TERM], sizeof plain_message[TERM], TERM, NULL);
    format_message(plain_message[INT], sizeof plain_message[INT], INT, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask); /* one handler at a time */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
    struct sigaction fault;
    memset(&fault, 0, sizeof fault);
    fault.sa_handler = on_fault;
    sigfillset(&fault.sa_mask);
    sigaction(SIGSEGV, &fault, &previous_segv);
    sigaction(SIGBUS, &fault, &previous_bus);
}

void ctxpar_interrupt_guard_library(const char *library, const char *path) {
    in_library = 0;
    if (!library) return;
    snprintf(library_message, sizeof library_message,
             "ctxpar: rank %d of %d: error: %s crashed reading %s: the file is damaged\n",
             my_rank, my_ranks, library, path);
    in_library = 1;
}

void ctxpar_interrupt_after_failure(int exit_code) { failed_exit_code = exit_code; }

void ctxpar_interrupt_guard_file(const char *path) {
    have_guarded_path = 0;
    if (!path) return;
    snprintf(guarded_path, sizeof guarded_path, "%s", path);
    for (int which = TERM; which <= INT; which++)
        format_message(guarded_message[which], sizeof guarded_message[which], which, path);
    have_guarded_path = 1;
}
