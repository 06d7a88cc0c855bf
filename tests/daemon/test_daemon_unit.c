/* test_daemon_unit.c - the daemon's pieces in process: config, temporary
 * names, SHA-256, the job index, the report's numbers, the worker's verdict
 * writing. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/job.h"
#include "daemon/jobs.h"
#include "daemon/report.h"
#include "daemon/serve_config.h"
#include "daemon/serve_worker.h"
#include "daemon/watch.h"
#include "tests/testutil.h"

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

START_TEST(test_sha256_vectors) {
  char h[65];
  char *million = malloc(1000000);
  char path[1024];

  jobs_sha256_buf("", 0, h);
  ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  jobs_sha256_buf("abc", 3, h);
  ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  jobs_sha256_buf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
  ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  memset(million, 'a', 1000000);
  jobs_sha256_buf(million, 1000000, h);
  ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  snprintf(path, sizeof(path), "%s/million", tu_tmpdir());
  {
    FILE *f = fopen(path, "wb");
    fwrite(million, 1, 1000000, f);
    fclose(f);
  }
  ck_assert_int_eq(jobs_sha256_file(path, h), 0);
  ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(million);
}
END_TEST

START_TEST(test_config) {
  struct serve_config c;
  char err[512], path[1024];
  int help;
  double d;
  uint64_t sz;
  char *argv[] = {"serve", "--workers", "7", "--config", path, "--quiet-period=750ms", NULL};

  serve_config_defaults(&c);
  ck_assert_int_eq(c.workers, 2);
  ck_assert(c.quiet_period == 5);
  ck_assert_int_eq(c.analyzer, SERVE_ANALYZER_ENGINE); /* the real engine by default */
  ck_assert_int_eq(serve_parse_duration("500ms", &d), 0);
  ck_assert(d == 0.5);
  ck_assert_int_eq(serve_parse_duration("2m", &d), 0);
  ck_assert(d == 120);
  ck_assert_int_eq(serve_parse_duration("1.5", &d), 0);
  ck_assert(d == 1.5);
  ck_assert_int_eq(serve_parse_duration("5 parsecs", &d), -1);
  ck_assert_int_eq(serve_parse_duration("-1s", &d), -1);
  ck_assert_int_eq(serve_parse_size("512M", &sz), 0);
  ck_assert_uint_eq(sz, 512ull << 20);
  ck_assert_int_eq(serve_parse_size("2GiB", &sz), 0);
  ck_assert_uint_eq(sz, 2ull << 30);
  ck_assert_int_eq(serve_parse_size("lots", &sz), -1);
  ck_assert_int_eq(serve_config_set(&c, "bogus_key", "1", err, sizeof(err)), -1);
  ck_assert_str_eq(err, "unknown key 'bogus_key'");
  ck_assert_int_eq(serve_config_set(&c, "workers", "0", err, sizeof(err)), -1);
  ck_assert_int_eq(serve_config_set(&c, "socket_mode", "0640", err, sizeof(err)), 0);
  ck_assert_uint_eq(c.socket_mode, 0640);
  ck_assert_int_eq(serve_config_set(&c, "analyzer", "magic", err, sizeof(err)), -1);

  /* The file sets workers and quiet_period; options win whatever their order. */
  snprintf(path, sizeof(path), "%s/test.conf", tu_tmpdir());
  write_text(path, "; comment\n[paths]\nupload_dir = /srv/up\n[jobs]\nworkers = 3\nquiet_period = 9s\n"
                   "memory_limit = 1G\n[control]\nsocket = /run/x.sock\n");
  serve_config_defaults(&c);
  ck_assert_int_eq(serve_config_from_args(&c, 6, argv, &help, err, sizeof(err)), 0);
  ck_assert_int_eq(help, 0);
  ck_assert_int_eq(c.workers, 7);
  ck_assert(c.quiet_period == 0.75);
  ck_assert_str_eq(c.upload_dir, "/srv/up");
  ck_assert_str_eq(c.socket_path, "/run/x.sock");
  ck_assert_uint_eq(c.memory_limit, 1ull << 30);
  ck_assert_str_eq(c.config_file, path);

  write_text(path, "[jobs]\nworkers = many\n");
  serve_config_defaults(&c);
  ck_assert_int_eq(serve_config_load(&c, path, err, sizeof(err)), -1);
  ck_assert_ptr_nonnull(strstr(err, "test.conf:2: workers: 'many' is not a valid count"));
}
END_TEST

