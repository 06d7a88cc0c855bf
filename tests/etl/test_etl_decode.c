/* Evidence from real corpus traces through the core reader and the decoder
 * (etl_emit_evidence): exact counts, process names, kernel module lists and
 * exact Kernel-File Create events with stacks through fltmgr.sys/fileinfo.sys.
 * Counts equal the corpus MANIFEST's raw counts (which reproduce TraceEvent's
 * baselines): e.g. net.4.5.2.x64 Image Load 35 + Unload 32 + DCStart 1 763 +
 * DCEnd 1 766 = 3 596 image records; 562 Kernel-File Create with stacks. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/error.h"
#include "parsers/etl/etl.h"
#include "parsers/etl/etl_decode.h"
#include "tests/testutil.h"

#define MAX_KEEP 4000

struct col {
  uint64_t images, kernel_images, processes, threads, files, callbacks, facts;
  uint64_t files_with_stack, fltmgr_frames, fileinfo_frames;
  char first_create[1024];
  char first_frames[1024];
  struct ev_file_op first;
  char names[65536]; /* distinct process names, '|'-separated, first MAX_KEEP */
  int nnames;
  char fltmgr_image[512];
  char fact[256];
};

static int on_image(void *ctx, const struct ev_image *r) {
  struct col *c = ctx;
  c->images++;
  c->kernel_images += r->kernel;
  if (r->kernel && r->name && strcasecmp(r->name, "fltmgr.sys") == 0 && c->fltmgr_image[0] == '\0')
    snprintf(c->fltmgr_image, sizeof(c->fltmgr_image), "%s base=0x%llx size=0x%llx pid=%u company=%s",
             r->path, (unsigned long long)r->base, (unsigned long long)r->size, r->pid,
             r->company ? r->company : "-");
  return 0;
}

static int on_process(void *ctx, const struct ev_process *r) {
  struct col *c = ctx;
  char key[80];
  c->processes++;
  if (r->name && c->nnames < MAX_KEEP) {
    snprintf(key, sizeof(key), "|%s|", r->name);
    if (strstr(c->names, key) == NULL) {
      size_t n = strlen(c->names);
      snprintf(c->names + n, sizeof(c->names) - n, "%s|", n ? r->name : key);
      c->nnames++;
    }
  }
  return 0;
}

static int on_thread(void *ctx, const struct ev_thread *r) {
  (void)r;
  ((struct col *)ctx)->threads++;
  return 0;
}

static int on_file(void *ctx, const struct ev_file_op *r) {
  struct col *c = ctx;
  c->files++;
  if (r->stack.count)
    c->files_with_stack++;
  for (uint32_t i = 0; i < r->stack.count; i++) {
    const char *m = r->stack.frames[i].module;
    if (m && strcasecmp(m, "fltmgr.sys") == 0)
      c->fltmgr_frames++;
    if (m && strcasecmp(m, "fileinfo.sys") == 0)
      c->fileinfo_frames++;
  }
  if (c->files == 1) {
    size_t o = 0;
    c->first = *r;
    snprintf(c->first_create, sizeof(c->first_create), "%s pid=%u tid=%u %s %s dev=%s", r->op_name, r->pid,
             r->tid, r->process_name ? r->process_name : "-", r->path ? r->path : "-",
             r->device_path ? r->device_path : "-");
    for (uint32_t i = 0; i < r->stack.count && i < 8; i++)
      o += (size_t)snprintf(c->first_frames + o, sizeof(c->first_frames) - o, "%s%s+0x%llx", i ? " " : "",
                            r->stack.frames[i].module ? r->stack.frames[i].module : "?",
                            (unsigned long long)r->stack.frames[i].offset);
  }
  return 0;
}

static int on_cb(void *ctx, const struct ev_filter_callback *r) {
  (void)r;
  ((struct col *)ctx)->callbacks++;
  return 0;
}

static int on_fact(void *ctx, const struct ev_fact *r) {
  struct col *c = ctx;
  c->facts++;
  snprintf(c->fact, sizeof(c->fact), "%s", r->subject ? r->subject : "");
  return 0;
}

static void run(const char *rel, struct col *c, struct etl_decode_stats *st) {
  struct ev_sink sink = {c, on_image, on_process, on_thread, on_file, on_cb, NULL, on_fact};
  struct fb_error err;
  char msg[1200];
  int rc;

  memset(c, 0, sizeof(*c));
  memset(st, 0, sizeof(*st));
  fb_error_init(&err, NULL);
  rc = etl_emit_evidence(tu_corpus(rel), &sink, NULL, st, &err);
  ck_assert_msg(rc == 0, "%s", fb_error_format(&err, msg, sizeof(msg)));
}

