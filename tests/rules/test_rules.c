/* test_rules.c - the verdict engine on evidence records (no parser): the
 * scenarios of issue 5, the known-filter database, the verdict writers and
 * the JSON schema. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rules/engine.h"
#include "rules/known_filters.h"
#include "rules/verdict.h"
#include "tests/rules/schema_check.h"
#include "tests/testutil.h"

#define ACCESS_DENIED 0xC0000022u
#define SHARING_VIOLATION 0xC0000043u
#define T0 132900000000000000ull /* 2022-02-22 */
#define WU_PATH "C:\\Windows\\SoftwareDistribution\\Download\\0b2c\\wpdmtp.dll"

static struct kf_db *db;
static struct rules_engine *eng;
static const struct ev_sink *sink;
static struct verdict *vd;

static void setup(void) {
  struct fb_error err;
  if (db == NULL)
    ck_assert_int_eq(kf_db_load(&db, FB_SOURCE_DIR "/etc/known-filters.tsv", &err), 0);
  eng = rules_engine_new(db, NULL);
  ck_assert_ptr_nonnull(eng);
  sink = rules_engine_sink(eng);
  vd = verdict_new();
}

static void teardown(void) {
  rules_engine_free(eng);
  verdict_free(vd);
  eng = NULL;
  vd = NULL;
}

static void finish(void) {
  ck_assert_int_eq(rules_engine_finish(eng, vd), 0);
}

static struct ev_origin origin(const char *format, uint64_t index) {
  struct ev_origin o = {format[0] == 'p' ? "case.pml" : "case.etl", format, index, EV_UNKNOWN_U64};
  return o;
}

static void image(const char *name, const char *company) {
  struct ev_image r;
  memset(&r, 0, sizeof(r));
  r.origin = origin("etl", 0);
  r.pid = 4;
  r.name = name;
  r.path = name;
  r.company = company;
  r.kernel = 1;
  ck_assert_int_eq(sink->image(sink->ctx, &r), 0);
}

static void fltmc(const char *name, const char *altitude) {
  struct ev_filter_info r;
  memset(&r, 0, sizeof(r));
  r.origin = origin("etl", 0);
  r.origin.format = "fltmc";
  r.source = EV_FSRC_FLTMC_FILTERS;
  r.name = name;
  r.altitude = altitude;
  r.instances = 3;
  r.frame = 0;
  r.loaded = 1;
  ck_assert_int_eq(sink->filter_info(sink->ctx, &r), 0);
}

/* The machine of the seed case: Procmon, FileInfo, Defender, luafv, Trend Micro. */
static void machine(int with_trend) {
  image("FLTMGR.SYS", "Microsoft Corporation");
  image("ntoskrnl.exe", "Microsoft Corporation");
  image("PROCMON24.SYS", "Sysinternals - www.sysinternals.com");
  image("FileInfo.sys", "Microsoft Corporation");
  image("WdFilter.sys", "Microsoft Corporation");
  image("luafv.sys", "Microsoft Corporation");
  fltmc("PROCMON24", "385200");
  fltmc("FileInfo", "40500");
  fltmc("WdFilter", "328010");
  fltmc("luafv", "135000");
  if (with_trend) {
    image("TmPreFlt.sys", "Trend Micro Inc.");
    fltmc("TmPreFlt", "328500");
  }
}

static void callback(enum ev_cb_phase phase, const char *module, uint64_t irp, uint64_t fo, uint32_t status,
                     uint64_t index) {
  struct ev_filter_callback r;
  memset(&r, 0, sizeof(r));
  r.origin = origin("etl", index);
  r.time = T0 + index;
  r.pid = 1200;
  r.tid = 1300;
  r.phase = phase;
  r.module = module;
  r.module_offset = 0x1234;
  r.routine = 0xfffff80000001234ull;
  r.file_object = fo;
  r.irp = irp;
  r.major_function = 0;
  r.status = status;
  r.status_known = phase == EV_CB_PRE_FAILED || phase == EV_CB_POST_FAILED;
  ck_assert_int_eq(sink->filter_callback(sink->ctx, &r), 0);
}

