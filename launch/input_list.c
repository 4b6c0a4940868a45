/* Many videos (see input_list.h). */
#include "launch/input_list.h"

ctxpar_status ctxpar_command_input_list(ctxpar_comm_t comm, const ctxpar_cli *cli, int threads) {
    (void)comm, (void)cli, (void)threads;
    return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--input-list is not implemented yet");
}
