/* test_scenarios.c - 'fltblame analyze' end to end (job_analyze_verdict):
 * the synthetic Procmon example built with the project's PML writer, and the
 * real corpus captures with their expected findings asserted exactly. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon/job.h"
#include "rules/verdict.h"
#include "tests/dump/dump_writer.h"
#include "tests/pml/pml_writer.h"
#include "tests/rules/schema_check.h"
#include "tests/testutil.h"

static struct verdict *analyze(const char *const *paths, size_t n, const char *out_dir) {
  struct job_options opt = {0};
  struct job_summary sum;
  struct verdict *v = NULL;
  opt.data_dir = FB_SOURCE_DIR "/etc";
  opt.out_dir = out_dir;
  opt.print = JOB_PRINT_NONE;
  opt.upload_id = "case";
  if (job_analyze_verdict(paths, n, &opt, &sum, &v) != 0)
    ck_abort_msg("job failed: %s", sum.error);
  ck_assert_ptr_nonnull(v);
  ck_assert_int_eq(sum.findings, (int)(v->nfindings + v->ncrashes));
  return v;
}

static struct verdict *analyze1(const char *rel) {
  const char *p = tu_corpus(rel);
  return analyze(&p, 1, NULL);
}

static void assert_evidence_indexes(const struct vd_finding *f, const char *kind, const uint64_t *want,
                                    size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < f->nevidence; i++)
    if (!strcmp(f->evidence[i].kind, kind)) {
      ck_assert_uint_lt(k, n);
      ck_assert_uint_eq(f->evidence[i].index, want[k]);
      k++;
    }
  ck_assert_uint_eq(k, n);
}

static const struct vd_inventory_entry *inv(const struct verdict *v, const char *name) {
  for (size_t i = 0; i < v->ninventory; i++)
    if (!strcasecmp(v->inventory[i].filter.name, name))
      return &v->inventory[i];
  return NULL;
}

/* The only file ACCESS DENIED of the corpus: no culprit can be confirmed. */
START_TEST(win7_createfile_denied) {
  static const uint64_t ops[] = {1232, 1234, 1247, 1249};
  struct verdict *v = analyze1("pml/win7-sp1-x64-createfile-denied.pml");
  const struct vd_finding *f;
  ck_assert_uint_eq(v->nfindings, 1);
  f = &v->findings[0];
  ck_assert_int_eq(f->kind, VD_DENIED);
  ck_assert_str_eq(f->path,
                   "C:\\Users\\Desktop\\AppData\\Local\\ReadyOrNot\\Saved\\Config\\Windows\\Engine.ini");
  ck_assert_str_eq(f->process, "ReadyOrNotSteam-Win64-Shipping.exe");
  ck_assert_uint_eq(f->pid, 1760);
  ck_assert_str_eq(f->operation, "CreateFile");
  ck_assert_uint_eq(f->status, 0xC0000022u);
  ck_assert_uint_eq(f->occurrences, 4);
  assert_evidence_indexes(f, "file_op", ops, 4);
  ck_assert_str_eq(
      f->evidence[0].text,
      "CreateFile C:\\Users\\Desktop\\AppData\\Local\\ReadyOrNot\\Saved\\Config\\Windows\\Engine.ini");
  ck_assert_str_eq(f->evidence[1].kind, "stack");
  ck_assert_str_eq(f->evidence[1].text,
                   "fltmgr.sys+0x2067 > fltmgr.sys+0x49aa > fltmgr.sys+0x222a3 > "
                   "ntoskrnl.exe+0x4e83e2 > ntoskrnl.exe+0x40eed4 > ntoskrnl.exe+0x2f5d76 > "
                   "ntoskrnl.exe+0x4b62b8 > ntoskrnl.exe+0x34a0f4 > ntoskrnl.exe+0xa1eb9");
  /* not confirmable: ranked candidates below Procmon, the file system not ruled out */
  ck_assert_int_eq(f->confidence, VD_SUSPECT);
  ck_assert_int_eq(f->reason, VD_R_BELOW_OBSERVER);
  ck_assert_int_eq(f->fs_possible, 1);
  ck_assert_str_eq(f->observed_by, "procmon");
  ck_assert_str_eq(f->observer_altitude, "385200");
  ck_assert_uint_eq(f->ncandidates, 3);
  ck_assert_str_eq(f->candidates[0].filter.name, "aswMonFlt.sys");
  ck_assert_str_eq(f->candidates[0].filter.altitude, "320700");
  ck_assert_str_eq(f->candidates[1].filter.name, "aswSnx.sys");
  ck_assert_str_eq(f->candidates[2].filter.name, "luafv.sys");
  ck_assert_int_eq(f->candidates[2].filter.inbox, 1);
  /* aswSP (388401) sits above Procmon: it cannot have produced what Procmon saw */
  ck_assert_ptr_nonnull(inv(v, "aswSP.sys"));
  ck_assert_ptr_null(inv(v, "ntoskrnl.exe"));
  ck_assert_int_eq(inv(v, "PROCMON24.SYS")->filter.observer, 1);
  ck_assert_int_eq(inv(v, "fileinfo.sys")->filter.observer, 1);
  ck_assert_uint_eq(v->ninputs, 1);
  ck_assert_str_eq(v->inputs[0].type, "pml");
  ck_assert_str_eq(v->inputs[0].status, "read");
  ck_assert_uint_eq(v->inputs[0].size, 776738);
  ck_assert_str_eq(v->inputs[0].sha256, "6aa64db0d698e8941ea1cf541bc6001b5ec4d007b241e0475f31faaca54ad7f3");
  ck_assert_uint_eq(v->stats.file_ops, 1114);
  ck_assert_uint_eq(v->stats.failures_seen, 4);
  verdict_free(v);
}
END_TEST

