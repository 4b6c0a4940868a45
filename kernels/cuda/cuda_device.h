/* GPU discovery, callable from C whether or not this build has CUDA. A rank
 * picks its GPU by node-local rank (MPI_COMM_TYPE_SHARED), never by one
 * launcher's environment variable. */
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns 1 when a GPU is usable for this node-local rank and describes it in
 * `why`; returns 0 with the reason (no CUDA in this build, no GPU: CUDA error
 * 35/100, ...) otherwise. */
int ctxpar_cuda_probe(int local_rank, char *why, size_t cap);

#ifdef __cplusplus
}
#endif