START_TEST(test_temporary_names) {
  const char *sfx = ".filepart,.part,.partial,.tmp,.crdownload,~";
  ck_assert(watch_name_ignored("trace.etl.filepart", sfx));
  ck_assert(watch_name_ignored("TRACE.ZIP.PART", sfx));
  ck_assert(watch_name_ignored("x.tmp", sfx));
  ck_assert(watch_name_ignored("notes.txt~", sfx));
  ck_assert(watch_name_ignored(".hidden.zip", sfx));
  ck_assert(!watch_name_ignored("trace.zip", sfx));
  ck_assert(!watch_name_ignored("更新失败日志.zip", sfx));
  ck_assert(!watch_name_ignored("part", sfx));
  ck_assert(!watch_name_ignored("x.parts", sfx));
}
END_TEST

static struct jobs *fresh_index(const char *name) {
  struct jobs *j;
  char path[1024], err[512];
  snprintf(path, sizeof(path), "%s/%s.sqlite", tu_tmpdir(), name);
  unlink(path);
  ck_assert_msg(jobs_open(&j, path, err, sizeof(err)) == 0, "%s", err);
  return j;
}

START_TEST(test_job_index) {
  struct jobs *j = fresh_index("index");
  struct job_row *r = malloc(sizeof(*r));
  int64_t a, b, c, counts[JOB_NSTATES];
  int requeued, failed;

  a = jobs_add(j, "/up/acme/a.zip", "acme", 10, 111, 1000, 1001);
  b = jobs_add(j, "/up/acme/b.zip", "acme", 20, 222, 1000, 1002);
  c = jobs_add(j, "/up/zeta/c.zip", "zeta", 30, 333, 1000, 1003);
  ck_assert_int_eq(a, 1);
  ck_assert_int_eq(c, 3);
  ck_assert_int_eq(jobs_add(j, "/up/acme/a.zip", "acme", 10, 111, 1000, 1004), -1); /* same upload: refused */
  ck_assert_int_eq(jobs_seen(j, "/up/acme/a.zip", 10, 111), 1);
  ck_assert_int_eq(jobs_seen(j, "/up/acme/a.zip", 11, 111), 0); /* rewritten: a new upload */
  ck_assert_int_eq(jobs_next_queued(j, r), 1);
  ck_assert_int_eq(r->id, a);
  ck_assert_int_eq(jobs_mark_running(j, a, 2000), 0);
  ck_assert_int_eq(jobs_mark_running(j, a, 2000), 1); /* not queued any more */
  ck_assert_int_eq(jobs_next_queued(j, r), 1);
  ck_assert_int_eq(r->id, b);
  /* a finishes with a verdict */
  memset(r, 0, sizeof(*r));
  r->id = a;
  r->state = JOB_DONE;
  r->finished = 2001;
  snprintf(r->sha256, sizeof(r->sha256), "%064d", 7);
  snprintf(r->filter, sizeof(r->filter), "TmPreFlt.sys");
  ck_assert_int_eq(jobs_finish(j, r), 0);
  ck_assert_int_eq(jobs_finish(j, r), 1); /* a late second result changes nothing */
  /* b and c run; the daemon dies; c had used its attempts */
  ck_assert_int_eq(jobs_mark_running(j, b, 2002), 0);
  ck_assert_int_eq(jobs_mark_running(j, c, 2002), 0);
  ck_assert_int_eq(jobs_requeue(j, c, 0), 0);
  ck_assert_int_eq(jobs_mark_running(j, c, 2003), 0);
  ck_assert_int_eq(jobs_requeue(j, c, 0), 0);
  ck_assert_int_eq(jobs_mark_running(j, c, 2004), 0);
  ck_assert_int_eq(jobs_recover(j, 3, 3000, &requeued, &failed), 0);
  ck_assert_int_eq(requeued, 1);
  ck_assert_int_eq(failed, 1);
  ck_assert_int_eq(jobs_get(j, c, r), 1);
  ck_assert_int_eq(r->state, JOB_FAILED);
  ck_assert_str_eq(r->error, "given up: the daemon died during each of its 3 runs");
  ck_assert_int_eq(jobs_get(j, b, r), 1);
  ck_assert_int_eq(r->state, JOB_QUEUED);
  ck_assert_int_eq(r->attempts, 1);
  /* cancel, reprocess */
  ck_assert_int_eq(jobs_cancel(j, b, 3001), 0);
  ck_assert_int_eq(jobs_cancel(j, b, 3001), 1);
  ck_assert_int_eq(jobs_reprocess(j, a, 3002), 0);
  ck_assert_int_eq(jobs_get(j, a, r), 1);
  ck_assert_int_eq(r->version, 2);
  ck_assert_int_eq(r->state, JOB_QUEUED);
  ck_assert_int_eq(jobs_count_states(j, counts), 0);
  ck_assert_int_eq(counts[JOB_QUEUED], 1);
  ck_assert_int_eq(counts[JOB_FAILED], 1);
  ck_assert_int_eq(counts[JOB_CANCELLED], 1);
  /* the same bytes: the earliest job is named */
  {
    char sha[65];
    snprintf(sha, sizeof(sha), "%064d", 7);
    ck_assert_int_eq(jobs_find_sha(j, sha, 99), a);
    ck_assert_int_eq(jobs_find_sha(j, sha, a), 0);
  }
  ck_assert_int_eq(jobs_get_by_path(j, "/up/zeta/c.zip", r), 1);
  ck_assert_int_eq(r->id, c);
  free(r);
  jobs_close(j);
}
END_TEST

