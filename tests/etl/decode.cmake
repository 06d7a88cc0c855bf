# ETL decoding (etl-decode developer): minifilter, kernel payloads, evidence, writer.
fb_add_check_test(test_etl_minifilter
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_etl_minifilter.c
  LIBS fb_etl)
