/* Tests of the decoder state machine (parsers/etl/etl_decode.c) fed with
 * hand-built records, independent of the reader: joins of a FileIo Create
 * with its StackWalk stack, stack-key definitions and OperationEnd; module
 * resolution of minifilter callbacks with the kernel map learnt in pass 1
 * from a rundown logged at the END of the trace; volume mapping; file-object
 * state dropped at Close; the "no minifilter events" fact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/error.h"
#include "parsers/etl/etl_decode.h"
#include "parsers/etl/etl_kernel.h"
#include "tests/testutil.h"

#define K 0xfffff80012340000ULL  /* TmPreFlt.sys */
#define KF 0xfffff80011000000ULL /* FLTMGR.SYS */
#define IRP 0xffffe000bbbb0000ULL
#define FO 0xffffe000aaaa0000ULL

struct buf {
  uint8_t b[1024];
  size_t n;
};
static void le(struct buf *b, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    b->b[b->n++] = (uint8_t)(v >> (8 * i));
}
static void wz(struct buf *b, const char *s) {
  for (; *s; s++)
    le(b, (unsigned char)*s, 2);
  le(b, 0, 2);
}
static void az(struct buf *b, const char *s) {
  memcpy(b->b + b->n, s, strlen(s) + 1);
  b->n += strlen(s) + 1;
}

/* what the sink saw */
struct seen {
  int files, callbacks, images, processes, threads, facts;
  struct ev_file_op last_create;
  char create_path[256], create_dev[256], create_proc[64], create_frames[512];
  uint32_t create_nframes;
  char cb_module[3][64];
  uint64_t cb_off[3];
  uint32_t cb_status[3];
  int cb_phase[3];
  uint64_t cb_start[3], cb_time[3];
  char cb_frames[256];
  char fact[256];
  char opend_path[256];
  uint32_t opend_status;
};

static void frames_text(const struct ev_stack *s, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (uint32_t i = 0; i < s->count && o < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "%s%s+0x%llx", i ? "," : "",
                          s->frames[i].module ? s->frames[i].module : "?",
                          (unsigned long long)s->frames[i].offset);
}

static int on_file(void *ctx, const struct ev_file_op *r) {
  struct seen *s = ctx;
  s->files++;
  if (r->kind == EV_FOP_CREATE) {
    s->last_create = *r;
    snprintf(s->create_path, sizeof(s->create_path), "%s", r->path ? r->path : "");
    snprintf(s->create_dev, sizeof(s->create_dev), "%s", r->device_path ? r->device_path : "");
    snprintf(s->create_proc, sizeof(s->create_proc), "%s", r->process_name ? r->process_name : "");
    frames_text(&r->stack, s->create_frames, sizeof(s->create_frames));
    s->create_nframes = r->stack.count;
  }
  if (r->kind == EV_FOP_CLOSE) {
    snprintf(s->opend_path, sizeof(s->opend_path), "%s", r->path ? r->path : "(null)");
  }
  return 0;
}
static int on_cb(void *ctx, const struct ev_filter_callback *r) {
  struct seen *s = ctx;
  if (s->callbacks < 3) {
    snprintf(s->cb_module[s->callbacks], 64, "%s", r->module ? r->module : "");
    s->cb_off[s->callbacks] = r->module_offset;
    s->cb_status[s->callbacks] = r->status_known ? r->status : 0;
    s->cb_phase[s->callbacks] = r->phase;
    s->cb_start[s->callbacks] = r->start_time;
    s->cb_time[s->callbacks] = r->time;
    if (s->callbacks == 0)
      frames_text(&r->stack, s->cb_frames, sizeof(s->cb_frames));
  }
  s->callbacks++;
  return 0;
}
static int on_image(void *ctx, const struct ev_image *r) {
  (void)r;
  ((struct seen *)ctx)->images++;
  return 0;
}
static int on_process(void *ctx, const struct ev_process *r) {
  (void)r;
  ((struct seen *)ctx)->processes++;
  return 0;
}
static int on_thread(void *ctx, const struct ev_thread *r) {
  (void)r;
  ((struct seen *)ctx)->threads++;
  return 0;
}
static int on_fact(void *ctx, const struct ev_fact *r) {
  struct seen *s = ctx;
  s->facts++;
  snprintf(s->fact, sizeof(s->fact), "%s", r->text);
  return 0;
}

