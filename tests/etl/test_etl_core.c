/* test_etl_core.c - the ETL reader on every corpus trace: header facts and
 * record counts equal to corpus/etl/MANIFEST.md, time order, the 32-bit and
 * compressed traces, extended data, and damaged copies made at run time.
 * Traces kept inside zip/7z are extracted into tu_tmpdir() with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parsers/bytes.h"
#include "parsers/etl/etl.h"
#include "parsers/etl/etl_stats.h"
#include "tests/testutil.h"

#define KERNEL_FILE "edd08927-9cc4-4e65-b970-c2560fb5c289"
#define DOTNET_RUNDOWN "a669021c-c450-4609-a035-5af59af4df18"
#define IMAGE_ID "b3e675d7-2554-4f18-830b-2762732560de"
#define SYSCONFIG "9b79ee91-b5fd-41c0-a243-4248e266e9d0"
#define HTTP_SERVICE "dd5ef90a-6398-47a4-ad34-4dcecdef795f"
#define KERNEL_PROCESS "22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716"
#define CSHARP_TL "a214eced-be64-5e23-fac1-1d7b9052efa4"

/* Extract the entry of archive rel (a corpus path) whose name ends with
 * suffix (either separator) into the scratch directory; returns its path. */
static const char *extract(const char *rel, const char *suffix) {
  static char paths[8][4096];
  static int next;
  char *out = paths[next++ % 8];
  struct archive *a = archive_read_new();
  struct archive_entry *e;
  int found = 0;

  archive_read_support_format_all(a);
  archive_read_support_filter_all(a);
  ck_assert_int_eq(archive_read_open_filename(a, tu_corpus(rel), 1 << 16), ARCHIVE_OK);
  while (!found && archive_read_next_header(a, &e) == ARCHIVE_OK) {
    const char *name = archive_entry_pathname(e);
    size_t n = strlen(name), m = strlen(suffix);
    if (n < m || strcmp(name + n - m, suffix) != 0 ||
        (n > m && name[n - m - 1] != '/' && name[n - m - 1] != '\\'))
      continue;
    snprintf(out, 4096, "%s/%d-%s", tu_tmpdir(), next, suffix);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(archive_read_data_into_fd(a, fd), ARCHIVE_OK);
    close(fd);
    found = 1;
  }
  archive_read_free(a);
  ck_assert_msg(found, "%s has no entry %s", rel, suffix);
  return out;
}

struct scan {
  struct etl_logfile lf;
  struct etl_stats st;
  size_t problems;
  char first_problem[256];
  uint64_t decreasing; /* records earlier than the one before */
};

/* Read every record of a file (or memory) in the given order. */
static void scan_view(const struct fb_view *view, enum etl_order order, struct scan *sc) {
  struct etl_reader *r;
  struct etl_reader_options opts = {.order = order};
  struct fb_error err;
  struct etl_record rec;
  int rc;

  memset(sc, 0, sizeof(*sc));
  fb_error_init(&err, NULL);
  rc = etl_reader_open(&r, view, "test", &opts, &err);
  ck_assert_msg(rc == 0, "open: %s", err.msg);
  etl_stats_init(&sc->st);
  while ((rc = etl_reader_next(r, &rec, &err)) == 1)
    etl_stats_add(&sc->st, &rec);
  ck_assert_int_eq(rc, 0);
  sc->lf = *etl_reader_logfile(r);
  sc->problems = etl_reader_problems_total(r);
  if (etl_reader_problem_count(r))
    snprintf(sc->first_problem, sizeof(sc->first_problem), "%s", etl_reader_problem(r, 0)->msg);
  sc->decreasing = sc->st.out_of_order;
  etl_reader_close(r);
}

static void scan_file(const char *path, struct scan *sc) {
  struct fb_view view;
  struct fb_error err;
  fb_error_init(&err, path);
  ck_assert_int_eq(fb_view_open(&view, path, &err), 0);
  scan_view(&view, ETL_ORDER_TIME, sc);
  fb_view_close(&view);
  ck_assert_msg(sc->problems == 0, "%s: %s", path, sc->first_problem);
  ck_assert_uint_eq(sc->decreasing, 0); /* one time-ordered stream */
}

#define KIND(sc, k) ((sc)->st.by_kind[ETL_KIND_##k])

