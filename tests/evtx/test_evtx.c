/* Tests of parsers/evtx on the corpus event logs (ground truth in
 * corpus/evtx/MANIFEST.md) and on synthetic events for the crash records
 * no public log has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parsers/evtx/evtx.h"
#include "parsers/text/textlines.h"
#include "tests/testutil.h"
#include "tests/text/collect.h"

#define OMER "evtx/omerbenamram-evtx/"

/* libevtx 20181227 leaks parts of an XML tree when a record fails to decode
 * (libfwevt_xml_tag_initialize on its error paths): upstream's, not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libevtx.so\n";
}
#define HAYA "evtx/hayabusa-sample-evtx/"

static uint64_t ft(int y, int mo, int d, int h, int mi, int s, uint32_t ticks) {
  return text_filetime(y, mo, d, h, mi, s, 0) + ticks;
}

static const struct kept_fact *fact_by_record(const struct collect *c, uint64_t rec) {
  size_t i;
  for (i = 0; i < c->nfacts; i++)
    if (c->facts[i].r.origin.index == rec)
      return &c->facts[i];
  return NULL;
}

START_TEST(system_log_filter_manager_and_wu) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct evtx_stats st;
  struct fb_error err;
  static const struct {
    const char *name, *alt;
  } three[] = {{"FileInfo", "40500"},  {"Wof", "40700"},    {"WdFilter", "328010"}, {"FileCrypt", "141100"},
               {"npsvctrig", "46000"}, {"wcifs", "189900"}, {"luafv", "135000"},    {"storqosflt", "244000"}};
  const struct kept_fact *f;
  size_t i;

  ck_assert_int_eq(evtx_read(tu_corpus(OMER "system.evtx"), &sink, &st, &err), 0);
  ck_assert_uint_eq(st.records, 1881);
  ck_assert_uint_eq(st.records_failed, 0);
  ck_assert_uint_eq(st.recovered, 79);
  ck_assert_uint_eq(st.recovered_failed, 79);
  ck_assert_uint_eq(st.version_major, 3);
  ck_assert_uint_eq(st.version_minor, 1);
  ck_assert_uint_eq(c.nfilters, 26);
  for (i = 0; i < sizeof(three) / sizeof(three[0]); i++)
    ck_assert_int_eq(collect_count_filter(&c, three[i].name, three[i].alt), 3);
  ck_assert_int_eq(collect_count_filter(&c, "SysmonDrv", "385201"), 1);
  ck_assert_int_eq(collect_count_filter(&c, "PROCMON23", "385200"), 1);
  for (i = 0; i < c.nfilters; i++) {
    const struct kept_filter *k = &c.filters[i];
    ck_assert_int_eq(k->r.source, EV_FSRC_EVENTLOG);
    ck_assert_int_eq(k->r.loaded, 1);
    ck_assert_int_eq(k->r.frame, 0);
    ck_assert_int_eq(k->r.instances, 1);
    ck_assert_str_eq(k->format, "evtx");
    if (strcmp(k->name, "PROCMON23") == 0) {
      ck_assert_uint_eq(k->r.origin.index, 1854);
      ck_assert_uint_eq(k->r.time, ft(2017, 12, 26, 13, 18, 8, 413649));
    }
    if (strcmp(k->name, "SysmonDrv") == 0)
      ck_assert_uint_eq(k->r.origin.index, 1814);
  }
  /* WindowsUpdateClient 20 */
  ck_assert_uint_eq(c.nfacts, 5);
  ck_assert_uint_eq(st.facts, 5);
  for (i = 0; i < 4; i++) {
    static const uint64_t recs[4] = {561, 807, 1008, 1182};
    f = fact_by_record(&c, recs[i]);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->r.kind, EV_FACT_WU_FAILURE);
    ck_assert_uint_eq(f->r.code, 0x80248007);
    ck_assert_ptr_nonnull(strstr(f->subject, "(KB4025342)"));
  }
  f = fact_by_record(&c, 561);
  ck_assert_uint_eq(f->r.time, ft(2017, 7, 23, 7, 25, 41, 8045046));
  ck_assert_str_eq(f->subject,
                   "2017-07 Cumulative Update for Windows 10 Version 1703 for x64-based Systems (KB4025342)");
  f = fact_by_record(&c, 1823);
  ck_assert_uint_eq(f->r.code, 0x80246013);
  ck_assert_ptr_nonnull(strstr(f->subject, "(KB890830)"));
  collect_free(&c);
}
END_TEST

