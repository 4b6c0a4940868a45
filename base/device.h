/* The devices a run can ask for. It sits below kernels/ and runtime/ because
 * both name it: the backend is selected by it, the run options carry it. */
#pragma once

typedef enum ctxpar_device { CTXPAR_DEVICE_CPU, CTXPAR_DEVICE_CUDA } ctxpar_device;
