/* pml_csv.c - Procmon's CSV export, column by column (pml-format.md §9). */
#include "parsers/pml/pml_csv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "parsers/pml/pml.h"

#define FILETIME_UNIX_EPOCH 116444736000000000ULL
#define TICKS_PER_SECOND 10000000ULL

static const char *const column_names[PML_COL_COUNT] = {
    "Time of Day",     "Process Name", "PID",         "Operation",         "Path",
    "Result",          "Detail",       "Date & Time", "Relative Time",     "Duration",
    "Completion Time", "Event Class",  "Sequence",    "Image Path",        "Company",
    "Description",     "Version",      "User",        "Authentication ID", "Session",
    "Command Line",    "TID",          "Virtualized", "Integrity",         "Category",
    "Parent PID",      "Architecture", "Stack",
};

struct pml_csv {
  struct pml_file *file;
  struct pml_csv_options opt;
  uint64_t first_time; /* Relative Time counts from the first event */
  struct fb_strbuf field;
  /* Zone offset cache: events come in time order, so one minute's offset
   * serves many rows (zone offsets change on minute boundaries). */
  int64_t cached_minute;
  int32_t cached_offset;
};

const char *pml_column_name(int column) {
  return column >= 0 && column < PML_COL_COUNT ? column_names[column] : "";
}

int pml_column_lookup(const char *name) {
  for (int i = 0; i < PML_COL_COUNT; i++)
    if (strcasecmp(name, column_names[i]) == 0)
      return i;
  return -1;
}

void pml_csv_options_default(struct pml_csv_options *o) {
  memset(o, 0, sizeof(*o));
  for (int i = 0; i <= PML_COL_DETAIL; i++)
    o->columns[o->ncolumns++] = i;
  o->tz_mode = PML_TZ_FIXED;
  o->locale = PML_LOCALE_EN_US;
}

static void trim(const char **s, const char **e) {
  while (*s < *e && isspace((unsigned char)**s))
    (*s)++;
  while (*e > *s && isspace((unsigned char)(*e)[-1]))
    (*e)--;
}

int pml_csv_columns_parse(struct pml_csv_options *o, const char *spec, char *msg, size_t msg_size) {
  const char *p = spec;

  if (strcasecmp(spec, "all") == 0) {
    o->ncolumns = 0;
    for (int i = 0; i < PML_COL_PROCMON_COUNT; i++)
      o->columns[o->ncolumns++] = i;
    return 0;
  }
  o->ncolumns = 0;
  while (*p) {
    const char *s = p, *e = strchr(p, ',');
    char name[64];
    int col;
    if (e == NULL)
      e = p + strlen(p);
    p = *e ? e + 1 : e;
    trim(&s, &e);
    if (s == e)
      continue;
    snprintf(name, sizeof(name), "%.*s", (int)(e - s), s);
    col = pml_column_lookup(name);
    if (col < 0) {
      snprintf(msg, msg_size, "unknown column '%s' (see --help for the names)", name);
      return -1;
    }
    if (o->ncolumns >= (int)(sizeof(o->columns) / sizeof(o->columns[0]))) {
      snprintf(msg, msg_size, "too many columns");
      return -1;
    }
    o->columns[o->ncolumns++] = col;
  }
  if (o->ncolumns == 0) {
    snprintf(msg, msg_size, "no columns given");
    return -1;
  }
  return 0;
}