/* Finish a job at a given time with a verdict summary. */
static void add_finished(struct jobs *j, const char *path, double when, int state, const char *filter,
                         const char *vendor, const char *conf, const char *fpath, const char *proc,
                         const char *error) {
  static int64_t mt = 1;
  struct job_row *r = calloc(1, sizeof(*r));
  int64_t id = jobs_add(j, path, "acme", 100, mt++, when - 10, when - 5);
  ck_assert_int_gt(id, 0);
  ck_assert_int_eq(jobs_mark_running(j, id, when - 1), 0);
  r->id = id;
  r->state = state;
  r->finished = when;
  if (filter) {
    r->findings = 1;
    r->confirmed = conf && !strcmp(conf, "confirmed");
    snprintf(r->filter, sizeof(r->filter), "%s", filter);
    snprintf(r->vendor, sizeof(r->vendor), "%s", vendor);
    snprintf(r->confidence, sizeof(r->confidence), "%s", conf);
    snprintf(r->fail_path, sizeof(r->fail_path), "%s", fpath);
    snprintf(r->fail_process, sizeof(r->fail_process), "%s", proc);
  }
  if (error)
    snprintf(r->error, sizeof(r->error), "%s", error);
  ck_assert_int_eq(jobs_finish(j, r), 0);
  free(r);
}

