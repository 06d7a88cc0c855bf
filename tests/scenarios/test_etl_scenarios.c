/* test_etl_scenarios.c - issue 5's scenarios as real ETL files, written with
 * the project's trace writer (tests/etl/etl_writer.h) and analysed end to end
 * by job_analyze_verdict: ETL reader -> decoder -> engine -> verdict. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/job.h"
#include "rules/verdict.h"
#include "tests/etl/etl_writer.h"
#include "tests/rules/schema_check.h"
#include "tests/testutil.h"

#define TI_PID 1234
#define TI_TID 5678
#define AV_PID 3000
#define AV_TID 3004
#define IRP 0xffffe00056780000ULL
#define FO 0xffffe00012340000ULL
#define NT_PATH "\\Device\\HarddiskVolume2\\Windows\\SoftwareDistribution\\Download\\0b2c\\wpdmtp.dll"
#define DOS_PATH "C:\\Windows\\SoftwareDistribution\\Download\\0b2c\\wpdmtp.dll"

enum scenario { S_CALLBACK_FAILED, S_STACK_ONLY, S_HELD, S_NO_FAILURE, S_OBSERVERS_ONLY };

static uint64_t drv(struct etlw *w, const char *name, uint64_t off) {
  int i = etlw_driver_find(name);
  ck_assert_int_ge(i, 0);
  return etlw_driver_base(w, (unsigned)i) + off;
}

static void callback(struct etlw *w, struct etlw_ev *e, uint64_t us, int opcode, const char *driver,
                     uint32_t status) {
  struct etlw_flt f = {.file_object = FO,
                       .irp = IRP,
                       .callback_data = 0xffffe0009abc0000ULL,
                       .major_function = 0,
                       .status = status,
                       .layout = -1};
  f.routine = drv(w, driver, 0x1234);
  e->ts = etlw_ticks(w, us);
  ck_assert_int_eq(etlw_filter_callback(w, e, opcode, &f), 0);
}

static const char *build(enum scenario s) {
  static char path[1024];
  struct etlw *w;
  struct etlw_options o = {.cpus = 1};
  struct etlw_ev e = {.cpu = 0, .pid = TI_PID, .tid = TI_TID};
  uint32_t final = s == S_NO_FAILURE ? 0 : s == S_HELD ? 0xC0000043u : 0xC0000022u;

  snprintf(path, sizeof(path), "%s/scenario-%d.etl", tu_tmpdir(), (int)s);
  ck_assert_int_eq(etlw_open(&w, path, &o), 0);
  e.ts = etlw_ticks(w, 10);
  etlw_process(w, &e, ETLW_DCSTART, TI_PID, 700, "TiWorker.exe", "TiWorker.exe -Embedding");
  etlw_thread(w, &e, ETLW_DCSTART, TI_PID, TI_TID);
  etlw_process(w, &e, ETLW_DCSTART, AV_PID, 700, "MsMpEng.exe", "MsMpEng.exe");
  etlw_thread(w, &e, ETLW_DCSTART, AV_PID, AV_TID);
  e.ts = etlw_ticks(w, 100);
  etlw_kernel_rundown(w, &e, ETLW_DCSTART);
  etlw_volume_mapping(w, &e, "\\Device\\HarddiskVolume2\\", "C:\\");
  if (s == S_HELD) { /* Defender opens the file, sharing nothing, and keeps it open */
    struct etlw_ev a = {.cpu = 0, .pid = AV_PID, .tid = AV_TID};
    a.ts = etlw_ticks(w, 500);
    etlw_file_create(w, &a, 0xffffe00011110000ULL, 0xffffe00022220000ULL, AV_TID, 0x01000000, 0, 0, NT_PATH);
    a.ts = etlw_ticks(w, 501);
    etlw_file_opend(w, &a, 0xffffe00011110000ULL, 1, 0);
  }
  e.ts = etlw_ticks(w, 1000);
  etlw_file_create(w, &e, IRP, FO, TI_TID, 0x01000000, 0, s == S_HELD ? 7 : 1, NT_PATH);
  if (s == S_CALLBACK_FAILED || s == S_OBSERVERS_ONLY || s == S_NO_FAILURE) {
    callback(w, &e, 1001, ETLW_FLT_PREOP_INIT, "PROCMON24.SYS", 0);
    callback(w, &e, 1002, ETLW_FLT_PREOP_COMPLETION, "PROCMON24.SYS", 0);
    callback(w, &e, 1003, ETLW_FLT_PREOP_INIT, "FileInfo.sys", 0);
    callback(w, &e, 1004, ETLW_FLT_PREOP_INIT, "WdFilter.sys", 0);
  }
  if (s == S_CALLBACK_FAILED || s == S_NO_FAILURE)
    callback(w, &e, 1005, ETLW_FLT_PREOP_INIT, "TmPreFlt.sys", 0);
  if (s == S_CALLBACK_FAILED)
    callback(w, &e, 1006, ETLW_FLT_PREOP_FAILURE, "TmPreFlt.sys", 0xC0000022u);
  if (s == S_OBSERVERS_ONLY) { /* observers "failing" are not believed */
    callback(w, &e, 1005, ETLW_FLT_PREOP_FAILURE, "PROCMON24.SYS", 0xC0000022u);
    callback(w, &e, 1006, ETLW_FLT_PREOP_FAILURE, "FileInfo.sys", 0xC0000022u);
  }
  e.ts = etlw_ticks(w, 1010);
  ck_assert_int_eq(etlw_file_opend(w, &e, IRP, 0, final), 0);
  if (s == S_STACK_ONLY || s == S_OBSERVERS_ONLY) {
    /* the create's stack: TmPreFlt (or, for the observers case, FileInfo and
     * Procmon) between two FltMgr runs */
    uint64_t frames[7];
    int third = s == S_STACK_ONLY;
    frames[0] = drv(w, "FLTMGR.SYS", 0x4a5c);
    frames[1] = drv(w, "FLTMGR.SYS", 0x45a0);
    frames[2] = third ? drv(w, "TmPreFlt.sys", 0x7923) : drv(w, "PROCMON24.SYS", 0x99);
    frames[3] = third ? drv(w, "TmPreFlt.sys", 0x15d59) : drv(w, "FileInfo.sys", 0x4411);
    frames[4] = drv(w, "FLTMGR.SYS", 0x18063);
    frames[5] = drv(w, "ntoskrnl.exe", 0x31f79);
    frames[6] = drv(w, "ntoskrnl.exe", 0x6305b9);
    struct etlw_ev st = {.cpu = 0, .pid = TI_PID, .tid = TI_TID, .perfinfo = 1};
    st.ts = etlw_ticks(w, 1011);
    ck_assert_int_eq(etlw_stack(w, &st, etlw_ticks(w, 1000), TI_PID, TI_TID, frames, 7), 0);
  }
  e.ts = etlw_ticks(w, 2000);
  etlw_kernel_rundown(w, &e, ETLW_DCEND);
  ck_assert_int_eq(etlw_close(w), 0);
  return path;
}