/* --- compressed, x64 OS: net.4.5.2.x64 (MANIFEST 1.1) -------------------------- */
START_TEST(net452_x64) {
  struct scan sc;
  scan_file(tu_corpus("etl/perfview/net.4.5.2.x64.etl"), &sc);
  /* baseline header line */
  ck_assert_uint_eq(sc.lf.buffer_size, 65536);
  ck_assert_uint_eq(sc.lf.version, 131590);
  ck_assert_uint_eq(sc.lf.build, 9200);
  ck_assert_uint_eq(sc.lf.cpus, 8);
  ck_assert_uint_eq(sc.lf.max_file_size, 500);
  ck_assert_uint_eq(sc.lf.log_file_mode, 67174401);
  ck_assert_uint_eq(sc.lf.buffers_written, 360);
  ck_assert_uint_eq(sc.lf.buffers_in_file, 360);
  ck_assert_uint_eq(sc.lf.buffers_compressed, 359);
  ck_assert_uint_eq(sc.lf.pointer_size, 8);
  ck_assert_uint_eq(sc.lf.events_lost, 0);
  ck_assert_uint_eq(sc.lf.cpu_mhz, 3592);
  ck_assert_uint_eq(sc.lf.perf_freq, 10000000);
  ck_assert_uint_eq(sc.lf.clock_type, 1);
  ck_assert_uint_eq(sc.lf.buffers_lost, 0);
  ck_assert_str_eq(sc.lf.logger_name, "Relogger");
  ck_assert_str_eq(sc.lf.log_file_name, "[multiple files]");
  ck_assert_int_eq(sc.lf.tz_bias, 480);
  ck_assert_uint_eq(sc.lf.compression, ETL_COMPRESSION_XPRESS);
  /* start 2020-07-29T00:07:00.623616Z, end 00:07:10.693592Z (FILETIME, 100 ns) */
  ck_assert_uint_eq(sc.lf.start_time / 10, 132404548206236167ull / 10);
  ck_assert_uint_eq(sc.lf.end_time / 10, 132404548306935923ull / 10);
  /* 179 474 records by kind */
  ck_assert_uint_eq(sc.st.total, 179474);
  ck_assert_uint_eq(KIND(&sc, SYSTEM64), 3189);
  ck_assert_uint_eq(KIND(&sc, PERFINFO64), 100157);
  ck_assert_uint_eq(KIND(&sc, FULL64), 7956);
  ck_assert_uint_eq(KIND(&sc, FULL32), 27);
  ck_assert_uint_eq(KIND(&sc, EVENT64), 34765);
  ck_assert_uint_eq(KIND(&sc, EVENT32), 33378);
  ck_assert_uint_eq(KIND(&sc, SYSTEM32), 2);
  /* kernel raw counts */
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 1), 1);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 2), 1);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 3), 32);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 4), 32);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 39), 2);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 10), 35); /* Image Load */
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 20, 2), 32);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 20, 3), 1763);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 20, 4), 1766);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 5, 1), 9);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 5, 2), 15);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 5, 3), 670);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 5, 4), 664);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 1, 10), 1208);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 1, 12), 1208);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 1, 11), 21);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 1, 13), 21);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 4, 32), 16);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 4, 35), 14);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 4, 36), 3054);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 15, 46), 79528);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 24, 32), 252);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 24, 35), 1909);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 24, 36), 1012);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 24, 37), 2061);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 24, 38), 7046);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 2, 32), 153);  /* HardFault */
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 11, 15), 157); /* SystemConfig Services */
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 11, 22), 78);  /* PnP */
  /* classic KernelTraceControl and SysConfig */
  ck_assert_uint_eq(etl_stats_classic(&sc.st, IMAGE_ID, 0), 3590);
  ck_assert_uint_eq(etl_stats_classic(&sc.st, IMAGE_ID, 36), 3534);
  ck_assert_uint_eq(etl_stats_classic(&sc.st, IMAGE_ID, 37), 44);
  ck_assert_uint_eq(etl_stats_classic(&sc.st, IMAGE_ID, 64), 705);
  ck_assert_uint_eq(etl_stats_classic(&sc.st, SYSCONFIG, 35), 9);
  /* manifest providers */
  ck_assert_uint_eq(etl_stats_event(&sc.st, KERNEL_FILE, 12), 562);
  ck_assert_uint_eq(etl_stats_guid_total(&sc.st, KERNEL_FILE), 562);
  ck_assert_uint_eq(etl_stats_guid_total(&sc.st, DOTNET_RUNDOWN), 33011);
  ck_assert_uint_eq(etl_stats_guid_total(&sc.st, "e13c0d23-ccbc-4e12-931b-d9cc2eee27e4"), 32730);
  ck_assert_uint_eq(etl_stats_event(&sc.st, KERNEL_PROCESS, 1), 1);
  ck_assert_uint_eq(etl_stats_event(&sc.st, KERNEL_PROCESS, 2), 1);
  ck_assert_uint_eq(sc.st.ext_by_type[ETL_EXT_STACK_TRACE64], 655);
  ck_assert_uint_eq(sc.st.ext_by_type[ETL_EXT_RELATED_ACTIVITYID], 3);
  etl_stats_free(&sc.st);
}
END_TEST