static int zone_exists(const char *name) {
  const char *dir = getenv("TZDIR");
  char path[1024];
  struct stat st;

  if (strstr(name, "..") != NULL || name[0] == '/')
    return 0;
  snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int parse_digits(const char **p, int max_digits) {
  int v = 0, n = 0;

  while (n < max_digits && isdigit((unsigned char)**p)) {
    v = v * 10 + (**p - '0');
    (*p)++;
    n++;
  }
  return n ? v : -1;
}

int pml_csv_tz_parse(struct pml_csv_options *o, const char *spec, char *msg, size_t msg_size) {
  const char *p = spec;
  int sign, h, m = 0;

  if (strcasecmp(spec, "UTC") == 0 || strcmp(spec, "Z") == 0 || strcasecmp(spec, "GMT") == 0) {
    o->tz_mode = PML_TZ_FIXED;
    o->tz_offset = 0;
    return 0;
  }
  if (strncasecmp(p, "UTC", 3) == 0 && (p[3] == '+' || p[3] == '-'))
    p += 3;
  if (*p == '+' || *p == '-') {
    sign = *p++ == '-' ? -1 : 1;
    h = parse_digits(&p, 2);
    if (*p == ':')
      p++;
    if (*p)
      m = parse_digits(&p, 2);
    if (h < 0 || m < 0 || *p || h > 14 || m > 59) {
      snprintf(msg, msg_size, "bad time-zone offset '%s' (use +08:00, -05:30, UTC or a zone name)", spec);
      return -1;
    }
    o->tz_mode = PML_TZ_FIXED;
    o->tz_offset = sign * (h * 3600 + m * 60);
    return 0;
  }
  if (!zone_exists(spec)) {
    snprintf(msg, msg_size,
             "unknown time zone '%s' (not in the system zoneinfo; use e.g. Asia/Shanghai or +08:00)", spec);
    return -1;
  }
  o->tz_mode = PML_TZ_ZONE;
  snprintf(o->tz_name, sizeof(o->tz_name), "%s", spec);
  return 0;
}

int pml_csv_locale_parse(struct pml_csv_options *o, const char *spec, char *msg, size_t msg_size) {
  if (strcasecmp(spec, "en-US") == 0 || strcasecmp(spec, "en_US") == 0) {
    o->locale = PML_LOCALE_EN_US;
    return 0;
  }
  if (strcasecmp(spec, "es-ES") == 0 || strcasecmp(spec, "es_ES") == 0) {
    o->locale = PML_LOCALE_ES_ES;
    return 0;
  }
  snprintf(msg, msg_size, "unknown locale '%s' (en-US or es-ES)", spec);
  return -1;
}

struct pml_csv *pml_csv_new(struct pml_file *f, const struct pml_csv_options *o) {
  struct pml_csv *c = calloc(1, sizeof(*c));
  struct pml_event ev;

  if (c == NULL)
    return NULL;
  c->file = f;
  c->opt = *o;
  c->cached_minute = INT64_MIN;
  fb_strbuf_init(&c->field);
  if (pml_header(f)->event_count > 0 && pml_event_read(f, 0, &ev, NULL) == 0)
    c->first_time = ev.time;
  if (o->tz_mode == PML_TZ_ZONE) {
    setenv("TZ", o->tz_name, 1);
    tzset();
  }
  return c;
}

void pml_csv_free(struct pml_csv *c) {
  if (c == NULL)
    return;
  fb_strbuf_free(&c->field);
  free(c);
}

/* ---- time ---- */

struct civil {
  int year, month, day, hour, minute, second;
  uint32_t ticks; /* 100 ns within the second */
};

/* Days since 1970-01-01 to y/m/d (proleptic Gregorian; Howard Hinnant's
 * well-known civil_from_days algorithm). */
static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  int64_t era, yoe, doy, mp;
  uint64_t doe;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = (uint64_t)(z - era * 146097);
  yoe = (int64_t)((doe - doe / 1460 + doe / 36524 - doe / 146096) / 365);
  doy = (int64_t)doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int32_t zone_offset(struct pml_csv *c, int64_t unix_seconds) {
  int64_t minute = unix_seconds >= 0 ? unix_seconds / 60 : (unix_seconds - 59) / 60;
  struct tm tm;
  time_t t;

  if (c->opt.tz_mode != PML_TZ_ZONE)
    return c->opt.tz_offset;
  if (minute == c->cached_minute)
    return c->cached_offset;
  t = (time_t)(minute * 60);
  c->cached_offset = localtime_r(&t, &tm) ? (int32_t)tm.tm_gmtoff : 0;
  c->cached_minute = minute;
  return c->cached_offset;
}

static void local_civil(struct pml_csv *c, uint64_t filetime, struct civil *out) {
  int64_t secs = (int64_t)(filetime / TICKS_PER_SECOND) - (int64_t)(FILETIME_UNIX_EPOCH / TICKS_PER_SECOND);
  int64_t days, rem;

  secs += zone_offset(c, secs);
  out->ticks = (uint32_t)(filetime % TICKS_PER_SECOND);
  days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  rem = secs - days * 86400;
  civil_from_days(days, &out->year, &out->month, &out->day);
  out->hour = (int)(rem / 3600);
  out->minute = (int)(rem / 60 % 60);
  out->second = (int)(rem % 60);
}

static void put_clock(struct pml_csv *c, const struct civil *t, int fraction, struct fb_strbuf *out) {
  if (c->opt.locale == PML_LOCALE_ES_ES) {
    if (fraction)
      fb_strbuf_printf(out, "%d:%02d:%02d,%07u", t->hour, t->minute, t->second, t->ticks);
    else
      fb_strbuf_printf(out, "%d:%02d:%02d", t->hour, t->minute, t->second);
    return;
  }
  {
    int h12 = t->hour % 12 == 0 ? 12 : t->hour % 12;
    const char *ampm = t->hour < 12 ? "AM" : "PM";
    if (fraction)
      fb_strbuf_printf(out, "%d:%02d:%02d.%07u %s", h12, t->minute, t->second, t->ticks, ampm);
    else
      fb_strbuf_printf(out, "%d:%02d:%02d %s", h12, t->minute, t->second, ampm);
  }
}

void pml_csv_time_of_day(struct pml_csv *c, uint64_t filetime, struct fb_strbuf *out) {
  struct civil t;

  local_civil(c, filetime, &t);
  put_clock(c, &t, 1, out);
}

void pml_csv_date_time(struct pml_csv *c, uint64_t filetime, struct fb_strbuf *out) {
  struct civil t;

  local_civil(c, filetime, &t);
  if (c->opt.locale == PML_LOCALE_ES_ES)
    fb_strbuf_printf(out, "%02d/%02d/%d ", t.day, t.month, t.year);
  else
    fb_strbuf_printf(out, "%d/%d/%d ", t.month, t.day, t.year);
  put_clock(c, &t, 0, out);
}

static char decimal_sep(const struct pml_csv *c) {
  return c->opt.locale == PML_LOCALE_ES_ES ? ',' : '.';
}

static void relative_time(struct pml_csv *c, uint64_t filetime, struct fb_strbuf *out) {
  uint64_t d;
  const char *sign = "";

  if (filetime >= c->first_time) {
    d = filetime - c->first_time;
  } else {
    d = c->first_time - filetime;
    sign = "-";
  }
  fb_strbuf_printf(
      out, "%s%02llu:%02llu:%02llu%c%07llu", sign, (unsigned long long)(d / TICKS_PER_SECOND / 3600),
      (unsigned long long)(d / TICKS_PER_SECOND / 60 % 60), (unsigned long long)(d / TICKS_PER_SECOND % 60),
      decimal_sep(c), (unsigned long long)(d % TICKS_PER_SECOND));
}

/* Swap en-US number punctuation for es-ES in rendered text: a '.' or ','
 * between two digits is a decimal or group separator. */
static void localize_numbers(struct pml_csv *c, char *s, size_t n) {
  if (c->opt.locale != PML_LOCALE_ES_ES)
    return;
  for (size_t i = 1; i + 1 < n; i++)
    if ((s[i] == '.' || s[i] == ',') && isdigit((unsigned char)s[i - 1]) && isdigit((unsigned char)s[i + 1]))
      s[i] = s[i] == '.' ? ',' : '.';
}

/* ---- fields ---- */

static const char *str_or_empty(const char *s) {
  return s ? s : "";
}

void pml_csv_field(struct pml_csv *c, const struct pml_event *ev, int column, struct fb_strbuf *out) {
  const struct pml_process *p = ev->process;
  int pending = ev->result == 0x103;
  size_t start = out->len;

  switch (column) {
  case PML_COL_TIME_OF_DAY: pml_csv_time_of_day(c, ev->time, out); break;
  case PML_COL_PROCESS_NAME: fb_strbuf_puts(out, p ? str_or_empty(p->name) : ""); break;
  case PML_COL_PID:
    if (p)
      fb_strbuf_printf(out, "%u", p->pid);
    break;
  case PML_COL_OPERATION: pml_render_operation(c->file, ev, out); break;
  case PML_COL_PATH: pml_render_path(c->file, ev, out); break;
  case PML_COL_RESULT: pml_render_result(ev->result, out); break;
  case PML_COL_DETAIL:
    pml_render_detail(c->file, ev, out);
    if (out->s != NULL)
      localize_numbers(c, out->s + start, out->len - start);
    break;
  case PML_COL_DATE_TIME: pml_csv_date_time(c, ev->time, out); break;
  case PML_COL_RELATIVE_TIME: relative_time(c, ev->time, out); break;
  case PML_COL_DURATION:
    if (!pending)
      fb_strbuf_printf(out, "%llu%c%07llu", (unsigned long long)(ev->duration / TICKS_PER_SECOND),
                       decimal_sep(c), (unsigned long long)(ev->duration % TICKS_PER_SECOND));
    break;
  case PML_COL_COMPLETION_TIME:
    if (!pending)
      pml_csv_time_of_day(c, ev->time + ev->duration, out);
    break;
  case PML_COL_EVENT_CLASS: fb_strbuf_puts(out, pml_class_name(ev->event_class)); break;
  case PML_COL_SEQUENCE: fb_strbuf_puts(out, "n/a"); break;
  case PML_COL_IMAGE_PATH: fb_strbuf_puts(out, p ? str_or_empty(p->image_path) : ""); break;
  case PML_COL_COMPANY: fb_strbuf_puts(out, p ? str_or_empty(p->company) : ""); break;
  case PML_COL_DESCRIPTION: fb_strbuf_puts(out, p ? str_or_empty(p->description) : ""); break;
  case PML_COL_VERSION: fb_strbuf_puts(out, p ? str_or_empty(p->version) : ""); break;
  case PML_COL_USER: fb_strbuf_puts(out, p ? str_or_empty(p->user) : ""); break;
  case PML_COL_AUTH_ID:
    if (p)
      fb_strbuf_printf(out, "%08x:%08x", (unsigned)(p->auth_id >> 32), (unsigned)(p->auth_id & 0xFFFFFFFFu));
    break;
  case PML_COL_SESSION:
    if (p)
      fb_strbuf_printf(out, "%u", p->session);
    break;
  case PML_COL_COMMAND_LINE: fb_strbuf_puts(out, p ? str_or_empty(p->command_line) : ""); break;
  case PML_COL_TID: fb_strbuf_printf(out, "%u", ev->tid); break;
  case PML_COL_VIRTUALIZED:
    if (p)
      fb_strbuf_puts(out, p->virtualized ? "True" : "False");
    break;
  case PML_COL_INTEGRITY: fb_strbuf_puts(out, p ? str_or_empty(p->integrity) : ""); break;
  case PML_COL_CATEGORY: pml_render_category(c->file, ev, out); break;
  case PML_COL_PARENT_PID:
    if (p)
      fb_strbuf_printf(out, "%u", p->parent_pid);
    break;
  case PML_COL_ARCHITECTURE:
    if (p)
      fb_strbuf_puts(out, p->is_64bit ? "64-bit" : "32-bit");
    break;
  case PML_COL_STACK:
    for (uint32_t i = 0; i < ev->stack_depth; i++) {
      struct ev_frame fr;
      pml_frame_resolve(c->file, ev, i, &fr);
      if (i > 0)
        fb_strbuf_puts(out, " > ");
      if (fr.module)
        fb_strbuf_printf(out, "%s+0x%llx", fr.module, (unsigned long long)fr.offset);
      else
        fb_strbuf_printf(out, "0x%llx", (unsigned long long)fr.addr);
    }
    break;
  default: break;
  }
}

/* Append s quoted the way Procmon quotes: "..." with inner quotes doubled. */
static void put_quoted(struct fb_strbuf *out, const char *s, size_t n) {
  const char *q;

  fb_strbuf_putc(out, '"');
  while (n > 0 && (q = memchr(s, '"', n)) != NULL) {
    fb_strbuf_add(out, s, (size_t)(q - s) + 1);
    fb_strbuf_putc(out, '"');
    n -= (size_t)(q - s) + 1;
    s = q + 1;
  }
  fb_strbuf_add(out, s, n);
  fb_strbuf_putc(out, '"');
}

void pml_csv_header(struct pml_csv *c, struct fb_strbuf *out) {
  fb_strbuf_add(out, "\xEF\xBB\xBF", 3);
  for (int i = 0; i < c->opt.ncolumns; i++) {
    const char *name = pml_column_name(c->opt.columns[i]);
    if (i > 0)
      fb_strbuf_putc(out, ',');
    put_quoted(out, name, strlen(name));
  }
  fb_strbuf_putc(out, '\n');
}

void pml_csv_row(struct pml_csv *c, const struct pml_event *ev, struct fb_strbuf *out) {
  for (int i = 0; i < c->opt.ncolumns; i++) {
    fb_strbuf_reset(&c->field);
    pml_csv_field(c, ev, c->opt.columns[i], &c->field);
    if (i > 0)
      fb_strbuf_putc(out, ',');
    put_quoted(out, c->field.s ? c->field.s : "", c->field.len);
  }
  fb_strbuf_putc(out, '\n');
}
