# tests/dump: kernel dump reader, setup-log reader, crash rules (issue 8).
set(dump_dir ${CMAKE_CURRENT_LIST_DIR})

fb_add_check_test(test_dump
  SOURCES ${dump_dir}/test_dump.c ${dump_dir}/dump_writer.c
  LIBS fb_dump)
fb_add_check_test(test_setuplog
  SOURCES ${dump_dir}/test_setuplog.c ${dump_dir}/dump_writer.c
  LIBS fb_text)
fb_add_check_test(test_crash
  SOURCES ${dump_dir}/test_crash.c ${dump_dir}/dump_writer.c
  LIBS fb_rules fb_dump fb_text)

# Fuzz targets, seeded from small files made at build time out of the corpus
# (re-packed triage dumps, log heads) and the synthetic seed case.
if(FLTBLAME_FUZZ)
  add_executable(dump_make_seeds ${dump_dir}/make_seeds.c ${dump_dir}/dump_writer.c)
  target_link_libraries(dump_make_seeds PRIVATE fb_dump fb_common)
  set(dump_seed_dir ${CMAKE_BINARY_DIR}/fuzz/dump-seeds)
  add_custom_command(OUTPUT ${dump_seed_dir}/dump/seed-case-setupmem.dmp
    COMMAND dump_make_seeds ${FLTBLAME_CORPUS} ${dump_seed_dir}
    DEPENDS dump_make_seeds
    COMMENT "fuzz seeds for fuzz_dump and fuzz_setuplog")
  add_custom_target(dump_fuzz_seeds ALL DEPENDS ${dump_seed_dir}/dump/seed-case-setupmem.dmp)
endif()
fb_add_fuzzer(fuzz_dump ${dump_dir}/fuzz_dump.c
  LIBS fb_rules fb_dump
  SEEDS ${CMAKE_BINARY_DIR}/fuzz/dump-seeds/dump)
fb_add_fuzzer(fuzz_setuplog ${dump_dir}/fuzz_setuplog.c
  LIBS fb_rules fb_text
  SEEDS ${CMAKE_BINARY_DIR}/fuzz/dump-seeds/setuplog
        ${FLTBLAME_CORPUS}/logs/setup/shekhar-pbr-setuperr.log)

# Benchmark driver for bench/dump.sh (not a test).
if(FLTBLAME_TESTS)
  add_executable(bench_crash ${dump_dir}/bench_crash.c)
  target_link_libraries(bench_crash PRIVATE fb_rules fb_dump fb_text fb_common)
endif()
