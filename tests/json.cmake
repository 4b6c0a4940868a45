# JSON reader (runtime/formats/json.c): literals, \u escapes, error labels, large documents.
ctxpar_add_unit_test(test_json LABELS unit badinput LIBS ctxpar_core)
