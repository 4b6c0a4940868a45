# Hostile input (docs/hostile-input.md). Each fuzz target in tests/fuzz/
# builds twice: fuzz_replay_<target> in every build runs the kept corpus
# (tests/fuzz/corpus/<target>) and every crasher once found
# (tests/fuzz/crashers/<target>) as regression inputs; in the clang
# sanitizer build, fuzz_<target> is the libFuzzer binary, and the fuzz-label
# entries run each for a bounded time (CTXPAR_FUZZ_SECONDS, default 12).
set(CTXPAR_FUZZ_TARGETS safetensors safetensors_index json_config model_folder hdf5 video)
set(CTXPAR_FUZZ_SECONDS 12 CACHE STRING "Seconds each fuzz-label test fuzzes its target")
set(CTXPAR_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)

foreach(target ${CTXPAR_FUZZ_TARGETS})
  set(inputs ${CTXPAR_FUZZ_DIR}/corpus/${target})
  if(EXISTS ${CTXPAR_FUZZ_DIR}/crashers/${target})
    list(APPEND inputs ${CTXPAR_FUZZ_DIR}/crashers/${target})
  endif()
  add_executable(fuzz_replay_${target} fuzz/fuzz_${target}.c fuzz/replay_main.c)
  target_link_libraries(fuzz_replay_${target} PRIVATE ctxpar_core)
  add_test(NAME fuzz_replay_${target} COMMAND fuzz_replay_${target} ${inputs})
  set_tests_properties(fuzz_replay_${target} PROPERTIES LABELS "unit;badinput"
                       ENVIRONMENT "${CTXPAR_UNIT_ENV}" TIMEOUT 300)
  if(CTXPAR_FUZZ)
    add_executable(fuzz_${target} fuzz/fuzz_${target}.c)
    target_link_libraries(fuzz_${target} PRIVATE ctxpar_core)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    add_test(NAME fuzz_${target}
             COMMAND bash ${CTXPAR_FUZZ_DIR}/run_fuzz.sh $<TARGET_FILE:fuzz_${target}>
                     ${CTXPAR_FUZZ_SECONDS} ${CMAKE_CURRENT_BINARY_DIR}/fuzz-work/${target}
                     ${inputs})
    set_tests_properties(fuzz_${target} PROPERTIES LABELS "fuzz;badinput"
                         ENVIRONMENT "${CTXPAR_UNIT_ENV}" TIMEOUT 300)
  endif()
endforeach()
