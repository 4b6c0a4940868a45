/* Ending a multi-rank test: remove its scratch directory (rank 0), sum the
 * failures over ranks so every rank exits with the same verdict, release the
 * communicator and finalize MPI. */
#pragma once
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "test_util.h"

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