START_TEST(test_report_numbers) {
  struct jobs *j;
  struct report_paths p;
  struct report_totals t;
  char err[512], dir[1024];
  json_t *js, *days, *top;
  char *csv, *html;
  double day; /* 2026-11-20 00:00 UTC */
  int lines = 0;
  const char *wu = "C:\\Windows\\SoftwareDistribution\\Download\\a1\\wpdmtp.dll";

  setenv("TZ", "UTC", 1);
  tzset();
  j = fresh_index("report");
  day = 1795132800.0;
  /* the day: 3 x Trend Micro (2 confirmed), 1 x Sophos, 1 without finding, 2 failed */
  add_finished(j, "/up/acme/更新失败.zip", day + 3600, JOB_DONE, "TmPreFlt.sys", "Trend Micro", "confirmed",
               wu, "TiWorker.exe", NULL);
  add_finished(j, "/up/acme/b.zip", day + 7200, JOB_DONE, "TmPreFlt.sys", "Trend Micro", "confirmed", wu,
               "TiWorker.exe", NULL);
  add_finished(j, "/up/acme/c.zip", day + 9000, JOB_DONE, "TmPreFlt.sys", "Trend Micro", "strong",
               "C:\\Windows\\WinSxS\\x.cat", "TrustedInstaller.exe", NULL);
  add_finished(j, "/up/acme/d.zip", day + 10000, JOB_DONE, "SAVOnAccess.sys", "Sophos", "suspect", wu,
               "svchost.exe", NULL);
  add_finished(j, "/up/acme/e.zip", day + 20000, JOB_DONE, NULL, NULL, NULL, NULL, NULL, NULL);
  add_finished(j, "/up/acme/f.zip", day + 30000, JOB_FAILED, NULL, NULL, NULL, NULL, NULL,
               "killed: memory limit 2048 MB exceeded (resident 2100 MB)");
  add_finished(j, "/up/acme/g.zip", day + 86399, JOB_FAILED, NULL, NULL, NULL, NULL, NULL,
               "worker crashed: signal 11");
  /* other days: the day before, 10 days before, 40 days before (outside), the day after (outside) */
  add_finished(j, "/up/acme/h.zip", day - 100, JOB_DONE, "SAVOnAccess.sys", "Sophos", "strong", wu, "x.exe",
               NULL);
  add_finished(j, "/up/acme/i.zip", day - 10 * 86400 + 5, JOB_DONE, "TmPreFlt.sys", "Trend Micro", "strong",
               wu, "x.exe", NULL);
  add_finished(j, "/up/acme/k.zip", day - 40 * 86400, JOB_DONE, "old.sys", "Old", "strong", wu, "x.exe",
               NULL);
  add_finished(j, "/up/acme/l.zip", day + 86400, JOB_DONE, "next.sys", "Next", "strong", wu, "x.exe", NULL);

  snprintf(dir, sizeof(dir), "%s/reports", tu_tmpdir());
  ck_assert_msg(report_write(j, "2026-11-20", dir, &p, &t, err, sizeof(err)) == 0, "%s", err);
  ck_assert_int_eq(t.jobs, 7);
  ck_assert_int_eq(t.done, 5);
  ck_assert_int_eq(t.failed, 2);
  ck_assert_int_eq(t.with_findings, 4);
  ck_assert_int_eq(t.confirmed, 2);
  ck_assert(strstr(p.html, "report-2026-11-20.html") != NULL);

  csv = tu_read_file(p.csv, NULL);
  ck_assert_ptr_nonnull(csv);
  for (char *c = csv; *c; c++)
    lines += *c == '\n';
  ck_assert_int_eq(lines, 8); /* header + 7 rows */
  ck_assert_ptr_nonnull(strstr(csv, "id,finished,customer,upload,state,findings,confirmed,filter,vendor,"));
  ck_assert_ptr_nonnull(strstr(csv,
                               "1,2026-11-20T01:00:00+0000,acme,/up/acme/更新失败.zip,done,1,1,TmPreFlt.sys,"
                               "Trend Micro,confirmed,"));
  free(csv);

  js = json_load_file(p.json, 0, NULL);
  ck_assert_ptr_nonnull(js);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(js, "totals"), "jobs")), 7);
  days = json_object_get(js, "per_day");
  ck_assert_int_eq(json_array_size(days), 30);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(days, 29), "date")), "2026-11-20");
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(days, 0), "date")), "2026-10-22");
  ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(days, 29), "total")), 7);
  ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(days, 28), "total")), 1);
  ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(days, 19), "total")), 1);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_array_get(days, 29), "by_filter"),
                                                      "TmPreFlt.sys (Trend Micro)")),
                   3);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_array_get(days, 29), "by_filter"),
                                                      "(job failed)")),
                   2);
  top = json_array_get(json_object_get(js, "top_paths"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(top, "path")), wu);
  ck_assert_int_eq(json_integer_value(json_object_get(top, "count")), 3);
  top = json_array_get(json_object_get(js, "top_processes"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(top, "process")), "TiWorker.exe");
  ck_assert_int_eq(json_integer_value(json_object_get(top, "count")), 2);
  ck_assert_int_eq(json_array_size(json_object_get(js, "failed_jobs")), 2);
  ck_assert_str_eq(
      json_string_value(json_object_get(json_array_get(json_object_get(js, "failed_jobs"), 0), "error")),
      "killed: memory limit 2048 MB exceeded (resident 2100 MB)");
  ck_assert_int_eq(json_array_size(json_object_get(js, "rows")), 7);
  json_decref(js);

  html = tu_read_file(p.html, NULL);
  ck_assert_ptr_nonnull(strstr(html, "<b id=\"t-jobs\">7</b>"));
  ck_assert_ptr_nonnull(strstr(html, "<b id=\"t-failed\">2</b>"));
  ck_assert_ptr_nonnull(strstr(html, "<svg"));
  ck_assert_ptr_nonnull(strstr(html, "acme/更新失败.zip"));
  ck_assert_ptr_null(strstr(html, "<script")); /* nothing to run, nothing to fetch */
  ck_assert_ptr_null(strstr(html, "http:"));
  free(html);
  ck_assert_int_eq(report_write(j, "2026-13-45", dir, &p, &t, err, sizeof(err)), -1);
  jobs_close(j);
}
END_TEST

