/* test_daemon_service.c - 'fltblame serve' as a process: uploads in, verdicts
 * out, through restarts, limits, bad clients and systemd's notify socket. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/daemon/dtest.h"
#include "tests/testutil.h"

static json_t *list_jobs(struct dtest_daemon *d, const char *state) {
  char req[256];
  json_t *a;
  if (state)
    snprintf(req, sizeof(req), "{\"cmd\":\"list\",\"state\":\"%s\",\"limit\":10000}", state);
  else
    snprintf(req, sizeof(req), "{\"cmd\":\"list\",\"limit\":10000}");
  a = dtest_ctl(d->sock, req);
  ck_assert_ptr_nonnull(a);
  ck_assert(json_is_true(json_object_get(a, "ok")));
  return a;
}

static json_t *job_by_suffix(json_t *list, const char *suffix) {
  size_t i;
  json_t *j;
  json_array_foreach(json_object_get(list, "jobs"), i, j) {
    const char *p = json_string_value(json_object_get(j, "path"));
    if (p && strlen(p) >= strlen(suffix) && !strcmp(p + strlen(p) - strlen(suffix), suffix))
      return j;
  }
  return NULL;
}

static const char *jstr(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static long jint(json_t *o, const char *k) {
  return (long)json_integer_value(json_object_get(o, k));
}

static int count_entries(const char *dir, const char *containing) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.' && (containing == NULL || strstr(e->d_name, containing)))
      n++;
  closedir(d);
  return n;
}

/* 3. A burst of 200 uploads in 10 directories: all processed, none twice. */
START_TEST(test_burst_200) {
  struct dtest_daemon d;
  const char *extra[] = {"--workers", "2", NULL};
  char path[2048], tmp[2100];
  json_t *list, *j;
  size_t i;

  dtest_init(&d, "burst");
  dtest_start(&d, extra);
  for (int n = 0; n < 200; n++) {
    char content[128];
    snprintf(content, sizeof(content), "FLTBLAME-STUB filter=f%d.sys vendor=V%d\nupload %d\n", n % 3, n % 3,
             n);
    snprintf(path, sizeof(path), "%s/cust%02d/in/trace-%03d.zip", d.up, n % 10, n);
    if (n % 4 == 0) { /* WinSCP style: a .filepart renamed at the end */
      snprintf(tmp, sizeof(tmp), "%s.filepart", path);
      dtest_write(tmp, content);
      ck_assert_int_eq(rename(tmp, path), 0);
    } else {
      dtest_write(path, content);
    }
  }
  ck_assert_msg(dtest_wait_count(&d, "done", 200, 90000), "done=%ld failed=%ld queued=%ld running=%ld",
                dtest_count(&d, "done"), dtest_count(&d, "failed"), dtest_count(&d, "queued"),
                dtest_count(&d, "running"));
  dtest_sleep_ms(1500); /* a rescan or two more: nothing new may appear */
  ck_assert_int_eq(dtest_count(&d, "done"), 200);
  ck_assert_int_eq(dtest_count(&d, "failed"), 0);
  ck_assert_int_eq(dtest_count(&d, "queued"), 0);
  list = list_jobs(&d, NULL);
  ck_assert_int_eq(json_array_size(json_object_get(list, "jobs")), 200);
  json_array_foreach(json_object_get(list, "jobs"), i, j) {
    struct stat st;
    ck_assert_str_eq(jstr(j, "state"), "done");
    ck_assert_int_eq(jint(j, "attempts"), 1);
    ck_assert_msg(stat(jstr(j, "verdict"), &st) == 0, "no verdict %s", jstr(j, "verdict"));
    ck_assert(strstr(jstr(j, "path"), ".filepart") == NULL);
    /* each upload once: a job per path */
    for (size_t k = i + 1; k < json_array_size(json_object_get(list, "jobs")); k++)
      ck_assert_str_ne(jstr(j, "path"), jstr(json_array_get(json_object_get(list, "jobs"), k), "path"));
  }
  for (int c = 0; c < 10; c++) {
    snprintf(path, sizeof(path), "%s/cust%02d", d.out, c);
    ck_assert_int_eq(count_entries(path, NULL), 20);
    ck_assert_int_eq(count_entries(path, ".tmp"), 0);
  }
  json_decref(list);
  ck_assert_int_eq(dtest_stop(&d), 0);
}
END_TEST

