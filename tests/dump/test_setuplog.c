/* Setup logs: every corpus log (ground truth in corpus/logs/setup/MANIFEST.md)
 * and the synthetic rollback log of the seed case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/text/setuplog.h"
#include "tests/dump/dump_writer.h"
#include "tests/testutil.h"

#define MAX_FACTS 16

struct facts {
  int n, other;
  struct ev_fact f[MAX_FACTS];
  char subject[MAX_FACTS][96];
  char text[MAX_FACTS][256];
};

static int on_fact(void *ctx, const struct ev_fact *r) {
  struct facts *fs = ctx;
  if (r->kind == EV_FACT_OTHER) {
    fs->other++;
    return 0;
  }
  if (fs->n < MAX_FACTS) {
    fs->f[fs->n] = *r;
    snprintf(fs->subject[fs->n], sizeof(fs->subject[0]), "%s", r->subject ? r->subject : "");
    snprintf(fs->text[fs->n], sizeof(fs->text[0]), "%s", r->text ? r->text : "");
    fs->n++;
  }
  return 0;
}

static void parse(const char *rel, struct setuplog_summary *s, struct facts *fs) {
  struct ev_sink sink = {0};
  struct fb_error err;
  char msg[1200];
  int rc;

  memset(fs, 0, sizeof(*fs));
  sink.ctx = fs;
  sink.fact = on_fact;
  rc = setuplog_parse_file(tu_corpus(rel), &sink, s, &err);
  ck_assert_msg(rc == 0, "%s", fb_error_format(&err, msg, sizeof(msg)));
}

START_TEST(rickak77_failed_downlevel_upgrade) {
  struct setuplog_summary s;
  struct facts fs;

  parse("logs/setup/rickaK77-setupact.log", &s, &fs);
  ck_assert_uint_eq(s.lines, 6291);
  ck_assert_uint_eq(s.timestamped, 6058);
  ck_assert_uint_eq(s.continuation, 233);
  ck_assert_uint_eq(s.info, 5835);
  ck_assert_uint_eq(s.warning, 162);
  ck_assert_uint_eq(s.error, 61);
  ck_assert_uint_eq(s.fatal, 0);
  ck_assert_int_eq(s.bom, 1);
  ck_assert_int_eq(s.crlf, 1);
  ck_assert_str_eq(s.first_time, "2022-07-06 08:08:29");
  ck_assert_str_eq(s.last_time, "2022-07-06 08:23:12");
  ck_assert_uint_eq(setuplog_component_count(&s, "SP"), 2175);
  ck_assert_uint_eq(setuplog_component_count(&s, "MOUPG"), 1427);
  ck_assert_uint_eq(setuplog_component_count(&s, "MIG"), 1197);
  ck_assert_uint_eq(setuplog_component_count(&s, "DISM"), 484);
  ck_assert_uint_eq(setuplog_component_count(&s, "CONX"), 406);
  ck_assert_uint_eq(setuplog_component_count(&s, ""), 318);
  ck_assert_uint_eq(setuplog_component_count(&s, "PANTHR"), 34);
  ck_assert_uint_eq(setuplog_component_count(&s, "DPX"), 7);
  ck_assert_uint_eq(setuplog_component_count(&s, "CSI"), 6);
  ck_assert_uint_eq(setuplog_component_count(&s, "IBSLIB"), 4);
  ck_assert_uint_eq(s.ncomponents, 10);
  /* phase changes with their line numbers */
  ck_assert_uint_eq(s.phase_changes, 5);
  ck_assert_uint_eq(s.phases[0].line, 274);
  ck_assert_str_eq(s.phases[0].from, "SetupPhaseUnknown");
  ck_assert_str_eq(s.phases[0].to, "SetupPhaseUnpack");
  ck_assert_uint_eq(s.phases[1].line, 331);
  ck_assert_uint_eq(s.phases[2].line, 1856);
  ck_assert_str_eq(s.phases[2].to, "SetupPhaseInstall");
  ck_assert_uint_eq(s.phases[3].line, 5925);
  ck_assert_str_eq(s.phases[3].from, "SetupPhaseInstall");
  ck_assert_str_eq(s.phases[3].to, "SetupPhaseError");
  ck_assert_uint_eq(s.phases[4].line, 6268);
  ck_assert_uint_eq(s.dump_prepared, 2);
  /* the final result: a down-level failure, no rollback, no crash */
  ck_assert_uint_eq(s.final_result, 0x80070032);
  ck_assert_uint_eq(s.final_result_line, 6275);
  ck_assert_str_eq(s.final_result_where, "CSetupHost::Execute(433)");
  ck_assert_uint_eq(s.results, 0);
  ck_assert_uint_eq(s.crashes, 0);
  ck_assert_str_eq(
      s.last_failed_operation,
      "Set boot command %SYSTEMDRIVE%\\$WINDOWS.~BT\\Sources\\SetupPlatform.exe /onerror for phase "
      "DismOnError");
  /* evidence: one final-result fact; phase changes as EV_FACT_OTHER */
  ck_assert_int_eq(fs.n, 1);
  ck_assert_int_eq(fs.other, 5);
  ck_assert_int_eq(fs.f[0].kind, EV_FACT_SETUP_RESULT);
  ck_assert_uint_eq(fs.f[0].code, 0x80070032);
  ck_assert_uint_eq(fs.f[0].extra_code, EV_UNKNOWN_U32);
  ck_assert_uint_eq(fs.f[0].origin.index, 6275);
  ck_assert_str_eq(fs.subject[0], "final result");
}
END_TEST

