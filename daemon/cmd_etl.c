/* cmd_etl.c - 'fltblame etl FILE --stats | --events [--filter ...]'.
 *
 * --stats is the reader's own view of a trace: header facts and record counts
 * (by header kind and identity, counted like corpus/etl/MANIFEST.md: every
 * record, the logfile header record included) and the problems met.
 *
 * --events/--filter belong to the decoder (etl-decode): it provides
 *   daemon/etl_events.h:  int etl_print_events(const char *path, int argc, char **argv);
 * (argv = the options after FILE; returns an FB_EXIT_* status). Once that
 * header exists it is used; until then --events says it is not available.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/commands.h"
#include "parsers/etl/etl.h"
#include "parsers/etl/etl_stats.h"

#if defined(__has_include)
#if __has_include("daemon/etl_events.h")
#include "daemon/etl_events.h"
#define HAVE_ETL_EVENTS 1
#endif
#endif

static void usage(FILE *f) {
  fprintf(f, "usage: fltblame etl FILE --stats [--file-order]\n"
             "       fltblame etl FILE --events [--filter ...]\n"
             "\n"
             "  --stats       JSON: header facts, record counts by kind and identity, problems\n"
             "  --file-order  read buffers in file order instead of merging processors by time\n"
             "  --events      one JSON object per decoded event (see etl-decode)\n");
}

/* FILETIME -> "2020-07-29T00:07:00.6236160Z" */
static void filetime_iso(uint64_t ft, char *out, size_t n) {
  const uint64_t epoch_diff = 116444736000000000ull; /* 1601 -> 1970 in 100 ns */
  if (ft < epoch_diff) {
    snprintf(out, n, "%s", "");
    return;
  }
  uint64_t t = ft - epoch_diff;
  time_t secs = (time_t)(t / 10000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%07uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(t % 10000000));
}

static const char *compression_name(unsigned c) {
  switch (c) {
  case ETL_COMPRESSION_NONE: return "none";
  case ETL_COMPRESSION_LZNT1: return "LZNT1";
  case ETL_COMPRESSION_XPRESS: return "XPRESS";
  case ETL_COMPRESSION_XPRESS_HUFF: return "XPRESS_HUFF";
  default: return "unknown";
  }
}

static json_t *header_json(const struct etl_logfile *lf) {
  char buf[64], mode[16], start[64], end[64], boot[64];

  filetime_iso(lf->start_time, start, sizeof(start));
  filetime_iso(lf->end_time, end, sizeof(end));
  filetime_iso(lf->boot_time, boot, sizeof(boot));
  snprintf(mode, sizeof(mode), "0x%08x", lf->log_file_mode);
  snprintf(buf, sizeof(buf), "%u.%u.%u.%u", lf->os_major, lf->os_minor, lf->layout_major, lf->layout_minor);
  return json_pack(
      "{s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:s,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,"
      "s:s,s:s,s:i,s:s,s:s,s:I,s:I}",
      "build", (json_int_t)lf->build, "version", buf, "version_raw", (json_int_t)lf->version, "pointer_size",
      (json_int_t)lf->pointer_size, "cpus", (json_int_t)lf->cpus, "cpu_mhz", (json_int_t)lf->cpu_mhz,
      "clock_type", (json_int_t)lf->clock_type, "perf_freq", (json_int_t)lf->perf_freq, "header_timestamp",
      (json_int_t)lf->header_timestamp, "start_time", (json_int_t)lf->start_time, "start", start, "end_time",
      (json_int_t)lf->end_time, "end", end, "boot_time", (json_int_t)lf->boot_time, "boot", boot,
      "buffer_size", (json_int_t)lf->buffer_size, "buffers_written", (json_int_t)lf->buffers_written,
      "buffers_in_file", (json_int_t)lf->buffers_in_file, "buffers_compressed",
      (json_int_t)lf->buffers_compressed, "events_lost", (json_int_t)lf->events_lost, "buffers_lost",
      (json_int_t)lf->buffers_lost, "log_file_mode", mode, "logger_name", lf->logger_name, "tz_bias",
      (int)lf->tz_bias, "log_file_name", lf->log_file_name, "compression", compression_name(lf->compression),
      "max_file_size", (json_int_t)lf->max_file_size, "file_size", (json_int_t)lf->file_size);
}

