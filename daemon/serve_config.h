/* serve_config.h - the daemon's settings: defaults, etc/fltblame.conf (ini,
 * parsed by libinih) and the command line, where every key is also an option
 * (--quiet-period 2s is the key quiet_period). */
#ifndef FB_SERVE_CONFIG_H
#define FB_SERVE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define SERVE_PATH_MAX 1024

enum serve_analyzer {
  SERVE_ANALYZER_ENGINE = 0, /* job_analyze(): the real verdict engine */
  SERVE_ANALYZER_STUB = 1,   /* trivial verdict driven by the upload's first line (tests, benches) */
};

struct serve_config {
  char config_file[SERVE_PATH_MAX]; /* "" when none was given */
  char upload_dir[SERVE_PATH_MAX];
  char out_dir[SERVE_PATH_MAX];
  char state_dir[SERVE_PATH_MAX];
  char report_dir[SERVE_PATH_MAX];
  char data_dir[SERVE_PATH_MAX]; /* "" = built-in known-filter data */
  char socket_path[SERVE_PATH_MAX];
  unsigned socket_mode;
  char socket_group[64]; /* "" = the daemon's own group */
  int workers;
  double quiet_period;       /* seconds an upload must stay closed and unchanged */
  double rescan_interval;    /* seconds between full walks of the upload tree */
  char ignore_suffixes[512]; /* comma-separated name endings never taken */
  int analyzer;
  double cpu_limit;      /* seconds of CPU per job */
  uint64_t memory_limit; /* bytes per worker */
  double wall_limit;     /* seconds per job */
  int max_attempts;      /* runs interrupted by a daemon death before a job is failed */
  char lang[16];
  double drain_timeout; /* SIGTERM: seconds running jobs get to finish */
  double ctl_timeout;   /* seconds a control client may take to send one request */
  size_t ctl_max_request;
  int report_hour; /* -1 = no built-in schedule (use the systemd timer), else local hour 0-23 */
  int log_level;   /* syslog priority: 7 debug .. 3 err */
};

void serve_config_defaults(struct serve_config *c);

/* Load an ini file over the current values. Unknown keys and bad values are
 * errors (err names the file, line and key). */
int serve_config_load(struct serve_config *c, const char *path, char *err, size_t errlen);

/* Apply one key=value (key with '_' or '-'). */
int serve_config_set(struct serve_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Parse command-line options: --config FILE is applied first, then every
 * --key VALUE / --key=VALUE over it. Returns 0, or -1 with err set. Sets
 * *help when --help was asked. */
int serve_config_from_args(struct serve_config *c, int argc, char **argv, int *help, char *err,
                           size_t errlen);

/* Paths derived from state_dir. */
void serve_config_db_path(const struct serve_config *c, char *buf, size_t n);

/* Check cross-key rules (out_dir not inside upload_dir, ...). */
int serve_config_check(const struct serve_config *c, char *err, size_t errlen);

/* Print every key with its option name and current value (for --help). */
void serve_config_usage(FILE *out, const struct serve_config *c);

/* "2s", "500ms", "1.5", "5m", "1h" -> seconds. */
int serve_parse_duration(const char *s, double *out);
/* "512M", "2G", "1048576" -> bytes. */
int serve_parse_size(const char *s, uint64_t *out);

#endif
