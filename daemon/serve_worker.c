/* serve_worker.c - fork, limit, analyze, write the verdict atomically. */
#include "daemon/serve_worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/dynlib.h"
#include "daemon/job.h"
#include "daemon/jobs.h"

#if defined(__SANITIZE_ADDRESS__)
#define WORKER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKER_ASAN 1
#endif
#endif

void worker_verdict_dir(const struct serve_config *cfg, const char *customer, int64_t id, const char *path,
                        char *buf, size_t n) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(buf, n, "%s/%s/%lld-%s", cfg->out_dir, customer[0] ? customer : "_", (long long)id, base);
}

/* ---- files ---- */

static int mkdir_p(const char *dir) {
  char tmp[PATH_MAX];
  size_t len = strlen(dir);

  if (len >= sizeof(tmp))
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

static void rm_rf(const char *path) {
  struct stat st;
  DIR *d;
  struct dirent *e;

  if (lstat(path, &st) < 0)
    return;
  if (!S_ISDIR(st.st_mode)) {
    unlink(path);
    return;
  }
  if ((d = opendir(path)) != NULL) {
    while ((e = readdir(d)) != NULL) {
      char sub[PATH_MAX];
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < (int)sizeof(sub))
        rm_rf(sub);
    }
    closedir(d);
  }
  rmdir(path);
}

static int fsync_path(const char *path, int dir) {
  int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  int rc;
  if (fd < 0)
    return -1;
  rc = fsync(fd);
  close(fd);
  return rc;
}

/* fsync every file in dir (recursively), then dir itself. */
static int fsync_tree(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int rc = 0;

  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    char sub[PATH_MAX];
    struct stat st;
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= (int)sizeof(sub) || lstat(sub, &st) < 0)
      continue;
    if (S_ISDIR(st.st_mode))
      rc |= fsync_tree(sub);
    else if (S_ISREG(st.st_mode))
      rc |= fsync_path(sub, 0);
  }
  closedir(d);
  return rc | fsync_path(dir, 1);
}

/* ---- verdict.json, leniently ---- */

static const char *str_of(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (json_is_string(v))
    return json_string_value(v);
  if (json_is_object(v)) { /* {"name": ...} or {"image": ...} */
    const char *keys[] = {"name", "image", "path", "file"};
    for (size_t i = 0; i < 4; i++) {
      json_t *s = json_object_get(v, keys[i]);
      if (json_is_string(s))
        return json_string_value(s);
    }
  }
  return NULL;
}

static void put(char *dst, size_t n, const char *s) {
  if (s != NULL)
    snprintf(dst, n, "%s", s);
}

/* A crash finding (kind "crash", docs/crash.md) counts like a file finding;
 * its blamed driver is the job's top filter when no file finding names one. */
static void read_crashes(json_t *crashes, struct worker_result *r, int take_top) {
  json_t *f;
  size_t i;

  if (!json_is_array(crashes))
    return;
  r->findings += (int)json_array_size(crashes);
  json_array_foreach(crashes, i, f) {
    const char *c = str_of(f, "verdict_confidence");
    if (c && !strcmp(c, "confirmed"))
      r->confirmed++;
  }
  if (!take_top)
    return;
  json_array_foreach(crashes, i, f) {
    const char *driver = str_of(f, "driver");
    if (driver == NULL || driver[0] == '\0')
      continue;
    put(r->filter, sizeof(r->filter), driver);
    put(r->vendor, sizeof(r->vendor), str_of(f, "vendor")); /* {"name": ...} */
    put(r->confidence, sizeof(r->confidence), str_of(f, "verdict_confidence"));
    break;
  }
}

