/* setuplog.c - setupact.log / setuperr.log reader (format: setuplog.h). */
#include "parsers/text/setuplog.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "parsers/view.h"

#define TS_LEN 21        /* "YYYY-MM-DD HH:MM:SS, " */
#define COMPONENT_COL 43 /* 0-based column of the 7-wide component */
#define MESSAGE_COL 50
#define LINE_MAX_COPY 2048

static const char *const phase_names[] = {"UNKNOWN",    "DOWNLEVEL",   "SAFE_OS",
                                          "FIRST_BOOT", "SECOND_BOOT", "UNINSTALL"};

/* Operation names, indexed by the extend code's last two hex digits. */
static const char *const operation_names[] = {
    "unknown",
    "copy payload",
    "download updates",
    "install updates",
    "install recovery environment",
    "install recovery image",
    "replicate OC",
    "install drivers",
    "prepare safe OS",
    "prepare rollback",
    "prepare first boot",
    "prepare OOBE boot",
    "apply image",
    "migrate data",
    "set product key",
    "add unattend",
    "add driver",
    "enable feature",
    "disable feature",
    "register async process",
    "register sync process",
    "create file",
    "create registry",
    "boot",
    "sysprep",
    "OOBE",
    "begin first boot",
    "end first boot",
    "begin OOBE boot",
    "end OOBE boot",
    "pre-OOBE",
    "post-OOBE",
    "add provisioning package",
};

const char *setup_phase_name(uint32_t extend) {
  uint32_t phase = extend >> 16;

  if (extend > 0xFFFFF || phase >= sizeof(phase_names) / sizeof(phase_names[0]))
    return "UNKNOWN";
  return phase_names[phase];
}

const char *setup_operation_name(uint32_t extend) {
  uint32_t op = extend & 0xFF;

  if (extend > 0xFFFFF || op >= sizeof(operation_names) / sizeof(operation_names[0]))
    return "unknown";
  return operation_names[op];
}

const char *setup_extend_describe(uint32_t extend, char *buf, size_t size) {
  snprintf(buf, size, "%s / %s", setup_phase_name(extend), setup_operation_name(extend));
  return buf;
}

/* A crash block being collected. */
struct crash_state {
  int open;
  uint32_t code;
  uint64_t params[4];
  uint64_t line, offset, time;
  char module[128];
  char text[256];
};

struct parser {
  const char *file;
  const struct ev_sink *sink;
  struct setuplog_summary *s;
  struct crash_state crash;
  uint64_t line;   /* current line number, 1-based */
  uint64_t offset; /* byte offset of the current line */
  uint64_t time;   /* of the last timestamped line */
  int level;       /* 'I', 'W', 'E', 'F', '?' of the current line; 0 continuation */
  char text[LINE_MAX_COPY];
};

static int is_digits(const char *p, int n) {
  for (int i = 0; i < n; i++)
    if (!isdigit((unsigned char)p[i]))
      return 0;
  return 1;
}

/* "YYYY-MM-DD HH:MM:SS, " */
static int has_timestamp(const char *p, size_t n) {
  return n >= TS_LEN && is_digits(p, 4) && p[4] == '-' && is_digits(p + 5, 2) && p[7] == '-' &&
         is_digits(p + 8, 2) && p[10] == ' ' && is_digits(p + 11, 2) && p[13] == ':' &&
         is_digits(p + 14, 2) && p[16] == ':' && is_digits(p + 17, 2) && p[19] == ',' && p[20] == ' ';
}

