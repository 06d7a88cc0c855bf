# ETL reader core (etl developer): bytes -> records, decompressors, stats.
fb_add_check_test(test_etl_core SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_etl_core.c
  LIBS fb_etl PkgConfig::LIBARCHIVE)
fb_add_check_test(test_xca SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_xca.c LIBS fb_etl)
fb_add_fuzzer(fuzz_etl ${CMAKE_CURRENT_LIST_DIR}/fuzz_etl.c LIBS fb_etl
  SEEDS ${FLTBLAME_CORPUS}/etl/perfview/smallEtlFile.etl
        ${FLTBLAME_CORPUS}/etl/perfview/SelfDescribingSingleEvent.etl
        ${FLTBLAME_CORPUS}/etl/airbus-etl-parser/lxcore_kernel.etl
        ${FLTBLAME_CORPUS}/etl/airbus-etl-parser/AMSITrace.etl
        ${FLTBLAME_CORPUS}/etl/tx/HTTP_Server.etl
        ${FLTBLAME_CORPUS}/etl/krabsetw/powershell.etl)
fb_add_fuzzer(fuzz_xca ${CMAKE_CURRENT_LIST_DIR}/fuzz_xca.c LIBS fb_etl
  SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/xca)
