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
#include "parsers/pml/pml_render_int.h"

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
  struct pml_render_opts render; /* locale, offset and Procmon version for Operation and Detail */
  char decimal_sep;              /* of the seconds' fractions: '.' or ',' */
  /* Zone offset cache: events come in time order, so one minute's offset
   * serves many rows (zone offsets change on minute boundaries). */
  int64_t cached_minute;
  int32_t cached_offset;
  /* The formatted clock of the last two seconds seen (event time and
   * completion time usually share one). */
  struct second_cache {
    int64_t second;     /* FILETIME / 10^7; -1 = empty */
    char clock[16];     /* "1:18:10" */
    char suffix[4];     /* " AM" or "" */
    char date[16];      /* "7/12/2020" */
    char date_time[40]; /* "7/12/2020 1:18:10 AM": the Date & Time column */
    uint8_t clock_len, suffix_len, date_len, date_time_len;
  } seconds[2];
  unsigned next_second;
  /* Relative Time's "-HH:MM:SS" for one whole second (rel_len 0 = none). */
  uint64_t rel_second;
  int rel_negative;
  char rel_text[32];
  uint8_t rel_len;
  /* The row plan, made once from the column list: a step is one event
   * column, or a run of adjacent columns that depend only on the process
   * (or on nothing, as Sequence). A run's text, escaped and with its inner
   * "," separators, is made once per process on first use. */
  struct plan_step {
    int first, count;    /* positions in opt.columns */
    int run;             /* run number, or -1 for an event column */
    int column;          /* an event column's PML_COL_* */
    int escape;          /* the column's text may hold a quote */
    const char *trailer; /* what ends it: "\",\"" or "\"\r\n" (3 bytes and a NUL) */
  } plan[PML_COL_COUNT * 2];
  int nsteps, nruns;
  struct fb_strbuf proc_text;
  /* Texts made once and copied for every row: Operation by
   * pml_front_operation_key, Result by status. Direct-mapped (len 0 = empty;
   * a text too long for an entry is not kept); scratch is where they are
   * made. */
  struct text_entry {
    uint64_t key;
    uint8_t len;
    char text[63];
  } ops[64], results[32];
  struct fb_strbuf scratch;
  /* The TID column's digits for the last thread seen (tid_len 0 = none). */
  uint32_t tid;
  uint8_t tid_len;
  char tid_text[24];
  const struct pml_process *first_process;
  uint32_t process_count;
  /* [slot * nruns + run] = {offset in proc_text, length + 1}; 0 = not yet.
   * slot = process position, or the process count for "no process". */
  uint32_t (*proc_span)[2];
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

/* Procmon numbers its versions with two-digit minors (3.40, 3.61), so a
 * one-digit minor is tens: "3.4" is 3.40, "3.6" is 3.60. */