static void file_op(const char *format, uint64_t index, enum ev_file_op_kind kind, uint32_t pid,
                    const char *process, const char *path, uint64_t fo, uint64_t irp, uint32_t access,
                    uint32_t share, uint32_t status, const struct ev_stack *stack) {
  struct ev_file_op op;
  ev_file_op_init(&op);
  op.origin = origin(format, index);
  op.time = T0 + index;
  op.pid = pid;
  op.tid = pid + 100;
  op.process_name = process;
  op.kind = kind;
  op.op_name = kind == EV_FOP_CREATE ? (format[0] == 'p' ? "CreateFile" : "FileIo/Create") : "CloseFile";
  op.path = path;
  op.file_object = fo;
  op.irp = irp;
  op.desired_access = access;
  op.share_access = share;
  op.status = status;
  op.status_known = 1;
  if (stack)
    op.stack = *stack;
  ck_assert_int_eq(sink->file_op(sink->ctx, &op), 0);
}

static const struct vd_finding *only_finding(void) {
  ck_assert_uint_eq(vd->nfindings, 1);
  return &vd->findings[0];
}

static void assert_schema_ok(void) {
  char *s = verdict_json_string(vd), err[600];
  ck_assert_ptr_nonnull(s);
  if (sc_validate_text(FB_SOURCE_DIR "/docs/verdict.schema.json", s, err, sizeof(err)))
    ck_abort_msg("verdict JSON does not conform: %s", err);
  free(s);
}

/* 1. A third-party filter fails pre-create with ACCESS DENIED among an
 * observer and inbox filters -> named, confirmed. */
START_TEST(callback_failure_is_confirmed) {
  const struct vd_finding *f;
  machine(1);
  callback(EV_CB_PRE_START, "PROCMON24.SYS", 0x1000, 0x2000, 0, 10);
  callback(EV_CB_PRE_END, "PROCMON24.SYS", 0x1000, 0x2000, 0, 11);
  callback(EV_CB_PRE_START, "WdFilter.sys", 0x1000, 0x2000, 0, 12);
  callback(EV_CB_PRE_START, "TmPreFlt.sys", 0x1000, 0x2000, 0, 13);
  callback(EV_CB_PRE_FAILED, "TmPreFlt.sys", 0x1000, 0x2000, ACCESS_DENIED, 14);
  file_op("etl", 15, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0x2000, 0x1000, 0x80000000u, 1,
          ACCESS_DENIED, NULL);
  finish();
  f = only_finding();
  ck_assert_int_eq(f->kind, VD_DENIED);
  ck_assert_str_eq(f->path, WU_PATH);
  ck_assert_str_eq(f->process, "TiWorker.exe");
  ck_assert_uint_eq(f->pid, 1200);
  ck_assert_uint_eq(f->status, ACCESS_DENIED);
  ck_assert_int_eq(f->has_filter, 1);
  ck_assert_str_eq(f->filter.name, "TmPreFlt.sys");
  ck_assert_str_eq(f->filter.vendor, "Trend");
  ck_assert_str_eq(f->filter.altitude, "328500");
  ck_assert_str_eq(f->filter.group, "FSFilter Anti-Virus");
  ck_assert_int_eq(f->filter.inbox, 0);
  ck_assert_int_eq(f->filter.observer, 0);
  ck_assert_int_eq(f->confidence, VD_CONFIRMED);
  ck_assert_int_eq(f->reason, VD_R_CALLBACK_FAILED);
  ck_assert_int_eq(f->fs_possible, 0);
  /* the chain: the failing FileIo create, then the failing callback */
  ck_assert_uint_eq(f->nevidence, 2);
  ck_assert_str_eq(f->evidence[0].kind, "file_op");
  ck_assert_uint_eq(f->evidence[0].index, 15);
  ck_assert_uint_eq(f->evidence[0].irp, 0x1000);
  ck_assert_str_eq(f->evidence[1].kind, "filter_callback");
  ck_assert_uint_eq(f->evidence[1].index, 14);
  ck_assert_str_eq(f->evidence[1].module, "TmPreFlt.sys");
  ck_assert_uint_eq(f->evidence[1].file_object, 0x2000);
  assert_schema_ok();
}
END_TEST

