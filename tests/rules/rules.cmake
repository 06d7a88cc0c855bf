# The verdict engine on evidence records, the known-filter database, the
# verdict writers and the JSON schema (owner: rules).
fb_add_check_test(test_rules
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rules.c
  LIBS fb_rules PkgConfig::JANSSON TIMEOUT 60)