static int num(const char *p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++)
    v = v * 10 + (p[i] - '0');
  return v;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int y, int m, int d) {
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static uint64_t timestamp_filetime(const char *p) {
  int y = num(p, 4), mo = num(p + 5, 2), d = num(p + 8, 2);
  int64_t secs;

  if (mo < 1 || mo > 12 || d < 1 || d > 31)
    return 0;
  secs = days_from_civil(y, mo, d) * 86400 + num(p + 11, 2) * 3600 + num(p + 14, 2) * 60 + num(p + 17, 2);
  secs += 11644473600LL; /* 1601 -> 1970 */
  return secs < 0 ? 0 : (uint64_t)secs * 10000000u;
}

/* Hex digits at p (after "0x"), at most max; returns the count, value in *v. */
static int parse_hex(const char *p, int max, uint64_t *v) {
  int n = 0;

  *v = 0;
  while (n < max && isxdigit((unsigned char)p[n])) {
    int c = tolower((unsigned char)p[n]);
    *v = (*v << 4) | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    n++;
  }
  return n;
}

static void copy_trim(char *dst, size_t size, const char *src, size_t n) {
  while (n > 0 && isspace((unsigned char)*src))
    src++, n--;
  while (n > 0 && isspace((unsigned char)src[n - 1]))
    n--;
  if (n >= size)
    n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static void count_component(struct setuplog_summary *s, const char *name) {
  for (uint32_t i = 0; i < s->ncomponents; i++)
    if (strcmp(s->components[i].name, name) == 0) {
      s->components[i].count++;
      return;
    }
  if (s->ncomponents < SETUPLOG_MAX_COMPONENTS) {
    snprintf(s->components[s->ncomponents].name, sizeof(s->components[0].name), "%s", name);
    s->components[s->ncomponents++].count = 1;
  }
}

uint64_t setuplog_component_count(const struct setuplog_summary *sum, const char *name) {
  for (uint32_t i = 0; i < sum->ncomponents; i++)
    if (strcmp(sum->components[i].name, name) == 0)
      return sum->components[i].count;
  return 0;
}

static void fact_init(struct parser *ps, struct ev_fact *f, enum ev_fact_kind kind, uint64_t line,
                      uint64_t offset, uint64_t time) {
  memset(f, 0, sizeof(*f));
  f->origin = (struct ev_origin){ps->file, "setupact", line, offset};
  f->kind = kind;
  f->time = time;
  f->path = ps->file;
}

static int emit(struct parser *ps, const struct ev_fact *f) {
  if (ps->sink && ps->sink->fact && ps->sink->fact(ps->sink->ctx, f))
    return FB_ESTOP;
  return 0;
}

static int crash_flush(struct parser *ps) {
  struct crash_state *c = &ps->crash;
  struct ev_fact f;

  if (!c->open)
    return 0;
  c->open = 0;
  ps->s->crashes++;
  ps->s->crash_code = c->code;
  memcpy(ps->s->crash_params, c->params, sizeof(c->params));
  snprintf(ps->s->crash_module, sizeof(ps->s->crash_module), "%s", c->module);
  ps->s->crash_line = c->line;
  fact_init(ps, &f, EV_FACT_SETUP_CRASH, c->line, c->offset, c->time);
  f.code = c->code;
  memcpy(f.params, c->params, sizeof(f.params));
  f.subject = c->module[0] ? c->module : NULL;
  f.text = c->text;
  return emit(ps, &f);
}

/* The rollback crash block: "Crash 0x0000007E detected", then "Module name :"
 * and "Bugcheck parameter N : 0x..." lines. Returns 1 if m belonged to it. */
static int crash_line(struct parser *ps, const char *m, int *rc) {
  struct crash_state *c = &ps->crash;
  uint64_t v;
  const char *colon;

  *rc = 0;
  if (strncmp(m, "Crash 0x", 8) == 0 && strstr(m, "detected") != NULL) {
    int n = parse_hex(m + 8, 8, &v);
    if (n == 0)
      return 0;
    *rc = crash_flush(ps);
    memset(c, 0, sizeof(*c));
    c->open = 1;
    c->code = (uint32_t)v;
    c->line = ps->line;
    c->offset = ps->offset;
    c->time = ps->time;
    copy_trim(c->text, sizeof(c->text), ps->text, strlen(ps->text));
    return 1;
  }
  if (!c->open)
    return 0;
  colon = strchr(m, ':');
  if (strncmp(m, "Module name", 11) == 0 && colon) {
    copy_trim(c->module, sizeof(c->module), colon + 1, strlen(colon + 1));
    return 1;
  }
  if (strncmp(m, "Bugcheck parameter ", 19) == 0 && m[19] >= '1' && m[19] <= '4' && colon) {
    const char *h = colon + 1;
    while (*h == ' ')
      h++;
    if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X') && parse_hex(h + 2, 16, &v) > 0)
      c->params[m[19] - '1'] = v;
    return 1;
  }
  *rc = crash_flush(ps);
  return 0;
}

static void phase_change(struct parser *ps, const char *m) {
  struct setuplog_summary *s = ps->s;
  const char *a = strchr(m, '['), *ae, *b, *be;

  if (a == NULL || (ae = strchr(a, ']')) == NULL || (b = strchr(ae, '[')) == NULL ||
      (be = strchr(b, ']')) == NULL)
    return;
  s->phase_changes++;
  if (s->nphases < SETUPLOG_MAX_PHASES) {
    struct setuplog_phase_change *pc = &s->phases[s->nphases++];
    pc->line = ps->line;
    copy_trim(pc->from, sizeof(pc->from), a + 1, (size_t)(ae - a - 1));
    copy_trim(pc->to, sizeof(pc->to), b + 1, (size_t)(be - b - 1));
  }
}

/* "0xC1900101 - 0x40017" and "0xC1900101-0x4001E": an HRESULT with a
 * 5-hex-digit extend code. */
static int result_pairs(struct parser *ps, const char *m) {
  const char *p = m;
  uint64_t r, x;

  while ((p = strstr(p, "0x")) != NULL) {
    const char *q;
    int n = parse_hex(p + 2, 9, &r), k;
    p += 2;
    if (n != 8 || !(r & 0x80000000u))
      continue;
    q = p + 8;
    while (*q == ' ')
      q++;
    if (*q != '-')
      continue;
    q++;
    while (*q == ' ')
      q++;
    if (q[0] != '0' || (q[1] != 'x' && q[1] != 'X'))
      continue;
    k = parse_hex(q + 2, 9, &x);
    if (k == 0 || k > 5)
      continue;
    {
      struct setuplog_summary *s = ps->s;
      struct ev_fact f;
      int rc;
      s->results++;
      s->result = (uint32_t)r;
      s->extend = (uint32_t)x;
      s->result_line = ps->line;
      setup_extend_describe((uint32_t)x, s->phase_operation, sizeof(s->phase_operation));
      fact_init(ps, &f, EV_FACT_SETUP_RESULT, ps->line, ps->offset, ps->time);
      f.code = (uint32_t)r;
      f.extra_code = (uint32_t)x;
      f.subject = s->phase_operation;
      f.text = ps->text;
      if ((rc = emit(ps, &f)) < 0)
        return rc;
    }
    p = q + 2 + k;
  }
  return 0;
}

/* MOUPG error chains: "Class::Method(line): Result = 0x80070032". */
static void moupg_result(struct parser *ps, const char *m) {
  const char *r = strstr(m, "): Result = 0x");
  uint64_t v;

  if (r == NULL || parse_hex(r + 14, 8, &v) != 8)
    return;
  ps->s->final_result = (uint32_t)v;
  ps->s->final_result_line = ps->line;
  copy_trim(ps->s->final_result_where, sizeof(ps->s->final_result_where), m, (size_t)(r - m + 1));
}

static void failed_operation(struct parser *ps, const char *m) {
  const char *p = strstr(m, "Operation failed: ");
  const char *e;

  if (p == NULL)
    return;
  p += 18;
  e = strstr(p, ". Error");
  copy_trim(ps->s->last_failed_operation, sizeof(ps->s->last_failed_operation), p,
            e ? (size_t)(e - p) : strlen(p));
}

static int message(struct parser *ps, const char *m) {
  int rc;
  struct ev_fact f;

  if (crash_line(ps, m, &rc))
    return rc;
  if (rc < 0)
    return rc;
  if (strncmp(m, "Setup phase change: ", 20) == 0) {
    uint32_t before = ps->s->nphases;
    phase_change(ps, m);
    if (ps->s->nphases > before) {
      char subject[128];
      const struct setuplog_phase_change *pc = &ps->s->phases[before];
      snprintf(subject, sizeof(subject), "setup phase: %s -> %s", pc->from, pc->to);
      fact_init(ps, &f, EV_FACT_OTHER, ps->line, ps->offset, ps->time);
      f.subject = subject;
      f.text = ps->text;
      if ((rc = emit(ps, &f)) < 0)
        return rc;
    }
  }
  if (strstr(m, "will be generated in case of bugcheck") != NULL)
    ps->s->dump_prepared++;
  moupg_result(ps, m);
  failed_operation(ps, m);
  return result_pairs(ps, m);
}

static void level_count(struct parser *ps, const char *p, size_t n) {
  struct setuplog_summary *s = ps->s;

  if (n >= 11 && memcmp(p, "Fatal Error", 11) == 0)
    s->fatal++, ps->level = 'F';
  else if (n >= 5 && memcmp(p, "Info ", 5) == 0)
    s->info++, ps->level = 'I';
  else if (n >= 8 && memcmp(p, "Warning ", 8) == 0)
    s->warning++, ps->level = 'W';
  else if (n >= 6 && memcmp(p, "Error ", 6) == 0)
    s->error++, ps->level = 'E';
  else
    s->other_level++, ps->level = '?';
}

static int one_line(struct parser *ps, const char *p, size_t n) {
  struct setuplog_summary *s = ps->s;
  char comp[8];
  const char *m;
  size_t mn;

  copy_trim(ps->text, sizeof(ps->text), p, n);
  if (!has_timestamp(p, n)) {
    s->continuation++;
    ps->level = 0;
    return message(ps, ps->text);
  }
  s->timestamped++;
  ps->time = timestamp_filetime(p);
  if (s->first_time[0] == '\0')
    memcpy(s->first_time, p, 19);
  memcpy(s->last_time, p, 19);
  level_count(ps, p + TS_LEN, n - TS_LEN);
  {
    const char *q = p + TS_LEN, *end = p + n;
    while (q < end && *q != ' ')
      q++;
    while (q < end && *q == ' ')
      q++;
    if (end - q >= 3 && memcmp(q, "[0x", 3) == 0 && memchr(q, ']', (size_t)(end - q)) != NULL)
      s->with_msgid++;
  }
  if (n > COMPONENT_COL && p[COMPONENT_COL - 1] == ' ') {
    copy_trim(comp, sizeof(comp), p + COMPONENT_COL,
              n >= MESSAGE_COL ? MESSAGE_COL - COMPONENT_COL : n - COMPONENT_COL);
    m = n > MESSAGE_COL ? p + MESSAGE_COL : p + n;
  } else {
    comp[0] = '\0';
    m = p + (n > COMPONENT_COL ? COMPONENT_COL : n);
  }
  count_component(s, comp);
  mn = (size_t)(p + n - m);
  {
    char msg[LINE_MAX_COPY];
    copy_trim(msg, sizeof(msg), m, mn);
    return message(ps, msg);
  }
}

int setuplog_sniff(const void *data, size_t size) {
  const char *p = data;

  if (size >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3, size -= 3;
  return has_timestamp(p, size) && size > TS_LEN && isalpha((unsigned char)p[TS_LEN]);
}

/* Setup logs are recognised by line shape, not by name: %windir%\setupact.log
 * (class installers) has the same name and no timestamps. */
static int looks_like_setup_log(const char *p, size_t size) {
  size_t pos = 0;
  int lines = 0;

  while (pos < size && lines < 64) {
    const char *nl = memchr(p + pos, '\n', size - pos);
    size_t n = nl ? (size_t)(nl - (p + pos)) : size - pos;
    if (has_timestamp(p + pos, n) && n > TS_LEN && isalpha((unsigned char)p[pos + TS_LEN]))
      return 1;
    lines++;
    pos += n + 1;
  }
  return 0;
}

int setuplog_parse(const void *data, size_t size, const char *file, const struct ev_sink *sink,
                   struct setuplog_summary *sum, struct fb_error *err) {
  struct setuplog_summary local;
  struct parser ps;
  const char *p = data;
  size_t pos = 0;
  int rc = 0;

  if (err)
    fb_error_init(err, file);
  if (sum == NULL)
    sum = &local;
  memset(sum, 0, sizeof(*sum));
  memset(&ps, 0, sizeof(ps));
  ps.file = file;
  ps.sink = sink;
  ps.s = sum;
  if (size >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
    sum->bom = 1;
    pos = 3;
  }
  if (!looks_like_setup_log(p + pos, size - pos))
    return fb_error_set(
        err, FB_EFORMAT, 0,
        "not a Windows Setup log: no line of the first 64 starts with \"YYYY-MM-DD HH:MM:SS, Level\"");
  while (pos < size) {
    const char *nl = memchr(p + pos, '\n', size - pos);
    size_t n = nl ? (size_t)(nl - (p + pos)) : size - pos;
    size_t len = n;
    if (len > 0 && p[pos + len - 1] == '\r')
      len--;
    if (sum->lines == 0)
      sum->crlf = len < n;
    sum->lines++;
    ps.line = sum->lines;
    ps.offset = pos;
    rc = one_line(&ps, p + pos, len);
    if (rc < 0)
      break;
    pos += n + (nl ? 1 : 0);
  }
  if (rc == 0)
    rc = crash_flush(&ps);
  if (rc == 0 && sum->final_result != 0) {
    struct ev_fact f;
    fact_init(&ps, &f, EV_FACT_SETUP_RESULT, sum->final_result_line, EV_UNKNOWN_U64, 0);
    f.code = sum->final_result;
    f.extra_code = EV_UNKNOWN_U32;
    f.subject = "final result";
    f.text = sum->final_result_where;
    rc = emit(&ps, &f);
  }
  if (rc < 0)
    return fb_error_set(err, rc, ps.offset, "stopped by the evidence consumer");
  return 0;
}

int setuplog_parse_file(const char *path, const struct ev_sink *sink, struct setuplog_summary *sum,
                        struct fb_error *err) {
  struct fb_view v;
  int rc = fb_view_open(&v, path, err);

  if (rc < 0)
    return rc;
  rc = setuplog_parse(v.data, v.size, path, sink, sum, err);
  fb_view_close(&v);
  return rc;
}
