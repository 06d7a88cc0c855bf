/* job.h - analyze one upload into a verdict. Shared by 'fltblame analyze'
 * and the daemon's worker processes, so both produce the same verdict. */
#ifndef FB_JOB_H
#define FB_JOB_H

#include <stddef.h>

struct verdict;

enum job_print {
  JOB_PRINT_DEFAULT = 0, /* text to stdout when out_dir is NULL, nothing otherwise */
  JOB_PRINT_TEXT,        /* text to stdout (also with out_dir) */
  JOB_PRINT_JSON,        /* verdict.json to stdout */
  JOB_PRINT_NONE,
};

struct job_options {
  const char *upload_id; /* name the verdict carries; NULL = derived from the first path */
  const char *out_dir;   /* where verdict.json and verdict.txt go; NULL = text to stdout only */
  const char *work_dir;  /* scratch for unpacking; NULL = a temporary directory, removed after */
  const char *data_dir;  /* known-filter data (etc/); NULL = the built-in default */
  const char *lang;      /* "en" or "zh-CN" for verdict.txt */
  int print;             /* enum job_print */
};

struct job_summary {
  int findings;           /* number of findings */
  int confirmed;          /* findings with confidence "confirmed" */
  int inputs;             /* artifacts seen */
  int inputs_failed;      /* artifacts not read, or read partly */
  char top_filter[128];   /* filter named by the first finding, "" if none */
  char upload_sha256[65]; /* SHA-256 of the one path analysed when it is a file, else "" */
  char error[512];        /* why the job failed, when it returns < 0 */
};

/* Analyze paths (files, directories, archives). Returns 0 when a verdict was
 * written (whatever it found), negative when no verdict could be made. */
int job_analyze(const char *const *paths, size_t npaths, const struct job_options *opt,
                struct job_summary *sum);

/* The same, handing the verdict to the caller (tests, the daemon's index)
 * instead of only writing it; free it with verdict_free(). */
int job_analyze_verdict(const char *const *paths, size_t npaths, const struct job_options *opt,
                        struct job_summary *sum, struct verdict **out);

/* Where the known-filter database is looked for when data_dir is NULL:
 * $FLTBLAME_DATA_DIR, the installed etc directory, the source tree's etc/. */
const char *job_default_data_dir(void);

#endif
