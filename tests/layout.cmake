# The layout (docs/architecture.md): no include cycles between modules, each
# room includes only lower rooms, runtime/'s largest room under a third.
add_test(NAME layout_check COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/layout/check_layout.py
         ${CMAKE_SOURCE_DIR})
set_tests_properties(layout_check PROPERTIES LABELS "unit")