/* Status-only evidence: 0xC000CF0A belongs to cldflt.sys. */
START_TEST(win10_cldflt_readfile) {
  static const uint64_t ops[] = {483, 537, 600, 626, 652, 678};
  struct verdict *v = analyze1("pml/win10-1909-x64-cldflt-readfile.pml");
  const struct vd_finding *f;
  ck_assert_uint_eq(v->nfindings, 1);
  f = &v->findings[0];
  ck_assert_str_eq(f->path, "D:\\CloudMirrorTest\\Client\\test.mp3");
  ck_assert_str_eq(f->process, "foobar2000.exe");
  ck_assert_uint_eq(f->pid, 27444);
  ck_assert_str_eq(f->operation, "ReadFile");
  ck_assert_uint_eq(f->status, 0xC000CF0Au);
  ck_assert_uint_eq(f->occurrences, 6);
  assert_evidence_indexes(f, "file_op", ops, 6);
  ck_assert_int_eq(f->has_filter, 1);
  ck_assert_str_eq(f->filter.name, "cldflt.sys");
  ck_assert_str_eq(f->filter.vendor, "Microsoft");
  ck_assert_int_eq(f->filter.inbox, 1);
  ck_assert_str_eq(f->filter.allocated, "409500, 180451");
  ck_assert_int_eq(f->confidence, VD_STRONG);
  ck_assert_int_eq(f->reason, VD_R_STATUS_OWNER);
  /* cldflt's own create runs between two FltMgr runs when the file is opened (event #0): cited */
  ck_assert_str_eq(f->evidence[3].kind, "stack");
  ck_assert_str_eq(f->evidence[3].module, "cldflt.sys");
  ck_assert_uint_eq(f->evidence[3].index, 0);
  ck_assert_str_eq(f->evidence[3].text,
                   "cldflt.sys issued I/O from its own callback when this file was opened");
  /* cldflt's own nested creates on its placeholder (e.g. event #0) */
  ck_assert_uint_eq(inv(v, "cldflt.sys")->stack_events, 6);
  verdict_free(v);
}
END_TEST

/* wcifs / luafv / wcnfs sit only in Network stacks: not evidence. */
START_TEST(win10_1709_mixed_network_trap) {
  struct verdict *v = analyze1("pml/win10-1709-x64-mixed.pml");
  ck_assert_uint_eq(v->nfindings, 0); /* its only denies are on the registry */
  ck_assert_uint_eq(inv(v, "wcifs.sys")->stack_events, 0);
  ck_assert_uint_eq(inv(v, "luafv.sys")->stack_events, 0);
  ck_assert_uint_eq(inv(v, "wcnfs.sys")->stack_events, 0);
  ck_assert_uint_eq(inv(v, "wcifs.sys")->sources, VD_SRC_IMAGE);
  ck_assert_uint_eq(v->stats.file_ops, 6795);
  ck_assert_uint_eq(v->stats.failures_seen, 0);
  verdict_free(v);
}
END_TEST

