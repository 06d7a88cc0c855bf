/* The synthetic trace writer read back through the real path: core reader
 * (same code as for corpus traces) + decoder. For x64 and x86, compressed
 * and not: every event written comes back as evidence with the same values,
 * stacks resolve to the standard driver set, and minifilter callbacks name
 * their driver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/error.h"
#include "parsers/etl/etl.h"
#include "parsers/etl/etl_decode.h"
#include "tests/etl/etl_writer.h"
#include "tests/testutil.h"

#define FO 0xffffe00012340000ULL
#define IRP 0xffffe00056780000ULL
#define CBD 0xffffe0009abc0000ULL
#define FCB 0xffffe000def00000ULL

struct col {
  uint64_t images, kernel_images, processes, threads, files, callbacks, facts;
  char create[1024], frames[512], cbs[2048], proc[256], tmimage[256], filters[256];
  struct ev_file_op first;
  uint64_t cb_duration;
};

static int on_image(void *ctx, const struct ev_image *r) {
  struct col *c = ctx;
  c->images++;
  c->kernel_images += r->kernel;
  if (r->name && strcmp(r->name, "TmPreFlt.sys") == 0)
    snprintf(c->tmimage, sizeof(c->tmimage), "%s pid=%u kernel=%d company=%s", r->path, r->pid, r->kernel,
             r->company ? r->company : "-");
  return 0;
}
static int on_process(void *ctx, const struct ev_process *r) {
  struct col *c = ctx;
  c->processes++;
  snprintf(c->proc, sizeof(c->proc), "%u %u %s %s", r->pid, r->parent_pid, r->name ? r->name : "-",
           r->command_line ? r->command_line : "-");
  return 0;
}
static int on_thread(void *ctx, const struct ev_thread *r) {
  (void)r;
  ((struct col *)ctx)->threads++;
  return 0;
}
static void frames(const struct ev_stack *s, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (uint32_t i = 0; i < s->count && o < cap; i++) {
    const struct ev_frame *f = &s->frames[i];
    if (f->module)
      o += (size_t)snprintf(out + o, cap - o, "%s%s+0x%llx", i ? " " : "", f->module,
                            (unsigned long long)f->offset);
    else
      o += (size_t)snprintf(out + o, cap - o, "%s0x%llx", i ? " " : "", (unsigned long long)f->addr);
  }
}
static int on_file(void *ctx, const struct ev_file_op *r) {
  struct col *c = ctx;
  if (c->files++ == 0) {
    c->first = *r;
    snprintf(c->create, sizeof(c->create), "%s pid=%u tid=%u %s %s status=%d:0x%x dur=%lld", r->op_name,
             r->pid, r->tid, r->process_name ? r->process_name : "-", r->path ? r->path : "-",
             r->status_known, r->status, (long long)r->duration);
    frames(&r->stack, c->frames, sizeof(c->frames));
  }
  return 0;
}
static int on_cb(void *ctx, const struct ev_filter_callback *r) {
  struct col *c = ctx;
  size_t n = strlen(c->cbs);
  char st[32] = "";
  if (r->status_known)
    snprintf(st, sizeof(st), " 0x%x", r->status);
  snprintf(c->cbs + n, sizeof(c->cbs) - n, "%s%s %s+0x%llx mj=%d%s", n ? "; " : "",
           ev_cb_phase_name(r->phase), r->module ? r->module : "?", (unsigned long long)r->module_offset,
           r->major_function, st);
  if (r->phase == EV_CB_PRE_END && r->start_time)
    c->cb_duration = r->time - r->start_time;
  c->callbacks++;
  return 0;
}
static int on_filter_info(void *ctx, const struct ev_filter_info *r) {
  struct col *c = ctx;
  size_t n = strlen(c->filters);
  snprintf(c->filters + n, sizeof(c->filters) - n, "%s%s/%s", n ? " " : "", r->name,
           ev_filter_source_name(r->source));
  return 0;
}
static int on_fact(void *ctx, const struct ev_fact *r) {
  (void)r;
  ((struct col *)ctx)->facts++;
  return 0;
}

/* TiWorker.exe opens a file under SoftwareDistribution; TmPreFlt's pre-create
 * runs 30 us and fails it with ACCESS_DENIED; FltMgr's stack is logged; the
 * kernel rundown and volume mapping come at the end (as in WPR traces). */
