/* serve.h - the upload-watching service (libuv): watcher -> job index ->
 * worker processes -> verdicts; control socket; sd_notify; signals.
 * Shared by serve*.c; cmd_serve.c only calls serve_main(). */
#ifndef FB_SERVE_H
#define FB_SERVE_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "daemon/jobs.h"
#include "daemon/serve_config.h"
#include "daemon/watch.h"

enum kill_reason { KILL_NONE = 0, KILL_MEMORY, KILL_WALL, KILL_CANCEL, KILL_DRAIN };

struct serve_run {
  int64_t id;
  int version;
  pid_t pid;
  int fd; /* result pipe */
  uint64_t started_ms;
  int kill_reason;
  uint64_t peak_rss;
  char path[1024];
};

struct serve_ctl;

struct serve {
  struct serve_config cfg;
  int argc; /* kept for SIGHUP: options beat the file again */
  char **argv;
  uv_loop_t loop;
  struct jobs *jobs;
  struct watch *watch;
  struct serve_ctl *ctl;
  uv_signal_t sig_term, sig_int, sig_hup, sig_chld;
  uv_timer_t tick;
  struct serve_run *run;
  int nrun;
  int caprun;
  double start_time;
  int draining;
  uint64_t drain_deadline;
  int stopped;
  uint64_t done_count, failed_count; /* since start */
  uint64_t watchdog_usec;
  uint64_t last_watchdog;
  char last_report_day[11];
  int exit_code;
};

/* Run the service until SIGTERM/SIGINT drained it. Returns an exit status. */
int serve_main(const struct serve_config *cfg, int argc, char **argv);

/* journald-style line on stderr: "<6>message". */
void serve_log(const struct serve *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

double serve_now(void);

/* Start queued jobs while workers are free. */
void serve_pump(struct serve *s);

/* Cancel: a queued job is marked cancelled; a running one is killed first.
 * Returns 0, 1 when the job is not queued or running, -1 on error. */
int serve_cancel(struct serve *s, int64_t id);

/* Reprocess a finished job with the current rules (the old verdict is kept
 * as ID-NAME.vN). Returns 0, 1 when it is queued or running, -1 on error. */
int serve_reprocess(struct serve *s, int64_t id);

/* Queue a new job for a file under the upload root (reprocess PATH of a
 * file that has no job). Returns the id or -1. */
int64_t serve_enqueue(struct serve *s, const char *path, char *err, size_t errlen);

/* Tell systemd the current counts (STATUS=). */
void serve_notify_status(struct serve *s);

/* Control socket (serve_ctl.c). */
int serve_ctl_start(struct serve *s, char *err, size_t errlen);
void serve_ctl_stop(struct serve *s);

#endif
