# Benchmark mode and the scaling tools end to end: ctxpar --bench on 2 ranks,
# its table and JSON lines, launch/scaling_sweep.sh at 1 and 2 ranks and
# launch/plot_scaling.py (needs gnuplot).
add_test(NAME e2e_bench COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_bench.py)
set_tests_properties(e2e_bench PROPERTIES LABELS "bench;e2e" ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 300)
