# Token merging (kernels/cpu/merge.c, runtime/stages/merge.c): the quadtree and the
# whole merge on one process against a naive reference (tests/merge_reference.h)
# and hand-made videos; then the distributed merge on 1..8 ranks with chains
# crossing every rank boundary, each rank checking its records against the
# single-process reference over all frames.
ctxpar_add_unit_test(test_merge LABELS unit LIBS ctxpar_core)
ctxpar_add_mpi_test(test_merge_mpi RANKS 1 2 3 4 8)

# Not a test: the threshold sweep and timing tool behind docs/merge.md.
add_executable(merge_sweep merge_sweep.c)
target_include_directories(merge_sweep PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(merge_sweep PRIVATE ctxpar_core)
