# Attention benchmark: the tiled kernel side by side with OpenBLAS sgemm
# doing the same matrix products; bench/run_attention_bench.sh adds PyTorch.
add_executable(bench_attention ${CMAKE_CURRENT_LIST_DIR}/bench_attention.c)
target_include_directories(bench_attention PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(bench_attention PRIVATE ctxpar_kernels_cpu)