static struct etl_event_in kernel(uint64_t ts, unsigned group, unsigned type, unsigned version, uint32_t pid,
                                  uint32_t tid, const struct buf *p) {
  struct etl_event_in e;
  memset(&e, 0, sizeof(e));
  e.kind = ETL_IN_KERNEL;
  e.ts = ts;
  e.index = ts;
  e.offset = FB_OFFSET_NONE;
  e.ptr_size = 8;
  e.has_ids = 1;
  e.pid = pid;
  e.tid = tid;
  e.group = group;
  e.type = type;
  e.version = version;
  e.payload = p->b;
  e.size = p->n;
  return e;
}

#define NREC 16
struct trace {
  struct buf bufs[NREC];
  struct etl_event_in ev[NREC];
  int n;
};

static struct buf *next(struct trace *t) {
  struct buf *b = &t->bufs[t->n];
  b->n = 0;
  return b;
}

/* The scenario: TiWorker.exe (1234, thread 5678) creates a file under
 * C:\Windows\SoftwareDistribution; TmPreFlt's pre-create callback runs and
 * fails it with ACCESS_DENIED; the create's stack arrives as a key reference
 * defined later; OperationEnd gives 0xC0000022; Close drops the file object.
 * The driver list and volume mapping come only at the end (like WPR). */
static void build(struct trace *t, int with_minifilter) {
  struct buf *b;
  const char *dev = "\\Device\\HarddiskVolume2\\Windows\\SoftwareDistribution\\Download\\a.cab";

  t->n = 0;
  b = next(t); /* Process DCStart (v4) */
  le(b, 0xffffe00000001000ULL, 8), le(b, 1234, 4), le(b, 500, 4), le(b, 1, 4), le(b, 0x103, 4);
  le(b, 0x1aa000, 8), le(b, 0, 4), le(b, 0, 4), az(b, "TiWorker.exe"), wz(b, "TiWorker.exe -Embedding");
  t->ev[t->n++] = kernel(100, 3, 3, 4, 1234, 0, b);
  b = next(t); /* Thread DCStart */
  le(b, 1234, 4), le(b, 5678, 4);
  for (int i = 0; i < 7; i++)
    le(b, 0, 8);
  le(b, 0, 8);
  t->ev[t->n++] = kernel(101, 5, 3, 3, 1234, 5678, b);
  b = next(t); /* FileIo Create v3, header pid -1 (kernel events often carry it) */
  le(b, IRP, 8), le(b, FO, 8), le(b, 5678, 4), le(b, 0x01000020, 4), le(b, 0x80, 4), le(b, 7, 4), wz(b, dev);
  t->ev[t->n++] = kernel(200, 4, 64, 3, UINT32_MAX, 5678, b);
  if (with_minifilter) {
    b = next(t); /* PreOpInit, TmPreFlt routine +0x1234 */
    le(b, K + 0x1234, 8), le(b, FO, 8), le(b, 0xffffe000cccc0000ULL, 8), le(b, IRP, 8);
    le(b, 0xffffe000dddd0000ULL, 8), le(b, 0, 4);
    t->ev[t->n++] = kernel(210, 4, 96, 3, UINT32_MAX, 5678, b);
    b = next(t); /* StackWalk for the PreOpInit: FltMgr calling TmPreFlt */
    le(b, 210, 8), le(b, 1234, 4), le(b, 5678, 4), le(b, K + 0x1240, 8), le(b, KF + 0x2a6c, 8);
    t->ev[t->n++] = kernel(212, 24, 32, 2, 0, 0, b);
    b = next(t); /* PreOpFailure with ACCESS_DENIED */
    le(b, K + 0x1234, 8), le(b, FO, 8), le(b, 0xffffe000cccc0000ULL, 8), le(b, IRP, 8);
    le(b, 0xffffe000dddd0000ULL, 8), le(b, 0, 4), le(b, 0xC0000022, 4);
    t->ev[t->n++] = kernel(220, 4, 100, 3, UINT32_MAX, 5678, b);
  }
  b = next(t); /* StackKeyKernel for the Create */
  le(b, 200, 8), le(b, 1234, 4), le(b, 5678, 4), le(b, 0x77, 8);
  t->ev[t->n++] = kernel(230, 24, 37, 2, 0, 0, b);
  b = next(t); /* OperationEnd: ACCESS_DENIED */
  le(b, IRP, 8), le(b, 0, 8), le(b, 0xC0000022, 4);
  t->ev[t->n++] = kernel(240, 4, 76, 3, UINT32_MAX, 5678, b);
  b = next(t); /* Close of the file object */
  le(b, 0xffffe000eeee0000ULL, 8), le(b, FO, 8), le(b, 0x99, 8), le(b, 5678, 4);
  t->ev[t->n++] = kernel(250, 4, 66, 3, UINT32_MAX, 5678, b);
  b = next(t); /* a later Close of the same file object: its path is gone */
  le(b, 0xffffe000eeee1000ULL, 8), le(b, FO, 8), le(b, 0, 8), le(b, 5678, 4);
  t->ev[t->n++] = kernel(255, 4, 66, 3, UINT32_MAX, 5678, b);
  b = next(t); /* KeyRundown defines key 0x77: FLTMGR frames */
  le(b, 0x77, 8), le(b, KF + 0x1844, 8), le(b, KF + 0x2d349, 8);
  t->ev[t->n++] = kernel(300, 24, 36, 2, 0, 0, b);
  b = next(t); /* Image DCEnd rundown at the end: TmPreFlt.sys, FLTMGR.SYS */
  le(b, K, 8), le(b, 0x40000, 8), le(b, 0, 4), le(b, 0, 4), le(b, 0, 4), le(b, 0, 4), le(b, K, 8);
  le(b, 0, 8), le(b, 0, 8), wz(b, "\\SystemRoot\\System32\\drivers\\TmPreFlt.sys");
  t->ev[t->n++] = kernel(310, 20, 4, 3, 0, 0, b);
  b = next(t);
  le(b, KF, 8), le(b, 0x80000, 8), le(b, 0, 4), le(b, 0, 4), le(b, 0, 4), le(b, 0, 4), le(b, KF, 8);
  le(b, 0, 8), le(b, 0, 8), wz(b, "\\SystemRoot\\System32\\drivers\\FLTMGR.SYS");
  t->ev[t->n++] = kernel(311, 20, 4, 3, 0, 0, b);
  b = next(t); /* SysConfig VolumeMapping (classic) */
  wz(b, "\\Device\\HarddiskVolume2\\"), wz(b, "C:\\");
  t->ev[t->n] = kernel(320, 0, 35, 2, 0, 0, b);
  t->ev[t->n].kind = ETL_IN_CLASSIC;
  t->ev[t->n++].guid = etl_guid_sysconfig;
}