/* The callback failure arrives with no FileIo event: still confirmed, path from the open. */
START_TEST(callback_failure_without_file_op) {
  const struct vd_finding *f;
  machine(1);
  file_op("etl", 1, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0x2000, 0x900, 0x80000000u, 7, 0, NULL);
  callback(EV_CB_PRE_FAILED, "TmPreFlt.sys", 0x1000, 0x2000, ACCESS_DENIED, 14);
  finish();
  f = only_finding();
  ck_assert_str_eq(f->path, WU_PATH);
  ck_assert_str_eq(f->filter.name, "TmPreFlt.sys");
  ck_assert_int_eq(f->confidence, VD_CONFIRMED);
  ck_assert_str_eq(f->observed_by, "minifilter");
}
END_TEST

/* 2. The same with only stack evidence -> strong. Procmon's frames in the
 * stack are skipped; the filter sits between two FltMgr runs. */
static const struct ev_frame nested_frames[] = {
    {0xfffff80001000100ull, "FLTMGR.SYS", 0x4a5c, 1},   {0xfffff80001000200ull, "FLTMGR.SYS", 0x45a0, 1},
    {0xfffff80002000100ull, "PROCMON24.SYS", 0x99, 1},  {0xfffff80001000300ull, "FLTMGR.SYS", 0x3efe, 1},
    {0xfffff80003000100ull, "TmPreFlt.sys", 0x7923, 1}, {0xfffff80003000200ull, "TmPreFlt.sys", 0x15d59, 1},
    {0xfffff80001000400ull, "FLTMGR.SYS", 0x18063, 1},  {0xfffff80004000100ull, "ntoskrnl.exe", 0x31f79, 1},
};

START_TEST(stack_only_is_strong) {
  struct ev_stack st = {nested_frames, 8};
  const struct vd_finding *f;
  machine(1);
  file_op("etl", 20, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0x2000, 0x1000, 0x80000000u, 1,
          ACCESS_DENIED, &st);
  finish();
  f = only_finding();
  ck_assert_str_eq(f->filter.name, "TmPreFlt.sys");
  ck_assert_int_eq(f->confidence, VD_STRONG);
  ck_assert_int_eq(f->reason, VD_R_NESTED_FRAMES);
  ck_assert_str_eq(f->evidence[1].kind, "stack");
  ck_assert_str_eq(f->evidence[1].module, "TmPreFlt.sys");
  ck_assert_str_eq(f->evidence[1].text, "FLTMGR.SYS+0x4a5c > FLTMGR.SYS+0x45a0 > PROCMON24.SYS+0x99 > "
                                        "FLTMGR.SYS+0x3efe > TmPreFlt.sys+0x7923 > TmPreFlt.sys+0x15d59 > "
                                        "FLTMGR.SYS+0x18063 > ntoskrnl.exe+0x31f79");
  assert_schema_ok();
}
END_TEST

/* A Procmon capture alone never confirms, whatever its stack says. */
START_TEST(procmon_stack_never_confirms) {
  struct ev_stack st = {nested_frames, 8};
  const struct vd_finding *f;
  machine(1);
  file_op("pml", 20, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0, 0, 0x80000000u, 1, ACCESS_DENIED, &st);
  finish();
  f = only_finding();
  ck_assert_str_eq(f->filter.name, "TmPreFlt.sys");
  ck_assert_int_eq(f->confidence, VD_STRONG);
  ck_assert_str_eq(f->observed_by, "procmon");
  ck_assert_str_eq(f->observer_altitude, "385200");
}
END_TEST

