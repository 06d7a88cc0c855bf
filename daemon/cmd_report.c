/* cmd_report.c - 'fltblame report': the batch report of one day, from the
 * job index, without a running daemon (the systemd timer runs this). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/commands.h"
#include "daemon/jobs.h"
#include "daemon/report.h"
#include "daemon/serve_config.h"

int cmd_report(int argc, char **argv) {
  struct serve_config cfg;
  const char *date = "yesterday";
  char db[SERVE_PATH_MAX + 16], err[1024];
  struct jobs *j;
  struct report_paths p;
  struct report_totals t;
  int rc;

  serve_config_defaults(&cfg);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: fltblame report [--date YYYY-MM-DD|today|yesterday] [--config FILE]\n"
             "                       [--state-dir DIR] [--report-dir DIR]\n\n"
             "Write report-DATE.html (inline SVG charts, opens offline), report-DATE.csv and\n"
             "report-DATE.json from the daemon's job index (state_dir/jobs.sqlite) into report_dir.\n"
             "Days are local calendar days (TZ). Default date: yesterday.\n");
      return FB_EXIT_OK;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "fltblame report: %s needs a value\n", a);
      return FB_EXIT_USAGE;
    }
    if (!strcmp(a, "--date"))
      date = argv[++i];
    else if (!strcmp(a, "--config")) {
      if (serve_config_load(&cfg, argv[++i], err, sizeof(err)) < 0) {
        fprintf(stderr, "fltblame report: %s\n", err);
        return FB_EXIT_USAGE;
      }
    } else if (!strcmp(a, "--state-dir") || !strcmp(a, "--report-dir")) {
      if (serve_config_set(&cfg, a + 2, argv[++i], err, sizeof(err)) < 0) {
        fprintf(stderr, "fltblame report: %s\n", err);
        return FB_EXIT_USAGE;
      }
    } else {
      fprintf(stderr, "fltblame report: unknown option '%s'\n", a);
      return FB_EXIT_USAGE;
    }
  }
  serve_config_db_path(&cfg, db, sizeof(db));
  if (jobs_open(&j, db, err, sizeof(err)) < 0) {
    fprintf(stderr, "fltblame report: %s\n", err);
    return FB_EXIT_INPUT;
  }
  if (mkdir(cfg.report_dir, 0755) < 0 && errno != EEXIST) {
    fprintf(stderr, "fltblame report: %s: %s\n", cfg.report_dir, strerror(errno));
    jobs_close(j);
    return FB_EXIT_INTERNAL;
  }
  rc = report_write(j, date, cfg.report_dir, &p, &t, err, sizeof(err));
  jobs_close(j);
  if (rc < 0) {
    fprintf(stderr, "fltblame report: %s\n", err);
    return FB_EXIT_INPUT;
  }
  printf("%s\n%s\n%s\n%d jobs: %d verdicts (%d with a finding, %d confirmed), %d failed\n", p.html, p.csv,
         p.json, t.jobs, t.done, t.with_findings, t.confirmed, t.failed);
  return FB_EXIT_OK;
}
