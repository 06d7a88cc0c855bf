/* `fltblame etl FILE --events`: JSON Lines from daemon/etl_events.c over a
 * writer-built trace, parsed back with jansson; filters by kind, pid, path. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/etl_events.h"
#include "tests/etl/etl_writer.h"
#include "tests/testutil.h"

static const char *trace_path(void) {
  static char path[1024];
  struct etlw *w;
  struct etlw_options o = {.cpus = 1};
  struct etlw_ev e = {.cpu = 0, .pid = 1234, .tid = 5678};
  int tm = etlw_driver_find("TmPreFlt.sys");
  struct etlw_flt f = {.file_object = 0xffffe00012340000ULL,
                       .irp = 0xffffe00056780000ULL,
                       .callback_data = 0xffffe0009abc0000ULL,
                       .major_function = -1,
                       .status = 0xC0000022,
                       .layout = -1};

  if (path[0])
    return path;
  snprintf(path, sizeof(path), "%s/events.etl", tu_tmpdir());
  ck_assert_int_eq(etlw_open(&w, path, &o), 0);
  e.ts = etlw_ticks(w, 10);
  etlw_process(w, &e, ETLW_DCSTART, 1234, 700, "TiWorker.exe", "TiWorker.exe -Embedding");
  etlw_thread(w, &e, ETLW_DCSTART, 1234, 5678);
  e.ts = etlw_ticks(w, 100);
  etlw_kernel_rundown(w, &e, ETLW_DCSTART);
  etlw_volume_mapping(w, &e, "\\Device\\HarddiskVolume2\\", "C:\\");
  e.ts = etlw_ticks(w, 1000);
  etlw_file_create(w, &e, f.irp, f.file_object, 5678, 0x01000000, 0, 0,
                   "\\Device\\HarddiskVolume2\\Windows\\SoftwareDistribution\\Download\\更新.cab");
  f.routine = etlw_driver_base(w, (unsigned)tm) + 0x1234;
  e.ts = etlw_ticks(w, 1001);
  etlw_filter_callback(w, &e, ETLW_FLT_PREOP_FAILURE, &f);
  e.ts = etlw_ticks(w, 1002);
  etlw_file_opend(w, &e, f.irp, 0, 0xC0000022);
  ck_assert_int_eq(etlw_close(w), 0);
  return path;
}

/* Run with a filter; returns the parsed lines (a JSON array), summary excluded. */
static json_t *events(const char *filter) {
  struct etl_events_filter flt;
  struct fb_error err;
  char *buf = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&buf, &size);
  json_t *all = json_array();
  char *line, *save = NULL;

  etl_events_filter_init(&flt);
  if (filter)
    ck_assert_int_eq(etl_events_filter_parse(&flt, filter), 0);
  fb_error_init(&err, NULL);
  ck_assert_int_eq(etl_events_print(trace_path(), out, &flt, &err), 0);
  fclose(out);
  for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    ck_assert_msg(o != NULL, "bad JSON line: %s", line);
    if (strcmp(json_string_value(json_object_get(o, "kind")), "summary") == 0)
      json_decref(o);
    else
      json_array_append_new(all, o);
  }
  free(buf);
  return all;
}

static const char *str(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return v ? json_string_value(v) : NULL;
}

START_TEST(file_op_line_has_resolved_fields) {
  json_t *a = events("kind=file_op"), *o;

  ck_assert_uint_eq(json_array_size(a), 1);
  o = json_array_get(a, 0);
  ck_assert_str_eq(str(o, "op"), "create");
  ck_assert_str_eq(str(o, "event"), "FileIo/Create");
  ck_assert_str_eq(str(o, "process"), "TiWorker.exe");
  ck_assert_str_eq(str(o, "path"), "C:\\Windows\\SoftwareDistribution\\Download\\更新.cab");
  ck_assert_str_eq(str(o, "status"), "0xc0000022");
  ck_assert_str_eq(str(o, "time"), "2026-01-05T02:00:00.0010000Z");
  ck_assert_int_eq(json_integer_value(json_object_get(o, "pid")), 1234);
  ck_assert_int_eq(json_integer_value(json_object_get(o, "duration_100ns")), 20);
  json_decref(a);
}
END_TEST

START_TEST(filter_callback_names_its_driver) {
  json_t *a = events("kind=filter_callback"), *o;

  ck_assert_uint_eq(json_array_size(a), 1);
  o = json_array_get(a, 0);
  ck_assert_str_eq(str(o, "phase"), "pre_failed");
  ck_assert_str_eq(str(o, "filter"), "TmPreFlt.sys+0x1234");
  ck_assert_str_eq(str(o, "major"), "IRP_MJ_ACQUIRE_FOR_SECTION_SYNCHRONIZATION");
  ck_assert_int_eq(json_integer_value(json_object_get(o, "major_function")), -1);
  ck_assert_str_eq(str(o, "status"), "0xc0000022");
  json_decref(a);
}
END_TEST

START_TEST(filters_select) {
  json_t *a;

  a = events(NULL); /* process, thread, 8 images, create, callback, filter_info */
  ck_assert_uint_eq(json_array_size(a), 2 + etlw_std_driver_count + 3);
  json_decref(a);
  a = events("kind=filter_info");
  ck_assert_uint_eq(json_array_size(a), 1);
  ck_assert_str_eq(str(json_array_get(a, 0), "name"), "TmPreFlt");
  ck_assert_str_eq(str(json_array_get(a, 0), "source"), "image");
  json_decref(a);
  a = events("path=更新");
  ck_assert_uint_eq(json_array_size(a), 1);
  json_decref(a);
  a = events("pid=1234"); /* process, thread, create, callback */
  ck_assert_uint_eq(json_array_size(a), 4);
  json_decref(a);
  a = events("kind=image");
  ck_assert_uint_eq(json_array_size(a), etlw_std_driver_count);
  json_decref(a);
  {
    struct etl_events_filter f;
    etl_events_filter_init(&f);
    ck_assert_int_eq(etl_events_filter_parse(&f, "pid=abc"), -1);
    ck_assert_int_eq(etl_events_filter_parse(&f, "colour=red"), -1);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("etl_events");
  TCase *tc = tcase_create("json");

  tcase_add_test(tc, file_op_line_has_resolved_fields);
  tcase_add_test(tc, filter_callback_names_its_driver);
  tcase_add_test(tc, filters_select);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