START_TEST(vss_system_log_version0_events) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct evtx_stats st;
  struct fb_error err;
  static const char *const names[] = {"FileCrypt", "FileInfo",  "WdFilter",   "Wof",
                                      "luafv",     "npsvctrig", "storqosflt", "wcifs"};
  size_t i;
  int loads = 0, unloads = 0, cld_unloads = 0, wd_unloads = 0;

  ck_assert_int_eq(evtx_read(tu_corpus(OMER "2-vss_7-System.evtx"), &sink, &st, &err), 0);
  ck_assert_uint_eq(st.records, 1160);
  ck_assert_uint_eq(c.nfilters, 34);
  for (i = 0; i < c.nfilters; i++) {
    const struct kept_filter *k = &c.filters[i];
    ck_assert_ptr_null(k->altitude); /* event version 0: no ExtraInfoString */
    if (k->r.loaded == 1)
      loads++;
    else {
      unloads++;
      cld_unloads += strcmp(k->name, "CldFlt") == 0;
      wd_unloads += strcmp(k->name, "WdFilter") == 0;
    }
  }
  ck_assert_int_eq(loads, 30);
  ck_assert_int_eq(unloads, 4);
  ck_assert_int_eq(cld_unloads, 3);
  ck_assert_int_eq(wd_unloads, 1);
  ck_assert_int_eq(collect_count_filter(&c, "CldFlt", NULL), 9);
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    ck_assert_int_eq(collect_count_filter(&c, names[i], NULL), 3 + (strcmp(names[i], "WdFilter") == 0));
  /* records 35/36/37: CldFlt load, unload, load */
  for (i = 0; i + 2 < c.nfilters; i++) {
    if (c.filters[i].r.origin.index == 35) {
      ck_assert_str_eq(c.filters[i].name, "CldFlt");
      ck_assert_int_eq(c.filters[i].r.loaded, 1);
      ck_assert_uint_eq(c.filters[i + 1].r.origin.index, 36);
      ck_assert_int_eq(c.filters[i + 1].r.loaded, 0);
      ck_assert_uint_eq(c.filters[i + 2].r.origin.index, 37);
      ck_assert_int_eq(c.filters[i + 2].r.loaded, 1);
      ck_assert_uint_lt(c.filters[i + 2].r.time - c.filters[i].r.time, 3000); /* < 0.3 ms */
    }
  }
  /* WindowsUpdateClient 20: record 518 (the MANIFEST's one) and 519, both 0x8024001e */
  ck_assert_uint_eq(c.nfacts, 2);
  ck_assert_uint_eq(c.facts[0].r.origin.index, 518);
  ck_assert_uint_eq(c.facts[0].r.code, 0x8024001e);
  ck_assert_str_eq(c.facts[0].subject, "9NBLGGH3FL3T-Microsoft.VCLibs.120.00.Universal");
  ck_assert_uint_eq(c.facts[1].r.origin.index, 519);
  collect_free(&c);
}
END_TEST

START_TEST(recovered_filter_manager_events) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct evtx_stats st;
  struct fb_error err;
  size_t i;

  ck_assert_int_eq(
      evtx_read(
          tu_corpus(
              HAYA
              "EVTX-ATTACK-SAMPLES_Discovery_discovery_local_user_or_group_windows_security_4799_4798.evtx"),
          &sink, &st, &err),
      0);
  ck_assert_uint_eq(st.records, 3);
  ck_assert_uint_eq(st.recovered, 143);
  ck_assert_uint_eq(st.recovered_failed, 7);
  ck_assert_uint_eq(c.nfilters, 31);
  for (i = 0; i < c.nfilters; i++)
    ck_assert_str_eq(c.filters[i].format, "evtx-recovered");
  ck_assert_int_eq(collect_count_filter(&c, "PROCMON24", NULL), 1);
  ck_assert_int_eq(collect_count_filter(&c, "SysmonDrv", NULL), 2);
  ck_assert_int_eq(collect_count_filter(&c, "CldFlt", NULL), 9);
  ck_assert_int_eq(collect_count_filter(&c, "luafv", NULL), 3);
  ck_assert_int_eq(collect_count_filter(&c, "WdFilter", NULL), 2);
  collect_free(&c);
}
END_TEST