/* 2. kill -9 during a job; restart: the job completes once, whole. */
START_TEST(test_kill9_restart) {
  struct dtest_daemon d;
  char path[2048], dir[2048];
  json_t *a, *job, *v;

  dtest_init(&d, "kill9");
  dtest_start(&d, NULL);
  snprintf(path, sizeof(path), "%s/acme/slow.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB sleep=1500 filter=TmPreFlt.sys vendor=Trend_Micro\n");
  ck_assert(dtest_wait_count(&d, "running", 1, 10000));
  dtest_sleep_ms(300);
  dtest_kill9(&d);
  dtest_start(&d, NULL);
  ck_assert(dtest_wait_count(&d, "done", 1, 15000));
  a = dtest_ctl(d.sock, "{\"cmd\":\"show\",\"id\":1}");
  job = json_object_get(a, "job");
  ck_assert_str_eq(jstr(job, "state"), "done");
  ck_assert_int_eq(jint(job, "attempts"), 2); /* the killed run, and the one that finished */
  v = json_load_file(jstr(job, "verdict"), 0, NULL);
  ck_assert_msg(v != NULL, "verdict not whole JSON");
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_object_get(json_array_get(json_object_get(v, "findings"), 0), "filter"), "name")),
                   "TmPreFlt.sys");
  json_decref(v);
  json_decref(a);
  ck_assert_int_eq(dtest_count(&d, "done") + dtest_count(&d, "failed") + dtest_count(&d, "queued") +
                       dtest_count(&d, "running"),
                   1);
  snprintf(dir, sizeof(dir), "%s/acme", d.out);
  ck_assert_int_eq(count_entries(dir, NULL), 1); /* 1-slow.zip, no .tmp left */
  ck_assert_int_eq(dtest_stop(&d), 0);
}
END_TEST

/* 2. Limits: a worker killed by its memory limit (and one that crashes, one
 * that runs too long, one that burns CPU) fails its job; the daemon goes on. */
START_TEST(test_worker_limits) {
  struct dtest_daemon d;
  /* Generous wall limit: on a loaded machine a spinning worker needs several
   * seconds of wall time for one second of CPU. */
  const char *extra[] = {"--workers", "4", "--memory-limit", "100M", "--wall-limit", "8s", "--cpu-limit",
                         "1s",        NULL};
  char path[2048];
  json_t *list;

  dtest_init(&d, "limits");
  dtest_start(&d, extra);
  snprintf(path, sizeof(path), "%s/c/mem.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB alloc=4000\n");
  snprintf(path, sizeof(path), "%s/c/crash.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB crash=1\n");
  snprintf(path, sizeof(path), "%s/c/wall.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB sleep=30000\n");
  snprintf(path, sizeof(path), "%s/c/cpu.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB spin=1\n");
  ck_assert_msg(dtest_wait_count(&d, "failed", 4, 40000), "failed=%ld", dtest_count(&d, "failed"));
  snprintf(path, sizeof(path), "%s/c/fine.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB filter=ok.sys\n");
  ck_assert(dtest_wait_count(&d, "done", 1, 10000));
  list = list_jobs(&d, NULL);
  ck_assert_ptr_nonnull(strstr(jstr(job_by_suffix(list, "mem.zip"), "error"), "memory limit"));
  ck_assert_ptr_nonnull(strstr(jstr(job_by_suffix(list, "crash.zip"), "error"), "worker crashed: signal 11"));
  ck_assert_ptr_nonnull(strstr(jstr(job_by_suffix(list, "wall.zip"), "error"), "wall time limit 8s"));
  ck_assert_ptr_nonnull(strstr(jstr(job_by_suffix(list, "cpu.zip"), "error"), "CPU time limit 1s"));
  ck_assert_str_eq(jstr(job_by_suffix(list, "fine.zip"), "state"), "done");
  json_decref(list);
  ck_assert_int_eq(dtest_stop(&d), 0);
}
END_TEST

/* 1 (local part). A slow upload paused halfway is not taken; temporary names
 * never are; rename and link-then-unlink are taken once. */