START_TEST(test_worker_verdicts) {
  struct serve_config c;
  struct worker_job job = {5, 1, NULL, "acme"};
  struct worker_result r;
  char up[1024], vdir[1024], path[1200];
  struct stat st;
  json_t *v;

  serve_config_defaults(&c);
  c.analyzer = SERVE_ANALYZER_STUB;
  snprintf(c.out_dir, sizeof(c.out_dir), "%s/verdicts", tu_tmpdir());
  snprintf(up, sizeof(up), "%s/trace 客户.zip", tu_tmpdir());
  write_text(
      up, "FLTBLAME-STUB filter=TmPreFlt.sys vendor=Trend_Micro confidence=confirmed process=TiWorker.exe\n");
  job.path = up;
  ck_assert_int_eq(worker_run(&job, &c, &r), 0);
  ck_assert_int_eq(r.ok, 1);
  ck_assert_int_eq(r.reused, 0);
  ck_assert_str_eq(r.filter, "TmPreFlt.sys");
  ck_assert_str_eq(r.vendor, "Trend Micro");
  ck_assert_str_eq(r.fail_process, "TiWorker.exe");
  ck_assert_int_eq(r.confirmed, 1);
  worker_verdict_dir(&c, "acme", 5, up, vdir, sizeof(vdir));
  ck_assert_str_eq(strrchr(vdir, '/'), "/5-trace 客户.zip");
  snprintf(path, sizeof(path), "%s/verdict.json", vdir);
  ck_assert_str_eq(r.verdict_path, path);
  snprintf(path, sizeof(path), "%s.tmp", vdir);
  ck_assert_int_eq(stat(path, &st), -1); /* renamed into place */
  snprintf(path, sizeof(path), "%s/job.json", vdir);
  v = json_load_file(path, 0, NULL);
  ck_assert_int_eq(json_integer_value(json_object_get(v, "job")), 5);
  ck_assert_str_eq(json_string_value(json_object_get(v, "sha256")), r.sha256);
  json_decref(v);
  /* the daemon died after the rename: the same run is recognised, not redone */
  ck_assert_int_eq(worker_run(&job, &c, &r), 0);
  ck_assert_int_eq(r.reused, 1);
  ck_assert_str_eq(r.filter, "TmPreFlt.sys");
  /* reprocess: version 2 replaces it, version 1 is kept beside */
  job.version = 2;
  write_text(up, "FLTBLAME-STUB filter=SAVOnAccess.sys vendor=Sophos\n");
  ck_assert_int_eq(worker_run(&job, &c, &r), 0);
  ck_assert_int_eq(r.reused, 0);
  ck_assert_str_eq(r.filter, "SAVOnAccess.sys");
  snprintf(path, sizeof(path), "%s.v1/verdict.json", vdir);
  v = json_load_file(path, 0, NULL);
  ck_assert_ptr_nonnull(v);
  json_decref(v);
  /* a failing analysis leaves no verdict and says why */
  job.id = 6;
  write_text(up, "FLTBLAME-STUB fail=cannot_read_the_capture\n");
  ck_assert_int_eq(worker_run(&job, &c, &r), -1);
  ck_assert_str_eq(r.error, "cannot read the capture");
  worker_verdict_dir(&c, "acme", 6, up, vdir, sizeof(vdir));
  ck_assert_int_eq(stat(vdir, &st), -1);
  snprintf(path, sizeof(path), "%s.tmp", vdir);
  ck_assert_int_eq(stat(path, &st), -1);
  /* the engine (the default) keys the job by the digest ingestion made while
   * reading the upload, the same as hashing the file on its own */
  c.analyzer = SERVE_ANALYZER_ENGINE;
  job.id = 7;
  {
    char want[65];
    ck_assert_int_eq(jobs_sha256_file(up, want), 0);
    ck_assert_int_eq(worker_run(&job, &c, &r), 0);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_str_eq(r.sha256, want);
    ck_assert_uint_eq(strlen(r.sha256), 64);
  }
}
END_TEST

