/* Tests of the side-evidence text parsers: CBS.log, fltmc, setupapi.dev.log,
 * and the line decoder under them. Exact values from the corpus and from the
 * samples in tests/text/samples (made by us from the formats in
 * docs/evtx-and-logs.md section 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/filetype.h"
#include "parsers/text/cbs.h"
#include "parsers/text/fltmc.h"
#include "parsers/text/setupapi.h"
#include "parsers/text/textlines.h"
#include "tests/testutil.h"
#include "tests/text/collect.h"

static const char *sample(const char *name) {
  static char buf[4][1024];
  static int next;
  char *b = buf[next++ % 4];
  snprintf(b, sizeof(buf[0]), "%s/tests/text/samples/%s", FB_SOURCE_DIR, name);
  return b;
}

static enum fb_filetype type_of(const char *path) {
  size_t n = 0;
  char *d = tu_read_file(path, &n);
  enum fb_filetype t;

  ck_assert_ptr_nonnull(d);
  t = fb_filetype_detect((const uint8_t *)d, n < FB_FILETYPE_HEAD ? n : FB_FILETYPE_HEAD);
  free(d);
  return t;
}

START_TEST(filetime_matches_evtx_ground_truth) {
  /* system.evtx record 1: 2017-07-12T17:16:28.2141616Z = 131443533882141616 */
  ck_assert_uint_eq(text_filetime(2017, 7, 12, 17, 16, 28, 214), 131443533882140000ULL);
  ck_assert_uint_eq(text_filetime(1601, 1, 1, 0, 0, 0, 0), 0);
  ck_assert_uint_eq(text_filetime(1970, 1, 1, 0, 0, 0, 0), 116444736000000000ULL);
  ck_assert_uint_eq(text_filetime(2024, 13, 1, 0, 0, 0, 0), 0);
}
END_TEST

START_TEST(lines_decode_utf16_and_gbk) {
  /* UTF-16LE with BOM: "AB\r\n湖" ; GBK: "湖北\n" = BA FE B1 B1 */
  static const uint8_t u16[] = {0xFF, 0xFE, 'A', 0, 'B', 0, '\r', 0, '\n', 0, 0x56, 0x6E};
  static const uint8_t gbk[] = {0xBA, 0xFE, 0xB1, 0xB1, '\n', 'o', 'k'};
  struct text_lines t;
  const char *s;
  size_t n;

  text_lines_init(&t, u16, sizeof(u16));
  ck_assert_int_eq(t.enc, TEXT_UTF16LE);
  ck_assert_int_eq(text_lines_next(&t, &s, &n), 1);
  ck_assert_str_eq(s, "AB");
  ck_assert_int_eq(text_lines_next(&t, &s, &n), 1);
  ck_assert_str_eq(s, "\xe6\xb9\x96");
  ck_assert_int_eq(text_lines_next(&t, &s, &n), 0);
  text_lines_free(&t);

  text_lines_init(&t, gbk, sizeof(gbk));
  ck_assert_int_eq(text_lines_next(&t, &s, &n), 1);
  ck_assert_str_eq(s, "\xe6\xb9\x96\xe5\x8c\x97");
  ck_assert_int_eq(text_lines_next(&t, &s, &n), 1);
  ck_assert_str_eq(s, "ok");
  ck_assert_uint_eq(t.lineno, 2);
  ck_assert_int_eq(t.gbk_lines, 1);
  text_lines_free(&t);
}
END_TEST

