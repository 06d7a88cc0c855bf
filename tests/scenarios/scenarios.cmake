# 'fltblame analyze' end to end: synthetic uploads built with the project's
# writers and real corpus captures with exact expected findings (owner: rules).
fb_add_check_test(test_scenarios
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_scenarios.c ${CMAKE_SOURCE_DIR}/tests/pml/pml_writer.c
          ${CMAKE_SOURCE_DIR}/tests/dump/dump_writer.c
  LIBS -Wl,--start-group fb_daemon fb_rules -Wl,--end-group PkgConfig::JANSSON TIMEOUT 240)

# The same scenarios as real ETL files from the project's trace writer.
if(TARGET fb_etl_writer)
  fb_add_check_test(test_etl_scenarios
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_etl_scenarios.c
    LIBS -Wl,--start-group fb_daemon fb_rules -Wl,--end-group fb_etl_writer PkgConfig::JANSSON TIMEOUT 120)
endif()

# Procmon captures from the project's PML writer for cases the corpus lacks.
fb_add_check_test(test_pml_scenarios
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pml_scenarios.c ${CMAKE_SOURCE_DIR}/tests/pml/pml_writer.c
  LIBS -Wl,--start-group fb_daemon fb_rules -Wl,--end-group PkgConfig::JANSSON PkgConfig::LIBARCHIVE TIMEOUT 60)