START_TEST(net452_x64_kernel_file_creates_with_stacks) {
  struct col c;
  struct etl_decode_stats st;

  run("etl/perfview/net.4.5.2.x64.etl", &c, &st);
  ck_assert_uint_eq(c.images, 3596);
  ck_assert_uint_eq(c.processes, 68); /* Start 1, End 1, DCStart 32, DCEnd 32, Defunct 2 */
  ck_assert_uint_eq(c.threads, 1358); /* Start 9, End 15, DCStart 670, DCEnd 664 */
  ck_assert_uint_eq(c.files, 562);
  ck_assert_uint_eq(c.files_with_stack, 562);
  ck_assert_uint_eq(st.kernel_modules, 141);
  ck_assert_uint_eq(st.volume_mappings, 8); /* 9 records, one maps \??\ to nothing */
  ck_assert_str_eq(
      c.first_create,
      "Kernel-File/Create pid=3988 tid=3780 PerfView.exe C:\\Windows\\SysWOW64\\inetsrv\\iiscore.dll "
      "dev=\\Device\\HarddiskVolume2\\Windows\\SysWOW64\\inetsrv\\iiscore.dll");
  ck_assert_uint_eq(c.first.file_object, 0xfffffa83004bda90ULL);
  ck_assert_uint_eq(c.first.irp, 0xfffffa830393a3e8ULL);
  ck_assert_uint_eq(c.first.disposition, 1);           /* FILE_OPEN */
  ck_assert_uint_eq(c.first.create_options, 0x200000); /* FILE_OPEN_REPARSE_POINT */
  ck_assert_uint_eq(c.first.share_access, 7);
  ck_assert_int_eq(c.first.status_known, 0); /* no OperationEnd in this trace */
  ck_assert_str_eq(c.first_frames,
                   "ntoskrnl.exe+0x1ba7ab ntoskrnl.exe+0x1badfa fileinfo.sys+0xe25b "
                   "fileinfo.sys+0x753c fltmgr.sys+0x1844 fltmgr.sys+0x2a6c fltmgr.sys+0x2d349 "
                   "ntoskrnl.exe+0x44b05b");
  ck_assert_uint_eq(c.fltmgr_frames, 1824);
  ck_assert_uint_eq(c.fileinfo_frames, 1124);
  ck_assert_str_eq(c.fltmgr_image, "\\SystemRoot\\system32\\drivers\\fltmgr.sys base=0xfffff880014da000 "
                                   "size=0x60000 pid=0 company=Microsoft Corporation");
  ck_assert_uint_eq(c.callbacks, 0);
  ck_assert_uint_eq(st.minifilter_events, 0);
  ck_assert_uint_eq(c.facts, 1);
  ck_assert_str_eq(c.fact, "etl.no_minifilter_events");
  ck_assert(strstr(c.names, "|PerfView.exe|") != NULL);
}
END_TEST

START_TEST(net452_x86_968_creates) {
  struct col c;
  struct etl_decode_stats st;

  run("etl/perfview/net.4.5.2.x86.etl", &c, &st);
  ck_assert_uint_eq(c.files, 968);
  ck_assert_uint_eq(c.files_with_stack, 968);
  ck_assert_uint_eq(c.images, 3734); /* Load 57, Unload 47, DCStart 1 810, DCEnd 1 820 */
  ck_assert_uint_eq(st.kernel_modules, 141);
  ck_assert_uint_eq(c.facts, 1);
}
END_TEST

START_TEST(shutdown_perfdiag_processes_and_kernel_modules) {
  struct col c;
  struct etl_decode_stats st;

  run("etl/airbus-etl-parser/ShutdownPerfDiagLogger.etl", &c, &st);
  ck_assert_uint_eq(c.processes,
                    196); /* DCStart 94, DCEnd 37, End 60, Defunct 5 (Terminate is not a record) */
  ck_assert_uint_eq(c.images, 13753);
  ck_assert_uint_eq(c.threads, 3058);
  ck_assert_uint_eq(st.kernel_modules, 196);
  ck_assert_uint_eq(c.files, 0);
  ck_assert(strstr(c.names, "|TiWorker.exe|") != NULL);
  ck_assert(strstr(c.names, "|MsMpEng.exe|") != NULL);
  ck_assert(strstr(c.names, "|TrustedInstaller.exe|") != NULL);
  ck_assert(strstr(c.names, "|Sysmon64.exe|") != NULL);
  ck_assert_int_eq(c.nnames, 55); /* distinct image names (svchost.exe etc. repeat) */
  ck_assert(strstr(c.names, "|csrss.exe|") != NULL);
  ck_assert(strstr(c.names, "|smss.exe|") != NULL);
}
END_TEST

