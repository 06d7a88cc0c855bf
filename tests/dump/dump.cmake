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
