/* GPU discovery (see cuda_device.h): cudaGetDeviceCount fails with
 * cudaErrorInsufficientDriver (35) or cudaErrorNoDevice (100) on a machine
 * without a GPU; that is reported, never treated as success. */
#include <cuda_runtime.h>
#include <stdio.h>

#include "kernels/cuda/cuda_device.h"

extern "C" int ctxpar_cuda_probe(int local_rank, char *why, size_t cap) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        snprintf(why, cap, "no usable GPU (cudaGetDeviceCount: error %d, %s)", (int)err,
                 cudaGetErrorString(err));
        return 0;
    }
    if (count == 0) {
        snprintf(why, cap, "no GPU on this node");
        return 0;
    }
    int device = local_rank % count;
    cudaDeviceProp prop;
    err = cudaGetDeviceProperties(&prop, device);
    if (err != cudaSuccess) {
        snprintf(why, cap, "GPU %d: cudaGetDeviceProperties: %s", device, cudaGetErrorString(err));
        return 0;
    }
    snprintf(why, cap, "GPU %d of %d is %s (sm_%d%d)", device, count, prop.name, prop.major,
             prop.minor);
    return 1;
}