START_TEST(bitbtrust_winpe_with_message_ids) {
  struct setuplog_summary s;
  struct facts fs;

  parse("logs/setup/bitbtrust-setupact.log", &s, &fs);
  ck_assert_uint_eq(s.lines, 4191);
  ck_assert_uint_eq(s.timestamped, 3807);
  ck_assert_uint_eq(s.continuation, 384);
  ck_assert_uint_eq(s.info, 3779);
  ck_assert_uint_eq(s.warning, 27);
  ck_assert_uint_eq(s.error, 1);
  ck_assert_uint_eq(s.with_msgid, 1322);
  ck_assert_int_eq(s.bom, 0);
  ck_assert_int_eq(s.crlf, 0);
  ck_assert_uint_eq(setuplog_component_count(&s, "IBS"), 2102);
  ck_assert_uint_eq(setuplog_component_count(&s, "SYSPRP"), 553);
  ck_assert_uint_eq(setuplog_component_count(&s, "IBSLIB"), 335);
  ck_assert_uint_eq(setuplog_component_count(&s, ""), 318);
  ck_assert_uint_eq(setuplog_component_count(&s, "PANTHR"), 158);
  ck_assert_uint_eq(setuplog_component_count(&s, "CBS"), 132);
  ck_assert_uint_eq(setuplog_component_count(&s, "UI"), 130);
  ck_assert_uint_eq(setuplog_component_count(&s, "DIAG"), 39);
  ck_assert_str_eq(s.last_time, "2019-03-29 00:35:57");
  ck_assert_uint_eq(s.phase_changes, 0);
  ck_assert_uint_eq(s.final_result, 0);
  ck_assert_int_eq(fs.n, 0);

  parse("logs/setup/bitbtrust-setuperr.log", &s, &fs);
  ck_assert_uint_eq(s.lines, 1);
  ck_assert_uint_eq(s.error, 1);
  ck_assert_uint_eq(s.with_msgid, 1);
  ck_assert_uint_eq(setuplog_component_count(&s, "IBS"), 1);
  ck_assert_str_eq(s.first_time, "2019-03-29 00:32:48");
}
END_TEST

START_TEST(shekhar_push_button_reset) {
  struct setuplog_summary s;
  struct facts fs;

  parse("logs/setup/shekhar-pbr-setupact.log", &s, &fs);
  ck_assert_uint_eq(s.lines, 117);
  ck_assert_uint_eq(s.timestamped, 116);
  ck_assert_uint_eq(s.info, 94);
  ck_assert_uint_eq(s.warning, 14);
  ck_assert_uint_eq(s.error, 8);
  ck_assert_int_eq(s.bom, 1);
  ck_assert_int_eq(s.crlf, 0);
  ck_assert_uint_eq(s.ncomponents, 1);
  ck_assert_uint_eq(setuplog_component_count(&s, ""), 116); /* blank on every line */

  parse("logs/setup/shekhar-pbr-setuperr.log", &s, &fs);
  ck_assert_uint_eq(s.lines, 8);
  ck_assert_uint_eq(s.error, 8);
  ck_assert_uint_eq(s.timestamped, 8);
}
END_TEST

