# EVTX side evidence (developer: ingest).
if(FLTBLAME_TESTS)
  add_executable(evtx_tool ${CMAKE_CURRENT_LIST_DIR}/evtx_tool.c)
  target_link_libraries(evtx_tool PRIVATE fb_evtx)
endif()
fb_add_check_test(test_evtx SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evtx.c LIBS fb_evtx fb_text)
fb_add_fuzzer(fuzz_evtx_map ${CMAKE_CURRENT_LIST_DIR}/fuzz_evtx_map.c LIBS fb_evtx
  SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds)
