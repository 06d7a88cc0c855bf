# Ingest: safe unpacking, typing by content, digests (developer: ingest).
if(FLTBLAME_TESTS)
  add_executable(ingest_tool ${CMAKE_CURRENT_LIST_DIR}/ingest_tool.c)
  target_link_libraries(ingest_tool PRIVATE -Wl,--start-group fb_daemon fb_rules -Wl,--end-group)
endif()
# test_ingest writes archives and digests with libarchive and libcrypto itself:
# it links them (fb_daemon loads them at run time, see daemon/dynlib.h).
fb_add_check_test(test_ingest SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ingest.c
  LIBS -Wl,--start-group fb_daemon fb_rules -Wl,--end-group PkgConfig::LIBARCHIVE PkgConfig::LIBCRYPTO)
fb_add_fuzzer(fuzz_ingest ${CMAKE_CURRENT_LIST_DIR}/fuzz_ingest.c
  LIBS -Wl,--start-group fb_daemon fb_rules -Wl,--end-group
  SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds)
