/* report.h - the batch report of one day's verdicts, from the job index.
 *
 * Writes report-DATE.html (self-contained: inline CSS and SVG charts, no
 * script, no network), report-DATE.csv (one row per job finished that day)
 * and report-DATE.json (the same rows plus the aggregates the charts draw).
 * Days are calendar days in the local time zone (TZ). */
#ifndef FB_REPORT_H
#define FB_REPORT_H

#include <stddef.h>

#include "daemon/jobs.h"

struct report_paths {
  char html[1100];
  char csv[1100];
  char json[1100];
};

struct report_totals {
  int jobs; /* finished that day */
  int done;
  int failed;
  int with_findings;
  int confirmed; /* jobs whose verdict has a confirmed finding */
};

/* date: "YYYY-MM-DD", "today" or "yesterday". */
int report_write(struct jobs *j, const char *date, const char *out_dir, struct report_paths *paths,
                 struct report_totals *totals, char *err, size_t errlen);

/* Resolve "today"/"yesterday"/"YYYY-MM-DD" to the day's [start, end) in unix
 * seconds and its canonical name. */
int report_day(const char *date, double *start, double *end, char name[11]);

#endif