static struct verdict *analyze(enum scenario s) {
  const char *p = build(s);
  struct job_options opt = {0};
  struct job_summary sum;
  struct verdict *v = NULL;
  char *json, err[600];
  opt.data_dir = FB_SOURCE_DIR "/etc";
  opt.print = JOB_PRINT_NONE;
  if (job_analyze_verdict(&p, 1, &opt, &sum, &v) != 0)
    ck_abort_msg("job failed: %s", sum.error);
  ck_assert_str_eq(v->inputs[0].type, "etl");
  ck_assert_str_eq(v->inputs[0].status, "read");
  json = verdict_json_string(v);
  if (sc_validate_text(FB_SOURCE_DIR "/docs/verdict.schema.json", json, err, sizeof(err)))
    ck_abort_msg("verdict JSON does not conform: %s", err);
  free(json);
  return v;
}

START_TEST(etl_callback_failure_confirmed) {
  struct verdict *v = analyze(S_CALLBACK_FAILED);
  const struct vd_finding *f;
  ck_assert_uint_eq(v->nfindings, 1);
  f = &v->findings[0];
  ck_assert_int_eq(f->kind, VD_DENIED);
  ck_assert_str_eq(f->path, DOS_PATH);
  ck_assert_str_eq(f->process, "TiWorker.exe");
  ck_assert_uint_eq(f->pid, TI_PID);
  ck_assert_uint_eq(f->status, 0xC0000022u);
  ck_assert_str_eq(f->filter.name, "TmPreFlt.sys");
  ck_assert_str_eq(f->filter.vendor, "Trend");
  ck_assert_str_eq(f->filter.altitude, "328500");
  ck_assert_int_eq(f->filter.inbox, 0);
  ck_assert_int_eq(f->confidence, VD_CONFIRMED);
  ck_assert_int_eq(f->reason, VD_R_CALLBACK_FAILED);
  ck_assert_str_eq(f->observed_by, "fileio");
  ck_assert_str_eq(f->evidence[0].kind, "file_op");
  ck_assert_uint_eq(f->evidence[0].irp, IRP);
  ck_assert_uint_eq(f->evidence[0].file_object, FO);
  ck_assert_str_eq(f->evidence[1].kind, "filter_callback");
  ck_assert_str_eq(f->evidence[1].module, "TmPreFlt.sys");
  ck_assert_uint_eq(f->evidence[1].irp, IRP);
  ck_assert_uint_eq(v->stats.filter_callbacks, 6);
  verdict_free(v);
}
END_TEST

