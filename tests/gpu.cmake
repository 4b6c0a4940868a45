# GPU tests: only when the CUDA backend is built. Without a GPU the program
# prints "skipped: no GPU" and exits 77, which CTest reports as skipped
# (never as passed). With --bench (run by hand, not by CTest) it measures
# attention TFLOP/s; see docs/gpu-kernels.md.
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
endif()