static struct etl_decoder *run(struct trace *t, struct seen *s, int two_pass) {
  struct etl_clock clk = {
      .t0 = 100, .start_filetime = 134119656000000000ULL, .freq = 10000000, .ptr_size = 8};
  struct ev_sink sink = {s, on_image, on_process, on_thread, on_file, on_cb, NULL, on_fact};
  struct etl_decoder *d = etl_decoder_new(&clk, &sink, NULL, "t.etl");

  memset(s, 0, sizeof(*s));
  if (two_pass)
    for (int i = 0; i < t->n; i++)
      etl_decoder_learn(d, &t->ev[i]);
  for (int i = 0; i < t->n; i++)
    ck_assert_int_eq(etl_decoder_feed(d, &t->ev[i]), 0);
  ck_assert_int_eq(etl_decoder_finish(d), 0);
  return d;
}

START_TEST(create_joined_with_stack_key_opend_and_volume) {
  struct trace t;
  struct seen s;
  struct etl_decoder *d;
  const struct etl_decode_stats *st;

  build(&t, 1);
  d = run(&t, &s, 1);
  st = etl_decoder_stats(d);
  ck_assert_int_eq(s.files, 3); /* create, two closes */
  ck_assert_str_eq(s.create_path, "C:\\Windows\\SoftwareDistribution\\Download\\a.cab");
  ck_assert_str_eq(s.create_dev, "\\Device\\HarddiskVolume2\\Windows\\SoftwareDistribution\\Download\\a.cab");
  ck_assert_str_eq(s.create_proc, "TiWorker.exe");
  ck_assert_uint_eq(s.last_create.pid, 1234);
  ck_assert_uint_eq(s.last_create.tid, 5678);
  ck_assert_uint_eq(s.last_create.irp, IRP);
  ck_assert_uint_eq(s.last_create.file_object, FO);
  ck_assert_int_eq(s.last_create.status_known, 1);
  ck_assert_uint_eq(s.last_create.status, 0xC0000022);
  ck_assert_uint_eq(s.last_create.disposition, 1);
  ck_assert_uint_eq(s.last_create.create_options, 0x20);
  ck_assert_uint_eq(s.last_create.share_access, 7);
  ck_assert_uint_eq(s.last_create.duration, 40); /* 240 - 200 ticks at 10 MHz = 40 x 100 ns */
  ck_assert_str_eq(s.create_frames, "FLTMGR.SYS+0x1844,FLTMGR.SYS+0x2d349");
  ck_assert_str_eq(s.opend_path, "(null)"); /* second close: state dropped at the first */
  ck_assert_int_eq(s.callbacks, 2);
  ck_assert_str_eq(s.cb_module[0], "TmPreFlt.sys");
  ck_assert_uint_eq(s.cb_off[0], 0x1234);
  ck_assert_int_eq(s.cb_phase[0], EV_CB_PRE_START);
  ck_assert_str_eq(s.cb_frames, "TmPreFlt.sys+0x1240,FLTMGR.SYS+0x2a6c");
  ck_assert_int_eq(s.cb_phase[1], EV_CB_PRE_FAILED);
  ck_assert_uint_eq(s.cb_status[1], 0xC0000022);
  /* the failure's start is its init event's time (no InitialTime in that layout): 10 ticks = 1 us earlier */
  ck_assert_uint_eq(s.cb_start[0], 0);
  ck_assert_uint_eq(s.cb_start[1], s.cb_time[0]);
  ck_assert_uint_eq(s.cb_time[1] - s.cb_start[1], 10);
  ck_assert_int_eq(s.facts, 0);
  ck_assert_uint_eq(st->minifilter_events, 2);
  ck_assert_uint_eq(st->minifilter_resolved, 2);
  ck_assert_uint_eq(st->opend_matched, 1);
  ck_assert_uint_eq(st->stacks_attached, 2);
  ck_assert_uint_eq(st->kernel_modules, 2);
  ck_assert_uint_eq(st->volume_mappings, 1);
  ck_assert_uint_eq(st->census.nrows, 2);
  ck_assert_uint_eq(st->census.rows[0].size, 44);
  ck_assert_uint_eq(st->census.rows[1].size, 48);
  ck_assert_int_eq(s.processes, 1);
  ck_assert_int_eq(s.threads, 1);
  ck_assert_int_eq(s.images, 2);
  etl_decoder_free(d);
}
END_TEST

