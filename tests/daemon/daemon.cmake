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

# Shell tests: exit 77 = skipped (a tool is missing; .ci/packages installs them).
if(FLTBLAME_TESTS)
  add_test(NAME daemon_sftp_upload
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/sftp_upload.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  add_test(NAME daemon_report_render
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/report_render.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  add_test(NAME daemon_systemd_verify
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/systemd_verify.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  set_tests_properties(daemon_sftp_upload daemon_report_render daemon_systemd_verify
    PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 240)
endif()