/* Captures without a filter failure: no finding. */
START_TEST(no_failure_captures) {
  static const char *const files[] = {
      "pml/win10-1903-x64-filesystem.pml",  "pml/win10-1903-x64-process.pml",
      "pml/win10-22h2-x64-covefs.pml",      "pml/win7-sp1-x64-profiling.pml",
      "pml/win7-sp1-x86-filesystem.pml",    "pml/win7-sp1-x86-mixed.pml",
      "pml/win10-1903-x64-registry.pml.gz",
  };
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    struct verdict *v = analyze1(files[i]);
    ck_assert_msg(v->nfindings == 0, "%s: %zu findings", files[i], v->nfindings);
    /* a .pml.gz is two inputs: the gzip stream (unpacked) and the capture in it (read) */
    ck_assert_str_eq(v->inputs[v->ninputs - 1].status, "read");
    ck_assert_str_eq(v->inputs[v->ninputs - 1].type, "pml");
    ck_assert_uint_eq(v->ninputs, strstr(files[i], ".gz") ? 2 : 1);
    verdict_free(v);
  }
}
END_TEST

/* The project's own synthetic example (TiWorker denied under
 * SoftwareDistribution, ContosoFlt nested), with fltmc text and a CBS.log
 * written here: the inventory merges, the CBS failure links to the finding,
 * and both files are written and the JSON conforms. */
START_TEST(synthetic_upload) {
  char dir[600], pml[700], flt[700], cbs[700], out[700], path[800], err[600];
  const char *paths[1];
  struct verdict *v;
  const struct vd_finding *f;
  FILE *fp;
  char *json, *txt;
  snprintf(dir, sizeof(dir), "%s/upload", tu_tmpdir());
  snprintf(pml, sizeof(pml), "%s/procmon.pml", dir);
  snprintf(flt, sizeof(flt), "%s/fltmc.txt", dir);
  snprintf(cbs, sizeof(cbs), "%s/CBS.log", dir);
  snprintf(out, sizeof(out), "%s/out", tu_tmpdir());
  ck_assert_int_eq(system("mkdir -p '" FB_BINARY_DIR "/test-tmp'") >= 0, 1);
  snprintf(path, sizeof(path), "mkdir -p '%s'", dir);
  ck_assert_int_eq(system(path), 0);
  ck_assert_int_eq(pmlw_build_example(pml, NULL, NULL), 0);
  fp = fopen(flt, "w");
  fputs("\r\nFilter Name                     Num Instances    Altitude    Frame\r\n"
        "------------------------------  -------------  ------------  -----\r\n"
        "PROCMON24                               4       385200         0\r\n"
        "ContosoFlt                              3       321000         0\r\n"
        "WdFilter                                4       328010         0\r\n"
        "FileInfo                                4        40500         0\r\n",
        fp);
  fclose(fp);
  fp = fopen(cbs, "w");
  fputs("2022-02-22 18:40:01, Info                  CBS    TI: --- Initializing Trusted Installer ---\r\n"
        "2022-02-22 18:40:01, Info                  CBS    Universal Time is: 2022-02-22 10:40:01.000\r\n"
        "2022-02-22 18:40:02, Error                 CBS    Failed to create file: "
        "\\\\?\\C:\\Windows\\SoftwareDistribution\\Download\\a1b2c3d4e5f6\\Windows10.0-KB5021233-x64.cab "
        "[HRESULT = 0x80070005 - E_ACCESSDENIED]\r\n",
        fp);
  fclose(fp);
  paths[0] = dir;
  v = analyze(paths, 1, out);
  ck_assert_uint_eq(v->ninputs, 3);
  ck_assert_uint_eq(v->nfindings, 2);
  f = &v->findings[0];
  ck_assert_int_eq(f->kind, VD_DENIED);
  ck_assert_str_eq(f->process, "TiWorker.exe");
  ck_assert_str_eq(
      f->path, "C:\\Windows\\SoftwareDistribution\\Download\\a1b2c3d4e5f6\\Windows10.0-KB5021233-x64.cab");
  ck_assert_str_eq(f->filter.name, "ContosoFlt.sys");
  ck_assert_str_eq(f->filter.altitude, "321000"); /* what fltmc said on the machine */
  ck_assert_str_eq(f->filter.group, "FSFilter Anti-Virus");
  ck_assert_int_eq(f->filter.known, 0);
  ck_assert_int_eq(f->confidence, VD_STRONG);
  ck_assert_int_eq(f->reason, VD_R_NESTED_FRAMES);
  ck_assert_int_eq(v->findings[1].kind, VD_HELD);
  ck_assert_int_eq(v->findings[1].has_holder, 0);
  ck_assert_uint_ge(v->nfacts, 1);
  ck_assert_int_eq(v->facts[0].finding, 0);
  ck_assert_uint_eq(v->facts[0].code, 0x80070005u);
  ck_assert_ptr_nonnull(inv(v, "ContosoFlt"));
  ck_assert_uint_eq(inv(v, "ContosoFlt")->sources, VD_SRC_FLTMC | VD_SRC_STACK);
  snprintf(path, sizeof(path), "%s/verdict.json", out);
  json = tu_read_file(path, NULL);
  ck_assert_ptr_nonnull(json);
  if (sc_validate_text(FB_SOURCE_DIR "/docs/verdict.schema.json", json, err, sizeof(err)))
    ck_abort_msg("verdict.json does not conform: %s", err);
  snprintf(path, sizeof(path), "%s/verdict.txt", out);
  txt = tu_read_file(path, NULL);
  ck_assert_ptr_nonnull(strstr(txt,
                               "  Filter: ContosoFlt.sys (Contoso Security Ltd., altitude 321000, FSFilter "
                               "Anti-Virus, third-party)\n  Confidence: strong\n"));
  free(json);
  free(txt);
  /* zh-CN: a minifilter altitude is 高度, as in Microsoft's Chinese documentation */
  snprintf(path, sizeof(path), "%s/verdict-zh.txt", out);
  ck_assert_int_eq(verdict_write_text_file(v, "zh-CN", path, NULL), 0);
  txt = tu_read_file(path, NULL);
  ck_assert_ptr_nonnull(strstr(txt,
                               "  过滤驱动: ContosoFlt.sys (Contoso Security Ltd., 高度 321000, FSFilter "
                               "Anti-Virus, 第三方)\n  可信度: 较强\n"));
  ck_assert_ptr_null(strstr(txt, "altitude"));
  ck_assert_ptr_null(strstr(txt, "海拔"));
  free(txt);
  verdict_free(v);
}
END_TEST