/* The same file in file order gives the same counts (the merge loses nothing). */
START_TEST(file_order_same_counts) {
  struct fb_view view;
  struct fb_error err;
  struct scan a, b;
  ck_assert_int_eq(fb_view_open(&view, tu_corpus("etl/perfview/net.4.5.2.x86.etl"), &err), 0);
  scan_view(&view, ETL_ORDER_TIME, &a);
  scan_view(&view, ETL_ORDER_FILE, &b);
  fb_view_close(&view);
  ck_assert_uint_eq(a.st.total, 168298);
  ck_assert_uint_eq(b.st.total, 168298);
  ck_assert_uint_eq(a.st.bytes, b.st.bytes);
  ck_assert_uint_eq(a.decreasing, 0);
  ck_assert_uint_gt(b.decreasing, 0); /* buffers are not stored in time order */
  for (int k = 0; k < ETL_KIND_COUNT; k++)
    ck_assert_uint_eq(a.st.by_kind[k], b.st.by_kind[k]);
  /* MANIFEST 1.2 */
  ck_assert_uint_eq(KIND(&a, PERFINFO64), 115091);
  ck_assert_uint_eq(KIND(&a, EVENT32), 39425);
  ck_assert_uint_eq(KIND(&a, FULL64), 8162);
  ck_assert_uint_eq(KIND(&a, SYSTEM64), 4472);
  ck_assert_uint_eq(KIND(&a, EVENT64), 1073);
  ck_assert_uint_eq(KIND(&a, FULL32), 73);
  ck_assert_uint_eq(KIND(&a, SYSTEM32), 2);
  ck_assert_uint_eq(a.lf.buffers_in_file, 276);
  ck_assert_uint_eq(a.lf.buffers_compressed, 275);
  ck_assert_uint_eq(etl_stats_event(&a.st, KERNEL_FILE, 12), 968);
  ck_assert_uint_eq(a.st.ext_by_type[ETL_EXT_STACK_TRACE64], 1070);
  ck_assert_uint_eq(etl_stats_kernel(&a.st, 24, 38), 8532);
  ck_assert_uint_eq(etl_stats_kernel(&a.st, 15, 46), 88809);
  ck_assert_uint_eq(etl_stats_kernel(&a.st, 4, 36), 2917);
  etl_stats_free(&a.st);
  etl_stats_free(&b.st);
}
END_TEST

/* --- 32-bit: smallEtlFile (MANIFEST 1.6) ---------------------------------------- */
START_TEST(small_32bit) {
  struct etl_reader *r;
  struct etl_record rec;
  struct fb_error err;
  const struct etl_logfile *lf;

  ck_assert_int_eq(etl_reader_open_file(&r, tu_corpus("etl/perfview/smallEtlFile.etl"), NULL, &err), 0);
  lf = etl_reader_logfile(r);
  ck_assert_uint_eq(lf->pointer_size, 4);
  ck_assert_uint_eq(lf->build, 10586);
  ck_assert_uint_eq(lf->cpus, 4);
  ck_assert_uint_eq(lf->perf_freq, 3117777);
  ck_assert_uint_eq(lf->log_file_mode, 0x04011001);
  ck_assert_str_eq(lf->logger_name, "PerfWatsonGCHeapETLSession688");
  ck_assert_str_eq(lf->log_file_name, "ReloggedFile.ETL");
  ck_assert_uint_eq(lf->buffers_in_file, 2);
  ck_assert_uint_eq(lf->buffers_compressed, 1);
  /* the logfile header record: SYSTEM32, group 0 type 0 */
  ck_assert_int_eq(etl_reader_next(r, &rec, &err), 1);
  ck_assert_int_eq(rec.kind, ETL_KIND_SYSTEM32);
  ck_assert_uint_eq(rec.ptr_size, 4);
  ck_assert_uint_eq(rec.hook_id, 0);
  ck_assert_uint_eq(rec.payload_size >= 272, 1);
  ck_assert_uint_eq(rec.time, lf->start_time);
  /* the only event: CLR rundown LoaderModuleDCStop, id 154 v2 */
  ck_assert_int_eq(etl_reader_next(r, &rec, &err), 1);
  ck_assert_int_eq(rec.kind, ETL_KIND_EVENT32);
  ck_assert_uint_eq(rec.ptr_size, 4);
  ck_assert_uint_eq(rec.id, 154);
  ck_assert_uint_eq(rec.version, 2);
  ck_assert_int_eq(rec.compressed, 1);
  ck_assert_uint_eq(rec.buffer_offset, 512);
  char g[37];
  etl_guid_format(&rec.guid, g);
  ck_assert_str_eq(g, DOTNET_RUNDOWN);
  ck_assert_int_eq(etl_reader_next(r, &rec, &err), 0);
  ck_assert_uint_eq(etl_reader_problems_total(r), 0);
  etl_reader_close(r);
}
END_TEST

START_TEST(self_describing) {
  struct scan sc;
  scan_file(tu_corpus("etl/perfview/SelfDescribingSingleEvent.etl"), &sc);
  ck_assert_uint_eq(sc.lf.build, 22000);
  ck_assert_uint_eq(sc.lf.cpus, 12);
  ck_assert_uint_eq(sc.lf.log_file_mode, 0x04010001);
  ck_assert_uint_eq(sc.lf.buffers_in_file, 3);
  ck_assert_uint_eq(sc.lf.buffers_compressed, 2);
  ck_assert_uint_eq(sc.st.total, 23); /* header buffer holds 2 records (Offset 520, not SavedOffset 440) */
  ck_assert_uint_eq(KIND(&sc, EVENT64), 1);
  ck_assert_uint_eq(KIND(&sc, FULL64), 18);
  ck_assert_uint_eq(KIND(&sc, SYSTEM64), 4);
  ck_assert_uint_eq(sc.st.ext_by_type[ETL_EXT_PROV_TRAITS], 1);
  ck_assert_uint_eq(sc.st.ext_by_type[ETL_EXT_EVENT_SCHEMA_TL], 1);
  etl_stats_free(&sc.st);
}
END_TEST