START_TEST(cbs_corpus_log) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct cbs_stats st;
  struct fb_error err;
  const char *path = tu_corpus("logs/cbs/hofcake-CBS.log");

  ck_assert_int_eq(type_of(path), FB_FT_CBS_LOG);
  ck_assert_int_eq(cbs_read(path, &sink, &st, &err), 0);
  ck_assert_uint_eq(st.lines, 1668);
  ck_assert_uint_eq(st.entries, 1668);
  ck_assert_uint_eq(st.errors, 0); /* every line is level Info */
  ck_assert_uint_eq(st.failures, 70);
  ck_assert_uint_eq(c.nfacts, 70);
  /* local 21:47:28 printed with "Universal Time is: 2015-02-24 02:47:28": UTC-5 */
  ck_assert_int_eq(st.utc_offset, 5LL * 3600 * 10000000);
  /* line 24 is the first failure */
  ck_assert_uint_eq(c.facts[0].r.origin.index, 24);
  ck_assert_uint_eq(c.facts[0].r.code, 0x800f0805);
  ck_assert_str_eq(c.facts[0].text,
                   "Failed to internally open package. [HRESULT = 0x800f0805 - CBS_E_INVALID_PACKAGE]");
  ck_assert_uint_eq(c.facts[0].r.time, text_filetime(2015, 2, 24, 2, 47, 39, 0));
  ck_assert_uint_eq(c.facts[1].r.origin.index, 25);
  ck_assert_str_eq(c.facts[1].text, "Failed to OpenPackage using worker session [HRESULT = 0x800f0805]");
  collect_free(&c);
}
END_TEST

START_TEST(cbs_seed_case_access_denied) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct cbs_stats st;
  struct fb_error err;
  const char *path = sample("cbs-accessdenied.log");
  static const char cab[] =
      "C:\\Windows\\SoftwareDistribution\\Download\\5c1b4f0e2a7d9c3e8f6b1a2d3c4e5f60\\Windows10.0-KB5035845-"
      "x64.cab";

  ck_assert_int_eq(type_of(path), FB_FT_CBS_LOG);
  ck_assert_int_eq(cbs_read(path, &sink, &st, &err), 0);
  ck_assert_uint_eq(st.entries, 8);
  ck_assert_uint_eq(st.errors, 2);
  ck_assert_uint_eq(c.nfacts, 3); /* S_OK is not a failure */
  ck_assert_uint_eq(c.facts[0].r.code, 0x80070005);
  ck_assert_ptr_nonnull(c.facts[0].path);
  ck_assert_str_eq(c.facts[0].path, cab);
  ck_assert_str_eq(c.facts[0].subject, "KB5035845");
  /* China Standard Time (UTC+8): 10:15:02 local = 02:15:02 UTC */
  ck_assert_uint_eq(c.facts[0].r.time, text_filetime(2024, 3, 12, 2, 15, 2, 0));
  /* the next failures name no file: the path of the line before (same second) */
  ck_assert_str_eq(c.facts[1].path,
                   "C:\\Windows\\SoftwareDistribution\\Download\\5c1b4f0e2a7d9c3e8f6b1a2d3c4e5f60\\Windows10."
                   "0-KB5035845-x64.cab");
  ck_assert_uint_eq(c.facts[2].r.code, 0x80070005);
  ck_assert_uint_eq(c.facts[2].r.origin.index, 7);
  collect_free(&c);
}
END_TEST

START_TEST(cbs_rejects_other_text) {
  struct fb_error err;
  static const char junk[] = "hello\nworld\n";

  ck_assert_int_eq(cbs_parse((const uint8_t *)junk, sizeof(junk) - 1, "junk", NULL, NULL, &err), FB_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "no CBS.log line"));
}
END_TEST

static void check_filters_table(const struct collect *c) {
  ck_assert_int_eq(collect_count_filter(c, "bindflt", "409800"), 1);
  ck_assert_int_eq(collect_count_filter(c, "TmPreFlt", "328500"), 1);
  ck_assert_int_eq(collect_count_filter(c, "WdFilter", "328010"), 1);
  ck_assert_int_eq(collect_count_filter(c, "CldFlt", "180451"), 1);
  ck_assert_int_eq(collect_count_filter(c, "FileInfo", "40500"), 1);
}