/* Every corpus verdict conforms to the schema. */
START_TEST(corpus_json_conforms) {
  static const char *const files[] = {"pml/win7-sp1-x64-createfile-denied.pml",
                                      "pml/win10-1909-x64-cldflt-readfile.pml"};
  for (size_t i = 0; i < 2; i++) {
    struct verdict *v = analyze1(files[i]);
    char *s = verdict_json_string(v), err[600];
    if (sc_validate_text(FB_SOURCE_DIR "/docs/verdict.schema.json", s, err, sizeof(err)))
      ck_abort_msg("%s: %s", files[i], err);
    free(s);
    verdict_free(v);
  }
}
END_TEST

/* A real WPR/PerfView trace without minifilter events or failures: no
 * finding, and the verdict says why callbacks cannot be judged from it. */
START_TEST(etl_corpus_no_finding) {
  struct verdict *v = analyze1("etl/perfview/net.4.5.2.x64.etl");
  ck_assert_uint_eq(v->nfindings, 0);
  ck_assert_str_eq(v->inputs[0].type, "etl");
  ck_assert_str_eq(v->inputs[0].status, "read");
  ck_assert_uint_eq(v->stats.file_ops, 562); /* Kernel-File Create events */
  ck_assert_uint_eq(v->stats.filter_callbacks, 0);
  ck_assert_uint_eq(v->nlimits, 1);
  ck_assert_ptr_nonnull(strstr(v->limits[0], "no minifilter events in this trace"));
  ck_assert_int_eq(inv(v, "fileinfo.sys")->filter.observer, 1);
  ck_assert_int_eq(inv(v, "WdFilter.sys")->filter.inbox, 1);
  verdict_free(v);
}
END_TEST