/* --- uncompressed traces stored as they are ------------------------------------ */
struct plain_case {
  const char *rel;
  uint32_t build, cpus, buffers, log_file_mode, events_lost, buffer_size;
  uint64_t perf_freq, total, events, system64, perfinfo64;
};

static const struct plain_case plain[] = {
    {"etl/airbus-etl-parser/ShutdownPerfDiagLogger.etl", 18362, 2, 49, 0x02000080, 0, 65536, 10000000, 17078,
     0, 8433, 8645},
    {"etl/airbus-etl-parser/AMSITrace.etl", 18362, 8, 6, 0x08000001, 3, 65536, 10000000, 21, 19, 2, 0},
    {"etl/airbus-etl-parser/lxcore_kernel.etl", 19041, 6, 3, 0, 0, 8192, 10000000, 4, 2, 2, 0},
    {"etl/krabsetw/powershell.etl", 22623, 32, 26, 0x9, 0, 8192, 10000000, 114, 112, 2, 0},
    {"etl/tx/HTTP_Server.etl", 7601, 4, 36, 0, 0, 8192, 1818300, 2042, 2041, 1, 0},
    {"etl/tx/Process.etl", 7600, 2, 182, 0, 0, 8192, 2109960, 10344, 10343, 1, 0},
};

START_TEST(plain_files) {
  const struct plain_case *c = &plain[_i];
  struct scan sc;
  scan_file(tu_corpus(c->rel), &sc);
  ck_assert_uint_eq(sc.lf.build, c->build);
  ck_assert_uint_eq(sc.lf.cpus, c->cpus);
  ck_assert_uint_eq(sc.lf.buffers_written, c->buffers);
  ck_assert_uint_eq(sc.lf.buffers_in_file, c->buffers);
  ck_assert_uint_eq(sc.lf.buffers_compressed, 0);
  ck_assert_uint_eq(sc.lf.log_file_mode, c->log_file_mode);
  ck_assert_uint_eq(sc.lf.events_lost, c->events_lost);
  ck_assert_uint_eq(sc.lf.buffer_size, c->buffer_size);
  ck_assert_uint_eq(sc.lf.perf_freq, c->perf_freq);
  ck_assert_uint_eq(sc.lf.pointer_size, 8);
  ck_assert_uint_eq(sc.st.total, c->total);
  ck_assert_uint_eq(KIND(&sc, EVENT64), c->events);
  ck_assert_uint_eq(KIND(&sc, SYSTEM64), c->system64);
  ck_assert_uint_eq(KIND(&sc, PERFINFO64), c->perfinfo64);
  etl_stats_free(&sc.st);
}
END_TEST

START_TEST(tx_process_counts) {
  struct scan sc;
  scan_file(tu_corpus("etl/tx/Process.etl"), &sc);
  static const unsigned want[][2] = {{8, 5088}, {6, 1153}, {5, 1115}, {9, 838}, {7, 810},
                                     {10, 780}, {3, 287},  {4, 264},  {1, 4},   {2, 4}};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    ck_assert_uint_eq(etl_stats_event(&sc.st, KERNEL_PROCESS, (uint16_t)want[i][0]), want[i][1]);
  etl_stats_free(&sc.st);
}
END_TEST

/* Tx's EtwTest: the first event in time order, field by field. */
START_TEST(tx_http_first_event) {
  struct etl_reader *r;
  struct etl_record rec;
  struct fb_error err;
  char g[37];
  ck_assert_int_eq(etl_reader_open_file(&r, tu_corpus("etl/tx/HTTP_Server.etl"), NULL, &err), 0);
  ck_assert_int_eq(etl_reader_next(r, &rec, &err), 1); /* logfile header */
  ck_assert_int_eq(rec.kind, ETL_KIND_SYSTEM64);
  ck_assert_int_eq(etl_reader_next(r, &rec, &err), 1);
  ck_assert_int_eq(rec.kind, ETL_KIND_EVENT64);
  ck_assert_uint_eq(rec.id, 21);
  ck_assert_uint_eq(rec.version, 0);
  ck_assert_uint_eq(rec.opcode, 28);
  ck_assert_uint_eq(rec.task, 4);
  ck_assert_uint_eq(rec.level, 4);
  ck_assert_uint_eq(rec.channel, 16);
  ck_assert_uint_eq(rec.keyword, 9223372036854775824ull);
  etl_guid_format(&rec.guid, g);
  ck_assert_str_eq(g, HTTP_SERVICE);
  etl_guid_format(&rec.activity_id, g);
  ck_assert_str_eq(g, "00000100-0000-0003-193d-42fb30bbcb01");
  ck_assert_uint_eq(rec.pid, 0);
  ck_assert_uint_eq(rec.tid, 0);
  ck_assert_uint_eq(rec.size, 152);
  ck_assert_uint_eq(rec.payload_size, 72);
  ck_assert_uint_eq(rec.ext_count, 0);
  ck_assert_uint_eq(rec.event_flags, 0);
  /* Tx's TimeStamp, to the 100 ns (the format doc's scanner was 9 x 100 ns off: it
   * rounded; StartTime + (ts - T0) * 10^7 / PerfFreq in integers, truncated, is exact) */
  ck_assert_uint_eq(rec.time, 129402940472257591ull);
  ck_assert_uint_eq(fb_le64(rec.raw + 56), 677443); /* ProcessorTime */
  etl_reader_close(r);
}
END_TEST

