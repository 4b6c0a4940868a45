add_executable(bench_ring ${CMAKE_CURRENT_SOURCE_DIR}/bench_ring.c)
target_link_libraries(bench_ring PRIVATE ctxpar_core)