/* A kernel triage dump: the crash rules' finding travels in the verdict. */
START_TEST(dump_crash_finding) {
  struct verdict *v = analyze1("dumps/rizin-triage_x64.dmp");
  char *s, err[600];
  ck_assert_uint_eq(v->nfindings, 0);
  ck_assert_uint_eq(v->ncrashes, 1);
  ck_assert_str_eq(v->crashes[0].blamed, "amdppm.sys");
  ck_assert_uint_eq(v->crashes[0].bugcheck, 0x1000007Eu);
  ck_assert_int_eq(v->crashes[0].confidence, CRASH_CONF_HIGH);
  ck_assert_int_eq(vd_crash_confidence(&v->crashes[0]), VD_STRONG); /* no setup log to corroborate */
  ck_assert_uint_eq(v->nfacts, 0); /* the bugcheck is the crash finding's, not a side fact */
  s = verdict_json_string(v);
  if (sc_validate_text(FB_SOURCE_DIR "/docs/verdict.schema.json", s, err, sizeof(err)))
    ck_abort_msg("%s", err);
  ck_assert_ptr_nonnull(strstr(s, "\"driver_at\": \"amdppm.sys+0x334c\""));
  free(s);
  verdict_free(v);
}
END_TEST

/* Issue 8's seed case end to end: the synthetic setupmem.dmp (bugcheck in
 * ndis.sys, lwfmgr.sys frames above it) and the rollback setupact.log with
 * 0xC1900101 - 0x40017 in one folder, analysed by the job into verdict.json. */
static void write_file(const char *path, const void *data, size_t n) {
  FILE *fp = fopen(path, "wb");
  ck_assert_ptr_nonnull(fp);
  ck_assert_uint_eq(fwrite(data, 1, n, fp), n);
  ck_assert_int_eq(fclose(fp), 0);
}

static const char *make_seed_upload(void) {
  static char dir[700];
  char path[800];
  size_t n;
  uint8_t *dmp = dw_build_seed_case(&n);
  ck_assert_ptr_nonnull(dmp);
  snprintf(dir, sizeof(dir), "%s/seed-upload", tu_tmpdir());
  snprintf(path, sizeof(path), "mkdir -p '%s/Rollback'", dir);
  ck_assert_int_eq(system(path), 0);
  snprintf(path, sizeof(path), "%s/Rollback/setupmem.dmp", dir);
  write_file(path, dmp, n);
  free(dmp);
  snprintf(path, sizeof(path), "%s/Rollback/setupact.log", dir);
  write_file(path, dw_seed_rollback_log(), strlen(dw_seed_rollback_log()));
  return dir;
}

START_TEST(seed_case_upload_crash_verdict) {
  char out[700], path[800], err[600];
  const char *paths[1];
  struct verdict *v;
  json_t *root, *crashes, *c, *inputs;
  json_error_t jerr;
  char *json;

  paths[0] = make_seed_upload();
  snprintf(out, sizeof(out), "%s/seed-out", tu_tmpdir());
  v = analyze(paths, 1, out);
  ck_assert_uint_eq(v->ninputs, 2);
  verdict_free(v);

  snprintf(path, sizeof(path), "%s/verdict.json", out);
  json = tu_read_file(path, NULL);
  ck_assert_ptr_nonnull(json);
  if (sc_validate_text(FB_SOURCE_DIR "/docs/verdict.schema.json", json, err, sizeof(err)))
    ck_abort_msg("verdict.json does not conform: %s", err);
  root = json_loads(json, 0, &jerr);
  ck_assert_ptr_nonnull(root);
  inputs = json_object_get(root, "inputs");
  ck_assert_uint_eq(json_array_size(inputs), 2);
  for (size_t i = 0; i < 2; i++)
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(inputs, i), "status")), "read");
  ck_assert_uint_eq(json_array_size(json_object_get(root, "findings")), 0);
  crashes = json_object_get(root, "crashes");
  ck_assert_uint_eq(json_array_size(crashes), 1);
  c = json_array_get(crashes, 0);
  ck_assert_str_eq(json_string_value(json_object_get(c, "kind")), "crash");
  ck_assert_str_eq(json_string_value(json_object_get(c, "rule")), "dump-stack-scan");
  ck_assert_str_eq(json_string_value(json_object_get(c, "driver")), "lwfmgr.sys");
  ck_assert_str_eq(json_string_value(json_object_get(c, "driver_at")), "lwfmgr.sys+0x2a10");
  ck_assert_str_eq(json_string_value(json_object_get(c, "confidence")), "high");
  /* a boot-phase rollback and a matching crash block: confirmed */
  ck_assert_str_eq(json_string_value(json_object_get(c, "verdict_confidence")), "confirmed");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "bugcheck"), "code")), "0x1000007E");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "fault"), "module")), "ndis.sys");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "fault"), "at")), "ndis.sys+0x3a2f1");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "setup"), "phase")),
                   "SECOND_BOOT / boot");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "setup"), "result")), "0xC1900101");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "setup"), "extend")), "0x00040017");
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(c, "setup"), "line")), 13);
  json_decref(root);
  free(json);
}
END_TEST