/* --- traces inside zip / 7z ------------------------------------------------------ */
START_TEST(win7_zip) {
  struct scan sc;
  scan_file(extract("etl/perfview/net.4.5.x86.etl.zip", "PerfViewData.etl"), &sc);
  ck_assert_uint_eq(sc.lf.build, 7601);
  ck_assert_uint_eq(sc.lf.version, 83951878);
  ck_assert_uint_eq(sc.lf.cpus, 4);
  ck_assert_uint_eq(sc.lf.buffers_written, 405);
  ck_assert_uint_eq(sc.lf.buffers_in_file, 405);
  ck_assert_uint_eq(sc.lf.log_file_mode, 65537);
  ck_assert_uint_eq(sc.lf.cpu_mhz, 2993);
  ck_assert_uint_eq(sc.st.total, 185961);
  ck_assert_uint_eq(KIND(&sc, EVENT32), 122193);
  ck_assert_uint_eq(KIND(&sc, PERFINFO64), 43421);
  ck_assert_uint_eq(KIND(&sc, FULL64), 11956);
  ck_assert_uint_eq(KIND(&sc, SYSTEM64), 8294);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 24, 32), 18532);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 15, 46), 16865);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 20, 3), 2688);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 20, 4), 2696);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 10), 111);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 20, 2), 109);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 4, 36), 7660);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 1, 10), 65);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 1, 12), 66);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 1, 11), 471);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 2, 32), 35);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 3), 46);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 5, 1), 16);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 5, 2), 14);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 11, 21), 13);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 11, 15), 164);
  etl_stats_free(&sc.st);
}
END_TEST

START_TEST(tracelogging_7z) {
  struct scan sc;
  scan_file(extract("etl/etwanalyzer/TraceLoggingTester.7z", "TraceLoggingTester.etl"), &sc);
  ck_assert_uint_eq(sc.lf.build, 26100);
  ck_assert_uint_eq(sc.lf.cpus, 20);
  ck_assert_uint_eq(sc.lf.buffer_size, 1048576);
  ck_assert_uint_eq(sc.lf.buffers_in_file, 41);
  ck_assert_uint_eq(sc.lf.log_file_mode, 0x10001);
  ck_assert_uint_eq(sc.st.total, 172716);
  ck_assert_uint_eq(KIND(&sc, FULL64), 93805);
  ck_assert_uint_eq(KIND(&sc, EVENT64), 47472);
  ck_assert_uint_eq(KIND(&sc, PERFINFO64), 23620);
  ck_assert_uint_eq(KIND(&sc, SYSTEM64), 7730);
  ck_assert_uint_eq(KIND(&sc, EVENT32), 88);
  ck_assert_uint_eq(etl_stats_guid_total(&sc.st, CSHARP_TL), 70);
  for (uint16_t id = 9; id <= 15; id++)
    ck_assert_uint_eq(etl_stats_event(&sc.st, CSHARP_TL, id), 10);
  ck_assert_uint_eq(sc.st.ext_by_type[ETL_EXT_STACK_TRACE64], 70);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 4), 360);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 39), 126);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 5, 4), 6719);
  ck_assert_uint_eq(etl_stats_kernel(&sc.st, 20, 4), 23367);
  ck_assert_uint_eq(etl_stats_classic(&sc.st, IMAGE_ID, 0), 23402);
  ck_assert_uint_eq(etl_stats_classic(&sc.st, IMAGE_ID, 36), 23212);
  ck_assert_uint_eq(etl_stats_classic(&sc.st, IMAGE_ID, 64), 2398);
  ck_assert_uint_eq(etl_stats_guid_total(&sc.st, DOTNET_RUNDOWN), 47490);
  etl_stats_free(&sc.st);
}
END_TEST

/* Stacks in extended data: 580 frames over the 70 TraceLogging events. */
START_TEST(tracelogging_stacks) {
  const char *path = extract("etl/etwanalyzer/TraceLoggingTester.7z", "TraceLoggingTester.etl");
  struct etl_reader *r;
  struct etl_record rec;
  struct fb_error err;
  struct etl_guid tl;
  size_t frames = 0, stacks = 0;
  ck_assert_int_eq(etl_guid_parse(CSHARP_TL, &tl), 0);
  ck_assert_int_eq(etl_reader_open_file(&r, path, NULL, &err), 0);
  while (etl_reader_next(r, &rec, &err) == 1) {
    struct etl_ext_iter it;
    struct etl_ext_item item;
    struct etl_stack st;
    if (!etl_kind_is_event(rec.kind) || !etl_guid_equal(&rec.guid, &tl))
      continue;
    ck_assert_uint_eq(rec.ext_count, 3);
    etl_ext_iter_init(&it, &rec);
    while (etl_ext_next(&it, &item) == 1)
      if (etl_ext_stack(&item, &st)) {
        ck_assert_uint_eq(st.ptr_size, 8);
        ck_assert_uint_eq(st.match_id, 0);
        frames += st.count;
        stacks++;
      }
  }
  ck_assert_uint_eq(stacks, 70);
  ck_assert_uint_eq(frames, 580);
  etl_reader_close(r);
}
END_TEST

