/* Starting and ending a test that uses MPI (on one rank or several): MPI and
 * the communicator, quiet HDF5, and one scratch directory made by rank 0 and
 * shared by all; at the end the directory goes, failures are summed over ranks
 * so every rank exits with the same verdict, and MPI is finalized. */
#pragma once
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "runtime/formats/hdf5_io.h"
#include "test_util.h"

/* tmpdir (cap bytes) receives "/tmp/<name>_XXXXXX" made real; NULL on failure. */
static inline ctxpar_comm_t test_mpi_start(int *argc, char ***argv, const char *name,
                                           char *tmpdir, int cap) {
    MPI_Init(argc, argv);
    ctxpar_hdf5_quiet();
    ctxpar_comm_t comm = NULL;
    if (ctxpar_comm_init(&comm, MPI_COMM_WORLD) != CTXPAR_OK) {
        fprintf(stderr, "%s: comm init: %s\n", name, ctxpar_error_detail());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    tmpdir[0] = '\0';
    if (ctxpar_comm_rank(comm) == 0) {
        snprintf(tmpdir, (size_t)cap, "/tmp/%s_XXXXXX", name);
        if (!mkdtemp(tmpdir)) tmpdir[0] = '\0';
    }
    MPI_Bcast(tmpdir, cap, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (!tmpdir[0]) {
        fprintf(stderr, "%s: mkdtemp failed\n", name);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return comm;
}

static inline int test_mpi_finish(ctxpar_comm_t comm, const char *tmpdir, const char *name) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0 && tmpdir && tmpdir[0]) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    int failures = test_failures;
    MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    ctxpar_comm_free(comm);
    MPI_Finalize();
    if (rank != 0) return failures ? 1 : 0;
    test_failures = failures;
    return test_finish(name);
}