/* A System.evtx: the filter inventory from FilterManager events (altitudes
 * as the machine reported them), observers flagged, WU failures as facts. */
START_TEST(evtx_inventory_and_facts) {
  struct verdict *v = analyze1("evtx/omerbenamram-evtx/system.evtx");
  ck_assert_uint_eq(v->nfindings, 0);
  ck_assert_uint_eq(v->ninventory, 10);
  ck_assert_str_eq(inv(v, "WdFilter")->filter.altitude, "328010");
  ck_assert_uint_eq(inv(v, "WdFilter")->sources, VD_SRC_EVENTLOG);
  ck_assert_int_eq(inv(v, "WdFilter")->filter.inbox, 1);
  ck_assert_int_eq(inv(v, "SysmonDrv")->filter.observer, 1);
  ck_assert_str_eq(inv(v, "SysmonDrv")->filter.altitude, "385201");
  ck_assert_int_eq(inv(v, "PROCMON23")->filter.observer, 1);
  ck_assert_int_eq(inv(v, "FileInfo")->filter.observer, 1);
  ck_assert_uint_eq(v->nfacts, 5);
  ck_assert_str_eq(v->facts[0].kind, "wu_failure");
  ck_assert_uint_eq(v->facts[0].index, 561);
  ck_assert_uint_eq(v->facts[0].code, 0x80248007u);
  ck_assert_int_eq(v->facts[0].finding, -1);
  ck_assert_uint_eq(v->facts[4].index, 1823);
  ck_assert_uint_eq(v->facts[4].code, 0x80246013u);
  verdict_free(v);
}
END_TEST

