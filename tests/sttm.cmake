# STTM's merge rule (--merge sttm): the program against tests/sttm/reference.py
# on a Qwen2-VL tower's features at 1-5 ranks, and that reference against
# STTM's own code where a checkout and torch >= 2.0 are at hand (skipped,
# exit 77, elsewhere: docs/merge-sttm.md).
add_test(NAME e2e_sttm COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e_sttm.py)
set_tests_properties(e2e_sttm PROPERTIES LABELS "e2e;sttm;qwen2_vl"
                     ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 600)
add_test(NAME sttm_reference_check
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/sttm/check_reference.py)
set_tests_properties(sttm_reference_check PROPERTIES LABELS "unit;sttm"
                     ENVIRONMENT "${CTXPAR_PY_ENV}" TIMEOUT 300)