/* The last third-party pre-callback before an unexplained failure -> strong. */
START_TEST(last_pre_callback_is_strong) {
  const struct vd_finding *f;
  machine(1);
  callback(EV_CB_PRE_START, "PROCMON24.SYS", 0x1000, 0x2000, 0, 10);
  callback(EV_CB_PRE_START, "TmPreFlt.sys", 0x1000, 0x2000, 0, 11);
  callback(EV_CB_PRE_START, "WdFilter.sys", 0x1000, 0x2000, 0, 12);
  file_op("etl", 15, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0x2000, 0x1000, 0x80000000u, 1,
          ACCESS_DENIED, NULL);
  finish();
  f = only_finding();
  ck_assert_str_eq(f->filter.name, "TmPreFlt.sys");
  ck_assert_int_eq(f->confidence, VD_STRONG);
  ck_assert_int_eq(f->reason, VD_R_LAST_PRE_CALLBACK);
}
END_TEST

/* 3. A sharing violation with the holder still open -> holder named. */
START_TEST(sharing_violation_names_holder) {
  const struct vd_finding *f;
  machine(0);
  file_op("etl", 1, EV_FOP_CREATE, 3000, "MsMpEng.exe", WU_PATH, 0xA0, 0x1, 0x80000000u, 0, 0, NULL);
  file_op("etl", 2, EV_FOP_CREATE, 900, "svchost.exe", "C:\\other.txt", 0xB0, 0x2, 0x80000000u, 7, 0, NULL);
  file_op("etl", 3, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0xC0, 0x3, 0x00010000u, 7,
          SHARING_VIOLATION, NULL);
  finish();
  f = only_finding();
  ck_assert_int_eq(f->kind, VD_HELD);
  ck_assert_int_eq(f->has_holder, 1);
  ck_assert_uint_eq(f->holder_pid, 3000);
  ck_assert_str_eq(f->holder_process, "MsMpEng.exe");
  ck_assert_uint_eq(f->holder_share, 0);
  ck_assert_int_eq(f->confidence, VD_CONFIRMED);
  ck_assert_int_eq(f->reason, VD_R_HOLDER_PROCESS);
  ck_assert_str_eq(f->filter.name, "WdFilter.sys");
  ck_assert_int_eq(f->filter.inbox, 1);
  ck_assert_str_eq(f->evidence[1].kind, "open_handle");
  ck_assert_uint_eq(f->evidence[1].index, 1);
  assert_schema_ok();
}
END_TEST

/* The holder closed before the failure: no holder, and nothing confirmed. */
START_TEST(closed_holder_is_not_named) {
  const struct vd_finding *f;
  machine(0);
  file_op("etl", 1, EV_FOP_CREATE, 3000, "MsMpEng.exe", WU_PATH, 0xA0, 0x1, 0x80000000u, 0, 0, NULL);
  file_op("etl", 2, EV_FOP_CLEANUP, 3000, "MsMpEng.exe", WU_PATH, 0xA0, 0x4, EV_UNKNOWN_U32, EV_UNKNOWN_U32,
          0, NULL);
  file_op("etl", 3, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0xC0, 0x3, 0x00010000u, 7,
          SHARING_VIOLATION, NULL);
  finish();
  f = only_finding();
  ck_assert_int_eq(f->has_holder, 0);
  ck_assert_int_eq(f->has_filter, 0);
  ck_assert_int_eq(f->confidence, VD_UNDETERMINED);
}
END_TEST

/* Procmon has no file object: a close ends the open of the same process on
 * the same path in any ASCII case, and only that path ('[' and '{' differ by
 * the case bit but are not letters). Long UTF-8 paths are compared byte-exact
 * beyond ASCII. */
START_TEST(pml_close_matches_path_in_any_case) {
  static const char *const opened[] = {"C:\\Users\\\xe5\xbc\xa0\xe4\xb8\x89\\Downloads\\Setup.EXE",
                                       "C:\\x\\a[1].dll"};
  static const char *const closed[] = {"c:\\USERS\\\xe5\xbc\xa0\xe4\xb8\x89\\downloads\\setup.exe",
                                       "C:\\x\\a{1}.dll"};
  static const int holder[] = {0, 1};
  for (int i = 0; i < 2; i++) {
    const struct vd_finding *f;
    teardown();
    setup();
    file_op("pml", 1, EV_FOP_CREATE, 3000, "app.exe", opened[i], 0, 0, 0x40000000u, 0, 0, NULL);
    file_op("pml", 2, EV_FOP_CLEANUP, 3000, "app.exe", closed[i], 0, 0, EV_UNKNOWN_U32, EV_UNKNOWN_U32, 0,
            NULL);
    file_op("pml", 3, EV_FOP_CREATE, 1200, "other.exe", opened[i], 0, 0, 0x40000000u, 7, SHARING_VIOLATION,
            NULL);
    finish();
    f = only_finding();
    ck_assert_int_eq(f->has_holder, holder[i]);
    if (holder[i])
      ck_assert_uint_eq(f->holder_pid, 3000);
  }
}
END_TEST

