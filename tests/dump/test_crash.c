/* rules/crash: faulting module and blamed driver from dumps and setup logs.
 * Corpus ground truth: corpus/dumps/MANIFEST.md; the seed case of issue 8 is
 * built by tests/dump/dump_writer.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/dump/dump.h"
#include "parsers/text/setuplog.h"
#include "rules/crash.h"
#include "tests/dump/dump_writer.h"
#include "tests/testutil.h"

static void feed_dump_buf(struct crash_ctx *c, const uint8_t *buf, size_t n, const char *name) {
  struct dump d;
  struct fb_error err;
  struct ev_sink sink;

  ck_assert_int_eq(dump_read(&d, buf, n, name, &err), 0);
  crash_sink(c, &sink);
  ck_assert_int_eq(dump_emit(&d, &sink, &err), 0);
  dump_close(&d);
}

static void feed_dump_file(struct crash_ctx *c, const char *rel) {
  struct dump d;
  struct fb_error err;
  struct ev_sink sink;

  ck_assert_int_eq(dump_open(&d, tu_corpus(rel), &err), 0);
  crash_sink(c, &sink);
  ck_assert_int_eq(dump_emit(&d, &sink, &err), 0);
  dump_close(&d);
}

static void feed_log(struct crash_ctx *c, const char *text, const char *name) {
  struct ev_sink sink;
  struct fb_error err;

  crash_sink(c, &sink);
  ck_assert_int_eq(setuplog_parse(text, strlen(text), name, &sink, NULL, &err), 0);
}

START_TEST(x64_corpus_dump_blames_amdppm) {
  struct crash_ctx *c = crash_new();
  struct crash_finding f;
  struct fb_strbuf txt;

  feed_dump_file(c, "dumps/rizin-triage_x64.dmp");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_str_eq(f.kind, "crash");
  ck_assert_str_eq(f.rule, "dump-stack-scan");
  ck_assert_uint_eq(f.bugcheck, 0x1000007E);
  ck_assert_str_eq(f.bugcheck_name, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M");
  ck_assert_uint_eq(f.params[0], 0xFFFFFFFFC0000005ull);
  ck_assert_uint_eq(f.params[3], 0xFFFF850429891720ull);
  ck_assert_str_eq(f.bugcheck_source, "dump");
  ck_assert_uint_eq(f.fault_address, 0xFFFFF8048B58334Cull);
  ck_assert_str_eq(f.fault_address_from, "parameter 2");
  ck_assert_uint_eq(f.context_ip, 0xFFFFF8048B58334Cull);
  ck_assert_str_eq(f.faulting_module, "amdppm.sys");
  ck_assert_str_eq(f.faulting_at, "amdppm.sys+0x334c");
  ck_assert_int_eq(f.faulting_confidence, CRASH_CONF_HIGH);
  ck_assert_str_eq(f.blamed, "amdppm.sys");
  ck_assert_str_eq(f.blamed_at, "amdppm.sys+0x334c");
  ck_assert_str_eq(f.blamed_path, "\\SystemRoot\\System32\\drivers\\amdppm.sys");
  ck_assert_uint_eq(f.blamed_base, 0xFFFFF8048B580000ull);
  ck_assert_uint_eq(f.blamed_size, 0x3B000);
  ck_assert_int_eq(f.confidence, CRASH_CONF_HIGH);
  ck_assert_int_eq(f.user_initiated, 0);
  ck_assert_int_eq(f.stack_from_sp, 1);
  ck_assert_uint_eq(f.stack_slots, 476);
  /* MANIFEST: the first 12 hits from Rsp are amdppm, then Wdf01000+0x96DA0 */
  ck_assert_uint_eq(f.nslots, 12);
  ck_assert_uint_eq(f.slots[0].index, 1);
  ck_assert_uint_eq(f.slots[0].offset, 0x22E2C);
  ck_assert_uint_eq(f.slots[1].offset, 0x313F);
  ck_assert_uint_eq(f.slots[3].offset, 0x3234);
  ck_assert_uint_eq(f.slots[5].offset, 0x20E8F);
  ck_assert_uint_eq(f.slots[9].offset, 0x283F6);
  ck_assert_uint_eq(f.slots[11].offset, 0xFA70);
  ck_assert_uint_eq(f.slots[11].index, 50);
  ck_assert_str_eq(f.stack_modules, "amdppm.sys, Wdf01000.sys, ntoskrnl.exe");
  ck_assert_int_eq(f.has_setup_result, 0);
  ck_assert_int_eq(f.has_log_crash, 0);
  fb_strbuf_init(&txt);
  crash_finding_text(&f, &txt);
  ck_assert_ptr_nonnull(strstr(txt.s, "Blamed driver:   amdppm.sys at amdppm.sys+0x334c [high]"));
  fb_strbuf_free(&txt);
  crash_free(c);
}
END_TEST