START_TEST(test_settle_rule) {
  struct dtest_daemon d;
  char path[2048], part[2048];
  char half[4096];
  json_t *list;
  int fd;

  dtest_init(&d, "settle");
  dtest_start(&d, NULL);
  memset(half, 'x', sizeof(half));
  snprintf(path, sizeof(path), "%s/acme/paused.etl", d.up);
  dtest_write(path, "");
  fd = open(path, O_WRONLY | O_TRUNC);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, half, sizeof(half)), sizeof(half));
  snprintf(part, sizeof(part), "%s/acme/big.zip.filepart", d.up);
  dtest_write(part, "FLTBLAME-STUB\nstill uploading under a temporary name\n");
  dtest_sleep_ms(2500); /* 12 quiet periods, two rescans */
  list = list_jobs(&d, NULL);
  ck_assert_int_eq(json_array_size(json_object_get(list, "jobs")), 0);
  json_decref(list);
  ck_assert_int_eq(write(fd, half, sizeof(half)), sizeof(half));
  close(fd);
  ck_assert(dtest_wait_count(&d, "done", 1, 10000));
  /* rename at the end (posix-rename) */
  snprintf(path, sizeof(path), "%s/acme/big.zip", d.up);
  ck_assert_int_eq(rename(part, path), 0);
  /* sftp-server's rename: link() to the new name, unlink() the old */
  snprintf(part, sizeof(part), "%s/acme/linked.cab.part", d.up);
  dtest_write(part, "FLTBLAME-STUB filter=linked.sys\n");
  snprintf(path, sizeof(path), "%s/acme/linked.cab", d.up);
  ck_assert_int_eq(link(part, path), 0);
  ck_assert_int_eq(unlink(part), 0);
  ck_assert(dtest_wait_count(&d, "done", 3, 10000));
  dtest_sleep_ms(1500);
  list = list_jobs(&d, NULL);
  ck_assert_int_eq(json_array_size(json_object_get(list, "jobs")), 3);
  ck_assert_int_eq(jint(job_by_suffix(list, "paused.etl"), "size"), 2 * sizeof(half));
  ck_assert_ptr_nonnull(job_by_suffix(list, "/big.zip"));
  ck_assert_str_eq(jstr(job_by_suffix(list, "linked.cab"), "filter"), "linked.sys");
  json_decref(list);
  ck_assert_int_eq(dtest_stop(&d), 0);
}
END_TEST