/* A capture's name is taken by content: when several captures are analysed
 * together, the next one's name can sit at the address of a closed one's. */
START_TEST(holder_names_its_own_capture) {
  const struct vd_finding *f;
  char name[32] = "first.pml";
  struct ev_file_op op;
  ev_file_op_init(&op);
  op.origin.file = name;
  op.origin.format = "pml";
  op.kind = EV_FOP_CREATE;
  op.op_name = "CreateFile";
  op.status_known = 1;
  op.pid = 10;
  op.process_name = "a.exe";
  op.path = "C:\\a.txt";
  op.desired_access = 0x40000000u;
  op.share_access = 0;
  ck_assert_int_eq(sink->file_op(sink->ctx, &op), 0);
  strcpy(name, "second.pml"); /* same address, the next capture */
  op.origin.index = 7;
  op.pid = 20;
  op.path = "C:\\b.txt";
  ck_assert_int_eq(sink->file_op(sink->ctx, &op), 0);
  op.origin.index = 8;
  op.pid = 30;
  op.status = SHARING_VIOLATION;
  ck_assert_int_eq(sink->file_op(sink->ctx, &op), 0);
  finish();
  f = only_finding();
  ck_assert_uint_eq(f->holder_pid, 20);
  ck_assert_str_eq(f->evidence[1].kind, "open_handle");
  ck_assert_str_eq(f->evidence[1].file, "second.pml");
  ck_assert_uint_eq(f->evidence[1].index, 7);
}
END_TEST

/* A compatible open (shares read) does not hold a reader out. PML: by path. */
START_TEST(compatible_open_is_not_a_holder) {
  const struct vd_finding *f;
  machine(0);
  file_op("pml", 1, EV_FOP_CREATE, 3000, "backup.exe", WU_PATH, 0, 0, 0x80000000u, 1, 0, NULL);
  file_op("pml", 2, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0, 0, 0x80000000u, 1, SHARING_VIOLATION,
          NULL);
  finish();
  f = only_finding();
  ck_assert_int_eq(f->has_holder, 0);
}
END_TEST

/* 4. No failure -> no finding. */
START_TEST(no_failure_no_finding) {
  struct ev_stack st = {nested_frames, 8};
  machine(1);
  callback(EV_CB_PRE_START, "TmPreFlt.sys", 0x1000, 0x2000, 0, 1);
  file_op("etl", 2, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0x2000, 0x1000, 0x80000000u, 1, 0, &st);
  file_op("etl", 3, EV_FOP_CLEANUP, 1200, "TiWorker.exe", WU_PATH, 0x2000, 0x1001, EV_UNKNOWN_U32,
          EV_UNKNOWN_U32, 0, NULL);
  /* a failure no filter returns (NAME NOT FOUND) is not a finding either */
  file_op("etl", 4, EV_FOP_CREATE, 1200, "TiWorker.exe", "C:\\nope", 0x3000, 0x1002, 0x80000000u, 1,
          0xC0000034u, NULL);
  finish();
  ck_assert_uint_eq(vd->nfindings, 0);
  ck_assert_uint_eq(vd->stats.file_ops, 3);
  ck_assert_uint_eq(vd->ninventory, 5); /* the kernel itself is no filter */
  assert_schema_ok();
}
END_TEST

/* 5. Only an observer and inbox filters present -> never a confirmed blame
 * on them; Procmon and FileInfo are never named at all. */
