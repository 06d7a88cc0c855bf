/* dtest.c - see dtest.h. */
#include "tests/daemon/dtest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/testutil.h"

double dtest_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}

void dtest_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static void mkdirs(const char *path) {
  char tmp[2048];
  snprintf(tmp, sizeof(tmp), "%s", path);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      mkdir(tmp, 0755);
      *p = '/';
    }
  mkdir(tmp, 0755);
}

void dtest_write(const char *path, const char *content) {
  char dir[2048];
  FILE *f;
  snprintf(dir, sizeof(dir), "%s", path);
  *strrchr(dir, '/') = '\0';
  mkdirs(dir);
  f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot write %s", path);
  fputs(content, f);
  fclose(f);
}

void dtest_init(struct dtest_daemon *d, const char *name) {
  memset(d, 0, sizeof(*d));
  snprintf(d->root, sizeof(d->root), "%s/%s", tu_tmpdir(), name);
  snprintf(d->up, sizeof(d->up), "%s/up", d->root);
  snprintf(d->out, sizeof(d->out), "%s/out", d->root);
  snprintf(d->state, sizeof(d->state), "%s/state", d->root);
  snprintf(d->reports, sizeof(d->reports), "%s/reports", d->root);
  snprintf(d->sock, sizeof(d->sock), "%s/ctl.sock", d->root);
  snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->root);
  mkdirs(d->up);
}

void dtest_start(struct dtest_daemon *d, const char *const *extra) {
  const char *argv[64];
  int n = 0;
  pid_t pid;

  argv[n++] = FB_BINARY_DIR "/daemon/fltblame";
  argv[n++] = "serve";
  argv[n++] = "--upload-dir", argv[n++] = d->up;
  argv[n++] = "--out-dir", argv[n++] = d->out;
  argv[n++] = "--state-dir", argv[n++] = d->state;
  argv[n++] = "--report-dir", argv[n++] = d->reports;
  argv[n++] = "--socket", argv[n++] = d->sock;
  argv[n++] = "--analyzer", argv[n++] = "stub";
  argv[n++] = "--quiet-period", argv[n++] = "200ms";
  argv[n++] = "--rescan-interval", argv[n++] = "1s";
  argv[n++] = "--log-level", argv[n++] = "debug";
  for (int i = 0; extra && extra[i] && n < 62; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  d->pid = pid;
  for (int i = 0; i < 200; i++) { /* up to 10 s (ASan start-up is slow) */
    json_t *a = dtest_ctl(d->sock, "{\"cmd\":\"status\"}");
    if (a != NULL) {
      json_decref(a);
      return;
    }
    dtest_sleep_ms(50);
  }
  ck_abort_msg("the daemon did not answer on %s (log %s)", d->sock, d->log);
}

int dtest_stop(struct dtest_daemon *d) {
  int status;
  if (d->pid <= 0)
    return -1;
  kill(d->pid, SIGTERM);
  for (int i = 0; i < 600; i++) {
    if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
      d->pid = 0;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    dtest_sleep_ms(50);
  }
  kill(d->pid, SIGKILL);
  waitpid(d->pid, &status, 0);
  d->pid = 0;
  return -1;
}

void dtest_kill9(struct dtest_daemon *d) {
  int status;
  kill(d->pid, SIGKILL);
  waitpid(d->pid, &status, 0);
  d->pid = 0;
}

char *dtest_ctl_raw(const char *sock, const char *bytes, size_t len, int shut_wr, int timeout_ms) {
  struct sockaddr_un a;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  char *buf = calloc(1, 1 << 23);
  size_t got = 0;

  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
  if (fd < 0 || buf == NULL || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    if (fd >= 0)
      close(fd);
    free(buf);
    return NULL;
  }
  for (size_t off = 0; off < len;) {
    ssize_t n = send(fd, bytes + off, len - off, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  if (shut_wr)
    shutdown(fd, SHUT_WR);
  while (got + 1 < (1 << 23) && memchr(buf, '\n', got) == NULL) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    if (poll(&p, 1, timeout_ms) <= 0)
      break;
    n = recv(fd, buf + got, (1 << 23) - 1 - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (got == 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

json_t *dtest_ctl(const char *sock, const char *request) {
  char line[8192];
  char *resp;
  json_t *a;
  int n = snprintf(line, sizeof(line), "%s\n", request);
  resp = dtest_ctl_raw(sock, line, (size_t)n, 0, 10000);
  if (resp == NULL)
    return NULL;
  a = json_loads(resp, JSON_DISABLE_EOF_CHECK, NULL);
  free(resp);
  return a;
}

long dtest_count(struct dtest_daemon *d, const char *state) {
  json_t *a = dtest_ctl(d->sock, "{\"cmd\":\"status\"}");
  long n = -1;
  if (a) {
    json_t *v = json_object_get(json_object_get(a, "jobs"), state);
    if (json_is_integer(v))
      n = (long)json_integer_value(v);
    json_decref(a);
  }
  return n;
}

int dtest_wait_count(struct dtest_daemon *d, const char *state, long n, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 50) {
    if (dtest_count(d, state) == n)
      return 1;
    dtest_sleep_ms(50);
  }
  return 0;
}
