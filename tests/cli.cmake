# The option table (launch/cli.c) drives parsing and --help; the README's
# option table must list the same options.
add_test(NAME cli_table_check COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/cli/cli_table_check.py
         $<TARGET_FILE:ctxpar> ${CMAKE_SOURCE_DIR}/README.md)
set_tests_properties(cli_table_check PROPERTIES LABELS "unit")