START_TEST(observers_and_inbox_never_confirmed) {
  static const struct ev_frame obs_frames[] = {
      {0xfffff80001000100ull, "FLTMGR.SYS", 0x4a5c, 1},    {0xfffff80002000100ull, "PROCMON24.SYS", 0x99, 1},
      {0xfffff80005000100ull, "FileInfo.sys", 0x4411, 1},  {0xfffff80001000300ull, "FLTMGR.SYS", 0x3efe, 1},
      {0xfffff80004000100ull, "ntoskrnl.exe", 0x31f79, 1},
  };
  struct ev_stack st = {obs_frames, 5};
  machine(0);
  /* an observer "failing" a callback is not believed either */
  callback(EV_CB_PRE_FAILED, "PROCMON24.SYS", 0x1000, 0x2000, ACCESS_DENIED, 1);
  callback(EV_CB_PRE_FAILED, "FileInfo.sys", 0x1000, 0x2000, ACCESS_DENIED, 2);
  file_op("etl", 3, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0x2000, 0x1000, 0x80000000u, 1,
          ACCESS_DENIED, &st);
  file_op("pml", 4, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0, 0, 0x80000000u, 1, ACCESS_DENIED, &st);
  finish();
  ck_assert_uint_eq(vd->nfindings, 2);
  for (size_t i = 0; i < vd->nfindings; i++) {
    const struct vd_finding *f = &vd->findings[i];
    ck_assert_int_ne(f->confidence, VD_CONFIRMED);
    ck_assert_int_ne(f->confidence, VD_STRONG);
    ck_assert_int_eq(f->has_filter, 0); /* inbox-only candidates name no one */
    for (size_t j = 0; j < f->ncandidates; j++) {
      ck_assert_int_eq(f->candidates[j].filter.observer, 0);
      ck_assert_int_eq(f->candidates[j].filter.inbox, 1);
    }
  }
  /* the Procmon-observed one ranks only filters below 385200: WdFilter, then luafv */
  ck_assert_str_eq(vd->findings[1].observed_by, "procmon");
  ck_assert_uint_eq(vd->findings[1].ncandidates, 2);
  ck_assert_str_eq(vd->findings[1].candidates[0].filter.name, "WdFilter");
  ck_assert_str_eq(vd->findings[1].candidates[0].filter.altitude, "328010");
  ck_assert_str_eq(vd->findings[1].candidates[1].filter.name, "luafv");
  ck_assert_int_eq(vd->findings[1].fs_possible, 1);
  assert_schema_ok();
}
END_TEST

/* The Cloud Files status range belongs to cldflt.sys. */
START_TEST(status_owner_is_strong) {
  const struct vd_finding *f;
  struct ev_file_op op;
  machine(0);
  ev_file_op_init(&op);
  op.origin = origin("pml", 483);
  op.kind = EV_FOP_READ;
  op.op_name = "ReadFile";
  op.path = "D:\\CloudMirrorTest\\Client\\test.mp3";
  op.pid = 27444;
  op.process_name = "foobar2000.exe";
  op.status = 0xC000CF0Au;
  op.status_known = 1;
  ck_assert_int_eq(sink->file_op(sink->ctx, &op), 0);
  finish();
  f = only_finding();
  ck_assert_str_eq(f->filter.name, "cldflt.sys");
  ck_assert_ptr_null(f->filter.altitude); /* two allocations, the capture does not say which */
  ck_assert_str_eq(f->filter.allocated, "409500, 180451");
  ck_assert_int_eq(f->confidence, VD_STRONG);
  ck_assert_int_eq(f->reason, VD_R_STATUS_OWNER);
}
END_TEST