START_TEST(fltmc_filters_english) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct fltmc_stats st;
  struct fb_error err;
  const char *path = sample("fltmc-filters-en.txt");
  size_t i;

  ck_assert_int_eq(type_of(path), FB_FT_FLTMC);
  ck_assert_int_eq(fltmc_read(path, &sink, &st, &err), 0);
  ck_assert_uint_eq(st.tables, 1);
  ck_assert_uint_eq(st.filters, 13);
  ck_assert_int_eq(st.legacy, 1);
  check_filters_table(&c);
  ck_assert_int_eq(collect_count_filter(&c, "UCPD", "385250.5"), 1);
  for (i = 0; i < c.nfilters; i++) {
    const struct kept_filter *f = &c.filters[i];
    ck_assert_int_eq(f->r.source, EV_FSRC_FLTMC_FILTERS);
    if (strcmp(f->name, "UCPD") == 0 || strcmp(f->name, "WdFilter") == 0) {
      ck_assert_int_eq(f->r.instances, 4);
      ck_assert_int_eq(f->r.frame, 0);
    }
    if (strcmp(f->name, "AVLegacy") == 0) {
      ck_assert_str_eq(f->altitude, "389998.99");
      ck_assert_int_eq(f->r.instances, -1);
      ck_assert_int_eq(f->r.frame, -1);
      ck_assert_uint_eq(f->r.origin.index, 16); /* after a blank line, header and dash row */
    }
  }
  collect_free(&c);
}
END_TEST

START_TEST(fltmc_filters_chinese_utf16_and_gbk) {
  const char *files[2] = {sample("fltmc-filters-zh-utf16.txt"), sample("fltmc-filters-zh-gbk.txt")};
  int k;

  for (k = 0; k < 2; k++) {
    struct collect c;
    struct ev_sink sink = collect_sink(&c);
    struct fltmc_stats st;
    struct fb_error err;

    ck_assert_int_eq(type_of(files[k]), FB_FT_FLTMC);
    ck_assert_int_eq(fltmc_read(files[k], &sink, &st, &err), 0);
    ck_assert_uint_eq(st.filters, 6);
    check_filters_table(&c);
    ck_assert_int_eq(collect_count_filter(&c, "tmevtmgr", "328510"), 1);
    ck_assert_int_eq(c.filters[1].r.instances, 3);
    collect_free(&c);
  }
}
END_TEST

START_TEST(fltmc_instances_chinese_gbk) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct fltmc_stats st;
  struct fb_error err;
  const char *path = sample("fltmc-instances-zh-gbk.txt");

  ck_assert_int_eq(type_of(path), FB_FT_FLTMC);
  ck_assert_int_eq(fltmc_read(path, &sink, &st, &err), 0);
  ck_assert_uint_eq(st.instances, 5);
  ck_assert_uint_eq(c.nfilters, 5);
  ck_assert_int_eq(c.filters[0].r.source, EV_FSRC_FLTMC_INSTANCES);
  ck_assert_str_eq(c.filters[0].name, "TmPreFlt");
  ck_assert_str_eq(c.filters[0].volume, "C:");
  ck_assert_str_eq(c.filters[0].altitude, "328500");
  ck_assert_str_eq(c.filters[0].instance, "TmPreFlt Instance");
  ck_assert_int_eq(c.filters[0].r.frame, 0);
  ck_assert_str_eq(c.filters[1].volume, "\\Device\\HarddiskVolume1");
  ck_assert_ptr_null(c.filters[2].volume); /* blank volume name */
  ck_assert_str_eq(c.filters[2].instance, "TmPreFlt Instance");
  ck_assert_str_eq(c.filters[4].name, "FileInfo");
  ck_assert_str_eq(c.filters[4].volume, "\\Device\\Mup");
  ck_assert_str_eq(c.filters[4].altitude, "40500");
  collect_free(&c);
}
END_TEST

START_TEST(fltmc_instances_english_utf16) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct fltmc_stats st;
  struct fb_error err;

  ck_assert_int_eq(fltmc_read(sample("fltmc-instances-en-utf16.txt"), &sink, &st, &err), 0);
  ck_assert_uint_eq(st.instances, 5);
  ck_assert_str_eq(c.filters[2].name, "WdFilter");
  ck_assert_str_eq(c.filters[2].volume, "\\Device\\Mup");
  ck_assert_str_eq(c.filters[2].instance, "WdFilter Instance");
  ck_assert_str_eq(c.filters[3].instance, "CldFlt");
  collect_free(&c);
}
END_TEST

