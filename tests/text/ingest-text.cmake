# Side-evidence text parsers: CBS.log, fltmc, setupapi (developer: ingest).
fb_add_check_test(test_ingest_text SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ingest_text.c LIBS fb_text)
fb_add_fuzzer(fuzz_fltmc ${CMAKE_CURRENT_LIST_DIR}/fuzz_fltmc.c LIBS fb_text
  SEEDS ${CMAKE_CURRENT_LIST_DIR}/samples)
fb_add_fuzzer(fuzz_cbs ${CMAKE_CURRENT_LIST_DIR}/fuzz_cbs.c LIBS fb_text
  SEEDS ${CMAKE_CURRENT_LIST_DIR}/samples/cbs-accessdenied.log ${FLTBLAME_CORPUS}/logs/cbs/hofcake-CBS.log)