/* ctl: cancel, reprocess (old verdict kept), duplicates, reprocess PATH. */
START_TEST(test_ctl_commands) {
  struct dtest_daemon d;
  const char *extra[] = {"--workers", "1", NULL};
  char path[2048], dir[2048];
  json_t *a, *list;
  long id_a, id_b, id_c;

  dtest_init(&d, "commands");
  dtest_start(&d, extra);
  snprintf(path, sizeof(path), "%s/acme/a.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB sleep=3000\n");
  ck_assert(dtest_wait_count(&d, "running", 1, 10000));
  snprintf(path, sizeof(path), "%s/acme/b.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB filter=b.sys\n");
  snprintf(path, sizeof(path), "%s/acme/c.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB filter=c.sys\n");
  ck_assert(dtest_wait_count(&d, "queued", 2, 10000));
  list = list_jobs(&d, NULL);
  id_a = jint(job_by_suffix(list, "a.zip"), "id");
  id_b = jint(job_by_suffix(list, "b.zip"), "id");
  id_c = jint(job_by_suffix(list, "c.zip"), "id");
  json_decref(list);
  snprintf(path, sizeof(path), "{\"cmd\":\"cancel\",\"id\":%ld}", id_c); /* queued */
  a = dtest_ctl(d.sock, path);
  ck_assert(json_is_true(json_object_get(a, "ok")));
  json_decref(a);
  snprintf(path, sizeof(path), "{\"cmd\":\"cancel\",\"id\":%ld}", id_a); /* running */
  a = dtest_ctl(d.sock, path);
  ck_assert(json_is_true(json_object_get(a, "ok")));
  json_decref(a);
  ck_assert(dtest_wait_count(&d, "done", 1, 10000));
  ck_assert_int_eq(dtest_count(&d, "cancelled"), 2);
  /* cancelling a finished job is an error, not a crash */
  snprintf(path, sizeof(path), "{\"cmd\":\"cancel\",\"id\":%ld}", id_b);
  a = dtest_ctl(d.sock, path);
  ck_assert(json_is_false(json_object_get(a, "ok")));
  ck_assert_ptr_nonnull(strstr(jstr(a, "error"), "not queued or running"));
  json_decref(a);
  /* reprocess keeps the old verdict as .v1 */
  snprintf(path, sizeof(path), "{\"cmd\":\"reprocess\",\"id\":%ld}", id_b);
  a = dtest_ctl(d.sock, path);
  ck_assert(json_is_true(json_object_get(a, "ok")));
  json_decref(a);
  dtest_sleep_ms(200);
  ck_assert(dtest_wait_count(&d, "done", 1, 10000));
  snprintf(path, sizeof(path), "{\"cmd\":\"show\",\"id\":%ld}", id_b);
  for (int i = 0; i < 100; i++) {
    a = dtest_ctl(d.sock, path);
    if (jint(json_object_get(a, "job"), "version") == 2 &&
        !strcmp(jstr(json_object_get(a, "job"), "state"), "done"))
      break;
    json_decref(a);
    a = NULL;
    dtest_sleep_ms(100);
  }
  ck_assert_ptr_nonnull(a);
  json_decref(a);
  snprintf(dir, sizeof(dir), "%s/acme/%ld-b.zip.v1/verdict.json", d.out, id_b);
  ck_assert_msg(access(dir, R_OK) == 0, "%s", dir);
  snprintf(dir, sizeof(dir), "%s/acme/%ld-b.zip/verdict.json", d.out, id_b);
  ck_assert_msg(access(dir, R_OK) == 0, "%s", dir);
  /* the same bytes again under another name: noticed */
  snprintf(path, sizeof(path), "%s/acme/b-again.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB filter=b.sys\n");
  ck_assert(dtest_wait_count(&d, "done", 2, 10000));
  list = list_jobs(&d, "done");
  ck_assert_int_eq(jint(job_by_suffix(list, "b-again.zip"), "duplicate_of"), id_b);
  json_decref(list);
  /* reprocess PATH of a file the watcher never takes */
  snprintf(path, sizeof(path), "%s/acme/kept.tmp", d.up);
  dtest_write(path, "FLTBLAME-STUB filter=tmp.sys\n");
  a = dtest_ctl(d.sock, "{\"cmd\":\"reprocess\",\"path\":\"acme/kept.tmp\"}");
  ck_assert(json_is_true(json_object_get(a, "ok")));
  ck_assert(json_is_true(json_object_get(a, "new")));
  json_decref(a);
  ck_assert(dtest_wait_count(&d, "done", 3, 10000));
  ck_assert_int_eq(dtest_stop(&d), 0);
}
END_TEST

/* 4. The control socket refuses the wrong uid and answers every bad request
 * with a JSON error, and goes on. */