static void write_scenario(const char *path, unsigned ptr, int compress, int minifilter) {
  struct etlw_options o = {.ptr_size = ptr, .compress = compress, .cpus = 2, .buffer_size = 8192};
  struct etlw *w;
  int tm = etlw_driver_find("TmPreFlt.sys"), fm = etlw_driver_find("FLTMGR.SYS");
  uint64_t fo = ptr == 8 ? FO : (FO & 0xFFFFFFFF), irp = ptr == 8 ? IRP : (IRP & 0xFFFFFFFF);
  struct etlw_ev e = {.cpu = 0, .pid = 1234, .tid = 5678};

  ck_assert_int_eq(etlw_open(&w, path, &o), 0);
  uint64_t tmb = etlw_driver_base(w, (unsigned)tm), fmb = etlw_driver_base(w, (unsigned)fm);
  e.ts = etlw_ticks(w, 10);
  ck_assert_int_eq(etlw_process(w, &e, ETLW_DCSTART, 1234, 700, "TiWorker.exe",
                                "C:\\Windows\\winsxs\\TiWorker.exe -Embedding"),
                   0);
  ck_assert_int_eq(etlw_thread(w, &e, ETLW_DCSTART, 1234, 5678), 0);
  /* padding traffic on both CPUs so buffers fill and interleave */
  for (int i = 0; i < 300; i++) {
    struct etlw_ev p = {.cpu = (unsigned)(i % 2), .ts = etlw_ticks(w, 20 + (uint64_t)i), .pid = 4, .tid = 8};
    ck_assert_int_eq(etlw_thread(w, &p, ETLW_DCSTART, 4, 100 + (uint32_t)i), 0);
  }
  e.ts = etlw_ticks(w, 1000);
  e.pid = UINT32_MAX; /* FileIo events often carry pid -1: the TTID gives the process */
  ck_assert_int_eq(
      etlw_file_create(w, &e, irp, fo, 5678, 0x01000060, 0x80, 1,
                       "\\Device\\HarddiskVolume2\\Windows\\SoftwareDistribution\\Download\\更新.cab"),
      0);
  if (minifilter) {
    struct etlw_flt f = {.routine = tmb + 0x1234,
                         .file_object = fo,
                         .fs_context = FCB & (ptr == 8 ? ~0ULL : 0xFFFFFFFF),
                         .irp = irp,
                         .callback_data = CBD & (ptr == 8 ? ~0ULL : 0xFFFFFFFF),
                         .major_function = 0,
                         .layout = -1};
    uint64_t frames_pre[2] = {tmb + 0x1240, fmb + 0x2a6c};
    e.ts = etlw_ticks(w, 1010);
    ck_assert_int_eq(etlw_filter_callback(w, &e, ETLW_FLT_PREOP_INIT, &f), 0);
    struct etlw_ev s = e;
    s.ts = etlw_ticks(w, 1011);
    ck_assert_int_eq(etlw_stack(w, &s, e.ts, 1234, 5678, frames_pre, 2), 0);
    f.initial_time = e.ts;
    e.ts = etlw_ticks(w, 1040);
    ck_assert_int_eq(etlw_filter_callback(w, &e, ETLW_FLT_PREOP_COMPLETION, &f), 0);
    f.status = 0xC0000022;
    ck_assert_int_eq(etlw_filter_callback(w, &e, ETLW_FLT_PREOP_FAILURE, &f), 0);
  }
  {
    uint64_t frames_create[3] = {fmb + 0x1844, fmb + 0x2d349,
                                 0x7ff8a0001234ULL & (ptr == 8 ? ~0ULL : 0x7FFFFFFF)};
    struct etlw_ev s = e;
    s.cpu = 1; /* the stack lands in another CPU's buffer */
    s.ts = etlw_ticks(w, 1050);
    ck_assert_int_eq(etlw_stack(w, &s, etlw_ticks(w, 1000), 1234, 5678, frames_create, 3), 0);
  }
  e.ts = etlw_ticks(w, 1100);
  ck_assert_int_eq(etlw_file_opend(w, &e, irp, 0, 0xC0000022), 0);
  e.ts = etlw_ticks(w, 1200);
  ck_assert_int_eq(etlw_file_simple(w, &e, ETLW_FILE_CLOSE, irp + 0x100, fo, 0, 5678), 0);
  /* end-of-trace rundown */
  e.ts = etlw_ticks(w, 5000);
  e.pid = 0;
  e.tid = 0;
  ck_assert_int_eq(etlw_kernel_rundown(w, &e, ETLW_DCEND), 0);
  ck_assert_int_eq(etlw_volume_mapping(w, &e, "\\Device\\HarddiskVolume2\\", "C:\\"), 0);
  ck_assert_int_eq(etlw_close(w), 0);
}

