# Daemon tests: the service as a process (stub analyzer), its pieces in
# process, and shell tests for OpenSSH, Chromium and systemd-analyze.
fb_add_check_test(test_daemon_service
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_daemon_service.c ${CMAKE_CURRENT_LIST_DIR}/dtest.c
  LIBS PkgConfig::JANSSON TIMEOUT 240)
if(TARGET test_daemon_service)
  add_dependencies(test_daemon_service fltblame)
endif()

# fb_daemon needs the engine's static libraries resolved in a group.
fb_add_check_test(test_daemon_unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_daemon_unit.c
  LIBS -Wl,--start-group fb_daemon fb_rules -Wl,--end-group PkgConfig::JANSSON)