/* Unpack the entry of a corpus archive whose name ends with `name` (zip
 * entries made on Windows use backslashes) into the scratch directory. */
static const char *unpack(const char *rel, const char *name, char *out, size_t cap) {
  struct archive *a = archive_read_new();
  struct archive_entry *ent;
  const char *found = NULL;

  archive_read_support_format_all(a);
  archive_read_support_filter_all(a);
  ck_assert_int_eq(archive_read_open_filename(a, tu_corpus(rel), 1 << 16), ARCHIVE_OK);
  while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
    const char *p = archive_entry_pathname(ent);
    size_t n = strlen(p), m = strlen(name);
    if (n >= m && strcmp(p + n - m, name) == 0) {
      FILE *f;
      const void *buf;
      size_t size;
      la_int64_t off;
      snprintf(out, cap, "%s/%s", tu_tmpdir(), name);
      f = fopen(out, "wb");
      ck_assert_ptr_nonnull(f);
      while (archive_read_data_block(a, &buf, &size, &off) == ARCHIVE_OK)
        ck_assert_uint_eq(fwrite(buf, 1, size, f), size);
      fclose(f);
      found = out;
      break;
    }
  }
  archive_read_free(a);
  ck_assert_msg(found != NULL, "%s not in %s", name, rel);
  return found;
}

static void run_path(const char *path, struct col *c, struct etl_decode_stats *st) {
  struct ev_sink sink = {c, on_image, on_process, on_thread, on_file, on_cb, NULL, on_fact};
  struct fb_error err;
  char msg[1200];

  memset(c, 0, sizeof(*c));
  memset(st, 0, sizeof(*st));
  fb_error_init(&err, NULL);
  ck_assert_msg(etl_emit_evidence(path, &sink, NULL, st, &err) == 0, "%s",
                fb_error_format(&err, msg, sizeof(msg)));
  remove(path);
}

START_TEST(win7_trace_without_proc_index) {
  struct col c;
  struct etl_decode_stats st;
  char path[1024];

  run_path(unpack("etl/perfview/net.4.5.x86.etl.zip", "PerfViewData.etl", path, sizeof(path)), &c, &st);
  ck_assert_uint_eq(c.images, 5604);  /* DCStart 2 688, DCEnd 2 696, Load 111, Unload 109 */
  ck_assert_uint_eq(c.processes, 96); /* DCStart 46, DCEnd 46, Start 2, End 2 */
  ck_assert_uint_eq(st.kernel_modules, 141);
  ck_assert_uint_eq(st.stacks_unmatched, 18532); /* StackWalk for events fltblame does not hold */
  ck_assert_uint_eq(c.files, 0);
  ck_assert_uint_eq(c.facts, 1);
}
END_TEST

START_TEST(wpr_trace_with_rundown_only_at_the_end) {
  struct col c;
  struct etl_decode_stats st;
  char path[1024];

  /* Windows 11 24H2 WPR: Image/Process rundown is DCEnd only, at the end; pass 1 learns it */
  run_path(unpack("etl/etwanalyzer/TraceLoggingTester.7z", "TraceLoggingTester.etl", path, sizeof(path)), &c,
           &st);
  ck_assert_uint_eq(c.images, 23416);  /* Load 31, Unload 18, DCEnd 23 367 */
  ck_assert_uint_eq(c.processes, 488); /* DCEnd 360, Defunct 126, Start 1, End 1 */
  ck_assert_uint_eq(c.threads, 6750);
  ck_assert_uint_eq(st.kernel_modules, 251);
  ck_assert_uint_eq(st.volume_mappings, 10);
  ck_assert(strstr(c.names, "|TraceLoggingTester.exe|") != NULL);
  ck_assert_uint_eq(c.facts, 1);   /* no minifilter events */
  ck_assert_int_eq(c.nnames, 121); /* distinct image names among the 486 processes */
}
END_TEST

/* The most real minifilter data available: the real module map and the real
 * first create of net.4.5.2.x64 (learnt through the core reader), plus ONE
 * synthetic PreOpInit payload (the layout docs/etl-minifilter.md assumes)
 * whose RoutineAddr lies in FileInfo's pre-create callback (the real stack
 * shows fltmgr.sys+0x1844 calling fileinfo.sys+0x753c). */
