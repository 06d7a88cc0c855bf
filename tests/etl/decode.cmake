# ETL decoding (etl-decode developer): minifilter, kernel payloads, evidence, writer.
fb_add_check_test(test_etl_minifilter
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_etl_minifilter.c
  LIBS fb_etl)

# The synthetic trace writer: a library for every test or scenario that needs an ETL.
add_library(fb_etl_writer STATIC ${CMAKE_CURRENT_LIST_DIR}/etl_writer.c)
target_include_directories(fb_etl_writer PUBLIC ${CMAKE_SOURCE_DIR})

# Fuzz target for the payload decoders and the decoder state machine; seeds
# are small synthetic record streams made by tests/etl/make_decode_seeds.sh
# into the build tree, plus the smallest real ETL files (arbitrary bytes to it).
fb_add_fuzzer(fuzz_etl_decode ${CMAKE_CURRENT_LIST_DIR}/fuzz_etl_decode.c
  LIBS fb_etl
  SEEDS ${FLTBLAME_CORPUS}/etl/perfview/smallEtlFile.etl
        ${FLTBLAME_CORPUS}/etl/perfview/SelfDescribingSingleEvent.etl
        ${CMAKE_CURRENT_LIST_DIR}/seeds/decode)

fb_add_check_test(test_etl_decoder
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_etl_decoder.c
  LIBS fb_etl)

fb_add_check_test(test_etl_decode
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_etl_decode.c
  LIBS fb_etl PkgConfig::LIBARCHIVE)
fb_add_check_test(test_etl_writer
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_etl_writer.c
  LIBS fb_etl_writer fb_etl)
fb_add_check_test(test_etl_events
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_etl_events.c
  LIBS -Wl,--start-group fb_daemon fb_rules -Wl,--end-group fb_etl_writer PkgConfig::JANSSON)

# etlw_gen: command-line scenario generator (bench/etl_decode, examples).
if(FLTBLAME_TESTS)
  add_executable(etlw_gen ${CMAKE_CURRENT_LIST_DIR}/etlw_gen.c)
  target_link_libraries(etlw_gen PRIVATE fb_etl_writer)
endif()
