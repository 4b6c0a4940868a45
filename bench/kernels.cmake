# Convolution benchmark (run by hand or by bench/run_conv_bench.sh; results in
# docs/bench-conv.md). An executable, never a test.
add_executable(bench_conv ${CMAKE_CURRENT_LIST_DIR}/bench_conv.c)
target_link_libraries(bench_conv PRIVATE ctxpar_kernels_cpu)

# The float32 FMA peak, the reference for the conv kernels' "% of peak".
add_executable(fma_peak ${CMAKE_CURRENT_LIST_DIR}/fma_peak.c)
find_package(OpenMP REQUIRED)
target_link_libraries(fma_peak PRIVATE ctxpar_base OpenMP::OpenMP_C)

# Where Winograd starts: direct and both Winograd tiles over channel counts
# and frame sizes (docs/bench-conv.md). An executable, never a test.
add_executable(conv_path_sweep ${CMAKE_CURRENT_LIST_DIR}/conv_path_sweep.c)
target_link_libraries(conv_path_sweep PRIVATE ctxpar_kernels_cpu OpenMP::OpenMP_C)

# The bf16 GEMM against sgemm and the VDPBF16PS peak (docs/bf16.md).
add_executable(bench_gemm_bf16 ${CMAKE_CURRENT_LIST_DIR}/bench_gemm_bf16.c)
target_link_libraries(bench_gemm_bf16 PRIVATE ctxpar_kernels_cpu OpenMP::OpenMP_C)