/* 'fltblame analyze' exit statuses, text and JSON on stdout, --out files. */
static int run(const char *args) {
  char cmd[2048];
  int st;
  snprintf(cmd, sizeof(cmd), "FLTBLAME_DATA_DIR='%s/etc' '%s/daemon/fltblame' analyze %s >/dev/null 2>&1",
           FB_SOURCE_DIR, FB_BINARY_DIR, args);
  st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(command_exit_statuses) {
  char args[1500], path[800];
  char *txt;
  snprintf(args, sizeof(args), "'%s'", tu_corpus("pml/win10-1909-x64-cldflt-readfile.pml"));
  ck_assert_int_eq(run(args), 1); /* findings */
  snprintf(args, sizeof(args), "'%s'", tu_corpus("pml/win10-22h2-x64-covefs.pml"));
  ck_assert_int_eq(run(args), 0); /* none */
  ck_assert_int_eq(run("/nonexistent.pml"), 3);
  ck_assert_int_eq(run("--lang fr x.pml"), 2);
  ck_assert_int_eq(run("--bogus"), 2);
  ck_assert_int_eq(run(""), 2);
  snprintf(args, sizeof(args), "'%s' --lang zh-CN --out '%s/cmd-out'",
           tu_corpus("pml/win10-1909-x64-cldflt-readfile.pml"), tu_tmpdir());
  ck_assert_int_eq(run(args), 1);
  snprintf(path, sizeof(path), "%s/cmd-out/verdict.txt", tu_tmpdir());
  txt = tu_read_file(path, NULL);
  ck_assert_ptr_nonnull(txt);
  ck_assert_ptr_nonnull(strstr(txt, "发现 1: 拒绝访问, STATUS_CLOUD_FILE_NOT_SUPPORTED (0xC000CF0A)"));
  ck_assert_ptr_nonnull(strstr(txt, "  可信度: 较强\n"));
  free(txt);
  snprintf(path, sizeof(path), "%s/cmd-out/verdict.json", tu_tmpdir());
  txt = tu_read_file(path, NULL);
  ck_assert_ptr_nonnull(strstr(txt, "\"confidence\": \"strong\""));
  free(txt);
}
END_TEST

/* The seed case's verdict.txt in Simplified Chinese (--lang zh-CN): the
 * crash block is in Chinese too, line by line. */
START_TEST(seed_case_zh_cn_text) {
  char args[1500], path[800];
  char *txt;
  snprintf(args, sizeof(args), "--lang zh-CN --out '%s/seed-zh' '%s'", tu_tmpdir(), make_seed_upload());
  ck_assert_int_eq(run(args), 1);
  snprintf(path, sizeof(path), "%s/seed-zh/verdict.txt", tu_tmpdir());
  txt = tu_read_file(path, NULL);
  ck_assert_ptr_nonnull(txt);
  ck_assert_ptr_nonnull(strstr(txt, "\n发现 1: 系统崩溃（蓝屏）\n崩溃分析（dump-stack-scan）\n"));
  ck_assert_ptr_nonnull(strstr(txt, "\n  错误检查代码: 0x1000007E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M "
                                    "(0xFFFFFFFFC0000005, 0xFFFFF8047264A2F1, 0xFFFFA60C8E3F62E8, "
                                    "0xFFFFA60C8E3F61A0)，来源：内存转储文件\n"));
  ck_assert_ptr_nonnull(strstr(txt, "\n  安装结果: 0xC1900101 - 0x40017\n  失败阶段: SECOND_BOOT / boot\n"));
  ck_assert_ptr_nonnull(strstr(txt, "\n  出错模块: ndis.sys+0x3a2f1 [高]\n"));
  ck_assert_ptr_nonnull(strstr(txt, "\n  肇事驱动: lwfmgr.sys，位于 lwfmgr.sys+0x2a10 [高]\n"));
  ck_assert_ptr_nonnull(strstr(txt, "\n  依据: 故障发生在 ndis.sys 中，它是核心转发模块；lwfmgr.sys "
                                    "是栈上从保存的栈指针往上第一个其他模块（2 个栈槽）。\n"));
  ck_assert_ptr_nonnull(
      strstr(txt, "\n  栈上模块: ndis.sys, lwfmgr.sys, Wdf01000.sys, ntoskrnl.exe, vendorx.sys\n"));
  ck_assert_ptr_nonnull(strstr(txt, "\n  可信度: 已确认\n"));
  /* none of the English block's labels are left */
  ck_assert_ptr_null(strstr(txt, "Blamed driver"));
  ck_assert_ptr_null(strstr(txt, "Faulting module"));
  ck_assert_ptr_null(strstr(txt, "Why:"));
  free(txt);
}
END_TEST

/* A missing input is listed as failed, and the job still gives a verdict. */
START_TEST(missing_input_is_listed) {
  const char *p = "/nonexistent/upload.zip";
  struct verdict *v = analyze(&p, 1, NULL);
  ck_assert_uint_eq(v->ninputs, 1);
  ck_assert_str_eq(v->inputs[0].status, "failed");
  ck_assert_ptr_nonnull(v->inputs[0].error);
  ck_assert_uint_eq(v->nfindings, 0);
  verdict_free(v);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("scenarios");
  TCase *tc = tcase_create("analyze");
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, win7_createfile_denied);
  tcase_add_test(tc, win10_cldflt_readfile);
  tcase_add_test(tc, win10_1709_mixed_network_trap);
  tcase_add_test(tc, no_failure_captures);
  tcase_add_test(tc, synthetic_upload);
  tcase_add_test(tc, corpus_json_conforms);
  tcase_add_test(tc, missing_input_is_listed);
  tcase_add_test(tc, etl_corpus_no_finding);
  tcase_add_test(tc, dump_crash_finding);
  tcase_add_test(tc, seed_case_upload_crash_verdict);
  tcase_add_test(tc, evtx_inventory_and_facts);
  tcase_add_test(tc, command_exit_statuses);
  tcase_add_test(tc, seed_case_zh_cn_text);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return tu_run_suite(suite());
}
