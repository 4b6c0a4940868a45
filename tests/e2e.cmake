# End-to-end tests: the ctxpar program under mpirun, checked by Python
# (h5py, numpy, torch from Debian) against single-rank runs and a naive reference.
foreach(t e2e_invariance e2e_reference)
  add_test(NAME ${t} COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/${t}.py)
  set_tests_properties(${t} PROPERTIES LABELS "e2e;mpi" ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 900)
endforeach()
add_test(NAME e2e_badinput COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_badinput.py)
set_tests_properties(e2e_badinput PROPERTIES LABELS "badinput;e2e" ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 900)
add_test(NAME e2e_weights_shared COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_weights_shared.py)
set_tests_properties(e2e_weights_shared PROPERTIES LABELS "e2e;mpi" ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 300)
add_test(NAME e2e_family_video_defaults COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_family_video_defaults.py)
set_tests_properties(e2e_family_video_defaults PROPERTIES LABELS "e2e;video;vjepa2" ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 300)
