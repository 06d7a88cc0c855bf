# PML reader, CSV writer, synthetic writer, fuzz target (owner: pml-reader).
set(PML_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PML_SEEDS
  ${FLTBLAME_CORPUS}/pml/win10-1909-x64-cldflt-readfile.pml
  ${FLTBLAME_CORPUS}/pml/win10-22h2-x64-covefs.pml
  ${FLTBLAME_CORPUS}/pml/win7-sp1-x64-createfile-denied.pml)

if(FLTBLAME_TESTS OR FLTBLAME_FUZZ)
  # The synthetic capture builder: the bundled example, fuzz seeds, bench files.
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz/pml-seeds)
  add_executable(pml_synth ${PML_TEST_DIR}/pml_synth.c ${PML_TEST_DIR}/pml_writer.c)
  target_link_libraries(pml_synth PRIVATE fb_pml)
  # bench/pml's in-process timer (not a test).
  add_executable(bench_pml ${PML_TEST_DIR}/bench_pml.c)
  target_link_libraries(bench_pml PRIVATE fb_pml)
  set(seed_outputs ${CMAKE_BINARY_DIR}/fuzz/pml-seeds/example.pml)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/fuzz/pml-seeds/example.pml
    COMMAND pml_synth example ${CMAKE_BINARY_DIR}/fuzz/pml-seeds/example.pml
    DEPENDS pml_synth VERBATIM)
  # Small seeds with every event class: the first 150 events of the mixed and
  # process captures, rewritten with only the processes they use.
  foreach(src win10-1709-x64-mixed win7-sp1-x86-mixed win10-1903-x64-process win7-sp1-x64-profiling)
    if(EXISTS ${FLTBLAME_CORPUS}/pml/${src}.pml)
      set(out ${CMAKE_BINARY_DIR}/fuzz/pml-seeds/${src}-150.pml)
      add_custom_command(OUTPUT ${out}
        COMMAND pml_synth shrink ${FLTBLAME_CORPUS}/pml/${src}.pml ${out} 150
        DEPENDS pml_synth VERBATIM)
      list(APPEND seed_outputs ${out})
    endif()
  endforeach()
  add_custom_target(pml_seeds ALL DEPENDS ${seed_outputs})
endif()

fb_add_check_test(test_pml_reader
  SOURCES ${PML_TEST_DIR}/test_pml_reader.c ${PML_TEST_DIR}/pml_writer.c
  LIBS fb_pml TIMEOUT 120)
fb_add_check_test(test_pml_csv
  SOURCES ${PML_TEST_DIR}/test_pml_csv.c
  LIBS fb_pml ZLIB::ZLIB TIMEOUT 300)

fb_add_fuzzer(fuzz_pml ${PML_TEST_DIR}/fuzz_pml.c LIBS fb_pml
  SEEDS ${PML_SEEDS} ${CMAKE_BINARY_DIR}/fuzz/pml-seeds)
fb_add_check_test(test_pml_cmd
  SOURCES ${PML_TEST_DIR}/test_pml_cmd.c
  LIBS -Wl,--start-group fb_daemon fb_rules -Wl,--end-group TIMEOUT 60)
