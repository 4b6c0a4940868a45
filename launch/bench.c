/* Benchmark mode (see bench.h). */
#include "launch/bench.h"

ctxpar_status ctxpar_command_bench(ctxpar_comm_t comm, const ctxpar_cli *cli, int threads) {
    (void)comm, (void)cli, (void)threads;
    return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--bench is not implemented yet");
}
