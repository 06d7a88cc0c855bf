/* serve_config.c - defaults, ini file and command line for 'fltblame serve'. */
#include "daemon/serve_config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum key_type { K_PATH, K_STR, K_INT, K_DURATION, K_SIZE, K_MODE, K_ANALYZER, K_LOGLEVEL, K_HOUR };

struct key {
  const char *name;
  enum key_type type;
  size_t offset;
  size_t size; /* for strings */
  const char *help;
};

#define F(field) offsetof(struct serve_config, field), sizeof(((struct serve_config *)0)->field)

static const struct key keys[] = {
    {"upload_dir", K_PATH, F(upload_dir), "root of the SFTP uploads, one directory per customer"},
    {"out_dir", K_PATH, F(out_dir), "where verdicts go: OUT/CUSTOMER/ID-NAME/verdict.json"},
    {"state_dir", K_PATH, F(state_dir), "the job index (jobs.sqlite) lives here"},
    {"report_dir", K_PATH, F(report_dir), "where 'report' writes report-DATE.{html,csv,json}"},
    {"data_dir", K_PATH, F(data_dir), "known-filter data for the engine (empty = built in)"},
    {"socket", K_PATH, F(socket_path), "control socket path"},
    {"socket_mode", K_MODE, F(socket_mode), "control socket permission bits (octal)"},
    {"socket_group", K_STR, F(socket_group), "group owning the socket and allowed to use it"},
    {"workers", K_INT, F(workers), "analysis processes run at once"},
    {"quiet_period", K_DURATION, F(quiet_period),
     "an upload is taken after staying closed and unchanged this long"},
    {"rescan_interval", K_DURATION, F(rescan_interval),
     "full walk of the upload tree (lost events, new dirs)"},
    {"ignore_suffixes", K_STR, F(ignore_suffixes), "comma-separated name endings never taken"},
    {"analyzer", K_ANALYZER, F(analyzer), "engine (real analysis) or stub (tests and benches)"},
    {"cpu_limit", K_DURATION, F(cpu_limit), "CPU time per job"},
    {"memory_limit", K_SIZE, F(memory_limit), "memory per worker (resident)"},
    {"wall_limit", K_DURATION, F(wall_limit), "wall time per job"},
    {"max_attempts", K_INT, F(max_attempts), "runs cut short by a daemon death before a job is failed"},
    {"lang", K_STR, F(lang), "language of verdict.txt: en or zh-CN"},
    {"drain_timeout", K_DURATION, F(drain_timeout), "on SIGTERM, how long running jobs may finish"},
    {"ctl_timeout", K_DURATION, F(ctl_timeout), "a control client must send a whole request within this"},
    {"ctl_max_request", K_SIZE, F(ctl_max_request), "longest control request line"},
    {"report_hour", K_HOUR, F(report_hour),
     "hour the daemon writes yesterday's report (-1 = off, use the timer)"},
    {"log_level", K_LOGLEVEL, F(log_level), "debug, info, notice, warning or err"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

void serve_config_defaults(struct serve_config *c) {
  memset(c, 0, sizeof(*c));
  snprintf(c->upload_dir, sizeof(c->upload_dir), "/srv/fltblame/upload");
  snprintf(c->out_dir, sizeof(c->out_dir), "/var/lib/fltblame/verdicts");
  snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/fltblame");
  snprintf(c->report_dir, sizeof(c->report_dir), "/var/lib/fltblame/reports");
  snprintf(c->socket_path, sizeof(c->socket_path), "/run/fltblame/ctl.sock");
  c->socket_mode = 0660;
  c->workers = 2;
  c->quiet_period = 5;
  c->rescan_interval = 60;
  snprintf(c->ignore_suffixes, sizeof(c->ignore_suffixes),
           ".filepart,.part,.partial,.tmp,.temp,.crdownload,.download,.upload,.swp,~");
  c->analyzer = SERVE_ANALYZER_ENGINE;
  c->cpu_limit = 600;
  c->memory_limit = (uint64_t)2 << 30;
  c->wall_limit = 900;
  c->max_attempts = 3;
  snprintf(c->lang, sizeof(c->lang), "en");
  c->drain_timeout = 30;
  c->ctl_timeout = 10;
  c->ctl_max_request = 65536;
  c->report_hour = -1;
  c->log_level = 6;
}

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
  return -1;
}

int serve_parse_duration(const char *s, double *out) {
  char *end;
  double v;

  errno = 0;
  v = strtod(s, &end);
  if (end == s || errno || !isfinite(v) || v < 0)
    return -1;
  if (!strcmp(end, "") || !strcmp(end, "s"))
    *out = v;
  else if (!strcmp(end, "ms"))
    *out = v / 1000;
  else if (!strcmp(end, "m") || !strcmp(end, "min"))
    *out = v * 60;
  else if (!strcmp(end, "h"))
    *out = v * 3600;
  else
    return -1;
  return 0;
}

int serve_parse_size(const char *s, uint64_t *out) {
  char *end;
  double v;
  double mul = 1;

  errno = 0;
  v = strtod(s, &end);
  if (end == s || errno || !isfinite(v) || v < 0)
    return -1;
  if (*end == 'k' || *end == 'K')
    mul = 1024.0, end++;
  else if (*end == 'M')
    mul = 1024.0 * 1024, end++;
  else if (*end == 'G')
    mul = 1024.0 * 1024 * 1024, end++;
  if (*end == 'B' || *end == 'i')
    end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
  if (*end != '\0' || v * mul > 1e18)
    return -1;
  *out = (uint64_t)(v * mul);
  return 0;
}

static const struct key *find_key(const char *name) {
  char norm[64];
  size_t i;

  for (i = 0; name[i] && i + 1 < sizeof(norm); i++)
    norm[i] = name[i] == '-' ? '_' : name[i];
  norm[i] = '\0';
  if (!strcmp(norm, "socket_path"))
    snprintf(norm, sizeof(norm), "socket");
  for (size_t k = 0; k < NKEYS; k++)
    if (!strcmp(keys[k].name, norm))
      return &keys[k];
  return NULL;
}

static const char *level_names[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};

int serve_config_set(struct serve_config *c, const char *name, const char *value, char *err, size_t n) {
  const struct key *k = find_key(name);
  char *p;
  char *end;
  long l;

  if (k == NULL)
    return fail(err, n, "unknown key '%s'", name);
  p = (char *)c + k->offset;
  switch (k->type) {
  case K_PATH:
  case K_STR:
    if (strlen(value) >= k->size)
      return fail(err, n, "%s: value too long", k->name);
    memcpy(p, value, strlen(value) + 1);
    return 0;
  case K_INT:
    errno = 0;
    l = strtol(value, &end, 10);
    if (end == value || *end || errno || l < 0 || l > 1000000 || (!strcmp(k->name, "workers") && l < 1))
      return fail(err, n, "%s: '%s' is not a valid count", k->name, value);
    if (k->size == sizeof(int))
      *(int *)p = (int)l;
    return 0;
  case K_HOUR:
    errno = 0;
    l = strtol(value, &end, 10);
    if (end == value || *end || errno || l < -1 || l > 23)
      return fail(err, n, "%s: '%s' is not an hour (0-23, or -1 for off)", k->name, value);
    *(int *)p = (int)l;
    return 0;
  case K_DURATION:
    if (serve_parse_duration(value, (double *)p) < 0)
      return fail(err, n, "%s: '%s' is not a duration (e.g. 500ms, 5s, 2m)", k->name, value);
    return 0;
  case K_SIZE: {
    uint64_t v;
    if (serve_parse_size(value, &v) < 0 || v == 0)
      return fail(err, n, "%s: '%s' is not a size (e.g. 64K, 512M, 2G)", k->name, value);
    if (k->size == sizeof(uint64_t))
      *(uint64_t *)p = v;
    else
      *(size_t *)p = (size_t)v;
    return 0;
  }
  case K_MODE:
    errno = 0;
    l = strtol(value, &end, 8);
    if (end == value || *end || errno || l < 0 || l > 0777)
      return fail(err, n, "%s: '%s' is not an octal mode", k->name, value);
    *(unsigned *)p = (unsigned)l;
    return 0;
  case K_ANALYZER:
    if (!strcmp(value, "engine"))
      *(int *)p = SERVE_ANALYZER_ENGINE;
    else if (!strcmp(value, "stub"))
      *(int *)p = SERVE_ANALYZER_STUB;
    else
      return fail(err, n, "%s: '%s' is neither engine nor stub", k->name, value);
    return 0;
  case K_LOGLEVEL:
    for (int i = 0; i < 8; i++)
      if (!strcmp(value, level_names[i])) {
        *(int *)p = i;
        return 0;
      }
    return fail(err, n, "%s: unknown level '%s'", k->name, value);
  }
  return fail(err, n, "%s: internal error", k->name);
}

struct ini_ctx {
  struct serve_config *c;
  char *err;
  size_t errlen;
  int failed;
};

static int on_ini_line(void *user, const char *section, const char *name, const char *value) {
  struct ini_ctx *x = user;
  char e[256];

  (void)section; /* sections only group keys for the reader */
  if (x->failed)
    return 0;
  if (serve_config_set(x->c, name, value, e, sizeof(e)) < 0) {
    snprintf(x->err, x->errlen, "%s", e);
    x->failed = 1;
    return 0;
  }
  return 1;
}

int serve_config_load(struct serve_config *c, const char *path, char *err, size_t errlen) {
  struct ini_ctx x = {c, err, errlen, 0};
  char e[256] = "";
  int rc;

  x.err = e;
  x.errlen = sizeof(e);
  rc = ini_parse(path, on_ini_line, &x);
  if (rc == -1)
    return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  if (rc == -2)
    return fail(err, errlen, "%s: out of memory", path);
  if (rc > 0)
    return fail(err, errlen, "%s:%d: %s", path, rc, e[0] ? e : "syntax error");
  snprintf(c->config_file, sizeof(c->config_file), "%s", path);
  return 0;
}

int serve_config_from_args(struct serve_config *c, int argc, char **argv, int *help, char *err,
                           size_t errlen) {
  *help = 0;
  /* --config first, so options given beside it win whatever their order. */
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    if (!strcmp(argv[i], "--config"))
      v = i + 1 < argc ? argv[i + 1] : NULL;
    else if (!strncmp(argv[i], "--config=", 9))
      v = argv[i] + 9;
    else
      continue;
    if (v == NULL)
      return fail(err, errlen, "--config needs a file");
    if (serve_config_load(c, v, err, errlen) < 0)
      return -1;
  }
  for (int i = 1; i < argc; i++) {
    char name[64];
    const char *a = argv[i];
    const char *v;
    const char *eq;
    char e[256];

    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      *help = 1;
      return 0;
    }
    if (strncmp(a, "--", 2) != 0)
      return fail(err, errlen, "unexpected argument '%s'", a);
    a += 2;
    eq = strchr(a, '=');
    if (eq != NULL) {
      snprintf(name, sizeof(name), "%.*s", (int)(eq - a), a);
      v = eq + 1;
    } else {
      snprintf(name, sizeof(name), "%s", a);
      if (i + 1 >= argc)
        return fail(err, errlen, "--%s needs a value", name);
      v = argv[++i];
    }
    if (!strcmp(name, "config"))
      continue;
    if (serve_config_set(c, name, v, e, sizeof(e)) < 0)
      return fail(err, errlen, "--%s: %s", name, e);
  }
  return 0;
}