int pml_csv_procmon_parse(struct pml_csv_options *o, const char *spec, char *msg, size_t msg_size) {
  const char *p = spec;
  int major = parse_digits(&p, 2), minor = -1, digits = 0;

  if (major >= 0 && *p == '.') {
    const char *m = ++p;
    minor = parse_digits(&p, 2);
    digits = (int)(p - m);
  }
  if (major < 0 || minor < 0 || *p) {
    snprintf(msg, msg_size, "bad Procmon version '%s' (e.g. 3.61)", spec);
    return -1;
  }
  o->procmon = (unsigned)(major * 100 + (digits == 1 ? minor * 10 : minor));
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

static int32_t zone_offset(struct pml_csv *c, int64_t unix_seconds);
static void plan_make(struct pml_csv *c);

struct pml_csv *pml_csv_new(struct pml_file *f, const struct pml_csv_options *o) {
  struct pml_csv *c = calloc(1, sizeof(*c));
  struct pml_event ev;

  if (c == NULL)
    return NULL;
  c->file = f;
  c->opt = *o;
  c->cached_minute = INT64_MIN;
  c->seconds[0].second = c->seconds[1].second = -1;
  fb_strbuf_init(&c->field);
  fb_strbuf_init(&c->proc_text);
  fb_strbuf_init(&c->scratch);
  plan_make(c);
  c->first_process = pml_process_at(f, 0);
  c->process_count = pml_process_count(f);
  c->proc_span = calloc(((size_t)pml_process_count(f) + 1) * (size_t)c->nruns + 1, sizeof(*c->proc_span));
  if (c->proc_span == NULL) {
    free(c);
    return NULL;
  }
  if (pml_header(f)->event_count > 0 && pml_event_read(f, 0, &ev, NULL) == 0)
    c->first_time = ev.time;
  if (o->tz_mode == PML_TZ_ZONE) {
    setenv("TZ", o->tz_name, 1);
    tzset();
  }
  /* Procmon writes the dates inside Detail with the one UTC offset in force
   * when it exports; for a zone name we take the offset at the first event
   * (the export time is not in the file). */
  c->render.locale = o->locale == PML_LOCALE_ES_ES ? PML_RENDER_ES_ES : PML_RENDER_EN_US;
  c->decimal_sep = o->locale == PML_LOCALE_ES_ES ? ',' : '.';
  c->render.procmon = o->procmon;
  c->render.utc_offset = zone_offset(c, (int64_t)(c->first_time / TICKS_PER_SECOND) -
                                            (int64_t)(FILETIME_UNIX_EPOCH / TICKS_PER_SECOND));
  return c;
}

void pml_csv_free(struct pml_csv *c) {
  if (c == NULL)
    return;
  fb_strbuf_free(&c->field);
  fb_strbuf_free(&c->proc_text);
  fb_strbuf_free(&c->scratch);
  free(c->proc_span);
  free(c);
}

/* ---- numbers (rows are the hot loop: no printf) ---- */

/* A 100-ns fraction of a second (v < 10^7) as sep and seven digits at
 * p[0..7]; writes p[0..8]. */
static void fmt_fraction(char *p, char sep, uint64_t v) {
  fb_digits8(p, (uint32_t)v); /* "0" and the seven digits */
  p[0] = sep;
}

/* v as exactly width digits (zero-padded). */
static const char two_digits[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static void fmt_fixed(char *p, uint64_t v, int width) {
  int i = width;
  for (; i >= 2; i -= 2) { /* two digits a step */
    memcpy(p + i - 2, two_digits + 2 * (v % 100), 2);
    v /= 100;
  }
  if (i == 1)
    p[0] = (char)('0' + v % 10);
}

/* ---- time ---- */

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

/* A year as %d (FILETIME years run 1601..30828, never negative): up to 5
 * digits, writes 8 bytes. */
static size_t fmt_year(char *p, int y) {
  return fb_fmt_u64(p, (uint64_t)(y > 0 ? y : 0));
}

/* Make the clock and date of one second, in the writer's zone and locale. */
static const struct second_cache *second_fill(struct pml_csv *c, int64_t second) {
  int64_t secs, days, rem;
  struct second_cache *e;
  int y, m, d, hour, minute, sec;
  char *p, *q;

  e = &c->seconds[c->next_second++ & 1];
  e->second = second;
  secs = second - (int64_t)(FILETIME_UNIX_EPOCH / TICKS_PER_SECOND);
  secs += zone_offset(c, secs);
  days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  rem = secs - days * 86400;
  civil_from_days(days, &y, &m, &d);
  hour = (int)(rem / 3600);
  minute = (int)(rem / 60 % 60);
  sec = (int)(rem % 60);
  p = e->clock;
  if (c->opt.locale == PML_LOCALE_ES_ES) {
    p += fb_fmt_u64(p, (uint64_t)hour); /* H:mm:ss, 24 h */
    e->suffix_len = 0;
    e->suffix[0] = '\0';
    fmt_fixed(e->date, (uint64_t)d, 2); /* dd/MM/yyyy */
    e->date[2] = '/';
    fmt_fixed(e->date + 3, (uint64_t)m, 2);
    e->date[5] = '/';
    e->date_len = (uint8_t)(6 + fmt_year(e->date + 6, y));
  } else {
    p += fb_fmt_u64(p, (uint64_t)(hour % 12 == 0 ? 12 : hour % 12)); /* h:mm:ss tt */
    memcpy(e->suffix, hour < 12 ? " AM" : " PM", 4);
    e->suffix_len = 3;
    q = e->date; /* M/d/yyyy */
    q += fb_fmt_u64(q, (uint64_t)m);
    *q++ = '/';
    q += fb_fmt_u64(q, (uint64_t)d);
    *q++ = '/';
    e->date_len = (uint8_t)(q - e->date + fmt_year(q, y));
  }
  *p++ = ':';
  fmt_fixed(p, (uint64_t)minute, 2);
  p[2] = ':';
  fmt_fixed(p + 3, (uint64_t)sec, 2);
  e->clock_len = (uint8_t)(p + 5 - e->clock);
  p = e->date_time;
  memcpy(p, e->date, e->date_len);
  p += e->date_len;
  *p++ = ' ';
  memcpy(p, e->clock, e->clock_len);
  p += e->clock_len;
  memcpy(p, e->suffix, e->suffix_len);
  e->date_time_len = (uint8_t)(p + e->suffix_len - e->date_time);
  return e;
}

/* The clock and date of the second of filetime: nearly always one of the
 * last two made (a row's time and completion time, events in time order). */
static inline const struct second_cache *second_text(struct pml_csv *c, uint64_t filetime) {
  int64_t second = (int64_t)(filetime / TICKS_PER_SECOND);

  if (c->seconds[0].second == second)
    return &c->seconds[0];
  if (c->seconds[1].second == second)
    return &c->seconds[1];
  return second_fill(c, second);
}

static inline void time_of_day(struct pml_csv *c, uint64_t filetime, struct fb_strbuf *out) {
  const struct second_cache *e = second_text(c, filetime);
  char *p = fb_strbuf_room(out, 40);

  if (p == NULL)
    return;
  memcpy(p, e->clock, sizeof(e->clock)); /* clock_len <= 8: "12:59:59" */
  p += e->clock_len;
  fmt_fraction(p, c->decimal_sep, filetime % TICKS_PER_SECOND);
  p += 8;
  memcpy(p, e->suffix, sizeof(e->suffix));
  fb_strbuf_commit(out, p + e->suffix_len);
}

static inline void date_time(struct pml_csv *c, uint64_t filetime, struct fb_strbuf *out) {
  const struct second_cache *e = second_text(c, filetime);
  char *p = fb_strbuf_room(out, sizeof(e->date_time));

  if (p != NULL) { /* the whole array: a fixed-size copy needs no call */
    memcpy(p, e->date_time, sizeof(e->date_time));
    fb_strbuf_commit(out, p + e->date_time_len);
  }
}

void pml_csv_time_of_day(struct pml_csv *c, uint64_t filetime, struct fb_strbuf *out) {
  time_of_day(c, filetime, out);
}

void pml_csv_date_time(struct pml_csv *c, uint64_t filetime, struct fb_strbuf *out) {
  date_time(c, filetime, out);
}

/* HH:MM:SS.fffffff since the first event. */
static void relative_clock(struct pml_csv *c, uint64_t second, int negative) {
  uint64_t hours = second / 3600;
  char *p = c->rel_text;

  if (negative)
    *p++ = '-';
  if (hours < 100) {
    fmt_fixed(p, hours, 2);
    p += 2;
  } else {
    p += fb_fmt_u64(p, hours); /* at most 20 digits: rel_text holds them */
  }
  *p++ = ':';
  fmt_fixed(p, second / 60 % 60, 2);
  p[2] = ':';
  fmt_fixed(p + 3, second % 60, 2);
  c->rel_len = (uint8_t)(p + 5 - c->rel_text);
  c->rel_second = second;
  c->rel_negative = negative;
}

static inline __attribute__((always_inline)) void relative_time(struct pml_csv *c, uint64_t filetime,
                                                                struct fb_strbuf *out) {
  int negative = filetime < c->first_time;
  uint64_t d = negative ? c->first_time - filetime : filetime - c->first_time;
  char *p = fb_strbuf_room(out, sizeof(c->rel_text) + 16);

  if (p == NULL)
    return;
  if (c->rel_len == 0 || d / TICKS_PER_SECOND != c->rel_second || negative != c->rel_negative)
    relative_clock(c, d / TICKS_PER_SECOND, negative); /* events come in time order: once a second */
  memcpy(p, c->rel_text, sizeof(c->rel_text));
  p += c->rel_len;
  fmt_fraction(p, c->decimal_sep, d % TICKS_PER_SECOND);
  fb_strbuf_commit(out, p + 8);
}

/* Seconds with 7 decimals: 0.0000074. */
static inline __attribute__((always_inline)) void duration(struct pml_csv *c, uint64_t ticks,
                                                           struct fb_strbuf *out) {
  char *p = fb_strbuf_room(out, 40);

  if (p == NULL)
    return;
  if (ticks < TICKS_PER_SECOND) /* nearly every operation: "0.0000074" */
    *p++ = '0';
  else
    p += fb_fmt_u64(p, ticks / TICKS_PER_SECOND);
  fmt_fraction(p, c->decimal_sep, ticks % TICKS_PER_SECOND);
  fb_strbuf_commit(out, p + 8);
}

/* ---- fields ---- */

static void put_str(struct fb_strbuf *out, const char *s) {
  if (s != NULL)
    fb_strbuf_add(out, s, strlen(s));
}

static int is_process_column(int column) {
  switch (column) {
  case PML_COL_PROCESS_NAME:
  case PML_COL_PID:
  case PML_COL_IMAGE_PATH:
  case PML_COL_COMPANY:
  case PML_COL_DESCRIPTION:
  case PML_COL_VERSION:
  case PML_COL_USER:
  case PML_COL_AUTH_ID:
  case PML_COL_SESSION:
  case PML_COL_COMMAND_LINE:
  case PML_COL_VIRTUALIZED:
  case PML_COL_INTEGRITY:
  case PML_COL_PARENT_PID:
  case PML_COL_ARCHITECTURE:
  case PML_COL_SEQUENCE: /* "n/a" for every event */ return 1;
  default: return 0;
  }
}

/* Columns whose text may hold a double quote, to be doubled. The others are
 * numbers, times and names from Procmon's tables. */
static int may_hold_quote(int column) {
  return column == PML_COL_PATH || column == PML_COL_DETAIL || column == PML_COL_STACK ||
         is_process_column(column);
}

static void process_field(const struct pml_process *p, int column, struct fb_strbuf *out) {
  char buf[32];

  if (column == PML_COL_SEQUENCE) {
    fb_strbuf_add(out, "n/a", 3);
    return;
  }
  if (p == NULL)
    return;
  switch (column) {
  case PML_COL_PROCESS_NAME: put_str(out, p->name); break;
  case PML_COL_PID: fb_strbuf_u64(out, p->pid); break;
  case PML_COL_IMAGE_PATH: put_str(out, p->image_path); break;
  case PML_COL_COMPANY: put_str(out, p->company); break;
  case PML_COL_DESCRIPTION: put_str(out, p->description); break;
  case PML_COL_VERSION: put_str(out, p->version); break;
  case PML_COL_USER: put_str(out, p->user); break;
  case PML_COL_AUTH_ID:
    snprintf(buf, sizeof(buf), "%08x:%08x", (unsigned)(p->auth_id >> 32),
             (unsigned)(p->auth_id & 0xFFFFFFFFu));
    put_str(out, buf);
    break;
  case PML_COL_SESSION: fb_strbuf_u64(out, p->session); break;
  case PML_COL_COMMAND_LINE: put_str(out, p->command_line); break;
  case PML_COL_VIRTUALIZED: put_str(out, p->virtualized ? "True" : "False"); break;
  case PML_COL_INTEGRITY: put_str(out, p->integrity); break;
  case PML_COL_PARENT_PID: fb_strbuf_u64(out, p->parent_pid); break;
  case PML_COL_ARCHITECTURE: put_str(out, p->is_64bit ? "64-bit" : "32-bit"); break;
  default: break;
  }
}

/* The cached text of e into out. */
static inline void text_put(const struct text_entry *e, struct fb_strbuf *out) {
  char *p = fb_strbuf_room(out, sizeof(e->text));

  if (p != NULL) { /* the whole array: a fixed-size copy needs no call */
    memcpy(p, e->text, sizeof(e->text));
    fb_strbuf_commit(out, p + e->len);
  }
}

/* Keep the text just made in c->scratch as e's, for key; or, when it does
 * not fit an entry, write it to out directly. Returns whether it was kept. */
static int text_keep(struct pml_csv *c, struct text_entry *e, uint64_t key, struct fb_strbuf *out) {
  const struct fb_strbuf *t = &c->scratch;

  if (t->oom || t->len == 0 || t->len >= sizeof(e->text)) {
    if (t->len > 0)
      fb_strbuf_add(out, t->s, t->len);
    return 0;
  }
  e->key = key;
  e->len = (uint8_t)t->len;
  memcpy(e->text, t->s, t->len);
  return 1;
}

static inline void put_result(struct pml_csv *c, uint32_t status, struct fb_strbuf *out) {
  struct text_entry *e;

  if (status == 0) { /* most events */
    fb_strbuf_add(out, "SUCCESS", 7);
    return;
  }
  e = &c->results[(status ^ status >> 5) & 31];
  if (e->len == 0 || e->key != status) {
    fb_strbuf_reset(&c->scratch);
    pml_render_result(status, &c->scratch);
    if (!text_keep(c, e, status, out))
      return;
  }
  text_put(e, out);
}

static inline void put_class(uint32_t event_class, struct fb_strbuf *out) {
  size_t n;
  const char *name = pml_class_name_n(event_class, &n);

  fb_strbuf_add(out, name, n);
}

/* TID: a thread's events come in runs, so the last one's digits serve again. */
static inline void put_tid(struct pml_csv *c, uint32_t tid, struct fb_strbuf *out) {
  char *p = fb_strbuf_room(out, 24);

  if (p == NULL)
    return;
  if (tid != c->tid || c->tid_len == 0) {
    c->tid = tid;
    c->tid_len = (uint8_t)fb_fmt_u64(c->tid_text, tid); /* at most 10 digits */
  }
  memcpy(p, c->tid_text, 16);
  fb_strbuf_commit(out, p + c->tid_len);
}

/* Operation: a few dozen texts serve a whole capture; each is made once. */
static inline void put_operation(struct pml_csv *c, const struct pml_event *ev, const struct pml_front *fr,
                                 struct fb_strbuf *out) {
  uint64_t key = pml_front_operation_key(ev, fr);
  struct text_entry *e = &c->ops[(key ^ key >> 16 ^ key >> 29) & 63];

  if (e->len == 0 || e->key != key) {
    fb_strbuf_reset(&c->scratch);
    pml_front_operation(ev, fr, &c->render, &c->scratch);
    if (!text_keep(c, e, key, out))
      return;
  }
  text_put(e, out);
}

/* One of the event's own columns (process columns are cached runs in a
 * row, process_field in pml_csv_field). Inlined into the row loop: a call
 * per column cost more than most columns' own work. Returns 0 when the text
 * is known to hold no '"', so the escaping pass can be skipped. */
static inline __attribute__((always_inline)) int field(struct pml_csv *c, const struct pml_event *ev,
                                                       const struct pml_front *fr, int column,
                                                       struct fb_strbuf *out) {
  int pending = ev->result == 0x103;

  switch (column) {
  case PML_COL_TIME_OF_DAY: time_of_day(c, ev->time, out); break;
  case PML_COL_OPERATION: put_operation(c, ev, fr, out); break;
  case PML_COL_PATH: return pml_front_path(c->file, ev, fr, out);
  case PML_COL_RESULT: put_result(c, ev->result, out); break;
  case PML_COL_DETAIL: pml_front_detail(c->file, ev, fr, &c->render, out); break;
  case PML_COL_DATE_TIME: date_time(c, ev->time, out); break;
  case PML_COL_RELATIVE_TIME: relative_time(c, ev->time, out); break;
  case PML_COL_DURATION:
    if (!pending)
      duration(c, ev->duration, out);
    break;
  case PML_COL_COMPLETION_TIME:
    if (!pending)
      time_of_day(c, ev->time + ev->duration, out);
    break;
  case PML_COL_EVENT_CLASS: put_class(ev->event_class, out); break;
  case PML_COL_TID: put_tid(c, ev->tid, out); break;
  case PML_COL_CATEGORY: pml_front_category(ev, fr, out); break;
  case PML_COL_STACK:
    for (uint32_t i = 0; i < ev->stack_depth; i++) {
      struct ev_frame frame;
      pml_frame_resolve(c->file, ev, i, &frame);
      if (i > 0)
        fb_strbuf_add(out, " > ", 3);
      if (frame.module) {
        put_str(out, frame.module);
        fb_strbuf_add(out, "+", 1);
        fb_strbuf_0x(out, frame.offset);
      } else {
        fb_strbuf_0x(out, frame.addr);
      }
    }
    break;
  default: break;
  }
  return 1;
}

void pml_csv_field(struct pml_csv *c, const struct pml_event *ev, int column, struct fb_strbuf *out) {
  struct pml_front fr;

  if (is_process_column(column)) {
    process_field(ev->process, column, out);
    return;
  }
  pml_front_parse(c->file, ev, &fr);
  (void)field(c, ev, &fr, column, out);
}

/* Double every quote in out[start..]: Procmon's CSV escaping. */
static void escape_from(struct fb_strbuf *out, size_t start) {
  size_t quotes = 0, end = out->len, w;
  const char *q;

  if (out->s == NULL || (q = memchr(out->s + start, '"', end - start)) == NULL)
    return;
  for (size_t i = (size_t)(q - out->s); i < end; i++)
    quotes += out->s[i] == '"';
  for (size_t i = 0; i < quotes; i++) /* make room */
    fb_strbuf_putc(out, '"');
  if (out->oom)
    return;
  w = out->len;
  for (size_t i = end; i > start; i--) {
    char ch = out->s[i - 1];
    out->s[--w] = ch;
    if (ch == '"')
      out->s[--w] = '"';
  }
}

void pml_csv_header(struct pml_csv *c, struct fb_strbuf *out) {
  fb_strbuf_add(out, "\xEF\xBB\xBF", 3);
  for (int i = 0; i < c->opt.ncolumns; i++) {
    size_t start;
    if (i > 0)
      fb_strbuf_putc(out, ',');
    fb_strbuf_putc(out, '"');
    start = out->len;
    put_str(out, pml_column_name(c->opt.columns[i]));
    escape_from(out, start);
    fb_strbuf_putc(out, '"');
  }
  fb_strbuf_add(out, "\r\n", 2);
}

static void plan_make(struct pml_csv *c) {
  c->nsteps = c->nruns = 0;
  for (int i = 0; i < c->opt.ncolumns; i++) {
    struct plan_step *st = &c->plan[c->nsteps];
    int column = c->opt.columns[i];
    if (is_process_column(column)) {
      if (c->nsteps > 0 && st[-1].run >= 0 && st[-1].first + st[-1].count == i) {
        st[-1].count++;
        continue;
      }
      st->run = c->nruns++;
    } else {
      st->run = -1;
    }
    st->first = i;
    st->count = 1;
    st->column = column;
    st->escape = may_hold_quote(column);
    c->nsteps++;
  }
  for (int i = 0; i < c->nsteps; i++)
    c->plan[i].trailer = i == c->nsteps - 1 ? "\"\r\n" : "\",\"";
}

/* A run of process columns as written after its opening quote, its trailer
 * included. */
static void run_text(struct pml_csv *c, const struct pml_process *p, const struct plan_step *st,
                     struct fb_strbuf *out) {
  for (int k = 0; k < st->count; k++) {
    size_t start;
    if (k > 0)
      fb_strbuf_add(out, "\",\"", 3);
    start = out->len;
    process_field(p, c->opt.columns[st->first + k], out);
    escape_from(out, start);
  }
  fb_strbuf_add(out, st->trailer, 3);
}

/* The text of a run for the event's process, made once per process. */
static inline uint32_t (*process_spans(const struct pml_csv *c, const struct pml_process *p))[2] {
  uint32_t slot = p != NULL ? (uint32_t)(p - c->first_process) : c->process_count;

  return c->proc_span + (size_t)slot * (size_t)c->nruns;
}

/* spans: the process's row of proc_span (process_spans). */
static void put_process_run(struct pml_csv *c, const struct pml_process *p, uint32_t (*spans)[2],
                            const struct plan_step *st, struct fb_strbuf *out) {
  uint32_t *span = spans[st->run];
  size_t start;

  if (span[1] == 0) {
    start = c->proc_text.len;
    run_text(c, p, st, &c->proc_text);
    if (c->proc_text.oom || c->proc_text.len > UINT32_MAX - 1) {
      run_text(c, p, st, out); /* no cache: write it directly */
      return;
    }
    span[0] = (uint32_t)start;
    span[1] = (uint32_t)(c->proc_text.len - start) + 1;
  }
  fb_strbuf_add(out, c->proc_text.s + span[0], span[1] - 1);
}

/* A step's 3-byte trailer and the NUL after it in one 4-byte move. */
static inline void put_trailer(struct fb_strbuf *out, const char *t) {
  if (out->cap - out->len > 4) {
    memcpy(out->s + out->len, t, 4);
    out->len += 3;
  } else {
    fb_strbuf_add(out, t, 3);
  }
}

/* A row: an opening quote, then each step's text and trailer (the cached
 * runs carry theirs). */
void pml_csv_row(struct pml_csv *c, const struct pml_event *ev, struct fb_strbuf *out) {
  struct pml_front fr;
  uint32_t(*spans)[2];

  if (c->nsteps == 0) {
    fb_strbuf_add(out, "\r\n", 2);
    return;
  }
  pml_front_parse(c->file, ev, &fr); /* once for Operation, Path, Detail and Category */
  spans = process_spans(c, ev->process);
  fb_strbuf_putc(out, '"');
  for (int i = 0; i < c->nsteps; i++) {
    const struct plan_step *st = &c->plan[i];
    size_t start;
    if (st->run >= 0) {
      put_process_run(c, ev->process, spans, st, out);
      continue;
    }
    start = out->len;
    if (field(c, ev, &fr, st->column, out) && st->escape)
      escape_from(out, start);
    put_trailer(out, st->trailer);
  }
}