START_TEST(sysmon_unload) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct evtx_stats st;
  struct fb_error err;

  ck_assert_int_eq(
      evtx_read(tu_corpus(HAYA "EVTX-to-MITRE-Attack_TA0005-Defense_Evasion_T1562.001-Impair_Defenses-"
                               "Disable_or_Modify_tool_ID1-SYSMON_driver_unload_(FilterManager).evtx"),
                &sink, &st, &err),
      0);
  ck_assert_uint_eq(c.nfilters, 1);
  ck_assert_str_eq(c.filters[0].name, "SysmonDrv");
  ck_assert_int_eq(c.filters[0].r.loaded, 0);
  ck_assert_uint_eq(c.filters[0].r.status, 0);
  collect_free(&c);
}
END_TEST

START_TEST(servicing_failures_in_setup_channel) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct evtx_stats st;
  struct fb_error err;

  ck_assert_int_eq(evtx_read(tu_corpus("evtx/3gstudent/Setup.evtx"), &sink, &st, &err), 0);
  ck_assert_uint_eq(st.records, 15);
  ck_assert_uint_eq(c.nfacts, 2);
  ck_assert_int_eq(c.facts[0].r.kind, EV_FACT_CBS_FAILURE);
  ck_assert_uint_eq(c.facts[0].r.origin.index, 12);
  ck_assert_uint_eq(c.facts[0].r.code, 0x800f0816);
  ck_assert_str_eq(c.facts[0].subject, "KB4093137");
  ck_assert_str_eq(
      c.facts[0].text,
      "Servicing event 3: KB4093137 to state Staged failed with 0x800f0816 (client WindowsUpdateAgent)");
  ck_assert_uint_eq(c.facts[1].r.origin.index, 14);
  ck_assert_str_eq(c.facts[1].subject, "KB4091461");
  collect_free(&c);

  /* Servicing 7-10 (CbsUpdateChangeState) with no failure: no fact */
  sink = collect_sink(&c);
  ck_assert_int_eq(
      evtx_read(tu_corpus(HAYA "EVTX-to-MITRE-Attack_TA0005-Defense_Evasion_T1562.001-Impair_Defenses-"
                               "Disable_or_Modify_tool_ID8-Module_Virtualization_disabled_(Credential_"
                               "Guard).evtx"),
                &sink, &st, &err),
      0);
  ck_assert_uint_eq(st.records, 32);
  ck_assert_uint_eq(c.nfacts, 0);
  collect_free(&c);
}
END_TEST

START_TEST(wer_windows_update_failures) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct evtx_stats st;
  struct fb_error err;
  size_t i;

  ck_assert_int_eq(evtx_read(tu_corpus(HAYA "DeepBlueCLI_many-events-application.evtx"), &sink, &st, &err),
                   0);
  ck_assert_uint_eq(st.records, 2216);
  ck_assert_uint_eq(c.nfacts, 22);
  /* 19 scans failed with 0x8024001f, the last three (records 2169-2171) with 0x80240057 */
  for (i = 0; i < c.nfacts; i++) {
    ck_assert_int_eq(c.facts[i].r.kind, EV_FACT_WU_FAILURE);
    ck_assert_uint_eq(c.facts[i].r.code, i < 19 ? 0x8024001f : 0x80240057);
  }
  ck_assert_uint_eq(c.facts[19].r.origin.index, 2169);
  ck_assert_uint_eq(c.facts[0].r.origin.index, 153);
  ck_assert_str_eq(c.facts[0].text,
                   "Windows Error Reporting WindowsUpdateFailure: client 7.3.7600.16385, error "
                   "0x8024001f, update 00000000-0000-0000-0000-000000000000, Scan");
  collect_free(&c);
}
END_TEST