START_TEST(arm64_power_button_blames_nobody) {
  struct crash_ctx *c = crash_new();
  struct crash_finding f;

  feed_dump_file(c, "dumps/rizin-triage_arm64.dmp");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_uint_eq(f.bugcheck, 0x1C8);
  ck_assert_str_eq(f.bugcheck_name, "MANUALLY_INITIATED_POWER_BUTTON_HOLD");
  ck_assert_int_eq(f.user_initiated, 1);
  ck_assert_str_eq(f.blamed, "");
  ck_assert_int_eq(f.confidence, CRASH_CONF_NONE);
  ck_assert_str_eq(f.fault_address_from, "");
  ck_assert_str_eq(f.faulting_module, "ntoskrnl.exe"); /* KeBugCheck2 */
  ck_assert_str_eq(f.faulting_at, "ntoskrnl.exe+0x4de014");
  ck_assert_str_eq(f.stack_modules, "ntoskrnl.exe");
  ck_assert_ptr_nonnull(strstr(f.reason, "initiated by the user"));
  crash_free(c);
}
END_TEST

START_TEST(arm64_core_only_stack_blames_nobody_even_if_not_manual) {
  /* Same dump, with the manual-crash rule out of the way: the stack holds
   * only ntoskrnl.exe, so no driver may be named. */
  size_t n;
  uint8_t *buf = (uint8_t *)tu_read_file(tu_corpus("dumps/rizin-triage_arm64.dmp"), &n);
  struct crash_ctx *c = crash_new();
  struct crash_finding f;

  buf[0x38] = 0xD1; /* DRIVER_IRQL_NOT_LESS_OR_EQUAL, p4 = 0: no fault address */
  buf[0x39] = 0;
  feed_dump_buf(c, buf, n, "arm64-d1.dmp");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_int_eq(f.user_initiated, 0);
  ck_assert_str_eq(f.blamed, "");
  ck_assert_int_eq(f.confidence, CRASH_CONF_NONE);
  ck_assert_ptr_nonnull(strstr(f.reason, "only core pass-through modules"));
  crash_free(c);
  free(buf);
}
END_TEST

static int vendor_db(void *arg, const char *module, struct crash_vendor *out) {
  (void)arg;
  if (strcmp(module, "lwfmgr.sys") != 0)
    return 0;
  snprintf(out->vendor, sizeof(out->vendor), "Contoso");
  snprintf(out->product, sizeof(out->product), "Contoso Endpoint Security");
  snprintf(out->role, sizeof(out->role), "an NDIS lightweight filter driver");
  out->inbox = 0;
  return 1;
}

