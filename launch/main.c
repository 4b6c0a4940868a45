/* The ctxpar program: MPI set-up, threads per rank, the subcommands, and the
 * exit status. Only this file exits; everything below returns a status. */
#define _GNU_SOURCE
#include <cblas.h>
#include <malloc.h>
#include <sched.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "ctxpar_version.h"
#include "launch/bench.h"
#include "launch/cli.h"
#include "launch/commands.h"
#include "launch/input_list.h"
#include "launch/json_lines.h"
#include "runtime/core/interrupt.h"
#include "runtime/formats/hdf5_io.h"
#include "runtime/pipeline.h"

/* Threads per rank: cores of the node shared among the node's ranks (the
 * node-local rank count comes from MPI_COMM_TYPE_SHARED, whatever launched us). */
static int default_threads(ctxpar_comm_t comm) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int per_rank = (int)(cores / ctxpar_comm_local_size(comm));
    return per_rank > 0 ? per_rank : 1;
}

/* mpirun binds each rank to one core by default (for up to 2 ranks), so a
 * rank's threads would share that core: say so once, with the fix. */
static void warn_if_bound_below(ctxpar_comm_t comm, int threads, int quiet) {
    cpu_set_t set;
    int cpus = threads;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
    int fewest = cpus;
    MPI_Allreduce(&cpus, &fewest, 1, MPI_INT, MPI_MIN, ctxpar_comm_mpi(comm));
    if (fewest < threads && ctxpar_comm_rank(comm) == 0 && !quiet)
        fprintf(stderr,
                "ctxpar: warning: %d threads per rank but a rank may run on only %d CPU(s) "
                "(the launcher's binding); with mpirun pass --bind-to none or "
                "--map-by slot:PE=%d, with srun --cpus-per-task=%d\n",
                threads, fewest, threads, threads);
}

static int64_t default_mem_limit_mib(ctxpar_comm_t comm) {
    int64_t bytes = (int64_t)sysconf(_SC_PHYS_PAGES) * (int64_t)sysconf(_SC_PAGESIZE);
    return bytes / ctxpar_comm_local_size(comm) / (1024 * 1024);
}

static int report(ctxpar_comm_t comm, ctxpar_status status) {
    if (status == CTXPAR_OK) return 0;
    if (!comm || ctxpar_comm_rank(comm) == 0) {
        fprintf(stderr, "ctxpar: error: %s\n", ctxpar_error_detail());
        fflush(stderr);
    }
    const int rc = status == CTXPAR_ERR_ARGUMENT ? 2 : 1;
    ctxpar_interrupt_after_failure(rc);
    return rc;
}

/* Freed buffers stay in the process for the next allocation. A run allocates
 * and frees the same activation and scratch buffers layer after layer
 * (megabytes each, zeroed by the counting allocator); glibc handed blocks
 * above its mmap threshold back to the OS on free, so every layer paid for
 * fresh pages again: page faults and the kernel's zeroing were a sixth of a
 * V-JEPA 2 ViT-L bf16 run (Zen 5: transformer 3.36 -> 2.83 s with this).
 * Blocks up to 32 MiB (glibc's ceiling for the threshold) now come from the
 * heap, and up to 256 MiB of free heap is kept. The peak resident size is
 * the same (the memory is reused, not added). MALLOC_MMAP_THRESHOLD_ or
 * MALLOC_TRIM_THRESHOLD_ in the environment win. */
static void keep_freed_memory(void) {
#ifdef __GLIBC__
    if (!getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 32 << 20);
    if (!getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

int main(int argc, char **argv) {
    keep_freed_memory();
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    ctxpar_hdf5_quiet();
    ctxpar_comm_t comm = NULL;
    int rc = 0;
    ctxpar_status status = ctxpar_comm_init(&comm, MPI_COMM_WORLD);
    if (status != CTXPAR_OK) {
        rc = report(NULL, status);
        goto out;
    }
    int rank = ctxpar_comm_rank(comm);
    ctxpar_interrupt_install(rank, ctxpar_comm_size(comm));

    ctxpar_cli cli;
    status = ctxpar_cli_parse(argc, argv, &cli);
    if (status != CTXPAR_OK) {
        rc = report(comm, status);
        goto out;
    }
    int threads = cli.run.threads > 0 ? cli.run.threads : default_threads(comm);
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    warn_if_bound_below(comm, threads, cli.run.quiet);

    switch (cli.command) {
    case CTXPAR_CMD_HELP:
        if (rank == 0) ctxpar_cli_print_help();
        break;
    case CTXPAR_CMD_VERSION:
        if (rank == 0) printf("ctxpar %s\n", CTXPAR_VERSION_STRING);
        break;
    case CTXPAR_CMD_INIT_MODEL:
        rc = report(comm, ctxpar_command_init_model(comm, &cli));
        break;
    case CTXPAR_CMD_INSPECT:
        rc = report(comm, ctxpar_command_inspect(comm, &cli));
        break;
    case CTXPAR_CMD_MAKE_VIDEO:
        rc = report(comm, ctxpar_command_make_video(comm, &cli));
        break;
    case CTXPAR_CMD_RUN: {
        if (cli.run.mem_limit_mib == 0) cli.run.mem_limit_mib = default_mem_limit_mib(comm);
        cli.run.node_mem_mib = default_mem_limit_mib(comm) * ctxpar_comm_local_size(comm);
        if (cli.bench) {
            rc = report(comm, ctxpar_command_bench(comm, &cli, threads));
            break;
        }
        if (cli.input_list[0]) {
            rc = report(comm, ctxpar_command_input_list(comm, &cli));
            break;
        }
        ctxpar_run_summary summary;
        ctxpar_json_lines json = {.fd = -1};
        if (rank == 0 && cli.json_path[0]) status = ctxpar_json_lines_open(cli.json_path, &json);
        status = ctxpar_comm_agree(comm, status);
        if (status == CTXPAR_OK) status = ctxpar_pipeline_run(comm, &cli.run, &summary);
        if (status == CTXPAR_OK && rank == 0) {
            summary.threads = threads;
            if (!cli.run.quiet && !summary.dry_run) {
                ctxpar_summary_print(&summary);
                printf("wrote %s\n", cli.run.out_path);
            }
            if (json.fd >= 0) {
                char *line = ctxpar_json_run_line(&cli, &summary);
                status = line ? ctxpar_json_lines_write(&json, line)
                              : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for --json");
                free(line);
            }
        }
        if (rank == 0) ctxpar_json_lines_abandon(&json);
        rc = report(comm, ctxpar_comm_agree(comm, status));
        break;
    }
    }
out:
    ctxpar_comm_free(comm);
    MPI_Finalize();
    return rc;
}
