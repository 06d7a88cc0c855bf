# The verdict engine on evidence records, the known-filter database, the
# verdict writers and the JSON schema (owner: rules).
fb_add_check_test(test_rules
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rules.c
  LIBS fb_rules PkgConfig::JANSSON TIMEOUT 60)

# bench/analyze's helper (not a test).
if(FLTBLAME_TESTS AND TARGET fb_pml)
  add_executable(bench_analyze ${CMAKE_CURRENT_LIST_DIR}/bench_analyze.c)
  target_link_libraries(bench_analyze PRIVATE fb_rules fb_pml fb_common)
endif()