START_TEST(windir_setupact_is_not_a_setup_log) {
  struct setuplog_summary s;
  struct fb_error err;

  /* %windir%\setupact.log: same name, class-installer lines, no timestamps */
  ck_assert_int_eq(
      setuplog_parse_file(tu_corpus("logs/setup/kaifangliu-windir-setupact.log"), NULL, &s, &err),
      FB_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "not a Windows Setup log"));
  ck_assert_uint_eq(err.offset, 0);
  ck_assert_int_eq(setuplog_parse_file(tu_corpus("logs/setup/plaso-setupapi.dev.log"), NULL, &s, &err),
                   FB_EFORMAT);
  ck_assert(!setuplog_sniff("dispci.dll:  x", 14));
  ck_assert(setuplog_sniff("\xEF\xBB\xBF"
                           "2021-06-09 12:08:19, Info  x",
                           30));
}
END_TEST

START_TEST(synthetic_rollback_log) {
  const char *log = dw_seed_rollback_log();
  struct setuplog_summary s;
  struct facts fs;
  struct ev_sink sink = {0};
  struct fb_error err;

  memset(&fs, 0, sizeof(fs));
  sink.ctx = &fs;
  sink.fact = on_fact;
  ck_assert_int_eq(setuplog_parse(log, strlen(log), "Rollback/setupact.log", &sink, &s, &err), 0);
  ck_assert_uint_eq(s.lines, 14);
  ck_assert_uint_eq(s.timestamped, 14);
  ck_assert_uint_eq(s.error, 2);
  ck_assert_uint_eq(s.with_msgid, 1);
  ck_assert_uint_eq(s.crashes, 1);
  ck_assert_uint_eq(s.crash_code, 0x1000007E);
  ck_assert_uint_eq(s.crash_params[0], 0xFFFFFFFFC0000005ull);
  ck_assert_uint_eq(s.crash_params[1], dw_seed_params[1]);
  ck_assert_uint_eq(s.crash_params[2], dw_seed_params[2]);
  ck_assert_uint_eq(s.crash_params[3], dw_seed_params[3]);
  ck_assert_str_eq(s.crash_module, ""); /* empty, as in Microsoft's own example */
  ck_assert_uint_eq(s.crash_line, 4);
  ck_assert_uint_eq(s.results, 1);
  ck_assert_uint_eq(s.result, 0xC1900101);
  ck_assert_uint_eq(s.extend, 0x40017);
  ck_assert_uint_eq(s.result_line, 13);
  ck_assert_str_eq(s.phase_operation, "SECOND_BOOT / boot");
  ck_assert_uint_eq(s.final_result, 0xC1900101);
  ck_assert_uint_eq(s.final_result_line, 12);
  ck_assert_uint_eq(s.phase_changes, 2);
  ck_assert_uint_eq(setuplog_component_count(&s, "SP"), 10);
  ck_assert_uint_eq(setuplog_component_count(&s, "MOUPG"), 4);

  /* evidence order: crash block (flushed at "Cannot recover"), result pair, final result */
  ck_assert_int_eq(fs.n, 3);
  ck_assert_int_eq(fs.other, 2);
  ck_assert_int_eq(fs.f[0].kind, EV_FACT_SETUP_CRASH);
  ck_assert_uint_eq(fs.f[0].code, 0x1000007E);
  ck_assert_uint_eq(fs.f[0].params[3], dw_seed_params[3]);
  ck_assert_ptr_null(fs.f[0].subject);
  ck_assert_str_eq(fs.text[0], "2026-11-20 21:14:03, Info                  SP     Crash 0x1000007E detected");
  ck_assert_uint_eq(fs.f[0].origin.index, 4);
  ck_assert_str_eq(fs.f[0].origin.format, "setupact");
  /* 2026-11-20 21:14:03 read as UTC */
  ck_assert_uint_eq(fs.f[0].time, 134396828430000000ull);
  ck_assert_int_eq(fs.f[1].kind, EV_FACT_SETUP_RESULT);
  ck_assert_uint_eq(fs.f[1].code, 0xC1900101);
  ck_assert_uint_eq(fs.f[1].extra_code, 0x40017);
  ck_assert_str_eq(fs.subject[1], "SECOND_BOOT / boot");
  ck_assert_int_eq(fs.f[2].kind, EV_FACT_SETUP_RESULT);
  ck_assert_uint_eq(fs.f[2].extra_code, EV_UNKNOWN_U32);
}
END_TEST

