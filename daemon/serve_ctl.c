/* serve_ctl.c - the control socket: JSON lines over a Unix socket.
 *
 * One request per line ({"cmd":"status"}), one response line each. The peer
 * is checked with SO_PEERCRED (root, the daemon's own uid, or a member of
 * socket_group). Malformed, oversized or half-sent requests get a JSON error;
 * nothing a client sends can stop the daemon. */
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/report.h"
#include "daemon/serve.h"

#ifndef FLTBLAME_VERSION
#define FLTBLAME_VERSION "0.0.0"
#endif

struct client;

struct serve_ctl {
  uv_pipe_t server;
  gid_t group;
  int nclients;
  struct client *clients; /* open connections, closed on shutdown */
};

struct client {
  struct client *next, *prev;
  uv_pipe_t pipe;
  uv_timer_t timer;
  struct serve *s;
  char *buf;
  size_t len, cap;
  int closing;
  int handles;
  uid_t uid;
};

/* ---- JSON helpers ---- */

/* A JSON string even from bytes that are not UTF-8 (a customer's file name in
 * a legacy code page): such bytes become '?'. */
static json_t *jstr(const char *s) {
  json_t *v = json_string(s ? s : "");
  if (v == NULL) {
    char *c = strdup(s);
    if (c == NULL)
      return json_string("");
    for (char *p = c; *p; p++)
      if ((unsigned char)*p >= 0x80)
        *p = '?';
    v = json_string(c);
    free(c);
  }
  return v;
}