static void read_back(const char *path, struct col *c, struct etl_decode_stats *st) {
  struct ev_sink sink = {c, on_image, on_process, on_thread, on_file, on_cb, on_filter_info, on_fact};
  struct fb_error err;
  char msg[1200];
  int rc;

  memset(c, 0, sizeof(*c));
  memset(st, 0, sizeof(*st));
  fb_error_init(&err, NULL);
  rc = etl_emit_evidence(path, &sink, NULL, st, &err);
  ck_assert_msg(rc == 0, "%s", fb_error_format(&err, msg, sizeof(msg)));
}

static void check_scenario(unsigned ptr, int compress) {
  char path[1024];
  struct col c;
  struct etl_decode_stats st;
  char want[512];

  snprintf(path, sizeof(path), "%s/scenario-%u-%d.etl", tu_tmpdir(), ptr, compress);
  write_scenario(path, ptr, compress, 1);
  read_back(path, &c, &st);
  ck_assert_uint_eq(c.processes, 1);
  ck_assert_str_eq(c.proc, "1234 700 TiWorker.exe C:\\Windows\\winsxs\\TiWorker.exe -Embedding");
  ck_assert_uint_eq(c.threads, 301);
  ck_assert_uint_eq(c.images, etlw_std_driver_count);
  ck_assert_uint_eq(c.kernel_images, etlw_std_driver_count);
  ck_assert_str_eq(c.tmimage,
                   "\\SystemRoot\\system32\\drivers\\TmPreFlt.sys pid=0 kernel=1 company=Trend Micro Inc.");
  ck_assert_uint_eq(c.files, 2);
  ck_assert_str_eq(c.create,
                   "FileIo/Create pid=1234 tid=5678 TiWorker.exe "
                   "C:\\Windows\\SoftwareDistribution\\Download\\更新.cab status=1:0xc0000022 dur=1000");
  ck_assert_uint_eq(c.first.disposition, 1);
  ck_assert_uint_eq(c.first.create_options, 0x60);
  ck_assert_uint_eq(c.first.share_access, 1);
  snprintf(want, sizeof(want), "FLTMGR.SYS+0x1844 FLTMGR.SYS+0x2d349 0x%llx",
           (unsigned long long)(0x7ff8a0001234ULL & (ptr == 8 ? ~0ULL : 0x7FFFFFFF)));
  ck_assert_str_eq(c.frames, want);
  ck_assert_uint_eq(c.callbacks, 3);
  ck_assert_str_eq(c.cbs, "pre_start TmPreFlt.sys+0x1234 mj=0; pre_end TmPreFlt.sys+0x1234 mj=0; "
                          "pre_failed TmPreFlt.sys+0x1234 mj=0 0xc0000022");
  ck_assert_uint_eq(c.cb_duration, 300);         /* InitialTime 30 us before the completion */
  ck_assert_str_eq(c.filters, "TmPreFlt/image"); /* once, though named by three callbacks */
  ck_assert_uint_eq(st.minifilter_events, 3);
  ck_assert_uint_eq(st.minifilter_resolved, 3);
  ck_assert_uint_eq(st.opend_matched, 1);
  ck_assert_uint_eq(st.census.nrows, 3);
  ck_assert_uint_eq(st.census.rows[0].size, 5 * ptr + 4);
  ck_assert_uint_eq(st.census.rows[1].size, 5 * ptr + 12);
  ck_assert_uint_eq(st.census.rows[2].size, 5 * ptr + 8);
  ck_assert_uint_eq(c.facts, 0);
}

