# Running for real: progress, signals, a killed rank, full and read-only
# disks, and many inputs with resume (Python drivers around mpirun; see e2e.cmake).
foreach(part signals disk) # disk: root only (tmpfs mounts), skipped (77) otherwise
  add_test(NAME e2e_faults_${part}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_faults.py --part ${part})
  set_tests_properties(e2e_faults_${part} PROPERTIES LABELS "fault;e2e"
                       ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 600)
endforeach()
add_test(NAME e2e_input_list COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_input_list.py)
set_tests_properties(e2e_input_list PROPERTIES LABELS "e2e" ENVIRONMENT "${CTXPAR_PY_ENV}"
                     TIMEOUT 600 COST 200)
add_test(NAME e2e_progress COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_progress.py)
set_tests_properties(e2e_progress PROPERTIES LABELS "e2e" ENVIRONMENT "${CTXPAR_PY_ENV}"
                     TIMEOUT 300)