START_TEST(single_pass_cannot_resolve_end_rundown) {
  struct trace t;
  struct seen s;
  struct etl_decoder *d;

  build(&t, 1);
  d = run(&t, &s, 0);
  /* the driver list arrives after the callbacks: without pass 1 nothing resolves */
  ck_assert_str_eq(s.cb_module[0], "");
  /* the failure event waited for a stack until the end of the trace, so it did resolve */
  ck_assert_str_eq(s.cb_module[1], "TmPreFlt.sys");
  ck_assert_uint_eq(etl_decoder_stats(d)->minifilter_resolved, 1);
  etl_decoder_free(d);
}
END_TEST

START_TEST(trace_without_minifilter_reports_the_fact) {
  struct trace t;
  struct seen s;
  struct etl_decoder *d;

  build(&t, 0);
  d = run(&t, &s, 1);
  ck_assert_int_eq(s.callbacks, 0);
  ck_assert_int_eq(s.facts, 1);
  ck_assert_str_eq(s.fact, ETL_FACT_NO_MINIFILTER);
  ck_assert_uint_eq(etl_decoder_stats(d)->minifilter_events, 0);
  etl_decoder_free(d);
}
END_TEST

static int stop_at_first(void *ctx, const struct ev_process *r) {
  (void)ctx;
  (void)r;
  return 1;
}

START_TEST(sink_stop_is_honoured) {
  struct trace t;
  struct etl_clock clk = {.t0 = 100, .start_filetime = 1, .freq = 10000000, .ptr_size = 8};
  struct ev_sink sink = {.process = stop_at_first};
  struct etl_decoder *d;

  build(&t, 1);
  d = etl_decoder_new(&clk, &sink, NULL, "t.etl");
  ck_assert_int_eq(etl_decoder_feed(d, &t.ev[0]), FB_ESTOP);
  ck_assert_int_eq(etl_decoder_feed(d, &t.ev[1]), FB_ESTOP);
  ck_assert_int_eq(etl_decoder_finish(d), FB_ESTOP);
  etl_decoder_free(d);
}
END_TEST