START_TEST(scenario_x64) {
  check_scenario(8, 0);
}
END_TEST
START_TEST(scenario_x64_compressed) {
  check_scenario(8, 1);
}
END_TEST
START_TEST(scenario_x86) {
  check_scenario(4, 0);
}
END_TEST
START_TEST(scenario_x86_compressed) {
  check_scenario(4, 1);
}
END_TEST

START_TEST(without_minifilter_the_fact_is_reported) {
  char path[1024];
  struct col c;
  struct etl_decode_stats st;

  snprintf(path, sizeof(path), "%s/no-minifilter.etl", tu_tmpdir());
  write_scenario(path, 8, 0, 0);
  read_back(path, &c, &st);
  ck_assert_uint_eq(c.callbacks, 0);
  ck_assert_uint_eq(c.facts, 1);
  ck_assert_uint_eq(c.files, 2);
}
END_TEST

/* The core reader sees exactly what the writer wrote: every record, the
 * header facts, time order across CPUs, and no problem. */
static void check_reader(unsigned ptr, int compress) {
  struct etlw_options o = {.ptr_size = ptr, .compress = compress, .cpus = 3, .buffer_size = 4096};
  struct etlw *w;
  struct etl_reader *r;
  struct etl_record rec;
  struct fb_error err;
  const struct etl_logfile *lf;
  char path[1024];
  uint64_t written, buffers, n = 0, last = 0, kinds[ETL_KIND_COUNT] = {0};

  snprintf(path, sizeof(path), "%s/reader-%u-%d.etl", tu_tmpdir(), ptr, compress);
  ck_assert_int_eq(etlw_open(&w, path, &o), 0);
  for (unsigned i = 0; i < 3000; i++) {
    struct etlw_ev e = {.cpu = i % 3, .ts = etlw_ticks(w, 100 + i), .pid = 4, .tid = 8 + i % 3};
    uint64_t fr[4] = {0xfffff80000001000ULL + i, 2, 3, 4};
    ck_assert_int_eq(etlw_thread(w, &e, ETLW_START, 4, 100 + i), 0);
    ck_assert_int_eq(etlw_stack(w, &e, e.ts, 4, 8 + i % 3, fr, 4), 0);
    if (i % 10 == 0)
      ck_assert_int_eq(etlw_kfile_create(w, &e, 1, 2, 3, 4, 5, 6, "\\x", fr, 4), 0);
  }
  written = etlw_records(w);
  ck_assert_int_eq(etlw_close(w), 0);
  fb_error_init(&err, NULL);
  ck_assert_int_eq(etl_reader_open_file(&r, path, NULL, &err), 0);
  lf = etl_reader_logfile(r);
  ck_assert_uint_eq(lf->pointer_size, ptr);
  ck_assert_uint_eq(lf->cpus, 3);
  ck_assert_uint_eq(lf->build, 19045);
  ck_assert_uint_eq(lf->perf_freq, 10000000);
  ck_assert_uint_eq(lf->start_time, 134120520000000000ULL);
  ck_assert_uint_eq(lf->clock_type, 1);
  ck_assert_str_eq(lf->logger_name, "fltblame-etlw");
  ck_assert_uint_eq(lf->compression, compress ? ETL_COMPRESSION_XPRESS : ETL_COMPRESSION_NONE);
  ck_assert_uint_eq(lf->buffers_written, lf->buffers_in_file);
  buffers = lf->buffers_in_file;
  ck_assert_uint_eq(lf->buffers_compressed, compress ? buffers - 1 : 0);
  while (etl_reader_next(r, &rec, &err) == 1) {
    ck_assert_uint_ge(rec.timestamp, last);
    last = rec.timestamp;
    kinds[rec.kind]++;
    n++;
  }
  ck_assert_uint_eq(n, written);
  ck_assert_uint_eq(kinds[ptr == 8 ? ETL_KIND_SYSTEM64 : ETL_KIND_SYSTEM32], 3001); /* header + threads */
  ck_assert_uint_eq(kinds[ptr == 8 ? ETL_KIND_PERFINFO64 : ETL_KIND_PERFINFO32], 3000);
  ck_assert_uint_eq(kinds[ptr == 8 ? ETL_KIND_EVENT64 : ETL_KIND_EVENT32], 300);
  ck_assert_uint_eq(etl_reader_problems_total(r), 0);
  ck_assert_uint_eq(lf->end_time, 134120520000000000ULL + (100 + 2999) * 10);
  etl_reader_close(r);
}