/* Ranked candidates on an unexplained Procmon failure: third-party first. */
START_TEST(candidates_rank_third_party_first) {
  const struct vd_finding *f;
  machine(1);
  image("aswMonFlt.sys", "AVAST Software");
  file_op("pml", 1, EV_FOP_CREATE, 1760, "game.exe", "C:\\x\\Engine.ini", 0, 0, 0x40000000u, 0, ACCESS_DENIED,
          NULL);
  finish();
  f = only_finding();
  ck_assert_int_eq(f->confidence, VD_SUSPECT);
  ck_assert_int_eq(f->reason, VD_R_BELOW_OBSERVER);
  ck_assert_uint_eq(f->ncandidates, 4);
  ck_assert_str_eq(f->candidates[0].filter.name, "TmPreFlt"); /* fltmc's name, Anti-Virus, 328500 */
  ck_assert_str_eq(f->candidates[1].filter.name, "aswMonFlt.sys");
  ck_assert_str_eq(f->candidates[2].filter.name, "WdFilter");
  ck_assert_str_eq(f->candidates[3].filter.name, "luafv");
  ck_assert_str_eq(f->filter.name, "TmPreFlt");
}
END_TEST

/* State stays bounded: open handles beyond the limit are evicted and counted. */
START_TEST(state_is_bounded) {
  struct rules_limits lim = {4, 4, 8, 4, 1 << 20};
  char path[64];
  rules_engine_free(eng);
  eng = rules_engine_new(db, &lim);
  sink = rules_engine_sink(eng);
  for (int i = 0; i < 100; i++) {
    snprintf(path, sizeof(path), "C:\\f%d", i);
    file_op("etl", (uint64_t)i, EV_FOP_CREATE, 10, "a.exe", path, 0x1000 + (uint64_t)i, 0x5000 + (uint64_t)i,
            1, 0, 0, NULL);
  }
  for (int i = 0; i < 20; i++) {
    snprintf(path, sizeof(path), "C:\\d%d", i);
    file_op("etl", 200 + (uint64_t)i, EV_FOP_CREATE, 10, "a.exe", path, 0x9000 + (uint64_t)i,
            0x9900 + (uint64_t)i, 1, 0, ACCESS_DENIED, NULL);
  }
  finish();
  ck_assert_uint_eq(vd->stats.state_evicted, 96);
  ck_assert_uint_eq(vd->nfindings, 8);
  ck_assert_uint_eq(vd->nlimits, 2);
  ck_assert_str_eq(vd->limits[0], "12 further failures were not kept (finding limit 8)");
}
END_TEST

START_TEST(known_filter_database) {
  char buf[128];
  const struct kf_entry *k;
  ck_assert_uint_eq(kf_db_count(db), 2140);
  ck_assert_uint_eq(kf_db_bad_lines(db), 0);
  k = kf_lookup(db, "\\SystemRoot\\System32\\drivers\\TmPreFlt.sys", NULL);
  ck_assert_ptr_nonnull(k);
  ck_assert_str_eq(k->vendor, "Trend");
  ck_assert_str_eq(k->altitude, "328500");
  ck_assert_int_eq(k->inbox, 0);
  k = kf_lookup(db, "FileInfo", "40500");
  ck_assert_str_eq(k->group, "FSFilter Bottom");
  ck_assert_int_eq(k->observer, 1);
  k = kf_lookup(db, "FILEINFO.SYS", "360500.5");
  ck_assert_str_eq(k->group, "FSFilter Activity Monitor");
  ck_assert_int_eq(kf_lookup(db, "PROCMON24", NULL)->observer, 1);
  ck_assert_int_eq(kf_lookup(db, "WdFilter", NULL)->inbox, 1);
  ck_assert_int_eq(kf_lookup(db, "WdFilter", NULL)->observer, 0);
  ck_assert_ptr_null(kf_lookup(db, "covefs.sys", NULL));
  ck_assert_str_eq(kf_altitudes(db, "CldFlt", buf, sizeof(buf)), "409500, 180451");
  ck_assert_int_eq(kf_name_is_observer("PROCMON99.SYS"), 1);
  ck_assert_str_eq(kf_group_for_altitude(389998.99), "FSFilter Activity Monitor");
  ck_assert_str_eq(kf_group_for_altitude(328500), "FSFilter Anti-Virus");
}
END_TEST

static char *text_of(const char *lang) {
  char *buf = NULL;
  size_t size = 0;
  FILE *fp = open_memstream(&buf, &size);
  ck_assert_int_eq(verdict_write_text(vd, lang, fp), 0);
  fclose(fp);
  return buf;
}

