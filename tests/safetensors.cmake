# safetensors reader (runtime/formats/safetensors.c, safetensors_f32.c): a good file of
# every supported type and each malformed file, written by the test itself.
ctxpar_add_unit_test(test_safetensors LABELS unit badinput LIBS ctxpar_core)
