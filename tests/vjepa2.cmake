# V-JEPA 2 video encoder: a float64 reference checked against a second
# formulation (and against standard RoPE, which must differ), then the ctxpar
# program on transformers folders (f32/bf16, plain and classification layouts,
# 1-8 ranks, --layer, merging) and on broken folders, videos and options.
add_test(NAME vjepa2_reference_selfcheck
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/vjepa2/selfcheck.py)
set_tests_properties(vjepa2_reference_selfcheck PROPERTIES LABELS "unit;vjepa2"
                     ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 300)
add_test(NAME e2e_vjepa2 COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_vjepa2.py)
set_tests_properties(e2e_vjepa2 PROPERTIES LABELS "e2e;vjepa2" ENVIRONMENT "${CTXPAR_PY_ENV}"
                     TIMEOUT 600)
add_test(NAME e2e_vjepa2_badinput
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_vjepa2_badinput.py)
set_tests_properties(e2e_vjepa2_badinput PROPERTIES LABELS "badinput;e2e;vjepa2"
                     ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 600)