START_TEST(fltmc_access_denied_is_reported) {
  struct fltmc_stats st;
  struct fb_error err;
  const char *path = sample("fltmc-denied.txt");

  ck_assert_int_eq(type_of(path), FB_FT_FLTMC);
  ck_assert_int_eq(fltmc_read(path, NULL, &st, &err), FB_EFORMAT);
  ck_assert_str_eq(err.msg, "no fltmc table; the output says: Filter listing failed with error: 0x80070005");
}
END_TEST

/* Found by fuzz_fltmc: an instances header over a 4-column dash row made the
 * parser read a cell that was never filled. */
START_TEST(fltmc_fuzz_regression_header_promises_more_columns) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct fltmc_stats st;
  struct fb_error err;
  int rc = fltmc_read(sample("fuzz-fltmc-header-more-columns.txt"), &sink, &st, &err);

  ck_assert_int_eq(rc, 0);
  ck_assert_uint_eq(st.tables, 1);
  ck_assert_uint_eq(st.instances, 4);
  ck_assert_uint_eq(st.skipped, 2);
  ck_assert_uint_eq(c.nfilters, 4);
  collect_free(&c);
}
END_TEST

START_TEST(setupapi_plaso_log) {
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct setupapi_stats st;
  struct fb_error err;
  const char *path = tu_corpus("logs/setup/plaso-setupapi.dev.log");
  size_t i, found = 0;

  ck_assert_int_eq(type_of(path), FB_FT_SETUPAPI);
  ck_assert_int_eq(setupapi_read(path, &sink, &st, &err), 0);
  ck_assert_uint_eq(st.lines, 10653);
  ck_assert_uint_eq(st.sections, 194);
  ck_assert_uint_eq(st.succeeded, 194);
  ck_assert_uint_eq(st.reboot, 3);
  ck_assert_uint_eq(st.failed, 0);
  ck_assert_uint_eq(st.unfinished, 0);
  ck_assert_uint_eq(st.boot_sessions, 12);
  ck_assert_uint_eq(st.warnings, 180);
  ck_assert_uint_eq(st.errors, 0);
  ck_assert_uint_eq(c.nfacts, 194);
  /* plaso's entry #28 (0-based) */
  ck_assert_str_eq(c.facts[28].subject,
                   "Device Install (DiInstallDriver) - "
                   "C:\\Windows\\System32\\DriverStore\\FileRepository\\prnms003.inf_x86_"
                   "8f17aac186c70ea6\\prnms003.inf");
  ck_assert_uint_eq(c.facts[28].r.time, text_filetime(2016, 10, 12, 3, 36, 30, 936));
  ck_assert_uint_eq(c.facts[28].r.code, 0);
  ck_assert_uint_eq(c.facts[28].r.origin.index, 6074);
  ck_assert_str_eq(c.facts[28].path, "C:\\Windows\\System32\\DriverStore\\FileRepository\\prnms003.inf_x86_"
                                     "8f17aac186c70ea6\\prnms003.inf");
  for (i = 0; i < c.nfacts; i++) {
    ck_assert_int_eq(c.facts[i].r.kind, EV_FACT_DRIVER_INSTALL);
    if (c.facts[i].r.extra_code == 1)
      found++;
  }
  ck_assert_uint_eq(found, 3);
  collect_free(&c);
}
END_TEST

START_TEST(setupapi_failure_and_cut_section) {
  static const char log[] =
      ">>>  [Device Install (Hardware initiated) - PCI\\VEN_8086&DEV_1234\\3&11583659&0&10]\r\n"
      ">>>  Section start 2024/03/12 10:15:02.100\r\n"
      "     inf:      {Add Service: TmPreFlt}\r\n"
      "     inf:           Image Path    = \\SystemRoot\\System32\\drivers\\TmPreFlt.sys\r\n"
      "!!!  dvi: Device not started: Device has problem: 0x1c (CM_PROB_FAILED_INSTALL)\r\n"
      "<<<  Section end 2024/03/12 10:15:03.000\r\n"
      "<<<  [Exit status: FAILURE(0xe0000219)]\r\n"
      ">>>  [Setup Import Driver Package - C:\\x\\y.inf]\r\n"
      ">>>  Section start 2024/03/12 10:16:00.000\r\n";
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  struct setupapi_stats st;
  struct fb_error err;

  ck_assert_int_eq(setupapi_parse((const uint8_t *)log, sizeof(log) - 1, "mem", &sink, &st, &err), 0);
  ck_assert_uint_eq(c.nfacts, 2);
  ck_assert_uint_eq(c.facts[0].r.code, 0xe0000219);
  ck_assert_str_eq(c.facts[0].path, "\\SystemRoot\\System32\\drivers\\TmPreFlt.sys");
  ck_assert_uint_eq(st.errors, 1);
  ck_assert_uint_eq(st.failed, 1);
  ck_assert_uint_eq(c.facts[1].r.code, 0xFFFFFFFFu);
  ck_assert_str_eq(c.facts[1].path, "C:\\x\\y.inf");
  ck_assert_uint_eq(st.unfinished, 1);
  collect_free(&c);
}
END_TEST

