# GPU tests. `ctest -L gpu` always finds test_cuda_kernels, so a build
# without the GPU path can never look like one whose GPU tests passed:
# - CUDA backend built, no GPU: the program prints "skipped: no GPU" and
#   exits 77;
# - no CUDA backend (toolkit not found, or CTXPAR_CUDA=OFF): a stand-in
#   prints "skipped: no CUDA toolkit" with the reason and exits 77.
# SKIP_RETURN_CODE 77 makes CTest report both as "Skipped", never as passed.
# With --bench (run by hand, not by CTest) the program measures attention
# TFLOP/s; see docs/gpu-kernels.md.
if(TARGET ctxpar_kernels_cuda)
  # status.c carries ctxpar_error(), which the CUDA launchers call; compiling
  # it in keeps the test free of MPI and HDF5 (ctxpar_core).
  add_executable(test_cuda_kernels gpu/test_cuda_kernels.cu ${CMAKE_SOURCE_DIR}/base/status.c)
  target_include_directories(test_cuda_kernels PRIVATE ${CMAKE_SOURCE_DIR}
                             ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(test_cuda_kernels PRIVATE ctxpar_kernels_cuda ctxpar_kernels_cpu)
  add_test(NAME test_cuda_kernels COMMAND test_cuda_kernels)
  set_tests_properties(test_cuda_kernels PROPERTIES LABELS "gpu" SKIP_RETURN_CODE 77
                       ENVIRONMENT "${CTXPAR_TEST_ENV}" TIMEOUT 600)
else()
  if(CTXPAR_CUDA STREQUAL "OFF")
    set(why "this build was configured with CTXPAR_CUDA=OFF; reconfigure with -DCTXPAR_CUDA=ON or AUTO on a machine with nvcc")
  else()
    set(why "nvcc or the CUDA toolkit was not found at configure time; see docs/design.md, Environment")
  endif()
  add_test(NAME test_cuda_kernels
           COMMAND /bin/sh -c "echo \"test_cuda_kernels: skipped: no CUDA toolkit ($1)\"; exit 77" sh "${why}")
  set_tests_properties(test_cuda_kernels PROPERTIES LABELS "gpu" SKIP_RETURN_CODE 77)
endif()
