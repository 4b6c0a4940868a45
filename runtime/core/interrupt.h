/* Stopping on SIGTERM and SIGINT (Slurm preemption, scancel, Ctrl-C).
 *
 * A rank that gets either signal stops at once, whatever it is doing: the
 * handler removes the output's temporary file (if one is being written),
 * writes one line to stderr and ends the process with 128 + signal (143 for
 * SIGTERM, 130 for SIGINT). The launcher sees a rank end without finalizing
 * and ends the others (mpirun does so by itself; srun with --kill-on-bad-exit,
 * as the templates in launch/slurm/ set), and they, getting SIGTERM, do the
 * same. Nothing waits for a neighbour, so a rank blocked in a collective still
 * stops within milliseconds, and no file that looks finished is left behind:
 * the output only appears at its path by a rename after its last attribute.
 *
 * The handler uses only async-signal-safe calls (unlink, write, _exit); the
 * path and the messages are prepared beforehand. SIGXFSZ is ignored so that a
 * file-size limit shows as a write error with a message, not a silent death.
 * SIGSEGV and SIGBUS get one line too, but only while a library parses a
 * damaged file (ctxpar_interrupt_guard_library); otherwise they go where
 * they went before. */
#pragma once

/* Install the handlers; rank and ranks go into the message. */
void ctxpar_interrupt_install(int rank, int ranks);

/* The temporary file to remove if a signal arrives (NULL: none). */
void ctxpar_interrupt_guard_file(const char *path);
/* The job has failed, every rank knows, and the error line is written:
 * from now on a signal ends the process with exit_code and no line of its
 * own. The launcher ends the other ranks with SIGTERM as soon as the first
 * one exits nonzero, which would otherwise add a second, misleading
 * "stopped by SIGTERM" line to the one error. */
void ctxpar_interrupt_after_failure(int exit_code);
/* Around the calls into a library that parses a file ctxpar did not write
 * (HDF5 1.10 crashes on some damaged files; tests/fuzz found them, h5ls
 * crashes on them too): a SIGSEGV or SIGBUS meanwhile ends the process with
 * one line, "<library> crashed reading <path>: the file is damaged", and
 * exit 1. NULL ends the guard. Outside it the signals go where they went
 * before ctxpar_interrupt_install. */
void ctxpar_interrupt_guard_library(const char *library, const char *path);
