/* serve.c - the service loop: settle -> queue -> workers -> verdicts. */
#include "daemon/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "daemon/dynlib.h"
#include "daemon/report.h"
#include "daemon/serve_worker.h"

double serve_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}

void serve_log(const struct serve *s, int level, const char *fmt, ...) {
  char line[4096];
  va_list ap;
  int n;

  if (s != NULL && level > s->cfg.log_level)
    return;
  n = snprintf(line, sizeof(line), "<%d>", level);
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  /* One event, one line: a newline inside (a path, an error) must not split it. */
  for (char *p = line + n; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  fprintf(stderr, "%s\n", line);
  fflush(stderr);
}

static int mkdir_p(const char *dir) {
  char tmp[PATH_MAX];
  size_t len = strlen(dir);
  if (len == 0 || len >= sizeof(tmp))
    return -1;
  memcpy(tmp, dir, len + 1);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -1;
      *p = '/';
    }
  return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* The customer is the first directory under the upload root. */
static void customer_of(const struct serve *s, const char *path, char *buf, size_t n) {
  size_t lr = strlen(s->cfg.upload_dir);
  const char *rel = path;
  const char *slash;

  while (lr > 1 && s->cfg.upload_dir[lr - 1] == '/')
    lr--;
  if (!strncmp(path, s->cfg.upload_dir, lr) && path[lr] == '/')
    rel = path + lr + 1;
  slash = strchr(rel, '/');
  if (slash == NULL)
    buf[0] = '\0';
  else
    snprintf(buf, n, "%.*s", (int)(slash - rel), rel);
}

void serve_notify_status(struct serve *s) {
  int64_t c[JOB_NSTATES];
  if (jobs_count_states(s->jobs, c) < 0)
    return;
  fb_sd.notifyf(0, "STATUS=%d running, %lld queued, %lld done, %lld failed%s", s->nrun,
                (long long)c[JOB_QUEUED], (long long)c[JOB_DONE], (long long)c[JOB_FAILED],
                s->draining ? ", draining" : "");
}

/* ---- the watcher's side ---- */

static int upload_known(const char *path, const struct stat *st, void *user) {
  struct serve *s = user;
  return jobs_seen(s->jobs, path, st->st_size,
                   (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec) == 1;
}

static void upload_ready(const char *path, const struct stat *st, void *user) {
  struct serve *s = user;
  char customer[256];
  int64_t mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  int64_t id;

  if (s->draining || upload_known(path, st, s))
    return;
  customer_of(s, path, customer, sizeof(customer));
  id = jobs_add(s->jobs, path, customer, st->st_size, mtime_ns,
                (double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec / 1e9, serve_now());
  if (id < 0) {
    serve_log(s, 3, "cannot queue %s: %s", path, jobs_errmsg(s->jobs));
    return;
  }
  serve_log(s, 6, "job %lld queued: path=\"%s\" customer=\"%s\" size=%lld", (long long)id, path, customer,
            (long long)st->st_size);
  serve_pump(s);
  serve_notify_status(s);
}

static void watch_log(int level, const char *msg, void *user) {
  serve_log(user, level, "%s", msg);
}

int64_t serve_enqueue(struct serve *s, const char *path, char *err, size_t errlen) {
  struct stat st;
  char customer[256];
  int64_t id;

  if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: not a regular file", path);
    return -1;
  }
  customer_of(s, path, customer, sizeof(customer));
  id = jobs_add(s->jobs, path, customer, st.st_size,
                (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec, (double)st.st_mtim.tv_sec,
                serve_now());
  if (id < 0) {
    snprintf(err, errlen, "cannot queue %s: %s", path, jobs_errmsg(s->jobs));
    return -1;
  }
  serve_log(s, 6, "job %lld queued: path=\"%s\" customer=\"%s\" size=%lld (by request)", (long long)id, path,
            customer, (long long)st.st_size);
  serve_pump(s);
  return id;
}

/* ---- workers ---- */

static void kill_run(struct serve_run *r, int reason) {
  if (r->kill_reason == KILL_NONE)
    r->kill_reason = reason;
  kill(-r->pid, SIGKILL);
  kill(r->pid, SIGKILL);
}

void serve_pump(struct serve *s) {
  while (!s->draining && !s->stopped && s->nrun < s->cfg.workers) {
    struct job_row *row = malloc(sizeof(*row));
    struct worker_job wj;
    struct serve_run *r;
    char err[256];
    int rc;

    if (row == NULL)
      return;
    rc = jobs_next_queued(s->jobs, row);
    if (rc <= 0 || jobs_mark_running(s->jobs, row->id, serve_now()) != 0) {
      if (rc < 0)
        serve_log(s, 3, "job index: %s", jobs_errmsg(s->jobs));
      free(row);
      return;
    }
    if (s->nrun == s->caprun) {
      int cap = s->caprun ? s->caprun * 2 : 4;
      struct serve_run *n = realloc(s->run, (size_t)cap * sizeof(*n));
      if (n == NULL) {
        jobs_requeue(s->jobs, row->id, 1);
        free(row);
        return;
      }
      s->run = n;
      s->caprun = cap;
    }
    wj.id = row->id;
    wj.version = row->version;
    wj.path = row->path;
    wj.customer = row->customer;
    r = &s->run[s->nrun];
    memset(r, 0, sizeof(*r));
    r->pid = worker_spawn(&wj, &s->cfg, &r->fd, err, sizeof(err));
    if (r->pid < 0) {
      serve_log(s, 3, "job %lld: cannot start a worker: %s", (long long)row->id, err);
      jobs_requeue(s->jobs, row->id, 1);
      free(row);
      return;
    }
    r->id = row->id;
    r->version = row->version;
    r->started_ms = uv_hrtime() / 1000000;
    snprintf(r->path, sizeof(r->path), "%s", row->path);
    s->nrun++;
    serve_log(s, 6, "job %lld running: pid=%d attempt=%d version=%d path=\"%s\"", (long long)row->id,
              (int)r->pid, row->attempts + 1, row->version, row->path);
    free(row);
  }
}

static void read_result(int fd, char *buf, size_t cap, size_t *len) {
  ssize_t n;
  *len = 0;
  while (*len + 1 < cap && (n = read(fd, buf + *len, cap - 1 - *len)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    *len += (size_t)n;
  }
  buf[*len] = '\0';
}

static void finish_run(struct serve *s, struct serve_run *r, int status) {
  struct job_row *row = calloc(1, sizeof(*row));
  struct worker_result res;
  char buf[8192];
  size_t len;
  int have = 0;
  double secs = (double)(uv_hrtime() / 1000000 - r->started_ms) / 1000;

  read_result(r->fd, buf, sizeof(buf), &len);
  close(r->fd);
  if (len > 0 && worker_result_parse(buf, len, &res) == 0)
    have = 1;
  if (row == NULL)
    return;
  row->id = r->id;
  row->finished = serve_now();
  row->state = JOB_FAILED;
  if (r->kill_reason == KILL_DRAIN) {
    jobs_requeue(s->jobs, r->id, 1);
    serve_log(s, 5, "job %lld requeued: stopped by shutdown after %.1fs", (long long)r->id, secs);
    free(row);
    return;
  }
  if (r->kill_reason == KILL_MEMORY) {
    snprintf(row->error, sizeof(row->error), "killed: memory limit %llu MB exceeded (resident %llu MB)",
             (unsigned long long)(s->cfg.memory_limit >> 20), (unsigned long long)(r->peak_rss >> 20));
  } else if (r->kill_reason == KILL_WALL) {
    snprintf(row->error, sizeof(row->error), "killed: wall time limit %gs exceeded", s->cfg.wall_limit);
  } else if (r->kill_reason == KILL_CANCEL) {
    row->state = JOB_CANCELLED;
    snprintf(row->error, sizeof(row->error), "cancelled while running");
  } else if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL)) {
    snprintf(row->error, sizeof(row->error), "killed: CPU time limit %gs exceeded (signal %s)",
             s->cfg.cpu_limit, WTERMSIG(status) == SIGXCPU ? "SIGXCPU" : "SIGKILL");
  } else if (WIFSIGNALED(status)) {
    snprintf(row->error, sizeof(row->error), "worker crashed: signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  } else if (have && res.ok) {
    row->state = JOB_DONE;
  } else if (have) {
    snprintf(row->error, sizeof(row->error), "%s", res.error[0] ? res.error : "analysis failed");
  } else {
    snprintf(row->error, sizeof(row->error), "worker exited with status %d without a result",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  if (have) {
    memcpy(row->sha256, res.sha256, sizeof(row->sha256));
    if (row->state == JOB_DONE)
      snprintf(row->verdict_path, sizeof(row->verdict_path), "%s", res.verdict_path);
    row->findings = res.findings;
    row->confirmed = res.confirmed;
    snprintf(row->filter, sizeof(row->filter), "%s", res.filter);
    snprintf(row->vendor, sizeof(row->vendor), "%s", res.vendor);
    snprintf(row->confidence, sizeof(row->confidence), "%s", res.confidence);
    snprintf(row->fail_path, sizeof(row->fail_path), "%s", res.fail_path);
    snprintf(row->fail_process, sizeof(row->fail_process), "%s", res.fail_process);
    if (row->sha256[0])
      row->duplicate_of = jobs_find_sha(s->jobs, row->sha256, row->id);
  }
  if (jobs_finish(s->jobs, row) < 0)
    serve_log(s, 3, "job %lld: cannot record its end: %s", (long long)r->id, jobs_errmsg(s->jobs));
  if (row->state == JOB_DONE) {
    s->done_count++;
    serve_log(s, 6,
              "job %lld done: verdict=\"%s\" findings=%d filter=\"%s\" duplicate_of=%lld seconds=%.3f%s",
              (long long)r->id, row->verdict_path, row->findings, row->filter, (long long)row->duplicate_of,
              secs, have && res.reused ? " (verdict already written before a restart)" : "");
  } else if (row->state == JOB_CANCELLED) {
    serve_log(s, 5, "job %lld cancelled after %.1fs", (long long)r->id, secs);
  } else {
    s->failed_count++;
    serve_log(s, 4, "job %lld failed: %s path=\"%s\" seconds=%.3f", (long long)r->id, row->error, r->path,
              secs);
  }
  free(row);
}

static void on_sigchld(uv_signal_t *h, int sig) {
  struct serve *s = h->data;
  pid_t pid;
  int status;

  (void)sig;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < s->nrun; i++)
      if (s->run[i].pid == pid) {
        finish_run(s, &s->run[i], status);
        s->run[i] = s->run[--s->nrun];
        break;
      }
  }
  serve_pump(s);
  serve_notify_status(s);
}

int serve_cancel(struct serve *s, int64_t id) {
  for (int i = 0; i < s->nrun; i++)
    if (s->run[i].id == id) {
      kill_run(&s->run[i], KILL_CANCEL);
      serve_log(s, 5, "job %lld: cancel requested, worker %d killed", (long long)id, (int)s->run[i].pid);
      return 0;
    }
  {
    int rc = jobs_cancel(s->jobs, id, serve_now());
    if (rc == 0)
      serve_log(s, 5, "job %lld cancelled", (long long)id);
    return rc;
  }
}

int serve_reprocess(struct serve *s, int64_t id) {
  int rc = jobs_reprocess(s->jobs, id, serve_now());
  if (rc == 0) {
    serve_log(s, 6, "job %lld queued again (reprocess)", (long long)id);
    serve_pump(s);
  }
  return rc;
}

/* ---- the tick: limits, watchdog, drain, schedule ---- */

static uint64_t rss_of(pid_t pid) {
  char path[64];
  unsigned long size = 0, resident = 0;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
  if ((f = fopen(path, "r")) == NULL)
    return 0;
  if (fscanf(f, "%lu %lu", &size, &resident) != 2)
    resident = 0;
  fclose(f);
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void shutdown_now(struct serve *s);

static void scheduled_report(struct serve *s) {
  time_t now = time(NULL);
  struct tm tm;
  char today[11];
  struct report_paths p;
  struct report_totals t;
  char err[512];

  if (s->cfg.report_hour < 0)
    return;
  localtime_r(&now, &tm);
  strftime(today, sizeof(today), "%Y-%m-%d", &tm);
  if (tm.tm_hour != s->cfg.report_hour || !strcmp(today, s->last_report_day))
    return;
  memcpy(s->last_report_day, today, sizeof(today));
  mkdir_p(s->cfg.report_dir);
  if (report_write(s->jobs, "yesterday", s->cfg.report_dir, &p, &t, err, sizeof(err)) < 0)
    serve_log(s, 3, "daily report: %s", err);
  else
    serve_log(s, 6, "daily report written: %s (%d jobs)", p.html, t.jobs);
}

static void on_tick(uv_timer_t *t) {
  struct serve *s = t->data;
  uint64_t now = uv_now(&s->loop);

  for (int i = 0; i < s->nrun; i++) {
    struct serve_run *r = &s->run[i];
    uint64_t rss;
    if (r->kill_reason)
      continue;
    rss = rss_of(r->pid);
    if (rss > r->peak_rss)
      r->peak_rss = rss;
    if (rss > s->cfg.memory_limit)
      kill_run(r, KILL_MEMORY);
    else if (s->cfg.wall_limit > 0 &&
             uv_hrtime() / 1000000 - r->started_ms > (uint64_t)(s->cfg.wall_limit * 1000))
      kill_run(r, KILL_WALL);
  }
  if (s->watchdog_usec && (now - s->last_watchdog) * 1000 >= s->watchdog_usec / 2) {
    fb_sd.notify(0, "WATCHDOG=1");
    s->last_watchdog = now;
  }
  if (s->draining) {
    if (s->nrun == 0)
      shutdown_now(s);
    else if (now >= s->drain_deadline)
      for (int i = 0; i < s->nrun; i++)
        kill_run(&s->run[i], KILL_DRAIN);
    return;
  }
  scheduled_report(s);
}

/* ---- signals ---- */

static void close_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void shutdown_now(struct serve *s) {
  if (s->stopped)
    return;
  s->stopped = 1;
  serve_ctl_stop(s);
  if (s->watch) {
    watch_stop(s->watch);
    s->watch = NULL;
  }
  serve_log(s, 6, "stopped: %llu done, %llu failed since start", (unsigned long long)s->done_count,
            (unsigned long long)s->failed_count);
  uv_walk(&s->loop, close_handle, NULL);
}

static void on_stop_signal(uv_signal_t *h, int sig) {
  struct serve *s = h->data;
  if (s->draining) { /* a second signal: do not wait */
    serve_log(s, 5, "%s again: stopping running jobs now", sig == SIGINT ? "SIGINT" : "SIGTERM");
    for (int i = 0; i < s->nrun; i++)
      kill_run(&s->run[i], KILL_DRAIN);
    return;
  }
  s->draining = 1;
  s->drain_deadline = uv_now(&s->loop) + (uint64_t)(s->cfg.drain_timeout * 1000);
  fb_sd.notify(0, "STOPPING=1");
  serve_log(s, 6, "%s: draining %d running job(s), at most %gs", sig == SIGINT ? "SIGINT" : "SIGTERM",
            s->nrun, s->cfg.drain_timeout);
  if (s->watch) {
    watch_stop(s->watch);
    s->watch = NULL;
  }
  serve_notify_status(s);
}

static void on_sighup(uv_signal_t *h, int sig) {
  struct serve *s = h->data;
  struct serve_config c;
  char err[512];
  int help;

  (void)sig;
  fb_sd.notify(0, "RELOADING=1");
  serve_config_defaults(&c);
  if (serve_config_from_args(&c, s->argc, s->argv, &help, err, sizeof(err)) < 0) {
    serve_log(s, 3, "SIGHUP: config not reloaded: %s", err);
    fb_sd.notify(0, "READY=1");
    return;
  }
  if (strcmp(c.upload_dir, s->cfg.upload_dir) || strcmp(c.state_dir, s->cfg.state_dir) ||
      strcmp(c.socket_path, s->cfg.socket_path))
    serve_log(s, 4, "SIGHUP: upload_dir, state_dir and socket change only on restart");
  snprintf(c.upload_dir, sizeof(c.upload_dir), "%s", s->cfg.upload_dir);
  snprintf(c.state_dir, sizeof(c.state_dir), "%s", s->cfg.state_dir);
  snprintf(c.socket_path, sizeof(c.socket_path), "%s", s->cfg.socket_path);
  c.socket_mode = s->cfg.socket_mode;
  snprintf(c.socket_group, sizeof(c.socket_group), "%s", s->cfg.socket_group);
  s->cfg = c;
  if (s->watch)
    watch_configure(s->watch, c.quiet_period, c.rescan_interval, c.ignore_suffixes);
  serve_log(s, 6, "SIGHUP: config reloaded: workers=%d quiet_period=%gs analyzer=%s", c.workers,
            c.quiet_period, c.analyzer == SERVE_ANALYZER_STUB ? "stub" : "engine");
  fb_sd.notify(0, "READY=1");
  serve_pump(s);
}

/* ---- main ---- */

int serve_main(const struct serve_config *cfg, int argc, char **argv) {
  struct serve *s = calloc(1, sizeof(*s));
  struct watch_callbacks wcb;
  struct fb_error lib_err;
  char db[SERVE_PATH_MAX + 16], err[1024];
  int requeued, failed, rc = FB_EXIT_OK;
  double now;

  if (s == NULL)
    return FB_EXIT_INTERNAL;
  s->cfg = *cfg;
  s->argc = argc;
  s->argv = argv;
  s->start_time = serve_now();
  signal(SIGPIPE, SIG_IGN);
  if (serve_config_check(cfg, err, sizeof(err)) < 0 || mkdir_p(cfg->state_dir) < 0 ||
      mkdir_p(cfg->out_dir) < 0) {
    serve_log(s, 3, "cannot start: %s", err[0] ? err : strerror(errno));
    free(s);
    return FB_EXIT_USAGE;
  }
  /* The notify protocol (READY=1, STATUS=, WATCHDOG=1): loaded here so that
   * other commands do not map libsystemd at start-up. */
  fb_error_init(&lib_err, NULL);
  if (fb_dynlib_load(FB_DYNLIB_SYSTEMD, &lib_err) < 0) {
    serve_log(s, 3, "cannot start: %s", lib_err.msg);
    free(s);
    return FB_EXIT_INTERNAL;
  }
  /* Ingestion's libraries, once here rather than in every forked worker. A
   * worker tries again: until they load, each upload fails with this error. */
  if (fb_dynlib_load(FB_DYNLIB_ARCHIVE, &lib_err) < 0 || fb_dynlib_load(FB_DYNLIB_CRYPTO, &lib_err) < 0)
    serve_log(s, 4, "uploads will fail until this is fixed: %s", lib_err.msg);
  /* One daemon per state_dir: a second one would run every job twice. */
  snprintf(db, sizeof(db), "%s/serve.lock", cfg->state_dir);
  s->lock_fd = open(db, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
    serve_log(s, 3, "cannot start: %s: %s", db,
              errno == EWOULDBLOCK ? "another 'fltblame serve' uses this state_dir" : strerror(errno));
    if (s->lock_fd >= 0)
      close(s->lock_fd);
    free(s);
    return FB_EXIT_USAGE;
  }
  serve_config_db_path(cfg, db, sizeof(db));
  if (jobs_open(&s->jobs, db, err, sizeof(err)) < 0) {
    serve_log(s, 3, "cannot open the job index: %s", err);
    close(s->lock_fd);
    free(s);
    return FB_EXIT_INTERNAL;
  }
  now = serve_now();
  if (jobs_recover(s->jobs, cfg->max_attempts, now, &requeued, &failed) == 0 && (requeued || failed))
    serve_log(s, 5, "recovered from an unclean stop: %d job(s) queued again, %d given up", requeued, failed);
  uv_loop_init(&s->loop);
  if (serve_ctl_start(s, err, sizeof(err)) < 0) {
    serve_log(s, 3, "cannot start: control socket: %s", err);
    rc = FB_EXIT_INTERNAL;
    goto out;
  }
  wcb.known = upload_known;
  wcb.ready = upload_ready;
  wcb.log = watch_log;
  wcb.user = s;
  if (watch_start(&s->loop, cfg->upload_dir, cfg->quiet_period, cfg->rescan_interval, cfg->ignore_suffixes,
                  &wcb, &s->watch, err, sizeof(err)) < 0) {
    serve_log(s, 3, "cannot start: %s", err);
    serve_ctl_stop(s);
    rc = FB_EXIT_INTERNAL;
    goto out;
  }
  uv_signal_init(&s->loop, &s->sig_term);
  uv_signal_init(&s->loop, &s->sig_int);
  uv_signal_init(&s->loop, &s->sig_hup);
  uv_signal_init(&s->loop, &s->sig_chld);
  s->sig_term.data = s->sig_int.data = s->sig_hup.data = s->sig_chld.data = s;
  uv_signal_start(&s->sig_term, on_stop_signal, SIGTERM);
  uv_signal_start(&s->sig_int, on_stop_signal, SIGINT);
  uv_signal_start(&s->sig_hup, on_sighup, SIGHUP);
  uv_signal_start(&s->sig_chld, on_sigchld, SIGCHLD);
  uv_timer_init(&s->loop, &s->tick);
  s->tick.data = s;
  uv_timer_start(&s->tick, on_tick, 50, 50);
  if (fb_sd.watchdog_enabled(0, &s->watchdog_usec) <= 0)
    s->watchdog_usec = 0;
  serve_log(s, 6,
            "ready: upload_dir=\"%s\" out_dir=\"%s\" workers=%d quiet_period=%gs analyzer=%s socket=\"%s\"",
            cfg->upload_dir, cfg->out_dir, cfg->workers, cfg->quiet_period,
            cfg->analyzer == SERVE_ANALYZER_STUB ? "stub" : "engine", cfg->socket_path);
  fb_sd.notify(0, "READY=1");
  serve_notify_status(s);
  serve_pump(s);
  uv_run(&s->loop, UV_RUN_DEFAULT);
out:
  if (!s->stopped) {
    if (s->watch)
      watch_stop(s->watch);
    uv_walk(&s->loop, close_handle, NULL);
  }
  uv_run(&s->loop, UV_RUN_DEFAULT);
  uv_loop_close(&s->loop);
  jobs_close(s->jobs);
  close(s->lock_fd);
  free(s->ctl);
  free(s->run);
  free(s);
  return rc;
}