START_TEST(pool_pressure_evicts_oldest) {
  struct etl_clock clk = {.t0 = 0, .start_filetime = 1, .freq = 10000000, .ptr_size = 8};
  struct seen s;
  struct ev_sink sink = {&s, NULL, NULL, NULL, on_file, NULL, NULL, NULL};
  struct etl_decode_options opt = {.max_pending = 4};
  struct etl_decoder *d;
  struct buf stack, b;
  struct etl_event_in e;

  memset(&s, 0, sizeof(s));
  d = etl_decoder_new(&clk, &sink, &opt, "t.etl");
  /* pass 1: a trace where creates get StackWalk stacks (one stack for the
   * first create marks the class); pass 2 feeds the creates without their
   * stacks, so each waits and the pool of 4 overflows */
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 10; i++) {
      b.n = 0;
      le(&b, 0x1000 + (uint64_t)i, 8), le(&b, 0x2000 + (uint64_t)i, 8), le(&b, 7, 4), le(&b, 0, 4);
      le(&b, 0, 4), le(&b, 0, 4), wz(&b, "\\x");
      e = kernel(10 + (uint64_t)i, 4, 64, 3, 4, 7, &b);
      if (pass == 0) {
        etl_decoder_learn(d, &e);
        if (i == 0) {
          stack.n = 0;
          le(&stack, 10, 8), le(&stack, 4, 4), le(&stack, 7, 4), le(&stack, 0x10, 8);
          e = kernel(11, 24, 32, 2, 0, 0, &stack);
          etl_decoder_learn(d, &e);
        }
      } else {
        ck_assert_int_eq(etl_decoder_feed(d, &e), 0);
      }
    }
  }
  ck_assert_int_eq(s.files, 6);
  ck_assert_uint_eq(etl_decoder_stats(d)->evicted, 6);
  ck_assert_int_eq(etl_decoder_finish(d), 0);
  ck_assert_int_eq(s.files, 10);
  etl_decoder_free(d);
}
END_TEST

START_TEST(only_classes_that_get_stacks_wait) {
  struct etl_clock clk = {.t0 = 0, .start_filetime = 1, .freq = 10000000, .ptr_size = 8};
  struct seen s;
  struct ev_sink sink = {&s, NULL, NULL, NULL, on_file, NULL, NULL, NULL};
  struct etl_decoder *d;
  struct buf stack, b;
  struct etl_event_in e;

  memset(&s, 0, sizeof(s));
  d = etl_decoder_new(&clk, &sink, NULL, "t.etl");
  /* pass 1 sees a stack for a Cleanup, none for Creates */
  b.n = 0;
  le(&b, 0x1000, 8), le(&b, 0x2000, 8), le(&b, 0x3000, 8), le(&b, 7, 4);
  e = kernel(5, 4, 65, 3, 4, 7, &b);
  etl_decoder_learn(d, &e);
  stack.n = 0;
  le(&stack, 5, 8), le(&stack, 4, 4), le(&stack, 7, 4), le(&stack, 0x10, 8);
  e = kernel(6, 24, 32, 2, 0, 0, &stack);
  etl_decoder_learn(d, &e);
  /* pass 2: a Create is emitted at once, a Cleanup waits for its stack */
  b.n = 0;
  le(&b, 0x1100, 8), le(&b, 0x2100, 8), le(&b, 7, 4), le(&b, 0, 4), le(&b, 0, 4), le(&b, 0, 4), wz(&b, "\\y");
  e = kernel(20, 4, 64, 3, 4, 7, &b);
  ck_assert_int_eq(etl_decoder_feed(d, &e), 0);
  ck_assert_int_eq(s.files, 1);
  b.n = 0;
  le(&b, 0x1200, 8), le(&b, 0x2100, 8), le(&b, 0x3100, 8), le(&b, 7, 4);
  e = kernel(21, 4, 65, 3, 4, 7, &b);
  ck_assert_int_eq(etl_decoder_feed(d, &e), 0);
  ck_assert_int_eq(s.files, 1);
  ck_assert_int_eq(etl_decoder_finish(d), 0);
  ck_assert_int_eq(s.files, 2);
  etl_decoder_free(d);
}
END_TEST

START_TEST(clock_conversion) {
  struct etl_clock c = {.t0 = 1000, .start_filetime = 134119656000000000ULL, .freq = 3117777, .ptr_size = 4};
  ck_assert_uint_eq(etl_clock_filetime(&c, 1000), 134119656000000000ULL);
  ck_assert_uint_eq(etl_clock_filetime(&c, 1000 + 3117777), 134119656000000000ULL + 10000000);
  ck_assert_uint_eq(etl_clock_filetime(&c, 1000 + 3117777 / 2), 134119656000000000ULL + 4999998);
  ck_assert_uint_eq(etl_clock_filetime(&c, 0), 134119656000000000ULL - 3207);
}
END_TEST

int main(void) {
  Suite *s = suite_create("etl_decoder");
  TCase *tc = tcase_create("state");

  tcase_add_test(tc, create_joined_with_stack_key_opend_and_volume);
  tcase_add_test(tc, single_pass_cannot_resolve_end_rundown);
  tcase_add_test(tc, trace_without_minifilter_reports_the_fact);
  tcase_add_test(tc, sink_stop_is_honoured);
  tcase_add_test(tc, pool_pressure_evicts_oldest);
  tcase_add_test(tc, only_classes_that_get_stacks_wait);
  tcase_add_test(tc, clock_conversion);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