static void iso_time(double t, char *buf, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (t <= 0) {
    snprintf(buf, n, "%s", "");
    return;
  }
  gmtime_r(&tt, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *job_json(const struct job_row *r) {
  json_t *o = json_object();
  char t[32];
  json_object_set_new(o, "id", json_integer(r->id));
  json_object_set_new(o, "state", json_string(job_state_name(r->state)));
  json_object_set_new(o, "path", jstr(r->path));
  json_object_set_new(o, "customer", jstr(r->customer));
  json_object_set_new(o, "size", json_integer(r->size));
  json_object_set_new(o, "sha256", json_string(r->sha256));
  json_object_set_new(o, "attempts", json_integer(r->attempts));
  json_object_set_new(o, "version", json_integer(r->version));
  iso_time(r->created, t, sizeof(t));
  json_object_set_new(o, "created", json_string(t));
  iso_time(r->started, t, sizeof(t));
  json_object_set_new(o, "started", json_string(t));
  iso_time(r->finished, t, sizeof(t));
  json_object_set_new(o, "finished", json_string(t));
  json_object_set_new(o, "verdict", jstr(r->verdict_path));
  json_object_set_new(o, "error", jstr(r->error));
  json_object_set_new(o, "duplicate_of", json_integer(r->duplicate_of));
  json_object_set_new(o, "findings", json_integer(r->findings));
  json_object_set_new(o, "confirmed", json_integer(r->confirmed));
  json_object_set_new(o, "filter", jstr(r->filter));
  json_object_set_new(o, "vendor", jstr(r->vendor));
  json_object_set_new(o, "confidence", jstr(r->confidence));
  json_object_set_new(o, "fail_path", jstr(r->fail_path));
  json_object_set_new(o, "fail_process", jstr(r->fail_process));
  return o;
}

static json_t *error_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error_json(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  json_t *o = json_object();
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  json_object_set_new(o, "ok", json_false());
  json_object_set_new(o, "error", jstr(msg));
  return o;
}

static json_t *ok_json(void) {
  json_t *o = json_object();
  json_object_set_new(o, "ok", json_true());
  return o;
}

/* ---- commands ---- */

static json_t *cmd_status(struct serve *s) {
  json_t *o = ok_json(), *jobs = json_object(), *workers = json_object(), *tp = json_object();
  int64_t c[JOB_NSTATES];
  double now = serve_now();
  struct watch_stats ws;

  jobs_count_states(s->jobs, c);
  for (int i = 0; i < JOB_NSTATES; i++)
    json_object_set_new(jobs, job_state_name(i), json_integer(c[i]));
  json_object_set_new(o, "version", json_string(FLTBLAME_VERSION));
  json_object_set_new(o, "pid", json_integer(getpid()));
  json_object_set_new(o, "uptime", json_real(now - s->start_time));
  json_object_set_new(o, "draining", json_boolean(s->draining));
  json_object_set_new(o, "queue", json_integer(c[JOB_QUEUED]));
  json_object_set_new(workers, "max", json_integer(s->cfg.workers));
  json_object_set_new(workers, "busy", json_integer(s->nrun));
  json_object_set_new(o, "workers", workers);
  json_object_set_new(o, "jobs", jobs);
  json_object_set_new(tp, "done_since_start", json_integer((json_int_t)s->done_count));
  json_object_set_new(tp, "failed_since_start", json_integer((json_int_t)s->failed_count));
  json_object_set_new(tp, "finished_last_minute", json_integer(jobs_count_finished_since(s->jobs, now - 60)));
  json_object_set_new(tp, "finished_last_hour", json_integer(jobs_count_finished_since(s->jobs, now - 3600)));
  json_object_set_new(
      tp, "per_minute_since_start",
      json_real((double)(s->done_count + s->failed_count) * 60 / (now - s->start_time + 1e-9)));
  json_object_set_new(o, "throughput", tp);
  if (s->watch) {
    json_t *w = json_object();
    watch_get_stats(s->watch, &ws);
    json_object_set_new(w, "dirs", json_integer((json_int_t)ws.dirs));
    json_object_set_new(w, "pending", json_integer((json_int_t)ws.pending));
    json_object_set_new(w, "events", json_integer((json_int_t)ws.events));
    json_object_set_new(w, "overflows", json_integer((json_int_t)ws.overflows));
    json_object_set_new(w, "rescans", json_integer((json_int_t)ws.rescans));
    json_object_set_new(o, "watch", w);
  }
  return o;
}

static int add_row(const struct job_row *r, void *user) {
  json_array_append_new(user, job_json(r));
  return 0;
}

/* "since": unix seconds, or "YYYY-MM-DD[THH:MM[:SS]]" in UTC. */
static int parse_since(json_t *v, double *out) {
  if (v == NULL || json_is_null(v)) {
    *out = 0;
    return 0;
  }
  if (json_is_number(v)) {
    *out = json_number_value(v);
    return 0;
  }
  if (json_is_string(v)) {
    struct tm tm;
    const char *p;
    memset(&tm, 0, sizeof(tm));
    p = strptime(json_string_value(v), "%Y-%m-%d", &tm);
    if (p == NULL)
      return -1;
    if (*p == 'T' || *p == ' ') {
      const char *q = strptime(p + 1, "%H:%M", &tm);
      if (q == NULL)
        return -1;
      p = q;
      if (*p == ':' && (q = strptime(p + 1, "%S", &tm)) != NULL)
        p = q;
    }
    if (*p == 'Z')
      p++;
    if (*p != '\0')
      return -1;
    *out = (double)timegm(&tm);
    return 0;
  }
  return -1;
}

static json_t *cmd_list(struct serve *s, json_t *req) {
  json_t *st = json_object_get(req, "state"), *lim = json_object_get(req, "limit");
  int state = -1;
  int limit = 1000;
  double since;
  json_t *o, *arr;

  if (st != NULL && !json_is_null(st)) {
    if (!json_is_string(st) || (state = job_state_parse(json_string_value(st))) < 0)
      return error_json("list: state must be one of queued, running, done, failed, cancelled");
  }
  if (parse_since(json_object_get(req, "since"), &since) < 0)
    return error_json("list: since must be unix seconds or YYYY-MM-DD[THH:MM[:SS]] (UTC)");
  if (json_is_integer(lim) && json_integer_value(lim) > 0 && json_integer_value(lim) <= 100000)
    limit = (int)json_integer_value(lim);
  arr = json_array();
  if (jobs_list(s->jobs, state, since, limit, add_row, arr) < 0) {
    json_decref(arr);
    return error_json("list: job index: %s", jobs_errmsg(s->jobs));
  }
  o = ok_json();
  json_object_set_new(o, "count", json_integer((json_int_t)json_array_size(arr)));
  json_object_set_new(o, "jobs", arr);
  return o;
}

static int job_id_of(json_t *req, int64_t *id) {
  json_t *v = json_object_get(req, "id");
  if (json_is_integer(v) && json_integer_value(v) > 0) {
    *id = json_integer_value(v);
    return 0;
  }
  if (json_is_string(v)) {
    char *end;
    long long l = strtoll(json_string_value(v), &end, 10);
    if (*end == '\0' && l > 0) {
      *id = l;
      return 0;
    }
  }
  return -1;
}

static json_t *cmd_show(struct serve *s, json_t *req) {
  struct job_row *r;
  int64_t id;
  json_t *o;
  int rc;

  if (job_id_of(req, &id) < 0)
    return error_json("show: needs a job id");
  if ((r = malloc(sizeof(*r))) == NULL)
    return error_json("out of memory");
  rc = jobs_get(s->jobs, id, r);
  if (rc <= 0) {
    free(r);
    return rc == 0 ? error_json("no job %lld", (long long)id)
                   : error_json("job index: %s", jobs_errmsg(s->jobs));
  }
  o = ok_json();
  json_object_set_new(o, "job", job_json(r));
  free(r);
  return o;
}

static json_t *cmd_cancel(struct serve *s, json_t *req) {
  int64_t id;
  int rc;
  json_t *o;
  if (job_id_of(req, &id) < 0)
    return error_json("cancel: needs a job id");
  rc = serve_cancel(s, id);
  if (rc < 0)
    return error_json("cancel: job index: %s", jobs_errmsg(s->jobs));
  if (rc > 0)
    return error_json("cancel: job %lld is not queued or running", (long long)id);
  o = ok_json();
  json_object_set_new(o, "id", json_integer(id));
  return o;
}

static json_t *cmd_reprocess(struct serve *s, json_t *req) {
  struct job_row *r = malloc(sizeof(*r));
  json_t *path = json_object_get(req, "path");
  int64_t id = 0;
  int rc;
  json_t *o;

  if (r == NULL)
    return error_json("out of memory");
  if (json_is_string(path)) {
    char abs[2048];
    const char *p = json_string_value(path);
    if (p[0] != '/')
      snprintf(abs, sizeof(abs), "%s/%s", s->cfg.upload_dir, p);
    else
      snprintf(abs, sizeof(abs), "%s", p);
    rc = jobs_get_by_path(s->jobs, abs, r);
    if (rc == 0) { /* a file the watcher never took (or no longer knows): a new job */
      char err[1200];
      id = serve_enqueue(s, abs, err, sizeof(err));
      free(r);
      if (id < 0)
        return error_json("reprocess: %s", err);
      o = ok_json();
      json_object_set_new(o, "id", json_integer(id));
      json_object_set_new(o, "new", json_true());
      return o;
    }
    id = r->id;
  } else if (job_id_of(req, &id) < 0) {
    free(r);
    return error_json("reprocess: needs a job id or a path");
  }
  free(r);
  rc = serve_reprocess(s, id);
  if (rc < 0)
    return error_json("reprocess: job index: %s", jobs_errmsg(s->jobs));
  if (rc > 0)
    return error_json("reprocess: job %lld does not exist or is queued or running", (long long)id);
  o = ok_json();
  json_object_set_new(o, "id", json_integer(id));
  return o;
}

static json_t *cmd_report(struct serve *s, json_t *req) {
  json_t *d = json_object_get(req, "date");
  const char *date = json_is_string(d) ? json_string_value(d) : "yesterday";
  struct report_paths p;
  struct report_totals t;
  char err[1024];
  json_t *o;

  if (d != NULL && !json_is_string(d))
    return error_json("report: date must be a string YYYY-MM-DD");
  if (report_write(s->jobs, date, s->cfg.report_dir, &p, &t, err, sizeof(err)) < 0)
    return error_json("report: %s", err);
  o = ok_json();
  json_object_set_new(o, "html", jstr(p.html));
  json_object_set_new(o, "csv", jstr(p.csv));
  json_object_set_new(o, "json", jstr(p.json));
  json_object_set_new(o, "jobs", json_integer(t.jobs));
  json_object_set_new(o, "done", json_integer(t.done));
  json_object_set_new(o, "failed", json_integer(t.failed));
  return o;
}

static json_t *handle_request(struct serve *s, const char *line, size_t len) {
  json_error_t e;
  json_t *req = json_loadb(line, len, 0, &e);
  json_t *cmd, *resp;
  const char *c;

  if (req == NULL)
    return error_json("malformed request: %s (line %d, column %d)", e.text, e.line, e.column);
  cmd = json_object_get(req, "cmd");
  if (!json_is_object(req) || !json_is_string(cmd)) {
    json_decref(req);
    return error_json("malformed request: expected an object with a \"cmd\" string");
  }
  c = json_string_value(cmd);
  if (!strcmp(c, "status"))
    resp = cmd_status(s);
  else if (!strcmp(c, "list"))
    resp = cmd_list(s, req);
  else if (!strcmp(c, "show"))
    resp = cmd_show(s, req);
  else if (!strcmp(c, "cancel"))
    resp = cmd_cancel(s, req);
  else if (!strcmp(c, "reprocess"))
    resp = cmd_reprocess(s, req);
  else if (!strcmp(c, "report"))
    resp = cmd_report(s, req);
  else
    resp = error_json("unknown command '%s' (status, list, show, reprocess, cancel, report)", c);
  json_decref(req);
  return resp;
}

/* ---- connections ---- */

static void client_closed(uv_handle_t *h) {
  struct client *c = h->data;
  if (--c->handles == 0) {
    free(c->buf);
    free(c);
  }
}

static void client_close(struct client *c) {
  if (c->closing)
    return;
  c->closing = 1;
  c->s->ctl->nclients--;
  if (c->prev)
    c->prev->next = c->next;
  else
    c->s->ctl->clients = c->next;
  if (c->next)
    c->next->prev = c->prev;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->pipe, client_closed);
  uv_close((uv_handle_t *)&c->timer, client_closed);
}

struct write_req {
  uv_write_t req;
  struct client *c;
  int close_after;
  char data[];
};

static void on_written(uv_write_t *w, int status) {
  struct write_req *wr = (struct write_req *)w;
  if (status < 0 || wr->close_after)
    client_close(wr->c);
  free(wr);
}

static void send_json(struct client *c, json_t *o, int close_after) {
  char *s = json_dumps(o, JSON_COMPACT);
  size_t n = s ? strlen(s) : 0;
  struct write_req *wr;
  uv_buf_t b;

  json_decref(o);
  if (c->closing || (wr = malloc(sizeof(*wr) + n + 1)) == NULL) {
    free(s);
    return;
  }
  memcpy(wr->data, s, n);
  wr->data[n] = '\n';
  free(s);
  wr->c = c;
  wr->close_after = close_after;
  b = uv_buf_init(wr->data, (unsigned)n + 1);
  if (uv_write(&wr->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0) {
    free(wr);
    client_close(c);
  }
}

static void on_timeout(uv_timer_t *t) {
  struct client *c = t->data;
  if (c->len > 0)
    send_json(c, error_json("incomplete request: no newline within %gs", c->s->cfg.ctl_timeout), 1);
  else
    client_close(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  struct client *c = h->data;
  size_t want = 4096;
  (void)suggested;
  if (c->cap - c->len < want) {
    size_t cap = c->cap ? c->cap * 2 : 8192;
    char *n;
    while (cap - c->len < want)
      cap *= 2;
    n = realloc(c->buf, cap);
    if (n == NULL) {
      *b = uv_buf_init(NULL, 0);
      return;
    }
    c->buf = n;
    c->cap = cap;
  }
  *b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  struct client *c = st->data;
  char *nl;

  (void)b;
  if (c->closing)
    return;
  if (n < 0) {
    if (n == UV_EOF && c->len > 0) /* the peer can still read after shutdown(SHUT_WR) */
      send_json(c, error_json("incomplete request: connection closed before a newline"), 1);
    else
      client_close(c);
    return;
  }
  c->len += (size_t)n;
  while (!c->closing && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
    size_t line = (size_t)(nl - c->buf);
    if (line > c->s->cfg.ctl_max_request) {
      send_json(c, error_json("request too large: more than %zu bytes", c->s->cfg.ctl_max_request), 1);
      return;
    }
    if (line > 0 && !(line == 1 && c->buf[0] == '\r'))
      send_json(c, handle_request(c->s, c->buf, line), 0);
    memmove(c->buf, nl + 1, c->len - line - 1);
    c->len -= line + 1;
  }
  if (c->closing)
    return;
  if (c->len > c->s->cfg.ctl_max_request) {
    uv_read_stop(st);
    send_json(c, error_json("request too large: more than %zu bytes", c->s->cfg.ctl_max_request), 1);
    return;
  }
  uv_timer_start(&c->timer, on_timeout, (uint64_t)(c->s->cfg.ctl_timeout * 1000), 0);
}

/* May this peer use the socket? root, our own uid, or a member of socket_group. */
static int peer_allowed(struct serve *s, uid_t uid, gid_t gid) {
  gid_t groups[256];
  int ng = 256;
  struct passwd pw, *res = NULL;
  char pwbuf[4096];

  if (uid == 0 || uid == geteuid() || gid == s->ctl->group)
    return 1;
  if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) != 0 || res == NULL)
    return 0;
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ng) < 0)
    return 0;
  for (int i = 0; i < ng; i++)
    if (groups[i] == s->ctl->group)
      return 1;
  return 0;
}