/* Crash findings (issue 8) count as findings; the blamed driver is the
 * job's top filter when no file finding names one. */
START_TEST(test_worker_reads_crash_findings) {
  char out[1024], path[1200];
  const char *dmp = tu_corpus("dumps/rizin-triage_x64.dmp");
  struct job_options opt = {0};
  struct job_summary sum;
  struct worker_result r;

  /* a real verdict: the corpus x64 triage dump, analysed by the engine */
  snprintf(out, sizeof(out), "%s/crash-verdict", tu_tmpdir());
  opt.data_dir = FB_SOURCE_DIR "/etc";
  opt.out_dir = out;
  opt.print = JOB_PRINT_NONE;
  ck_assert_int_eq(job_analyze(&dmp, 1, &opt, &sum), 0);
  ck_assert_int_eq(sum.findings, 1);
  snprintf(path, sizeof(path), "%s/verdict.json", out);
  memset(&r, 0, sizeof(r));
  worker_read_verdict(path, &r);
  ck_assert_int_eq(r.findings, 1);
  ck_assert_int_eq(r.confirmed, 0); /* no setup log corroborates it: strong */
  ck_assert_str_eq(r.filter, "amdppm.sys");
  ck_assert_str_eq(r.confidence, "strong");
  ck_assert_str_eq(r.vendor, "");
  ck_assert_str_eq(r.fail_path, "");

  /* a file finding keeps the top spot; both kinds are counted */
  snprintf(path, sizeof(path), "%s/mixed.json", tu_tmpdir());
  write_text(path,
             "{\"findings\": [{\"kind\": \"denied\", \"path\": \"C:\\\\x.dll\", \"process\": "
             "\"TiWorker.exe\", \"filter\": {\"name\": \"TmPreFlt.sys\", \"vendor\": \"Trend Micro\"}, "
             "\"confidence\": \"strong\"}],"
             " \"crashes\": [{\"kind\": \"crash\", \"driver\": \"lwfmgr.sys\", \"vendor\": "
             "{\"name\": \"Contoso\"}, \"confidence\": \"high\", \"verdict_confidence\": \"confirmed\"},"
             " {\"kind\": \"crash\", \"driver\": null, \"confidence\": \"none\", "
             "\"verdict_confidence\": \"undetermined\"}]}");
  memset(&r, 0, sizeof(r));
  worker_read_verdict(path, &r);
  ck_assert_int_eq(r.findings, 3);
  ck_assert_int_eq(r.confirmed, 1);
  ck_assert_str_eq(r.filter, "TmPreFlt.sys");
  ck_assert_str_eq(r.vendor, "Trend Micro");
  ck_assert_str_eq(r.confidence, "strong");
  ck_assert_str_eq(r.fail_path, "C:\\x.dll");

  /* crashes only: the first one naming a driver is the top filter */
  write_text(path,
             "{\"findings\": [], \"crashes\": [{\"kind\": \"crash\", \"driver\": null, "
             "\"verdict_confidence\": \"undetermined\"}, {\"kind\": \"crash\", \"driver\": "
             "\"lwfmgr.sys\", \"vendor\": {\"name\": \"Contoso\"}, \"verdict_confidence\": \"confirmed\"}]}");
  memset(&r, 0, sizeof(r));
  worker_read_verdict(path, &r);
  ck_assert_int_eq(r.findings, 2);
  ck_assert_int_eq(r.confirmed, 1);
  ck_assert_str_eq(r.filter, "lwfmgr.sys");
  ck_assert_str_eq(r.vendor, "Contoso");
  ck_assert_str_eq(r.confidence, "confirmed");
}
END_TEST

int main(void) {
  Suite *s = suite_create("daemon-unit");
  TCase *tc = tcase_create("unit");
  tcase_add_test(tc, test_sha256_vectors);
  tcase_add_test(tc, test_config);
  tcase_add_test(tc, test_temporary_names);
  tcase_add_test(tc, test_job_index);
  tcase_add_test(tc, test_report_numbers);
  tcase_add_test(tc, test_worker_verdicts);
  tcase_add_test(tc, test_worker_reads_crash_findings);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