START_TEST(etl_stack_only_strong) {
  struct verdict *v = analyze(S_STACK_ONLY);
  const struct vd_finding *f;
  ck_assert_uint_eq(v->nfindings, 1);
  f = &v->findings[0];
  ck_assert_str_eq(f->path, DOS_PATH);
  ck_assert_str_eq(f->filter.name, "TmPreFlt.sys");
  ck_assert_int_eq(f->confidence, VD_STRONG);
  ck_assert_int_eq(f->reason, VD_R_NESTED_FRAMES);
  ck_assert_str_eq(f->evidence[1].kind, "stack");
  ck_assert_ptr_nonnull(strstr(f->evidence[1].text,
                               "FLTMGR.SYS+0x45a0 > TmPreFlt.sys+0x7923 > TmPreFlt.sys+0x15d59 > "
                               "FLTMGR.SYS+0x18063"));
  verdict_free(v);
}
END_TEST

START_TEST(etl_sharing_violation_holder) {
  struct verdict *v = analyze(S_HELD);
  const struct vd_finding *f;
  ck_assert_uint_eq(v->nfindings, 1);
  f = &v->findings[0];
  ck_assert_int_eq(f->kind, VD_HELD);
  ck_assert_uint_eq(f->status, 0xC0000043u);
  ck_assert_int_eq(f->has_holder, 1);
  ck_assert_uint_eq(f->holder_pid, AV_PID);
  ck_assert_str_eq(f->holder_process, "MsMpEng.exe");
  ck_assert_str_eq(f->filter.name, "WdFilter.sys"); /* Defender's service holds it */
  ck_assert_int_eq(f->filter.inbox, 1);
  ck_assert_int_eq(f->reason, VD_R_HOLDER_PROCESS);
  /* FileIo Create records no desired access: the conflict cannot be proven */
  ck_assert_int_eq(f->confidence, VD_STRONG);
  verdict_free(v);
}
END_TEST

START_TEST(etl_no_failure_no_finding) {
  struct verdict *v = analyze(S_NO_FAILURE);
  ck_assert_uint_eq(v->nfindings, 0);
  ck_assert_uint_eq(v->stats.file_ops, 1);
  verdict_free(v);
}
END_TEST

START_TEST(etl_observers_only_never_blamed) {
  struct verdict *v = analyze(S_OBSERVERS_ONLY);
  const struct vd_finding *f;
  ck_assert_uint_eq(v->nfindings, 1);
  f = &v->findings[0];
  ck_assert_int_ne(f->confidence, VD_CONFIRMED);
  ck_assert_int_ne(f->confidence, VD_STRONG);
  /* the third-party TmPreFlt.sys is loaded on this machine, so it is the
   * suspect; Procmon and FileInfo are never named or ranked */
  ck_assert_str_eq(f->filter.name, "TmPreFlt.sys");
  ck_assert_int_eq(f->confidence, VD_SUSPECT);
  ck_assert_int_eq(f->reason, VD_R_PRESENT);
  for (size_t i = 0; i < f->ncandidates; i++) {
    ck_assert_int_eq(f->candidates[i].filter.observer, 0);
    ck_assert_str_ne(f->candidates[i].filter.name, "PROCMON24.SYS");
    ck_assert_str_ne(f->candidates[i].filter.name, "FileInfo.sys");
  }
  ck_assert_uint_eq(f->ncandidates, 2); /* TmPreFlt, WdFilter (gscfmgr is in no filter list) */
  ck_assert_str_eq(f->candidates[1].filter.name, "WdFilter.sys");
  verdict_free(v);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("etl-scenarios");
  TCase *tc = tcase_create("analyze");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, etl_callback_failure_confirmed);
  tcase_add_test(tc, etl_stack_only_strong);
  tcase_add_test(tc, etl_sharing_violation_holder);
  tcase_add_test(tc, etl_no_failure_no_finding);
  tcase_add_test(tc, etl_observers_only_never_blamed);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return tu_run_suite(suite());
}