START_TEST(small_zips) {
  struct scan sc;
  scan_file(extract("etl/perfview/gcevents.etl.zip", "PerfViewData.etl"), &sc);
  ck_assert_uint_eq(sc.lf.log_file_mode, 0x08000002); /* circular */
  ck_assert_uint_eq(sc.lf.buffers_in_file, 5);
  ck_assert_uint_eq(KIND(&sc, EVENT64), 69);
  etl_stats_free(&sc.st);
  scan_file(extract("etl/perfview/gcrundownevents.etl.zip", "PerfViewData.clrRundown.etl"), &sc);
  ck_assert_uint_eq(KIND(&sc, EVENT64), 110);
  ck_assert_uint_eq(etl_stats_guid_total(&sc.st, DOTNET_RUNDOWN), 110);
  etl_stats_free(&sc.st);
  scan_file(extract("etl/perfview/primitive-types.etl.zip", "primitive-types.etl"), &sc);
  ck_assert_str_eq(sc.lf.logger_name, "solar_system");
  ck_assert_uint_eq(sc.lf.buffer_size, 8192);
  ck_assert_uint_eq(KIND(&sc, EVENT64), 5);
  ck_assert_uint_eq(sc.st.ext_by_type[ETL_EXT_PROV_TRAITS], 5);
  etl_stats_free(&sc.st);
}
END_TEST

START_TEST(diaghub_zip) {
  static const char *names[] = {"diaghub.etl", "diaghub.kernel.1.etl", "diaghub.user_injected.1.etl",
                                "diaghub.user_paged.1.etl"};
  static const uint64_t totals[] = {62379, 16335, 4, 22035};
  uint64_t sum = 0;
  struct scan sc;
  for (int i = 0; i < 4; i++) {
    scan_file(extract("etl/perfview/diaghub-dotnetcore3.1-win-x64-diagsession.zip", names[i]), &sc);
    ck_assert_uint_eq(sc.lf.build, 19041);
    ck_assert_uint_eq(sc.lf.cpus, 4);
    ck_assert_uint_eq(sc.st.total, totals[i]);
    sum += sc.st.total;
    if (i == 0)
      ck_assert_uint_eq(KIND(&sc, FULL64), 62378);
    if (i == 1) {
      ck_assert_uint_eq(sc.lf.log_file_mode, 0x11001);
      ck_assert_str_eq(sc.lf.log_file_name, "ReloggedFile.ETL");
      ck_assert_uint_eq(etl_stats_kernel(&sc.st, 3, 3), 223);
      ck_assert_uint_eq(etl_stats_kernel(&sc.st, 20, 4), 15017);
    }
    if (i == 3) {
      ck_assert_uint_eq(KIND(&sc, EVENT64), 22034);
      ck_assert_uint_eq(sc.st.ext_by_type[ETL_EXT_STACK_TRACE64], 176);
    }
    etl_stats_free(&sc.st);
  }
  ck_assert_uint_eq(sum, 100753); /* MANIFEST 1.4: raw record total of the 4 files */
}
END_TEST

/* --- damage ------------------------------------------------------------------------ */

/* Records per buffer (by buffer file offset) of an undamaged view. */
struct per_buffer {
  uint64_t offset[1024];
  uint64_t count[1024];
  size_t n;
  uint64_t total;
};

static void count_per_buffer(const struct fb_view *view, struct per_buffer *pb) {
  struct etl_reader *r;
  struct etl_record rec;
  struct fb_error err;
  struct etl_reader_options opts = {.order = ETL_ORDER_FILE};
  memset(pb, 0, sizeof(*pb));
  ck_assert_int_eq(etl_reader_open(&r, view, "x", &opts, &err), 0);
  while (etl_reader_next(r, &rec, &err) == 1) {
    if (pb->n == 0 || pb->offset[pb->n - 1] != rec.buffer_offset) {
      ck_assert_uint_lt(pb->n, 1024);
      pb->offset[pb->n++] = rec.buffer_offset;
    }
    pb->count[pb->n - 1]++;
    pb->total++;
  }
  etl_reader_close(r);
}

static uint64_t records_in(const struct per_buffer *pb, uint64_t off) {
  for (size_t i = 0; i < pb->n; i++)
    if (pb->offset[i] == off)
      return pb->count[i];
  return 0;
}

struct damaged {
  uint64_t total;
  size_t problems;
  struct etl_problem first;
};