START_TEST(reader_reads_what_was_written) {
  check_reader(8, 0);
  check_reader(8, 1);
  check_reader(4, 0);
  check_reader(4, 1);
}
END_TEST

START_TEST(truncated_trace_yields_every_readable_event) {
  char path[1024];
  struct col c;
  struct etl_decode_stats st;
  size_t size;
  char *bytes;
  FILE *f;

  snprintf(path, sizeof(path), "%s/truncated.etl", tu_tmpdir());
  write_scenario(path, 8, 0, 1);
  bytes = tu_read_file(path, &size);
  ck_assert_ptr_nonnull(bytes);
  ck_assert_uint_eq(size % 8192, 0);
  f = fopen(path, "wb");
  /* cut in the middle of the third buffer */
  ck_assert_uint_eq(fwrite(bytes, 1, 2 * 8192 + 3000, f), 2 * 8192 + 3000);
  fclose(f);
  free(bytes);
  read_back(path, &c, &st);
  ck_assert_uint_ge(st.reader_problems, 1);
  ck_assert_str_eq(
      st.first_problem,
      "buffer at offset 0x4000: the file ends after 3000 of its 8192 bytes: reading its complete records");
  ck_assert_uint_eq(c.processes, 1); /* buffer 1 (cpu 0) is complete */
  /* 301 written: the full first data buffer and the complete records of the cut one */
  ck_assert_uint_eq(c.threads, 104);
  ck_assert_uint_eq(c.files, 0); /* the FileIo events were in the lost part */
}
END_TEST

START_TEST(writer_refuses_bad_input) {
  char path[1024];
  struct etlw *w;
  struct etlw_options o = {.ptr_size = 6};
  struct etlw_ev e = {.cpu = 0, .ts = 100};

  snprintf(path, sizeof(path), "%s/bad.etl", tu_tmpdir());
  ck_assert_int_eq(etlw_open(&w, path, &o), -1);
  ck_assert_str_eq(etlw_error(w), "pointer size must be 4 or 8");
  etlw_abort(w);
  ck_assert_int_eq(etlw_open(&w, path, NULL), 0);
  e.ts = etlw_ticks(w, 100);
  ck_assert_int_eq(etlw_thread(w, &e, ETLW_START, 4, 8), 0);
  e.ts -= 1; /* time must not go back within a CPU */
  ck_assert_int_eq(etlw_thread(w, &e, ETLW_START, 4, 8), -1);
  e.cpu = 7;
  ck_assert_int_eq(etlw_thread(w, &e, ETLW_START, 4, 8), -1);
  ck_assert_str_eq(etlw_error(w), "cpu 7 out of range (trace has 2)");
  ck_assert_int_eq(etlw_close(w), 0);
}
END_TEST

START_TEST(xpress_encoder_shrinks_and_bounds) {
  static uint8_t src[70000], dst[80000];
  size_t n;

  for (size_t i = 0; i < sizeof(src); i++)
    src[i] = (uint8_t)(i / 100 * 37 + i % 3);
  n = etlw_xpress_compress(src, sizeof(src), dst, sizeof(dst), 0);
  ck_assert_uint_gt(n, 0);
  ck_assert_uint_lt(n, sizeof(src) / 4);
  n = etlw_xpress_compress(src, sizeof(src), dst, sizeof(dst), 1);
  ck_assert_uint_eq(n, sizeof(src) + 4 * ((sizeof(src) + 31) / 32)); /* literals + one flag word per 32 */
  ck_assert_uint_eq(etlw_xpress_compress(src, sizeof(src), dst, 100, 0), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("etl_writer");
  TCase *tc = tcase_create("roundtrip");

  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, scenario_x64);
  tcase_add_test(tc, scenario_x64_compressed);
  tcase_add_test(tc, scenario_x86);
  tcase_add_test(tc, scenario_x86_compressed);
  tcase_add_test(tc, without_minifilter_the_fact_is_reported);
  tcase_add_test(tc, reader_reads_what_was_written);
  tcase_add_test(tc, truncated_trace_yields_every_readable_event);
  tcase_add_test(tc, writer_refuses_bad_input);
  tcase_add_test(tc, xpress_encoder_shrinks_and_bounds);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