void worker_read_verdict(const char *verdict_json, struct worker_result *r) {
  json_t *root = json_load_file(verdict_json, 0, NULL);
  json_t *findings, *f, *filt;
  size_t i;

  if (root == NULL)
    return;
  r->findings = 0;
  r->confirmed = 0;
  findings = json_object_get(root, "findings");
  if (json_is_array(findings)) {
    r->findings = (int)json_array_size(findings);
    json_array_foreach(findings, i, f) {
      const char *c = str_of(f, "confidence");
      if (c && !strcmp(c, "confirmed"))
        r->confirmed++;
    }
    f = json_array_get(findings, 0);
    if (json_is_object(f)) {
      const char *name = str_of(f, "filter");
      put(r->filter, sizeof(r->filter), name ? name : str_of(f, "driver"));
      filt = json_object_get(f, "filter");
      put(r->vendor, sizeof(r->vendor), str_of(f, "vendor"));
      if (!r->vendor[0] && json_is_object(filt))
        put(r->vendor, sizeof(r->vendor), str_of(filt, "vendor"));
      put(r->confidence, sizeof(r->confidence), str_of(f, "confidence"));
      put(r->fail_path, sizeof(r->fail_path), str_of(f, "path"));
      put(r->fail_process, sizeof(r->fail_process), str_of(f, "process"));
    }
  }
  read_crashes(json_object_get(root, "crashes"), r, json_array_size(findings) == 0);
  json_decref(root);
}

/* ---- result line ---- */

char *worker_result_to_json(const struct worker_result *r) {
  json_t *o = json_object();
  char *s;
  json_object_set_new(o, "ok", json_boolean(r->ok));
  json_object_set_new(o, "reused", json_boolean(r->reused));
  json_object_set_new(o, "sha256", json_string(r->sha256));
  json_object_set_new(o, "verdict", json_string(r->verdict_path));
  json_object_set_new(o, "error", json_string(r->error));
  json_object_set_new(o, "findings", json_integer(r->findings));
  json_object_set_new(o, "confirmed", json_integer(r->confirmed));
  json_object_set_new(o, "filter", json_string(r->filter));
  json_object_set_new(o, "vendor", json_string(r->vendor));
  json_object_set_new(o, "confidence", json_string(r->confidence));
  json_object_set_new(o, "path", json_string(r->fail_path));
  json_object_set_new(o, "process", json_string(r->fail_process));
  s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

int worker_result_parse(const char *buf, size_t len, struct worker_result *r) {
  json_t *o = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, NULL);
  memset(r, 0, sizeof(*r));
  if (!json_is_object(o)) {
    json_decref(o);
    return -1;
  }
  r->ok = json_is_true(json_object_get(o, "ok"));
  r->reused = json_is_true(json_object_get(o, "reused"));
  put(r->sha256, sizeof(r->sha256), str_of(o, "sha256"));
  put(r->verdict_path, sizeof(r->verdict_path), str_of(o, "verdict"));
  put(r->error, sizeof(r->error), str_of(o, "error"));
  r->findings = (int)json_integer_value(json_object_get(o, "findings"));
  r->confirmed = (int)json_integer_value(json_object_get(o, "confirmed"));
  put(r->filter, sizeof(r->filter), str_of(o, "filter"));
  put(r->vendor, sizeof(r->vendor), str_of(o, "vendor"));
  put(r->confidence, sizeof(r->confidence), str_of(o, "confidence"));
  put(r->fail_path, sizeof(r->fail_path), str_of(o, "path"));
  put(r->fail_process, sizeof(r->fail_process), str_of(o, "process"));
  json_decref(o);
  return 0;
}

/* ---- job.json: what the daemon knows of this run, beside the verdict ---- */

