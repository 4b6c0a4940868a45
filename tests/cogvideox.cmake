# CogVideoX VAE encoder: a float64 reference checked against a second
# formulation, then the ctxpar program on diffusers folders (f32/f16/bf16,
# both GroupNorm framings, 1-5 ranks) and on broken folders and videos.
ctxpar_add_family_tests(cogvideox TIMEOUT 900)
# Every conv forced onto each Winograd tile: AVX-512 CPUs, skipped (77) elsewhere.
add_test(NAME e2e_cogvideox_winograd
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_cogvideox.py --part winograd)
set_tests_properties(e2e_cogvideox_winograd PROPERTIES LABELS "e2e;cogvideox"
                     ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 900)
# --dtype bf16: the convs on the bf16 GEMM, against 2x PyTorch bf16's error.
add_test(NAME e2e_cogvideox_bf16
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_cogvideox.py --part bf16)
set_tests_properties(e2e_cogvideox_bf16 PROPERTIES LABELS "e2e;cogvideox"
                     ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 900)