void serve_config_db_path(const struct serve_config *c, char *buf, size_t n) {
  snprintf(buf, n, "%s/jobs.sqlite", c->state_dir);
}

static int path_inside(const char *inner, const char *outer) {
  char a[SERVE_PATH_MAX], b[SERVE_PATH_MAX];
  size_t lb;

  if (realpath(inner, a) == NULL || realpath(outer, b) == NULL)
    return 0;
  lb = strlen(b);
  return strncmp(a, b, lb) == 0 && (a[lb] == '/' || a[lb] == '\0');
}

int serve_config_check(const struct serve_config *c, char *err, size_t errlen) {
  if (c->upload_dir[0] == '\0')
    return fail(err, errlen, "upload_dir is not set");
  if (path_inside(c->out_dir, c->upload_dir))
    return fail(err, errlen, "out_dir %s is inside upload_dir %s: verdicts would be taken as uploads",
                c->out_dir, c->upload_dir);
  if (path_inside(c->state_dir, c->upload_dir))
    return fail(err, errlen, "state_dir %s is inside upload_dir %s", c->state_dir, c->upload_dir);
  return 0;
}

static void print_value(FILE *out, const struct key *k, const struct serve_config *c) {
  const char *p = (const char *)c + k->offset;
  switch (k->type) {
  case K_PATH:
  case K_STR: fprintf(out, "%s", p); break;
  case K_INT:
  case K_HOUR: fprintf(out, "%d", *(const int *)p); break;
  case K_DURATION: fprintf(out, "%gs", *(const double *)p); break;
  case K_SIZE:
    fprintf(out, "%llu",
            k->size == sizeof(uint64_t) ? (unsigned long long)*(const uint64_t *)p
                                        : (unsigned long long)*(const size_t *)p);
    break;
  case K_MODE: fprintf(out, "%04o", *(const unsigned *)p); break;
  case K_ANALYZER: fprintf(out, "%s", *(const int *)p == SERVE_ANALYZER_STUB ? "stub" : "engine"); break;
  case K_LOGLEVEL: fprintf(out, "%s", level_names[*(const int *)p & 7]); break;
  }
}

void serve_config_usage(FILE *out, const struct serve_config *c) {
  for (size_t k = 0; k < NKEYS; k++) {
    char opt[64];
    size_t i;
    for (i = 0; keys[k].name[i] && i + 1 < sizeof(opt); i++)
      opt[i] = keys[k].name[i] == '_' ? '-' : keys[k].name[i];
    opt[i] = '\0';
    fprintf(out, "  --%-18s %s [", opt, keys[k].help);
    print_value(out, &keys[k], c);
    fprintf(out, "]\n");
  }
}