START_TEST(damaged_logs_read_partly) {
  struct evtx_stats st;
  struct fb_error err;

  ck_assert_int_eq(
      evtx_read(tu_corpus(OMER "E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx"),
                NULL, &st, &err),
      FB_EFORMAT);
  ck_assert_uint_eq(st.records, 340);
  ck_assert_uint_eq(st.records_failed, 3);
  ck_assert_ptr_nonnull(strstr(err.msg,
                               "read partly: 3 of 340 records could not be decoded and were skipped (first: "
                               "record #24: "));

  ck_assert_int_eq(evtx_read(tu_corpus(OMER "issue_201.evtx"), NULL, &st, &err), FB_EFORMAT);
  ck_assert_uint_eq(st.records, 1);
  ck_assert_uint_eq(st.records_failed, 1);
  ck_assert_ptr_nonnull(strstr(err.msg, "1 of 1 records"));

  ck_assert_int_eq(evtx_read(tu_corpus(OMER "sample_with_a_bad_chunk_magic.evtx"), NULL, &st, &err), 0);
  ck_assert_uint_eq(st.records, 267);
  ck_assert_uint_eq(st.recovered, 163);
  ck_assert_uint_eq(st.recovered_failed, 82);

  ck_assert_int_eq(
      evtx_read(tu_corpus(OMER "Microsoft-Windows-LanguagePackSetup%4Operational.evtx"), NULL, &st, &err), 0);
  ck_assert_uint_eq(st.records, 16);
  ck_assert_int_eq(
      evtx_read(tu_corpus(OMER "Microsoft-Windows-HelloForBusiness%4Operational.evtx"), NULL, &st, &err), 0);
  ck_assert_uint_eq(st.records, 5);
  ck_assert_int_eq(evtx_read(tu_corpus(OMER "Application_no_crc32.evtx"), NULL, &st, &err), 0);
  ck_assert_uint_eq(st.records, 17);
}
END_TEST

/* Cut system.evtx after 200 KB and flip bytes in a copy: reading goes on, no crash. */
START_TEST(truncated_and_corrupted_copies) {
  size_t n = 0, i;
  char *d = tu_read_file(tu_corpus(OMER "system.evtx"), &n);
  char path[4096];
  struct collect c;
  struct ev_sink sink;
  struct evtx_stats st;
  struct fb_error err;
  FILE *f;
  int rc;

  ck_assert_ptr_nonnull(d);
  snprintf(path, sizeof(path), "%s/cut.evtx", tu_tmpdir());
  f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(d, 1, 200 * 1024, f), 200 * 1024);
  fclose(f);
  sink = collect_sink(&c);
  rc = evtx_read(path, &sink, &st, &err);
  ck_assert(rc == 0 || rc == FB_EFORMAT);
  ck_assert_uint_gt(st.records, 0);
  ck_assert_uint_lt(st.records, 1881);
  collect_free(&c);

  for (i = 0x1000 + 0x300; i < n; i += 997)
    d[i] = (char)(d[i] ^ 0x5A);
  snprintf(path, sizeof(path), "%s/flipped.evtx", tu_tmpdir());
  f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(d, 1, n, f), n);
  fclose(f);
  sink = collect_sink(&c);
  rc = evtx_read(path, &sink, &st, &err);
  ck_assert(rc == 0 || rc == FB_EFORMAT);
  if (rc == FB_EFORMAT)
    ck_assert_ptr_nonnull(strstr(err.msg, "could not be decoded"));
  collect_free(&c);
  free(d);
}
END_TEST

START_TEST(not_an_event_log) {
  struct evtx_stats st;
  struct fb_error err;

  ck_assert_int_eq(evtx_read(tu_corpus("logs/cbs/hofcake-CBS.log"), NULL, &st, &err), FB_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "not a readable event log"));
  ck_assert_int_eq(evtx_read(tu_corpus("evtx/does-not-exist.evtx"), NULL, &st, &err), FB_EFORMAT);
}
END_TEST