static int keep_cb(void *ctx, const struct ev_filter_callback *r) {
  snprintf(ctx, 256, "%s %s+0x%llx fo=0x%llx irp=0x%llx mj=%d", ev_cb_phase_name(r->phase),
           r->module ? r->module : "?", (unsigned long long)r->module_offset,
           (unsigned long long)r->file_object, (unsigned long long)r->irp, r->major_function);
  return 0;
}

START_TEST(synthetic_callback_resolves_in_a_real_module_map) {
  struct etl_reader *r;
  struct etl_record rec;
  struct fb_error err;
  char got[256] = "";
  struct ev_sink sink = {.ctx = got, .filter_callback = keep_cb};
  const struct etl_logfile *lf;
  struct etl_decoder *d;
  struct etl_clock clk;
  struct etl_event_in e;
  uint8_t payload[44];
  uint64_t fileinfo = 0xfffff8800153a000ULL, fo = 0xfffffa83004bda90ULL, irp = 0xfffffa830393a3e8ULL;
  uint64_t fields[5] = {fileinfo + 0x7500, fo, 0xfffff8a0001c2140ULL, irp, 0xfffffa8300e0f010ULL};

  fb_error_init(&err, NULL);
  ck_assert_int_eq(etl_reader_open_file(&r, tu_corpus("etl/perfview/net.4.5.2.x64.etl"), NULL, &err), 0);
  lf = etl_reader_logfile(r);
  clk = (struct etl_clock){lf->header_timestamp, lf->start_time, lf->perf_freq, lf->pointer_size};
  d = etl_decoder_new(&clk, &sink, NULL, "net.4.5.2.x64.etl");
  while (etl_reader_next(r, &rec, &err) == 1) {
    if (etl_kind_is_kernel(rec.kind)) {
      memset(&e, 0, sizeof(e));
      e.kind = ETL_IN_KERNEL;
      e.ts = rec.timestamp;
      e.ptr_size = rec.ptr_size;
      e.has_ids = rec.kind != ETL_KIND_PERFINFO64;
      e.pid = rec.pid;
      e.tid = rec.tid;
      e.group = rec.group;
      e.type = rec.opcode;
      e.version = rec.version;
      e.payload = rec.payload;
      e.size = rec.payload_size;
      etl_decoder_learn(d, &e);
    }
  }
  etl_reader_close(r);
  for (int i = 0; i < 5; i++)
    for (int k = 0; k < 8; k++)
      payload[i * 8 + k] = (uint8_t)(fields[i] >> (8 * k));
  memset(payload + 40, 0, 4); /* IRP_MJ_CREATE */
  memset(&e, 0, sizeof(e));
  e.kind = ETL_IN_KERNEL;
  e.ts = clk.t0 + 1;
  e.ptr_size = 8;
  e.has_ids = 1;
  e.pid = 3988;
  e.tid = 3780;
  e.group = 4;
  e.type = 96;
  e.version = 3;
  e.payload = payload;
  e.size = sizeof(payload);
  ck_assert_int_eq(etl_decoder_feed(d, &e), 0);
  ck_assert_int_eq(etl_decoder_finish(d), 0);
  ck_assert_str_eq(got, "pre_start fileinfo.sys+0x7500 fo=0xfffffa83004bda90 irp=0xfffffa830393a3e8 mj=0");
  ck_assert_uint_eq(etl_decoder_stats(d)->minifilter_resolved, 1);
  etl_decoder_free(d);
}
END_TEST

START_TEST(small_32bit_trace_has_no_kernel_evidence) {
  struct col c;
  struct etl_decode_stats st;

  run("etl/perfview/smallEtlFile.etl", &c, &st);
  ck_assert_uint_eq(c.images + c.processes + c.threads + c.files, 0);
  ck_assert_uint_eq(c.facts, 1); /* and it says so */
}
END_TEST

int main(void) {
  Suite *s = suite_create("etl_decode");
  TCase *tc = tcase_create("corpus");

  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, net452_x64_kernel_file_creates_with_stacks);
  tcase_add_test(tc, net452_x86_968_creates);
  tcase_add_test(tc, shutdown_perfdiag_processes_and_kernel_modules);
  tcase_add_test(tc, small_32bit_trace_has_no_kernel_evidence);
  tcase_add_test(tc, synthetic_callback_resolves_in_a_real_module_map);
  tcase_add_test(tc, win7_trace_without_proc_index);
  tcase_add_test(tc, wpr_trace_with_rundown_only_at_the_end);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