START_TEST(seed_case_names_lwfmgr_confidently) {
  struct crash_ctx *c = crash_new();
  struct crash_finding f;
  size_t n;
  uint8_t *buf = dw_build_seed_case(&n);
  struct ev_sink sink;
  struct ev_fact inst;
  struct fb_strbuf txt;

  crash_set_vendor_lookup(c, vendor_db, NULL);
  feed_dump_buf(c, buf, n, "Rollback/setupmem.dmp");
  feed_log(c, dw_seed_rollback_log(), "Rollback/setupact.log");
  /* what the setupapi parser emits for the filter's package */
  crash_sink(c, &sink);
  memset(&inst, 0, sizeof(inst));
  inst.origin = (struct ev_origin){"Rollback/setupapi/setupapi.dev.log", "setupapi", 812, 40211};
  inst.kind = EV_FACT_DRIVER_INSTALL;
  inst.subject = "Device Install (DiInstallDriver) - C:\\Windows\\INF\\oem42.inf";
  inst.text = "Add Service: lwfmgr";
  sink.fact(sink.ctx, &inst);
  inst.origin.index = 900;
  inst.subject = "Device Install (Hardware initiated) - USB\\VID_0000";
  inst.text = "Exit status: FAILURE(0xC1900101)";
  inst.code = 0xC1900101;
  sink.fact(sink.ctx, &inst);

  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_str_eq(f.rule, "dump-stack-scan");
  ck_assert_uint_eq(f.bugcheck, 0x1000007E);
  ck_assert_str_eq(f.faulting_module, "ndis.sys");
  ck_assert_str_eq(f.faulting_at, "ndis.sys+0x3a2f1");
  ck_assert_int_eq(f.faulting_confidence, CRASH_CONF_HIGH);
  ck_assert_str_eq(f.blamed, "lwfmgr.sys");
  ck_assert_str_eq(f.blamed_at, "lwfmgr.sys+0x2a10");
  ck_assert_int_eq(f.confidence, CRASH_CONF_HIGH);
  ck_assert_str_eq(
      f.blamed_path,
      "\\SystemRoot\\System32\\DriverStore\\FileRepository\\lwfmgr.inf_amd64_3c1f0e2a9b7d6e54\\lwfmgr.sys");
  ck_assert_int_eq(f.stack_from_sp, 1);
  /* slots: ndis (1, 3), lwfmgr (5, 7); the stale vendorx.sys below Rsp and above are not reached */
  ck_assert_uint_eq(f.nslots, 4);
  ck_assert_str_eq(f.slots[0].module, "ndis.sys");
  ck_assert_uint_eq(f.slots[0].index, 1);
  ck_assert_uint_eq(f.slots[0].offset, 0x3A0C4);
  ck_assert_str_eq(f.slots[2].module, "lwfmgr.sys");
  ck_assert_uint_eq(f.slots[2].index, 5);
  ck_assert_uint_eq(f.slots[3].index, 7);
  ck_assert_str_eq(f.stack_modules, "ndis.sys, lwfmgr.sys, Wdf01000.sys, ntoskrnl.exe, vendorx.sys");
  ck_assert_int_eq(f.has_setup_result, 1);
  ck_assert_uint_eq(f.setup_result, 0xC1900101);
  ck_assert_uint_eq(f.setup_extend, 0x40017);
  ck_assert_str_eq(f.phase, "SECOND_BOOT / boot");
  ck_assert_uint_eq(f.setup_result_line, 13);
  ck_assert_int_eq(f.has_log_crash, 1);
  ck_assert_int_eq(f.log_crash_matches, 1);
  ck_assert_uint_eq(f.log_crash_line, 4);
  ck_assert_int_eq(f.has_vendor, 1);
  ck_assert_str_eq(f.vendor.product, "Contoso Endpoint Security");
  ck_assert_uint_eq(f.ninstalls, 2);
  ck_assert_int_eq(f.installs[0].names_driver, 1);
  ck_assert_uint_eq(f.installs[0].line, 812);
  ck_assert_int_eq(f.installs[1].names_driver, 0);
  ck_assert_uint_eq(f.installs[1].code, 0xC1900101);
  fb_strbuf_init(&txt);
  crash_finding_text(&f, &txt);
  ck_assert_ptr_nonnull(
      strstr(txt.s, "Blamed driver:   lwfmgr.sys at lwfmgr.sys+0x2a10 [high] - Contoso Endpoint"));
  ck_assert_ptr_nonnull(strstr(txt.s, "Setup result:    0xC1900101 - 0x40017 (SECOND_BOOT / boot)"));
  ck_assert_ptr_nonnull(
      strstr(txt.s, "rollback log crash block (setupact.log line 4) reports the same bugcheck"));
  fb_strbuf_free(&txt);
  crash_free(c);
  free(buf);
}
END_TEST

START_TEST(passthrough_list_from_file_is_used) {
  char path[4200];
  FILE *fp;
  struct crash_ctx *c = crash_new();
  struct crash_finding f;
  struct fb_error err;
  size_t n;
  uint8_t *buf = dw_build_seed_case(&n);

  /* the shipped list gives the same answer as the built-in one */
  snprintf(path, sizeof(path), "%s/etc/passthrough-modules.txt", FB_SOURCE_DIR);
  ck_assert_int_eq(crash_passthrough_load(c, path, &err), 0);
  ck_assert(crash_is_passthrough(c, "NDIS.SYS"));
  ck_assert(crash_is_passthrough(c, "ntkrnlmp.exe"));
  ck_assert(!crash_is_passthrough(c, "amdppm.sys"));
  feed_dump_buf(c, buf, n, "setupmem.dmp");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_str_eq(f.blamed, "lwfmgr.sys");
  crash_free(c);

  /* a list without ndis.sys blames the faulting module itself */
  snprintf(path, sizeof(path), "%s/passthrough.txt", tu_tmpdir());
  fp = fopen(path, "w");
  ck_assert_ptr_nonnull(fp);
  fputs("# no ndis here\nntoskrnl.exe\n  hal.dll  # trailing comment\n\n", fp);
  fclose(fp);
  c = crash_new();
  ck_assert_int_eq(crash_passthrough_load(c, path, &err), 0);
  ck_assert(crash_is_passthrough(c, "hal.dll"));
  ck_assert(!crash_is_passthrough(c, "ndis.sys"));
  feed_dump_buf(c, buf, n, "setupmem.dmp");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_str_eq(f.blamed, "ndis.sys");
  ck_assert_int_eq(f.confidence, CRASH_CONF_HIGH); /* fault, saved IP and first stack driver all in ndis */
  ck_assert_int_eq(crash_passthrough_load(c, "/nonexistent/list.txt", &err), FB_EIO);
  crash_free(c);
  free(buf);
}
END_TEST