static void read_damaged(uint8_t *data, size_t size, struct damaged *d) {
  struct fb_view view;
  struct etl_reader *r;
  struct etl_record rec;
  struct fb_error err;
  int rc;
  fb_view_from_memory(&view, data, size);
  memset(d, 0, sizeof(*d));
  ck_assert_int_eq(etl_reader_open(&r, &view, "damaged", NULL, &err), 0);
  while ((rc = etl_reader_next(r, &rec, &err)) == 1)
    d->total++;
  ck_assert_int_eq(rc, 0);
  d->problems = etl_reader_problems_total(r);
  ck_assert_uint_ge(etl_reader_problem_count(r), 1);
  d->first = *etl_reader_problem(r, 0);
  etl_reader_close(r);
}

/* Uncompressed: cut in the middle of the last buffer; records that fit are kept. */
START_TEST(damage_truncated_plain) {
  size_t size;
  uint8_t *f = (uint8_t *)tu_read_file(tu_corpus("etl/airbus-etl-parser/ShutdownPerfDiagLogger.etl"), &size);
  struct per_buffer pb;
  struct fb_view view;
  struct damaged d;
  ck_assert_ptr_nonnull(f);
  fb_view_from_memory(&view, f, size);
  count_per_buffer(&view, &pb);
  ck_assert_uint_eq(pb.total, 17078);
  /* cut 20 000 bytes into buffer 40 (of 49) */
  size_t cut = 40 * 65536 + 20000;
  read_damaged(f, cut, &d);
  ck_assert_int_eq(d.first.kind, ETL_PROBLEM_TRUNCATED);
  ck_assert_uint_eq(d.first.offset, 40 * 65536);
  ck_assert_ptr_nonnull(strstr(d.first.msg, "offset 0x280000"));
  /* every record of buffers 0-39 plus those of buffer 40 that end before the cut */
  uint64_t before = 0;
  for (size_t i = 0; i < pb.n; i++)
    if (pb.offset[i] < 40 * 65536)
      before += pb.count[i];
  ck_assert_uint_gt(d.total, before);
  ck_assert_uint_lt(d.total, before + records_in(&pb, 40 * 65536));
  free(f);
}
END_TEST

/* Compressed: cut inside a compressed buffer: the records it decompresses to
 * before the cut are kept, all other buffers are read. */
START_TEST(damage_truncated_compressed) {
  size_t size;
  uint8_t *f = (uint8_t *)tu_read_file(tu_corpus("etl/perfview/net.4.5.2.x64.etl"), &size);
  struct per_buffer pb;
  struct fb_view view;
  struct damaged d;
  fb_view_from_memory(&view, f, size);
  count_per_buffer(&view, &pb);
  uint64_t last = pb.offset[pb.n - 1];
  for (size_t i = 0; i < pb.n; i++)
    if (pb.offset[i] > last)
      last = pb.offset[i];
  uint32_t last_size = fb_le32(f + last);
  read_damaged(f, last + last_size / 2, &d);
  ck_assert_int_eq(d.first.kind, ETL_PROBLEM_TRUNCATED);
  ck_assert_uint_eq(d.first.offset, last);
  ck_assert_uint_ge(d.total, pb.total - records_in(&pb, last));
  ck_assert_uint_lt(d.total, pb.total);
  free(f);
}
END_TEST

/* A corrupt compressed buffer is skipped with its offset; nothing else is lost. */
START_TEST(damage_corrupt_compressed) {
  size_t size;
  uint8_t *f = (uint8_t *)tu_read_file(tu_corpus("etl/perfview/net.4.5.2.x64.etl"), &size);
  struct per_buffer pb;
  struct fb_view view;
  struct damaged d;
  char want[64];
  fb_view_from_memory(&view, f, size);
  count_per_buffer(&view, &pb);
  /* buffer 1 starts after the 512-byte header buffer; make its data
   * reference bytes before the start of the output */
  uint64_t b1 = 512;
  ck_assert_uint_eq(fb_le16(f + b1 + 0x34) & 0x40, 0x40);
  memset(f + b1 + 72, 0xFF, 4); /* flag word: 32 matches */
  memset(f + b1 + 76, 0xFF, 2); /* a match with offset 8192 at output 0 */
  read_damaged(f, size, &d);
  ck_assert_int_eq(d.first.kind, ETL_PROBLEM_DECOMPRESS);
  ck_assert_uint_eq(d.first.offset, b1);
  snprintf(want, sizeof(want), "at offset 0x%llx", (unsigned long long)b1);
  ck_assert_ptr_nonnull(strstr(d.first.msg, want));
  ck_assert_ptr_nonnull(strstr(d.first.msg, "skipped"));
  ck_assert_uint_eq(d.problems, 1);
  ck_assert_uint_eq(d.total, pb.total - records_in(&pb, b1));
  free(f);
}
END_TEST

/* A record with a bad size ends its buffer (problem with the record's file
 * offset); the records before it and every other buffer are kept. */
