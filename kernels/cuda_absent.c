/* Stand-in for kernels/cuda/cuda_device.cu in builds without the CUDA
 * toolkit, so callers need no #ifdef. */
#include <stdio.h>

#include "kernels/cuda/cuda_device.h"

#ifndef CTXPAR_HAVE_CUDA
int ctxpar_cuda_probe(int local_rank, char *why, size_t cap) {
    (void)local_rank;
    snprintf(why, cap,
             "this build has no CUDA backend (the CUDA toolkit was not found at configure "
             "time; rebuild with -DCTXPAR_CUDA=ON)");
    return 0;
}
#endif