static void on_connection(uv_stream_t *server, int status) {
  struct serve *s = server->data;
  struct client *c;
  struct ucred cred;
  socklen_t len = sizeof(cred);
  uv_os_fd_t fd;

  if (status < 0 || (c = calloc(1, sizeof(*c))) == NULL)
    return;
  c->s = s;
  uv_pipe_init(&s->loop, &c->pipe, 0);
  uv_timer_init(&s->loop, &c->timer);
  c->pipe.data = c->timer.data = c;
  c->handles = 2;
  s->ctl->nclients++;
  c->next = s->ctl->clients;
  if (c->next)
    c->next->prev = c;
  s->ctl->clients = c;
  if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
    client_close(c);
    return;
  }
  if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    send_json(c, error_json("cannot identify the peer"), 1);
    return;
  }
  c->uid = cred.uid;
  if (!peer_allowed(s, cred.uid, cred.gid)) {
    serve_log(s, 4, "control: refused uid %d gid %d (pid %d)", (int)cred.uid, (int)cred.gid, (int)cred.pid);
    send_json(c,
              error_json("permission denied: uid %d is neither root, the daemon's user nor in its group",
                         (int)cred.uid),
              1);
    return;
  }
  uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_read);
  uv_timer_start(&c->timer, on_timeout, (uint64_t)(s->cfg.ctl_timeout * 1000), 0);
}

