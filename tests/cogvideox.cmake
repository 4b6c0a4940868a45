# CogVideoX VAE encoder: a float64 reference checked against a second
# formulation, then the ctxpar program on diffusers folders (f32/f16/bf16,
# both GroupNorm framings, 1-5 ranks) and on broken folders and videos.
add_test(NAME cogvideox_reference_selfcheck
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/cogvideox/selfcheck.py)
set_tests_properties(cogvideox_reference_selfcheck PROPERTIES LABELS "unit;cogvideox"
                     ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 300)
add_test(NAME e2e_cogvideox COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_cogvideox.py)
set_tests_properties(e2e_cogvideox PROPERTIES LABELS "e2e;cogvideox" ENVIRONMENT "${CTXPAR_PY_ENV}"
                     TIMEOUT 900)
# Every conv forced onto each Winograd tile: AVX-512 CPUs, skipped (77) elsewhere.
add_test(NAME e2e_cogvideox_winograd
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_cogvideox.py --part winograd)
set_tests_properties(e2e_cogvideox_winograd PROPERTIES LABELS "e2e;cogvideox"
                     ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 900)
add_test(NAME e2e_cogvideox_badinput
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_cogvideox_badinput.py)
set_tests_properties(e2e_cogvideox_badinput PROPERTIES LABELS "badinput;e2e;cogvideox"
                     ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 900)
