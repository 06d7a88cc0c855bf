# ETL decoding (etl-decode developer): minifilter, kernel payloads, evidence, writer.
fb_add_check_test(test_etl_minifilter
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_etl_minifilter.c
  LIBS fb_etl)

# The synthetic trace writer: a library for every test or scenario that needs an ETL.
add_library(fb_etl_writer STATIC ${CMAKE_CURRENT_LIST_DIR}/etl_writer.c)
target_include_directories(fb_etl_writer PUBLIC ${CMAKE_SOURCE_DIR})