START_TEST(synthetic_bugcheck_and_kernel_power) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct evtx_event e;
  static const char *const bc_strings[] = {
      "0x0000009f (0x0000000000000003, 0xffffc30c3a4e4060, 0xfffff8016f88f7a0, 0xffffc30c3c8f8010)",
      "C:\\Windows\\MEMORY.DMP", "a1b2c3d4-0000-0000-0000-000000000000"};
  static const char kp_xml[] =
      "<Event><System><Provider Name=\"Microsoft-Windows-Kernel-Power\"/><EventID>41</EventID></System>"
      "<EventData><Data Name=\"BugcheckCode\">159</Data><Data Name=\"BugcheckParameter1\">0x3</Data>"
      "<Data Name=\"BugcheckParameter2\">0xffffc30c3a4e4060</Data><Data "
      "Name=\"BugcheckParameter3\">0xfffff8016f88f7a0"
      "</Data><Data Name=\"BugcheckParameter4\">0xffffc30c3c8f8010</Data><Data "
      "Name=\"SleepInProgress\">0</Data>"
      "</EventData></Event>";

  memset(&e, 0, sizeof(e));
  e.file = "System.evtx";
  e.provider = "Microsoft-Windows-WER-SystemErrorReporting";
  e.event_id = 1001;
  e.record_id = 7;
  e.strings = bc_strings;
  e.nstrings = 3;
  ck_assert_int_eq(evtx_event_emit(&e, &sink, NULL), 0);
  e.provider = "Microsoft-Windows-Kernel-Power";
  e.event_id = 41;
  e.strings = NULL;
  e.nstrings = 0;
  e.xml = kp_xml;
  ck_assert_int_eq(evtx_event_emit(&e, &sink, NULL), 0);
  ck_assert_uint_eq(c.nfacts, 2);
  ck_assert_int_eq(c.facts[0].r.kind, EV_FACT_BUGCHECK);
  ck_assert_uint_eq(c.facts[0].r.code, 0x9f);
  ck_assert_uint_eq(c.facts[0].r.params[0], 3);
  ck_assert_uint_eq(c.facts[0].r.params[3], 0xffffc30c3c8f8010ULL);
  ck_assert_int_eq(c.facts[1].r.kind, EV_FACT_BUGCHECK);
  ck_assert_uint_eq(c.facts[1].r.code, 0x9f);
  ck_assert_uint_eq(c.facts[1].r.params[1], 0xffffc30c3a4e4060ULL);
  ck_assert_uint_eq(c.facts[1].r.params[2], 0xfffff8016f88f7a0ULL);
  collect_free(&c);
}
END_TEST

START_TEST(synthetic_filter_load_failure) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct evtx_event e;
  static const char xml[] =
      "<Event><EventData><Data Name=\"FinalStatus\">0xC0000022</Data>"
      "<Data Name=\"DeviceVersionMajor\">2</Data><Data Name=\"DeviceVersionMinor\">0</Data>"
      "<Data Name=\"DeviceNameLength\">8</Data><Data Name=\"DeviceName\">TmPreFlt</Data>"
      "</EventData></Event>";

  memset(&e, 0, sizeof(e));
  e.provider = "Microsoft-Windows-FilterManager";
  e.event_id = 5;
  e.xml = xml;
  ck_assert_int_eq(evtx_event_emit(&e, &sink, NULL), 0);
  ck_assert_uint_eq(c.nfilters, 1);
  ck_assert_str_eq(c.filters[0].name, "TmPreFlt");
  ck_assert_int_eq(c.filters[0].r.loaded, 0);
  ck_assert_uint_eq(c.filters[0].r.status, 0xC0000022);
  collect_free(&c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("evtx");
  TCase *tc = tcase_create("evtx");

  tcase_add_test(tc, system_log_filter_manager_and_wu);
  tcase_add_test(tc, vss_system_log_version0_events);
  tcase_add_test(tc, recovered_filter_manager_events);
  tcase_add_test(tc, sysmon_unload);
  tcase_add_test(tc, servicing_failures_in_setup_channel);
  tcase_add_test(tc, wer_windows_update_failures);
  tcase_add_test(tc, damaged_logs_read_partly);
  tcase_add_test(tc, truncated_and_corrupted_copies);
  tcase_add_test(tc, not_an_event_log);
  tcase_add_test(tc, synthetic_bugcheck_and_kernel_power);
  tcase_add_test(tc, synthetic_filter_load_failure);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
