# EVTX side evidence (developer: ingest).
if(FLTBLAME_TESTS)
  add_executable(evtx_tool ${CMAKE_CURRENT_LIST_DIR}/evtx_tool.c)
  target_link_libraries(evtx_tool PRIVATE fb_evtx)
endif()