START_TEST(test_ctl_bad_clients) {
  struct dtest_daemon d;
  const char *extra[] = {"--socket-mode", "0666", "--ctl-timeout", "1s", "--ctl-max-request", "4096", NULL};
  char sockdir[] = "/tmp/fbctl-XXXXXX";
  char *big, *r;
  json_t *a;
  int p[2];
  pid_t pid;
  char answer[4096] = "";
  ssize_t n;
  int status;

  dtest_init(&d, "ctl");
  ck_assert_ptr_nonnull(mkdtemp(sockdir)); /* a path every uid can reach */
  chmod(sockdir, 0755);
  snprintf(d.sock, sizeof(d.sock), "%s/ctl.sock", sockdir);
  dtest_start(&d, extra);

  a = dtest_ctl(d.sock, "{not json");
  ck_assert(json_is_false(json_object_get(a, "ok")));
  ck_assert_ptr_nonnull(strstr(jstr(a, "error"), "malformed request"));
  json_decref(a);
  a = dtest_ctl(d.sock, "[1,2,3]");
  ck_assert_ptr_nonnull(strstr(jstr(a, "error"), "expected an object"));
  json_decref(a);
  a = dtest_ctl(d.sock, "{\"cmd\":\"explode\"}");
  ck_assert_ptr_nonnull(strstr(jstr(a, "error"), "unknown command 'explode'"));
  json_decref(a);
  a = dtest_ctl(d.sock, "{\"cmd\":\"show\",\"id\":424242}");
  ck_assert_str_eq(jstr(a, "error"), "no job 424242");
  json_decref(a);
  a = dtest_ctl(d.sock, "{\"cmd\":\"list\",\"state\":\"exploded\"}");
  ck_assert_ptr_nonnull(strstr(jstr(a, "error"), "state must be"));
  json_decref(a);
  /* huge: 100 kB without a newline */
  big = malloc(100000);
  memset(big, 'x', 100000);
  r = dtest_ctl_raw(d.sock, big, 100000, 0, 5000);
  ck_assert_ptr_nonnull(r);
  ck_assert_ptr_nonnull(strstr(r, "request too large: more than 4096 bytes"));
  free(r);
  free(big);
  /* half-sent, then the writer shuts down its side */
  r = dtest_ctl_raw(d.sock, "{\"cmd\":\"sta", 11, 1, 5000);
  ck_assert_ptr_nonnull(r);
  ck_assert_ptr_nonnull(strstr(r, "incomplete request: connection closed before a newline"));
  free(r);
  /* half-sent, then silence: answered when ctl_timeout runs out */
  r = dtest_ctl_raw(d.sock, "{\"cmd\":\"sta", 11, 0, 5000);
  ck_assert_ptr_nonnull(r);
  ck_assert_ptr_nonnull(strstr(r, "incomplete request: no newline within 1s"));
  free(r);
  /* two requests in one write: two answers in order */
  r = dtest_ctl_raw(d.sock, "{\"cmd\":\"status\"}\n{\"cmd\":\"show\",\"id\":9}\n", 37, 1, 5000);
  ck_assert_ptr_nonnull(r);
  ck_assert_ptr_nonnull(strstr(r, "\"ok\":true"));
  free(r);
  /* another uid, as a forked child that drops root */
  ck_assert_int_eq(pipe(p), 0);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    char *resp;
    close(p[0]);
    if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
      _exit(3);
    resp = dtest_ctl_raw(d.sock, "{\"cmd\":\"status\"}\n", 17, 0, 5000);
    if (resp == NULL)
      _exit(4);
    if (write(p[1], resp, strlen(resp)) < 0)
      _exit(5);
    _exit(0);
  }
  close(p[1]);
  n = read(p[0], answer, sizeof(answer) - 1);
  close(p[0]);
  waitpid(pid, &status, 0);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client as uid 65534 failed: %d", status);
  ck_assert_int_gt(n, 0);
  ck_assert_msg(strstr(answer, "permission denied: uid 65534") != NULL, "answer: %s", answer);
  ck_assert_ptr_null(strstr(answer, "\"ok\":true"));
  /* still serving */
  a = dtest_ctl(d.sock, "{\"cmd\":\"status\"}");
  ck_assert(json_is_true(json_object_get(a, "ok")));
  json_decref(a);
  ck_assert_int_eq(dtest_stop(&d), 0);
  rmdir(sockdir);
}
END_TEST

/* 6. The notify protocol against a NOTIFY_SOCKET datagram socket, SIGHUP
 * reload and SIGTERM drain. A forked reader drains the socket into a file, as
 * systemd would (a full datagram queue would block the sender). */
static pid_t notify_reader(const char *sock_path, const char *out_path) {
  struct sockaddr_un a;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  pid_t pid;

  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    FILE *f = fopen(out_path, "w");
    char buf[1024];
    ssize_t n;
    if (f == NULL)
      _exit(1);
    while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) >= 0) {
      buf[n] = '\0';
      fprintf(f, "%s|", buf);
      fflush(f);
    }
    _exit(0);
  }
  close(fd);
  return pid;
}

/* Wait until the n-th occurrence (counted from the start) of want was received. */
static int notified(const char *out_path, const char *want, int nth, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 50) {
    char *s = tu_read_file(out_path, NULL);
    int count = 0;
    for (char *p = s; p && (p = strstr(p, want)) != NULL; p += strlen(want))
      count++;
    free(s);
    if (count >= nth)
      return 1;
    dtest_sleep_ms(50);
  }
  return 0;
}

