/* Launchers of the CUDA GroupNorm (group_norm.cu): statistics and
 * application, split like ctxpar_cpu_group_moments/_apply so that the
 * runtime can combine every rank's moments (Chan's update, in rank order)
 * between the two. Layout: channel-major, n values of channel ch at
 * x + ch*cstride. */
#pragma once
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "kernels/cpu/kernels_cpu.h" /* ctxpar_moments */
#include "base/status.h"

/* Bytes of device scratch ctxpar_cuda_group_moments needs for c channels of
 * n values. */
size_t ctxpar_cuda_group_moments_scratch_bytes(int64_t c, int64_t n);

/* Per-group moments (count, mean, M2) of x into moments_dev (device memory,
 * `groups` entries); group g covers channels [g*c/groups, (g+1)*c/groups).
 * Deterministic: the same inputs give the same bits on every call (fixed
 * reduction trees and a fixed combine order), although not the same bits as
 * the CPU (both accumulate in double; they agree to ~1e-15 relative). */
ctxpar_status ctxpar_cuda_group_moments(const float *x, int64_t cstride, int64_t c, int64_t n,
                                        int groups, ctxpar_moments *moments_dev, void *scratch_dev,
                                        cudaStream_t stream);

/* y = (x - mean_g) / sqrt(var_g + eps) * weight[ch] + bias[ch], var = M2/count,
 * then SiLU if silu != 0; moments_dev in device memory. y may alias x. */
ctxpar_status ctxpar_cuda_group_norm_apply(float *y, int64_t y_cstride, const float *x,
                                           int64_t x_cstride, int64_t c, int64_t n, int groups,
                                           const ctxpar_moments *moments_dev, const float *weight,
                                           const float *bias, float eps, int silu,
                                           cudaStream_t stream);
#ifdef __cplusplus
}
#endif