/* DIR/job.json into out; -1 when it does not fit (never a truncated path). */
static int job_json_path(char *out, size_t size, const char *dir) {
  int n = snprintf(out, size, "%s/job.json", dir);
  return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int write_job_json(const char *dir, const struct worker_job *job, const struct serve_config *cfg,
                          const struct worker_result *r, double started) {
  char path[PATH_MAX];
  json_t *o = json_object();
  int rc;
  struct stat st;
  char *res;

  json_object_set_new(o, "job", json_integer(job->id));
  json_object_set_new(o, "version", json_integer(job->version));
  json_object_set_new(o, "upload", json_string(job->path));
  json_object_set_new(o, "customer", json_string(job->customer));
  if (stat(job->path, &st) == 0)
    json_object_set_new(o, "size", json_integer(st.st_size));
  json_object_set_new(o, "sha256", json_string(r->sha256));
  json_object_set_new(o, "analyzer", json_string(cfg->analyzer == SERVE_ANALYZER_STUB ? "stub" : "engine"));
  json_object_set_new(o, "started", json_real(started));
  res = worker_result_to_json(r);
  json_object_set_new(o, "result", res ? json_loads(res, 0, NULL) : json_object());
  free(res);
  if (job_json_path(path, sizeof(path), dir) < 0) {
    json_decref(o);
    return -1;
  }
  rc = json_dump_file(o, path, JSON_INDENT(2));
  json_decref(o);
  return rc;
}

/* The verdict of exactly this job and version is already in place: the daemon
 * died after the rename but before it recorded the end. */
static int already_done(const char *final, const struct worker_job *job, struct worker_result *r) {
  char path[PATH_MAX];
  json_t *o, *res;
  int same;

  if (job_json_path(path, sizeof(path), final) < 0)
    return 0;
  o = json_load_file(path, 0, NULL);
  if (o == NULL)
    return 0;
  same = json_integer_value(json_object_get(o, "job")) == job->id &&
         json_integer_value(json_object_get(o, "version")) == job->version;
  res = json_object_get(o, "result");
  if (same && json_is_object(res)) {
    char *s = json_dumps(res, JSON_COMPACT);
    if (s && worker_result_parse(s, strlen(s), r) == 0)
      r->reused = 1;
    else
      same = 0;
    free(s);
  } else {
    same = 0;
  }
  json_decref(o);
  return same;
}

static int previous_version(const char *final) {
  char path[PATH_MAX];
  json_t *o;
  int v = 0;
  if (job_json_path(path, sizeof(path), final) < 0)
    return 0;
  if ((o = json_load_file(path, 0, NULL)) != NULL) {
    v = (int)json_integer_value(json_object_get(o, "version"));
    json_decref(o);
  }
  return v;
}

static double wall_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int worker_run(const struct worker_job *job, const struct serve_config *cfg, struct worker_result *r) {
  char final[PATH_MAX], tmp[PATH_MAX + 8], parent[PATH_MAX], verdict[PATH_MAX + 32], upload_id[256];
  double started = wall_now();
  struct stat st;
  int rc;

  memset(r, 0, sizeof(*r));
  worker_verdict_dir(cfg, job->customer, job->id, job->path, final, sizeof(final));
  if (already_done(final, job, r)) {
    snprintf(r->verdict_path, sizeof(r->verdict_path), "%.1000s/verdict.json", final);
    return 0;
  }
  snprintf(tmp, sizeof(tmp), "%s.tmp", final);
  snprintf(parent, sizeof(parent), "%s", final);
  *strrchr(parent, '/') = '\0';
  rm_rf(tmp); /* left by a run that died */
  if (mkdir_p(parent) < 0 || mkdir(tmp, 0755) < 0) {
    snprintf(r->error, sizeof(r->error), "cannot create %.700s: %s", tmp, strerror(errno));
    return -1;
  }
  snprintf(upload_id, sizeof(upload_id), "%s/%lld", job->customer, (long long)job->id);
  if (cfg->analyzer == SERVE_ANALYZER_STUB) {
    rc = serve_stub_analyze(job->path, upload_id, tmp, r->error, sizeof(r->error));
  } else {
    struct job_options opt;
    memset(&opt, 0, sizeof(opt)); /* fields added later default to zero */
    opt.upload_id = upload_id;
    opt.out_dir = tmp;
    opt.data_dir = cfg->data_dir[0] ? cfg->data_dir : NULL;
    opt.lang = cfg->lang;
    struct job_summary sum;
    const char *paths[1] = {job->path};
    memset(&sum, 0, sizeof(sum));
    rc = job_analyze(paths, 1, &opt, &sum);
    if (rc < 0)
      snprintf(r->error, sizeof(r->error), "%.700s", sum.error[0] ? sum.error : "analysis failed");
    r->findings = sum.findings;
    r->confirmed = sum.confirmed;
    put(r->filter, sizeof(r->filter), sum.top_filter);
    put(r->sha256, sizeof(r->sha256), sum.upload_sha256); /* ingestion hashed the upload as it read it */
  }
  if (rc < 0) {
    rm_rf(tmp);
    return -1;
  }
  if (r->sha256[0] == '\0' && jobs_sha256_file(job->path, r->sha256) < 0) {
    struct fb_error e;
    fb_error_init(&e, NULL);
    if (errno == ELIBACC && fb_dynlib_load(FB_DYNLIB_CRYPTO, &e) < 0)
      snprintf(r->error, sizeof(r->error), "cannot digest %.400s: %.500s", job->path, e.msg);
    else
      snprintf(r->error, sizeof(r->error), "cannot read %.700s: %s", job->path, strerror(errno));
    rm_rf(tmp);
    return -1;
  }
  snprintf(verdict, sizeof(verdict), "%s/verdict.json", tmp);
  worker_read_verdict(verdict, r);
  snprintf(r->verdict_path, sizeof(r->verdict_path), "%.1000s/verdict.json", final);
  r->ok = 1;
  if (write_job_json(tmp, job, cfg, r, started) < 0 || fsync_tree(tmp) < 0) {
    snprintf(r->error, sizeof(r->error), "cannot write the verdict in %.700s: %s", tmp, strerror(errno));
    r->ok = 0;
    rm_rf(tmp);
    return -1;
  }
  if (lstat(final, &st) == 0) { /* reprocess: keep the previous verdict */
    char old[PATH_MAX + 32];
    int v = previous_version(final);
    snprintf(old, sizeof(old), "%s.v%d", final, v > 0 ? v : job->version - 1);
    rm_rf(old);
    if (rename(final, old) < 0) {
      snprintf(r->error, sizeof(r->error), "cannot move %.700s aside: %s", final, strerror(errno));
      r->ok = 0;
      rm_rf(tmp);
      return -1;
    }
  }
  if (rename(tmp, final) < 0 || fsync_path(parent, 1) < 0) {
    snprintf(r->error, sizeof(r->error), "cannot rename %.700s: %s", tmp, strerror(errno));
    r->ok = 0;
    rm_rf(tmp);
    return -1;
  }
  return 0;
}

/* ---- the child ---- */

static void child_limits(const struct serve_config *cfg) {
  struct rlimit rl;

  if (cfg->cpu_limit > 0) {
    rl.rlim_cur = (rlim_t)(cfg->cpu_limit + 0.999);
    rl.rlim_max = rl.rlim_cur + 2; /* SIGXCPU first, SIGKILL after */
    setrlimit(RLIMIT_CPU, &rl);
  }
  rl.rlim_cur = rl.rlim_max = 0;
  setrlimit(RLIMIT_CORE, &rl);
#ifndef WORKER_ASAN
  /* Heap and anonymous memory; mapped input files are not counted. (The
   * sanitizer's shadow memory would exceed any limit, so ASan builds rely on
   * the daemon's resident-size watch alone.) */
  rl.rlim_cur = rl.rlim_max = (rlim_t)cfg->memory_limit;
  setrlimit(RLIMIT_DATA, &rl);
#endif
}

static void child_main(const struct worker_job *job, const struct serve_config *cfg, int wfd, pid_t parent) {
  struct worker_result r;
  sigset_t none;
  char *line;
  int devnull;

  prctl(PR_SET_PDEATHSIG, SIGKILL); /* no orphan analysis when the daemon dies */
  if (getppid() != parent)
    _exit(125);
  setpgid(0, 0);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP)
      signal(s, SIG_DFL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0 && devnull != 0) {
    dup2(devnull, 0);
    close(devnull);
  }
  if (wfd != 3) {
    dup2(wfd, 3);
    close(wfd);
  }
  /* Drop the daemon's descriptors: index, sockets, inotify. */
  if (close_range(4, ~0U, 0) < 0)
    for (int fd = 4; fd < 4096; fd++)
      close(fd);
  child_limits(cfg);
  worker_run(job, cfg, &r);
  line = worker_result_to_json(&r);
  if (line) {
    size_t len = strlen(line);
    line[len] = '\n';
    if (write(3, line, len + 1) < 0)
      _exit(124);
  }
  _exit(r.ok ? 0 : 1);
}

pid_t worker_spawn(const struct worker_job *job, const struct serve_config *cfg, int *result_fd, char *err,
                   size_t errlen) {
  int p[2];
  pid_t pid, parent = getpid();

  if (pipe2(p, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return -1;
  }
  fflush(stderr);
  pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    close(p[0]);
    child_main(job, cfg, p[1], parent);
  }
  close(p[1]);
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
  setpgid(pid, pid); /* also here, so kill(-pid) works whoever runs first */
  *result_fd = p[0];
  return pid;
}