START_TEST(text_report_en_and_zh) {
  char *en, *zh;
  machine(1);
  callback(EV_CB_PRE_FAILED, "TmPreFlt.sys", 0x1000, 0x2000, ACCESS_DENIED, 14);
  file_op("etl", 15, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0x2000, 0x1000, 0x80000000u, 1,
          ACCESS_DENIED, NULL);
  finish();
  vd->upload_id = strdup("case-7");
  en = text_of("en");
  zh = text_of("zh-CN");
  ck_assert_ptr_nonnull(strstr(en, "Finding 1: denied, STATUS_ACCESS_DENIED (0xC0000022)\n"));
  ck_assert_ptr_nonnull(
      strstr(en, "  What failed: FileIo/Create " WU_PATH ", by TiWorker.exe (PID 1200), 1 time(s)"));
  ck_assert_ptr_nonnull(strstr(en,
                               "  Filter: TmPreFlt.sys (Trend, Trend Micro OfficeScan / Apex One, altitude "
                               "328500, FSFilter Anti-Virus, third-party)\n  Confidence: confirmed\n"));
  ck_assert_ptr_nonnull(strstr(zh, "fltblame 分析结论: case-7\n"));
  ck_assert_ptr_nonnull(strstr(zh, "发现 1: 拒绝访问, STATUS_ACCESS_DENIED (0xC0000022)\n"));
  ck_assert_ptr_nonnull(strstr(zh, "  可信度: 已确认\n"));
  ck_assert_ptr_nonnull(strstr(zh, "过滤管理器跟踪显示，该驱动的回调函数使这次操作失败。"));
  free(en);
  free(zh);
}
END_TEST

START_TEST(facts_link_to_findings) {
  struct ev_fact fact;
  machine(1);
  callback(EV_CB_PRE_FAILED, "TmPreFlt.sys", 0x1000, 0x2000, ACCESS_DENIED, 14);
  file_op("etl", 15, EV_FOP_CREATE, 1200, "TiWorker.exe", WU_PATH, 0x2000, 0x1000, 0x80000000u, 1,
          ACCESS_DENIED, NULL);
  memset(&fact, 0, sizeof(fact));
  fact.origin = origin("etl", 77);
  fact.origin.format = "cbs";
  fact.kind = EV_FACT_CBS_FAILURE;
  fact.time = T0 + 20000000; /* 2 s later */
  fact.code = 0x80070005u;
  fact.subject = "KB5016623";
  ck_assert_int_eq(sink->fact(sink->ctx, &fact), 0);
  finish();
  ck_assert_uint_eq(vd->nfacts, 1);
  ck_assert_int_eq(vd->facts[0].finding, 0);
  ck_assert_str_eq(vd->facts[0].subject, "KB5016623");
  assert_schema_ok();
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("rules");
  TCase *tc = tcase_create("engine");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, callback_failure_is_confirmed);
  tcase_add_test(tc, callback_failure_without_file_op);
  tcase_add_test(tc, stack_only_is_strong);
  tcase_add_test(tc, procmon_stack_never_confirms);
  tcase_add_test(tc, last_pre_callback_is_strong);
  tcase_add_test(tc, sharing_violation_names_holder);
  tcase_add_test(tc, closed_holder_is_not_named);
  tcase_add_test(tc, pml_close_matches_path_in_any_case);
  tcase_add_test(tc, holder_names_its_own_capture);
  tcase_add_test(tc, compatible_open_is_not_a_holder);
  tcase_add_test(tc, no_failure_no_finding);
  tcase_add_test(tc, observers_and_inbox_never_confirmed);
  tcase_add_test(tc, status_owner_is_strong);
  tcase_add_test(tc, candidates_rank_third_party_first);
  tcase_add_test(tc, state_is_bounded);
  tcase_add_test(tc, known_filter_database);
  tcase_add_test(tc, text_report_en_and_zh);
  tcase_add_test(tc, facts_link_to_findings);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  int rc = tu_run_suite(suite());
  kf_db_free(db);
  return rc;
}
