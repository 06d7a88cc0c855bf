# PML reader, CSV writer, synthetic writer, fuzz target (owner: pml-reader).
set(PML_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})

if(FLTBLAME_TESTS OR FLTBLAME_FUZZ)
  # The synthetic capture builder: the bundled example, fuzz seed, bench file.
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  add_executable(pml_synth ${PML_TEST_DIR}/pml_synth.c ${PML_TEST_DIR}/pml_writer.c)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/fuzz/pml-example.pml
    COMMAND pml_synth example ${CMAKE_BINARY_DIR}/fuzz/pml-example.pml
    DEPENDS pml_synth VERBATIM)
  add_custom_target(pml_example ALL DEPENDS ${CMAKE_BINARY_DIR}/fuzz/pml-example.pml)
endif()

fb_add_check_test(test_pml_reader
  SOURCES ${PML_TEST_DIR}/test_pml_reader.c ${PML_TEST_DIR}/pml_writer.c
  LIBS fb_pml TIMEOUT 120)
fb_add_check_test(test_pml_csv
  SOURCES ${PML_TEST_DIR}/test_pml_csv.c
  LIBS fb_pml ZLIB::ZLIB TIMEOUT 300)

fb_add_fuzzer(fuzz_pml ${PML_TEST_DIR}/fuzz_pml.c LIBS fb_pml
  SEEDS ${FLTBLAME_CORPUS}/pml/win10-1909-x64-cldflt-readfile.pml
        ${FLTBLAME_CORPUS}/pml/win10-22h2-x64-covefs.pml
        ${FLTBLAME_CORPUS}/pml/win7-sp1-x64-createfile-denied.pml
        ${CMAKE_BINARY_DIR}/fuzz/pml-example.pml)