START_TEST(damage_bad_record_size) {
  size_t size;
  uint8_t *f = (uint8_t *)tu_read_file(tu_corpus("etl/tx/HTTP_Server.etl"), &size);
  struct per_buffer pb;
  struct fb_view view;
  struct damaged d;
  fb_view_from_memory(&view, f, size);
  count_per_buffer(&view, &pb);
  ck_assert_uint_eq(pb.total, 2042);
  /* buffer 3 (8 KB buffers): walk to its 5th record and give it size 0xFFFF */
  uint64_t b = 3 * 8192, pos = b + 72;
  for (int i = 0; i < 4; i++)
    pos += (fb_le16(f + pos) + 7u) & ~7u;
  f[pos] = 0xFF;
  f[pos + 1] = 0xFF;
  read_damaged(f, size, &d);
  ck_assert_int_eq(d.first.kind, ETL_PROBLEM_RECORD);
  ck_assert_uint_eq(d.first.offset, pos);
  ck_assert_ptr_nonnull(strstr(d.first.msg, "bad EVENT_HEADER64 record size 65535"));
  ck_assert_uint_eq(d.total, pb.total - records_in(&pb, b) + 4);
  free(f);
}
END_TEST

/* A buffer header with a bad BufferSize: skipped, the next buffers are found
 * at the nominal size (uncompressed) and read. */
START_TEST(damage_bad_buffer_size) {
  size_t size;
  uint8_t *f = (uint8_t *)tu_read_file(tu_corpus("etl/tx/Process.etl"), &size);
  struct per_buffer pb;
  struct fb_view view;
  struct damaged d;
  fb_view_from_memory(&view, f, size);
  count_per_buffer(&view, &pb);
  ck_assert_uint_eq(pb.total, 10344);
  uint64_t b = 100 * 8192;
  f[b] = 0x10; /* BufferSize 0x10: less than a header */
  f[b + 1] = f[b + 2] = f[b + 3] = 0;
  read_damaged(f, size, &d);
  ck_assert_int_eq(d.first.kind, ETL_PROBLEM_BUFFER_HEADER);
  ck_assert_uint_eq(d.first.offset, b);
  ck_assert_ptr_nonnull(strstr(d.first.msg, "BufferSize 16"));
  ck_assert_uint_eq(d.total, pb.total - records_in(&pb, b));
  free(f);
}
END_TEST

/* Same damage in a compressed file: the next buffer is found by its header. */
START_TEST(damage_bad_buffer_size_compressed) {
  size_t size;
  uint8_t *f = (uint8_t *)tu_read_file(tu_corpus("etl/perfview/net.4.5.2.x86.etl"), &size);
  struct per_buffer pb;
  struct fb_view view;
  struct damaged d;
  fb_view_from_memory(&view, f, size);
  count_per_buffer(&view, &pb);
  uint64_t b = pb.offset[10];
  memset(f + b, 0xEE, 4);
  read_damaged(f, size, &d);
  ck_assert_int_eq(d.first.kind, ETL_PROBLEM_BUFFER_HEADER);
  ck_assert_uint_eq(d.first.offset, b);
  ck_assert_uint_eq(d.total, pb.total - records_in(&pb, b));
  free(f);
}
END_TEST

/* Not an ETL file: a clear error at open, with an offset. */
START_TEST(not_etl) {
  uint8_t junk[4096];
  struct fb_view view;
  struct etl_reader *r;
  struct fb_error err;
  memset(junk, 'A', sizeof(junk));
  fb_view_from_memory(&view, junk, sizeof(junk));
  fb_error_init(&err, NULL);
  ck_assert_int_eq(etl_reader_open(&r, &view, "junk", NULL, &err), FB_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "not an ETL file"));
  fb_view_from_memory(&view, junk, 10);
  ck_assert_int_eq(etl_reader_open(&r, &view, "junk", NULL, &err), FB_EFORMAT);
}
END_TEST

int main(void) {
  Suite *s = suite_create("etl_core");
  TCase *tc = tcase_create("corpus");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, net452_x64);
  tcase_add_test(tc, file_order_same_counts);
  tcase_add_test(tc, small_32bit);
  tcase_add_test(tc, self_describing);
  tcase_add_loop_test(tc, plain_files, 0, (int)(sizeof(plain) / sizeof(plain[0])));
  tcase_add_test(tc, tx_process_counts);
  tcase_add_test(tc, tx_http_first_event);
  tcase_add_test(tc, win7_zip);
  tcase_add_test(tc, tracelogging_7z);
  tcase_add_test(tc, tracelogging_stacks);
  tcase_add_test(tc, small_zips);
  tcase_add_test(tc, diaghub_zip);
  suite_add_tcase(s, tc);
  TCase *td = tcase_create("damage");
  tcase_set_timeout(td, 300);
  tcase_add_test(td, damage_truncated_plain);
  tcase_add_test(td, damage_truncated_compressed);
  tcase_add_test(td, damage_corrupt_compressed);
  tcase_add_test(td, damage_bad_record_size);
  tcase_add_test(td, damage_bad_buffer_size);
  tcase_add_test(td, damage_bad_buffer_size_compressed);
  tcase_add_test(td, not_etl);
  suite_add_tcase(s, td);
  return tu_run_suite(s);
}