START_TEST(filetype_of_setup_logs) {
  ck_assert_int_eq(type_of(tu_corpus("logs/setup/rickaK77-setupact.log")), FB_FT_SETUP_LOG);
  ck_assert_int_eq(type_of(tu_corpus("logs/setup/bitbtrust-setupact.log")), FB_FT_SETUP_LOG);
  ck_assert_int_eq(type_of(tu_corpus("logs/setup/bitbtrust-setuperr.log")), FB_FT_SETUP_LOG);
  ck_assert_int_eq(type_of(tu_corpus("logs/setup/shekhar-pbr-setupact.log")), FB_FT_SETUP_LOG);
  ck_assert_int_eq(type_of(tu_corpus("logs/setup/shekhar-pbr-setuperr.log")), FB_FT_SETUP_LOG);
  /* %windir%\setupact.log of class installers: no timestamps, not a Panther log */
  ck_assert_int_eq(type_of(tu_corpus("logs/setup/kaifangliu-windir-setupact.log")), FB_FT_OTHER);
  ck_assert_int_eq(type_of(tu_corpus("logs/setup/shekhar-pbr-diagerr.xml")), FB_FT_OTHER);
  {
    /* a CBS.log quoting a fltmc table is still a CBS.log */
    static const char log[] = "2024-03-12 10:14:58, Info                  CBS    Starting\r\n"
                              "2024-03-12 10:14:59, Info                  CBS    Filters:\r\n"
                              "Filter Name                     Num Instances    Altitude    Frame\r\n"
                              "------------------------------  -------------  ------------  -----\r\n"
                              "TmPreFlt                                3       328500         0\r\n"
                              "2024-03-12 10:15:00, Info                  CBS    Done\r\n"
                              "2024-03-12 10:15:01, Info                  CBS    Done\r\n"
                              "2024-03-12 10:15:02, Info                  CBS    Done\r\n";
    ck_assert_int_eq(fb_filetype_detect((const uint8_t *)log, sizeof(log) - 1), FB_FT_CBS_LOG);
    /* and the table alone, with two log lines around it, is fltmc */
    ck_assert_int_eq(fb_filetype_detect((const uint8_t *)log + 60, 60 + 3 * 70), FB_FT_FLTMC);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("ingest-text");
  TCase *tc = tcase_create("text");

  tcase_add_test(tc, filetime_matches_evtx_ground_truth);
  tcase_add_test(tc, lines_decode_utf16_and_gbk);
  tcase_add_test(tc, cbs_corpus_log);
  tcase_add_test(tc, cbs_seed_case_access_denied);
  tcase_add_test(tc, cbs_rejects_other_text);
  tcase_add_test(tc, fltmc_filters_english);
  tcase_add_test(tc, fltmc_filters_chinese_utf16_and_gbk);
  tcase_add_test(tc, fltmc_instances_chinese_gbk);
  tcase_add_test(tc, fltmc_instances_english_utf16);
  tcase_add_test(tc, fltmc_access_denied_is_reported);
  tcase_add_test(tc, fltmc_fuzz_regression_header_promises_more_columns);
  tcase_add_test(tc, setupapi_plaso_log);
  tcase_add_test(tc, setupapi_failure_and_cut_section);
  tcase_add_test(tc, filetype_of_setup_logs);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
