# Run-time loading of libarchive, libcrypto and libsystemd (daemon/dynlib.h):
# missing libraries are errors, not crashes. Links none of the three itself.
fb_add_check_test(test_dynlib SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dynlib.c
  LIBS -Wl,--start-group fb_daemon fb_rules -Wl,--end-group TIMEOUT 60)