START_TEST(test_notify_reload_drain) {
  struct dtest_daemon d;
  char path[2048], conf[2048], sock[256], seen[2048];
  const char *extra[] = {"--config", conf, "--drain-timeout", "10s", NULL};
  pid_t reader;
  json_t *st;

  dtest_init(&d, "notify");
  snprintf(conf, sizeof(conf), "%s/fltblame.conf", d.root);
  snprintf(seen, sizeof(seen), "%s/notify.txt", d.root);
  snprintf(sock, sizeof(sock), "%.200s/notify.sock", d.root);
  dtest_write(conf, "[jobs]\nworkers = 1\n");
  reader = notify_reader(sock, seen);
  setenv("NOTIFY_SOCKET", sock, 1);
  setenv("WATCHDOG_USEC", "400000", 1);
  dtest_start(&d, extra);
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  ck_assert(notified(seen, "READY=1", 1, 5000));
  ck_assert(notified(seen, "STATUS=0 running, 0 queued, 0 done, 0 failed", 1, 5000));
  ck_assert(notified(seen, "WATCHDOG=1", 3, 5000)); /* every 200 ms */
  st = dtest_ctl(d.sock, "{\"cmd\":\"status\"}");
  ck_assert_int_eq(jint(json_object_get(st, "workers"), "max"), 1);
  json_decref(st);
  /* SIGHUP: the file now says 3 workers */
  dtest_write(conf, "[jobs]\nworkers = 3\n");
  kill(d.pid, SIGHUP);
  ck_assert(notified(seen, "RELOADING=1", 1, 5000));
  ck_assert(notified(seen, "READY=1", 2, 5000));
  st = dtest_ctl(d.sock, "{\"cmd\":\"status\"}");
  ck_assert_int_eq(jint(json_object_get(st, "workers"), "max"), 3);
  json_decref(st);
  /* SIGTERM while a job runs: it finishes, then the daemon exits 0 */
  snprintf(path, sizeof(path), "%s/acme/drain.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB sleep=1500\n");
  ck_assert(dtest_wait_count(&d, "running", 1, 10000));
  ck_assert_int_eq(dtest_stop(&d), 0);
  ck_assert(notified(seen, "STOPPING=1", 1, 2000));
  ck_assert(notified(seen, "STATUS=0 running, 0 queued, 1 done, 0 failed, draining", 1, 2000));
  kill(reader, SIGKILL);
  waitpid(reader, NULL, 0);
  /* the index says done, and a restart has nothing left to do */
  dtest_start(&d, extra);
  ck_assert_int_eq(dtest_count(&d, "done"), 1);
  ck_assert_int_eq(dtest_count(&d, "queued"), 0);
  ck_assert_int_eq(dtest_stop(&d), 0);
}
END_TEST

/* SIGTERM with a drain timeout shorter than the job: the job is queued again
 * (its run not counted) and finishes after the restart. */
START_TEST(test_drain_requeues) {
  struct dtest_daemon d;
  const char *extra[] = {"--drain-timeout", "300ms", NULL};
  char path[2048];
  json_t *a;

  dtest_init(&d, "drain");
  dtest_start(&d, extra);
  snprintf(path, sizeof(path), "%s/acme/long.zip", d.up);
  dtest_write(path, "FLTBLAME-STUB sleep=2500\n");
  ck_assert(dtest_wait_count(&d, "running", 1, 10000));
  ck_assert_int_eq(dtest_stop(&d), 0);
  dtest_start(&d, extra);
  ck_assert(dtest_wait_count(&d, "done", 1, 15000));
  a = dtest_ctl(d.sock, "{\"cmd\":\"show\",\"id\":1}");
  ck_assert_int_eq(jint(json_object_get(a, "job"), "attempts"), 1);
  json_decref(a);
  ck_assert_int_eq(dtest_stop(&d), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("daemon-service");
  TCase *tc = tcase_create("service");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_settle_rule);
  tcase_add_test(tc, test_kill9_restart);
  tcase_add_test(tc, test_worker_limits);
  tcase_add_test(tc, test_ctl_bad_clients);
  tcase_add_test(tc, test_ctl_commands);
  tcase_add_test(tc, test_notify_reload_drain);
  tcase_add_test(tc, test_drain_requeues);
  tcase_add_test(tc, test_burst_200);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