START_TEST(log_only_and_mismatch_cases) {
  struct crash_ctx *c;
  struct crash_finding f;
  size_t n;
  uint8_t *buf;
  static const char other_crash[] =
      "2026-11-20 21:14:03, Info                  SP     Crash 0x000000D1 detected\n"
      "2026-11-20 21:14:03, Info                  SP       Module name           : "
      "contoso.sys\n"
      "2026-11-20 21:14:03, Info                  SP       Bugcheck parameter 1  : 0x0\n";
  static const char result_only[] =
      "2026-11-20 21:20:55, Error                 MOUPG  Failure: 0xC1900101 - 0x20017\n";

  /* no dump: the crash block's module name, low confidence */
  c = crash_new();
  feed_log(c, other_crash, "setupact.log");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_str_eq(f.rule, "rollback-log-crash-block");
  ck_assert_uint_eq(f.bugcheck, 0xD1);
  ck_assert_str_eq(f.blamed, "contoso.sys");
  ck_assert_int_eq(f.confidence, CRASH_CONF_LOW);
  ck_assert_int_eq(f.log_crash_matches, -1);
  crash_free(c);

  /* a crash block that is not the dump's crash caps the confidence */
  c = crash_new();
  buf = dw_build_seed_case(&n);
  feed_dump_buf(c, buf, n, "setupmem.dmp");
  feed_log(c, other_crash, "setupact.log");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_str_eq(f.blamed, "lwfmgr.sys");
  ck_assert_int_eq(f.log_crash_matches, 0);
  ck_assert_int_eq(f.confidence, CRASH_CONF_MEDIUM);
  crash_free(c);
  free(buf);

  /* only a rollback result: a finding with the phase, nobody blamed */
  c = crash_new();
  feed_log(c, result_only, "setupact.log");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_str_eq(f.rule, "setup-result");
  ck_assert_str_eq(f.phase, "SAFE_OS / boot");
  ck_assert_str_eq(f.blamed, "");
  crash_free(c);

  /* nothing crash-related: no finding */
  c = crash_new();
  ck_assert_int_eq(crash_decide(c, &f), 0);
  crash_free(c);
}
END_TEST

START_TEST(corpus_setup_log_gives_no_crash_finding) {
  struct crash_ctx *c = crash_new();
  struct crash_finding f;
  struct ev_sink sink;
  struct fb_error err;

  crash_sink(c, &sink);
  ck_assert_int_eq(setuplog_parse_file(tu_corpus("logs/setup/rickaK77-setupact.log"), &sink, NULL, &err), 0);
  ck_assert_int_eq(crash_decide(c, &f), 0); /* 0x80070032 down-level: not a crash */
  crash_free(c);
}
END_TEST

START_TEST(fault_in_unloaded_driver) {
  static const struct dw_driver drv[] = {
      {"\\SystemRoot\\system32\\ntoskrnl.exe", 0xFFFFF80470000000ull, 0x1046000, 0},
  };
  static const struct dw_unloaded unl[] = {{"oldfilt.sys", 0xFFFFF80490000000ull, 0xFFFFF80490020000ull}};
  uint64_t stack[8] = {0, 0xFFFFF80470001000ull, 0, 0, 0, 0, 0, 0};
  struct dw_spec s;
  struct crash_ctx *c = crash_new();
  struct crash_finding f;
  size_t n;
  uint8_t *buf;

  memset(&s, 0, sizeof(s));
  s.bugcheck = 0xD1;
  s.params[3] = 0xFFFFF80490001234ull;
  s.ip = 0xFFFFF80490001234ull;
  s.sp = 0xFFFF000000001000ull;
  s.top_of_stack = 0xFFFF000000001000ull;
  s.drivers = drv;
  s.ndrivers = 1;
  s.unloaded = unl;
  s.nunloaded = 1;
  s.stack = stack;
  s.nstack = 8;
  buf = dw_build(&s, &n);
  feed_dump_buf(c, buf, n, "Mini.dmp");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_str_eq(f.fault_address_from, "parameter 4");
  ck_assert_int_eq(f.fault_in_unloaded, 1);
  ck_assert_str_eq(f.faulting_at, "oldfilt.sys+0x1234 (unloaded)");
  ck_assert_str_eq(f.blamed, "oldfilt.sys");
  ck_assert_int_eq(f.confidence, CRASH_CONF_MEDIUM);
  crash_free(c);
  free(buf);
}
END_TEST