START_TEST(crash_block_with_module_and_setupdiag_form) {
  static const char log[] =
      "2020-01-02 03:04:05, Info                  SP     Crash 0x0000007E detected\n"
      "2020-01-02 03:04:05, Info                  SP       Module name           : contoso.sys\n"
      "2020-01-02 03:04:05, Info                  SP       Bugcheck parameter 1  : 0xFFFFFFFFC0000005\n"
      "2020-01-02 03:04:05, Info                  SP       Bugcheck parameter 2  : 0xFFFFF8015BC0036A\n"
      "Error = 0xC1900101-0x4001E, Last Phase = Pre OOBE\n";
  struct setuplog_summary s;
  struct facts fs;
  struct ev_sink sink = {0};
  struct fb_error err;

  memset(&fs, 0, sizeof(fs));
  sink.ctx = &fs;
  sink.fact = on_fact;
  ck_assert_int_eq(setuplog_parse(log, sizeof(log) - 1, "x.log", &sink, &s, &err), 0);
  ck_assert_uint_eq(s.lines, 5);
  ck_assert_uint_eq(s.continuation, 1);
  ck_assert_uint_eq(s.crashes, 1);
  ck_assert_str_eq(s.crash_module, "contoso.sys");
  ck_assert_uint_eq(s.crash_params[1], 0xFFFFF8015BC0036Aull);
  ck_assert_uint_eq(s.crash_params[2], 0);
  ck_assert_uint_eq(s.extend, 0x4001E);
  ck_assert_str_eq(s.phase_operation, "SECOND_BOOT / pre-OOBE");
  ck_assert_int_eq(fs.f[0].kind, EV_FACT_SETUP_CRASH);
  ck_assert_str_eq(fs.subject[0], "contoso.sys");
}
END_TEST

START_TEST(extend_codes_decode_per_table) {
  char buf[64];

  ck_assert_str_eq(setup_extend_describe(0x40017, buf, sizeof(buf)), "SECOND_BOOT / boot");
  ck_assert_str_eq(setup_extend_describe(0x20017, buf, sizeof(buf)), "SAFE_OS / boot");
  ck_assert_str_eq(setup_extend_describe(0x30018, buf, sizeof(buf)), "FIRST_BOOT / sysprep");
  ck_assert_str_eq(setup_extend_describe(0x2000C, buf, sizeof(buf)), "SAFE_OS / apply image");
  ck_assert_str_eq(setup_extend_describe(0x4000D, buf, sizeof(buf)), "SECOND_BOOT / migrate data");
  ck_assert_str_eq(setup_extend_describe(0x20004, buf, sizeof(buf)),
                   "SAFE_OS / install recovery environment");
  ck_assert_str_eq(setup_extend_describe(0x50020, buf, sizeof(buf)), "UNINSTALL / add provisioning package");
  ck_assert_str_eq(setup_extend_describe(0x60021, buf, sizeof(buf)), "UNKNOWN / unknown");
  ck_assert_str_eq(setup_extend_describe(0x123456, buf, sizeof(buf)), "UNKNOWN / unknown");
}
END_TEST

START_TEST(odd_inputs_do_not_trip) {
  static const char *const cases[] = {
      "",
      "\xEF\xBB\xBF",
      "2020-01-02 03:04:05, ",
      "2020-01-02 03:04:05, Info",
      "2020-01-02 03:04:05, Info                  SP     Crash 0x",
      "2020-01-02 03:04:05, Info                  SP     Crash 0x1 detected\n  Bugcheck parameter 9 : 0x1\n",
      "2020-01-02 03:04:05, Info                  MOUPG  Setup phase change: [A\n",
      "2020-01-02 03:04:05, Info x 0xC1900101 - 0x",
      "2020-13-45 03:04:05, Info                  X      y\r\n\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct setuplog_summary s;
    struct fb_error err;
    int rc = setuplog_parse(cases[i], strlen(cases[i]), "odd.log", NULL, &s, &err);
    ck_assert_int_eq(rc, i < 3 ? FB_EFORMAT : 0);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("setuplog");
  TCase *tc = tcase_create("setuplog");

  tcase_add_test(tc, rickak77_failed_downlevel_upgrade);
  tcase_add_test(tc, bitbtrust_winpe_with_message_ids);
  tcase_add_test(tc, shekhar_push_button_reset);
  tcase_add_test(tc, windir_setupact_is_not_a_setup_log);
  tcase_add_test(tc, synthetic_rollback_log);
  tcase_add_test(tc, crash_block_with_module_and_setupdiag_form);
  tcase_add_test(tc, extend_codes_decode_per_table);
  tcase_add_test(tc, odd_inputs_do_not_trip);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