int serve_ctl_start(struct serve *s, char *err, size_t errlen) {
  struct serve_ctl *ctl = calloc(1, sizeof(*ctl));
  const char *path = s->cfg.socket_path;
  int rc;

  if (ctl == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  ctl->group = getegid();
  if (s->cfg.socket_group[0]) {
    struct group *g = getgrnam(s->cfg.socket_group);
    if (g == NULL) {
      snprintf(err, errlen, "socket_group %s: no such group", s->cfg.socket_group);
      free(ctl);
      return -1;
    }
    ctl->group = g->gr_gid;
  }
  s->ctl = ctl;
  uv_pipe_init(&s->loop, &ctl->server, 0);
  ctl->server.data = s;
  unlink(path); /* a stale socket from an unclean stop */
  if ((rc = uv_pipe_bind(&ctl->server, path)) < 0 ||
      (rc = uv_listen((uv_stream_t *)&ctl->server, 64, on_connection)) < 0) {
    snprintf(err, errlen, "%s: %s", path, uv_strerror(rc));
    uv_close((uv_handle_t *)&ctl->server, NULL);
    return -1;
  }
  if (chmod(path, s->cfg.socket_mode) < 0 ||
      (s->cfg.socket_group[0] && chown(path, (uid_t)-1, ctl->group) < 0)) {
    snprintf(err, errlen, "%s: cannot set mode/group: %s", path, strerror(errno));
    uv_close((uv_handle_t *)&ctl->server, NULL);
    return -1;
  }
  return 0;
}

void serve_ctl_stop(struct serve *s) {
  if (s->ctl == NULL)
    return;
  while (s->ctl->clients)
    client_close(s->ctl->clients);
  if (!uv_is_closing((uv_handle_t *)&s->ctl->server))
    uv_close((uv_handle_t *)&s->ctl->server, NULL);
  unlink(s->cfg.socket_path);
}