static json_t *counts_json(const struct etl_stats *st) {
  json_t *kinds = json_object(), *kernel = json_array(), *classic = json_array(), *events = json_array(),
         *wpp = json_array(), *ext = json_object();
  size_t n = 0;
  struct etl_stats_entry *e = etl_stats_sorted(st, &n);
  char g[37];

  for (int k = 0; k < ETL_KIND_COUNT; k++)
    if (st->by_kind[k])
      json_object_set_new(kinds, etl_kind_name((enum etl_kind)k), json_integer((json_int_t)st->by_kind[k]));
  for (size_t i = 0; e && i < n; i++) {
    etl_guid_format(&e[i].guid, g);
    if (e[i].family == ETL_STATS_KERNEL) {
      const char *name = etl_group_name(e[i].group);
      json_array_append_new(kernel,
                            json_pack("{s:i,s:s,s:i,s:I}", "group", e[i].group, "name", name ? name : "",
                                      "opcode", e[i].code, "count", (json_int_t)e[i].count));
    } else if (e[i].family == ETL_STATS_CLASSIC) {
      json_array_append_new(classic, json_pack("{s:s,s:i,s:I}", "guid", g, "opcode", e[i].code, "count",
                                               (json_int_t)e[i].count));
    } else if (e[i].family == ETL_STATS_EVENT) {
      json_array_append_new(events, json_pack("{s:s,s:i,s:I}", "provider", g, "id", e[i].code, "count",
                                              (json_int_t)e[i].count));
    } else {
      json_array_append_new(
          wpp, json_pack("{s:s,s:i,s:I}", "guid", g, "message", e[i].code, "count", (json_int_t)e[i].count));
    }
  }
  free(e);
  for (unsigned t = 0; t < 16; t++)
    if (st->ext_by_type[t])
      json_object_set_new(ext, t < 15 ? etl_ext_type_name((uint16_t)t) : "OTHER",
                          json_integer((json_int_t)st->ext_by_type[t]));
  return json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "total", (json_int_t)st->total, "bytes",
                   (json_int_t)st->bytes, "by_kind", kinds, "kernel", kernel, "classic", classic, "events",
                   events, "wpp", wpp, "ext_items", ext, "out_of_order", (json_int_t)st->out_of_order);
}

static const char *problem_kind_name(enum etl_problem_kind k) {
  switch (k) {
  case ETL_PROBLEM_BUFFER_HEADER: return "buffer_header";
  case ETL_PROBLEM_TRUNCATED: return "truncated";
  case ETL_PROBLEM_DECOMPRESS: return "decompress";
  case ETL_PROBLEM_RECORD: return "record";
  case ETL_PROBLEM_EXT_DATA: return "ext_data";
  case ETL_PROBLEM_LOST: return "lost";
  case ETL_PROBLEM_TRAILING: return "trailing";
  default: return "other";
  }
}

static int etl_stats_cmd(const char *path, enum etl_order order) {
  struct etl_reader *r = NULL;
  struct etl_reader_options opts = {.order = order};
  struct fb_error err;
  struct etl_record rec;
  struct etl_stats st;
  char msg[1200], first[64], last[64];
  int rc;

  fb_error_init(&err, path);
  rc = etl_reader_open_file(&r, path, &opts, &err);
  if (rc < 0) {
    fprintf(stderr, "fltblame etl: %s\n", fb_error_format(&err, msg, sizeof(msg)));
    return FB_EXIT_INPUT;
  }
  etl_stats_init(&st);
  while ((rc = etl_reader_next(r, &rec, &err)) == 1)
    etl_stats_add(&st, &rec);
  if (rc < 0) {
    fprintf(stderr, "fltblame etl: %s\n", fb_error_format(&err, msg, sizeof(msg)));
    etl_stats_free(&st);
    etl_reader_close(r);
    return FB_EXIT_INTERNAL;
  }
  const struct etl_logfile *lf = etl_reader_logfile(r);
  json_t *problems = json_array();
  for (size_t i = 0; i < etl_reader_problem_count(r); i++) {
    const struct etl_problem *p = etl_reader_problem(r, i);
    json_array_append_new(problems, json_pack("{s:s,s:I,s:s}", "kind", problem_kind_name(p->kind), "offset",
                                              (json_int_t)p->offset, "message", p->msg));
  }
  filetime_iso(etl_time_from_raw(lf, st.first_ts), first, sizeof(first));
  filetime_iso(etl_time_from_raw(lf, st.last_ts), last, sizeof(last));
  json_t *root = json_pack("{s:s,s:o,s:o,s:s,s:s,s:o,s:I}", "file", path, "header", header_json(lf),
                           "records", counts_json(&st), "first_record", first, "last_record", last,
                           "problems", problems, "problems_total", (json_int_t)etl_reader_problems_total(r));
  json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  fputc('\n', stdout);
  json_decref(root);
  int status = etl_reader_problems_total(r) > 0 || st.oom ? FB_EXIT_INPUT : FB_EXIT_OK;
  etl_stats_free(&st);
  etl_reader_close(r);
  return status;
}

int cmd_etl(int argc, char **argv) {
  const char *path = NULL;
  int stats = 0, events = 0;
  enum etl_order order = ETL_ORDER_TIME;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return FB_EXIT_OK;
    } else if (!strcmp(argv[i], "--stats")) {
      stats = 1;
    } else if (!strcmp(argv[i], "--file-order")) {
      order = ETL_ORDER_FILE;
    } else if (!strcmp(argv[i], "--events")) {
      events = 1;
    } else if (argv[i][0] != '-' && path == NULL) {
      path = argv[i];
    } else if (!events) {
      fprintf(stderr, "fltblame etl: unknown option %s\n", argv[i]);
      usage(stderr);
      return FB_EXIT_USAGE;
    }
  }
  if (path == NULL || stats == events) {
    usage(stderr);
    return FB_EXIT_USAGE;
  }
  if (stats)
    return etl_stats_cmd(path, order);
#ifdef HAVE_ETL_EVENTS
  {
    /* hand over every argument after the file name */
    int i = 1;
    while (i < argc && argv[i] != path)
      i++;
    return etl_print_events(path, argc - i - 1, argv + i + 1);
  }
#else
  fprintf(stderr, "fltblame etl: --events is not available in this build (the ETL decoder has not landed)\n");
  return FB_EXIT_USAGE;
#endif
}