START_TEST(second_dump_is_noted_not_mixed) {
  struct crash_ctx *c = crash_new();
  struct crash_finding f;
  size_t n;
  uint8_t *buf = dw_build_seed_case(&n);
  int noted = 0;

  feed_dump_buf(c, buf, n, "Rollback/setupmem.dmp");
  feed_dump_file(c, "dumps/rizin-triage_x64.dmp");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  /* the first dump decides; the x64 dump's modules must not leak into it */
  ck_assert_str_eq(f.source_file, "Rollback/setupmem.dmp");
  ck_assert_str_eq(f.blamed, "lwfmgr.sys");
  ck_assert_str_eq(f.stack_modules, "ndis.sys, lwfmgr.sys, Wdf01000.sys, ntoskrnl.exe, vendorx.sys");
  for (uint32_t i = 0; i < f.nevidence; i++)
    noted |= strcmp(f.evidence[i], "1 more dump was uploaded; this finding reads the first only") == 0;
  ck_assert(noted);
  crash_free(c);
  free(buf);
}
END_TEST

START_TEST(no_fault_address_stays_medium) {
  static const struct dw_driver drv[] = {
      {"\\SystemRoot\\system32\\ntoskrnl.exe", 0xFFFFF80470000000ull, 0x1046000, 0},
      {"\\SystemRoot\\System32\\drivers\\ndis.sys", 0xFFFFF80472610000ull, 0x16F000, 0},
      {"\\SystemRoot\\System32\\drivers\\npcap.sys", 0xFFFFF80481000000ull, 0x20000, 0},
  };
  /* 0x7C BUGCODE_NDIS_DRIVER: NDIS raised it after checking its caller */
  uint64_t stack[8] = {
      0xFFFFF80470003000ull, 0, 0xFFFFF80472611000ull, 0xFFFFF80481001100ull, 0, 0xFFFFF80481001200ull, 0, 0};
  struct dw_spec s;
  struct crash_ctx *c = crash_new();
  struct crash_finding f;
  size_t n;
  uint8_t *buf;

  memset(&s, 0, sizeof(s));
  s.bugcheck = 0x7C;
  s.params[0] = 0x14;
  s.params[1] = 2;
  s.ip = 0xFFFFF80470002000ull; /* KeBugCheckEx */
  s.sp = 0xFFFF000000001000ull;
  s.top_of_stack = 0xFFFF000000001000ull;
  s.drivers = drv;
  s.ndrivers = 3;
  s.stack = stack;
  s.nstack = 8;
  buf = dw_build(&s, &n);
  feed_dump_buf(c, buf, n, "Mini.dmp");
  ck_assert_int_eq(crash_decide(c, &f), 1);
  ck_assert_str_eq(f.bugcheck_name, "BUGCODE_NDIS_DRIVER");
  ck_assert_str_eq(f.fault_address_from, "");
  ck_assert_str_eq(f.faulting_module, "ntoskrnl.exe");
  ck_assert_int_eq(f.faulting_confidence, CRASH_CONF_MEDIUM);
  ck_assert_str_eq(f.blamed, "npcap.sys");
  ck_assert_str_eq(f.blamed_at, "npcap.sys+0x1100");
  ck_assert_int_eq(f.confidence, CRASH_CONF_MEDIUM);
  crash_free(c);
  free(buf);
}
END_TEST

int main(void) {
  Suite *s = suite_create("crash");
  TCase *tc = tcase_create("crash");

  tcase_add_test(tc, x64_corpus_dump_blames_amdppm);
  tcase_add_test(tc, arm64_power_button_blames_nobody);
  tcase_add_test(tc, arm64_core_only_stack_blames_nobody_even_if_not_manual);
  tcase_add_test(tc, seed_case_names_lwfmgr_confidently);
  tcase_add_test(tc, passthrough_list_from_file_is_used);
  tcase_add_test(tc, log_only_and_mismatch_cases);
  tcase_add_test(tc, corpus_setup_log_gives_no_crash_finding);
  tcase_add_test(tc, fault_in_unloaded_driver);
  tcase_add_test(tc, second_dump_is_noted_not_mixed);
  tcase_add_test(tc, no_fault_address_stays_medium);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
