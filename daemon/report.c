/* report.c - one day's verdicts as HTML (inline SVG), CSV and JSON. */
#include "daemon/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "parsers/strbuf.h"

#define REPORT_DAYS 30
#define TOP_N 10
#define MAX_SERIES 8

struct row {
  int64_t id;
  double finished;
  int state;
  int findings, confirmed;
  char *customer, *upload, *filter, *vendor, *confidence, *fail_path, *fail_process, *error, *verdict;
};

struct count {
  char *key;
  int n;
  int per_day[REPORT_DAYS];
};

struct counts {
  struct count *v;
  size_t n, cap;
};

struct ctx {
  double day_start[REPORT_DAYS + 1]; /* local midnights, oldest first; [30] = end of the report day */
  struct row *rows;                  /* the report day */
  size_t nrows, caprows;
  struct counts series; /* filter label -> per-day counts over 30 days */
  struct counts day_filters, paths, processes;
  int per_day_total[REPORT_DAYS];
  int oom;
};

int report_day(const char *date, double *start, double *end, char name[11]) {
  struct tm tm;
  time_t now = time(NULL);
  time_t t0, t1;

  memset(&tm, 0, sizeof(tm));
  if (!strcmp(date, "today") || !strcmp(date, "yesterday")) {
    localtime_r(&now, &tm);
    if (!strcmp(date, "yesterday"))
      tm.tm_mday--;
  } else {
    const char *p = strptime(date, "%Y-%m-%d", &tm);
    if (p == NULL || *p != '\0')
      return -1;
  }
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_isdst = -1;
  t0 = mktime(&tm);
  if (t0 == (time_t)-1)
    return -1;
  strftime(name, 11, "%Y-%m-%d", &tm);
  tm.tm_mday++;
  tm.tm_hour = 0;
  tm.tm_isdst = -1;
  t1 = mktime(&tm);
  *start = (double)t0;
  *end = (double)t1;
  return 0;
}

static char *dup0(struct ctx *x, const char *s) {
  char *d = strdup(s ? s : "");
  if (d == NULL)
    x->oom = 1;
  return d;
}

static struct count *count_add(struct ctx *x, struct counts *c, const char *key, int day) {
  struct count *e = NULL;
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->v[i].key, key)) {
      e = &c->v[i];
      break;
    }
  if (e == NULL) {
    if (c->n == c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 16;
      struct count *n = realloc(c->v, cap * sizeof(*n));
      if (n == NULL) {
        x->oom = 1;
        return NULL;
      }
      c->v = n;
      c->cap = cap;
    }
    e = &c->v[c->n];
    memset(e, 0, sizeof(*e));
    if ((e->key = dup0(x, key)) == NULL)
      return NULL;
    c->n++;
  }
  e->n++;
  if (day >= 0 && day < REPORT_DAYS)
    e->per_day[day]++;
  return e;
}

static int by_count(const void *a, const void *b) {
  const struct count *x = a, *y = b;
  if (x->n != y->n)
    return y->n - x->n;
  return strcmp(x->key, y->key);
}

static void label_of(const struct job_row *r, char *buf, size_t n) {
  if (r->state == JOB_FAILED)
    snprintf(buf, n, "(job failed)");
  else if (r->findings == 0 || r->filter[0] == '\0')
    snprintf(buf, n, "(no finding)");
  else if (r->vendor[0])
    snprintf(buf, n, "%s (%s)", r->filter, r->vendor);
  else
    snprintf(buf, n, "%s", r->filter);
}

static int visit(const struct job_row *r, void *user) {
  struct ctx *x = user;
  char label[300];
  int day = -1;

  for (int d = 0; d < REPORT_DAYS; d++)
    if (r->finished >= x->day_start[d] && r->finished < x->day_start[d + 1])
      day = d;
  if (day < 0)
    return 0;
  label_of(r, label, sizeof(label));
  count_add(x, &x->series, label, day);
  x->per_day_total[day]++;
  if (day != REPORT_DAYS - 1)
    return 0;
  /* the report day itself */
  count_add(x, &x->day_filters, label, -1);
  if (r->state == JOB_DONE && r->findings > 0) {
    if (r->fail_path[0])
      count_add(x, &x->paths, r->fail_path, -1);
    if (r->fail_process[0])
      count_add(x, &x->processes, r->fail_process, -1);
  }
  if (x->nrows == x->caprows) {
    size_t cap = x->caprows ? x->caprows * 2 : 64;
    struct row *n = realloc(x->rows, cap * sizeof(*n));
    if (n == NULL) {
      x->oom = 1;
      return 1;
    }
    x->rows = n;
    x->caprows = cap;
  }
  {
    struct row *w = &x->rows[x->nrows++];
    w->id = r->id;
    w->finished = r->finished;
    w->state = r->state;
    w->findings = r->findings;
    w->confirmed = r->confirmed;
    w->customer = dup0(x, r->customer);
    w->upload = dup0(x, r->path);
    w->filter = dup0(x, r->filter);
    w->vendor = dup0(x, r->vendor);
    w->confidence = dup0(x, r->confidence);
    w->fail_path = dup0(x, r->fail_path);
    w->fail_process = dup0(x, r->fail_process);
    w->error = dup0(x, r->error);
    w->verdict = dup0(x, r->verdict_path);
  }
  return x->oom;
}

static void free_counts(struct counts *c) {
  for (size_t i = 0; i < c->n; i++)
    free(c->v[i].key);
  free(c->v);
}

static void free_ctx(struct ctx *x) {
  for (size_t i = 0; i < x->nrows; i++) {
    struct row *w = &x->rows[i];
    free(w->customer), free(w->upload), free(w->filter), free(w->vendor), free(w->confidence);
    free(w->fail_path), free(w->fail_process), free(w->error), free(w->verdict);
  }
  free(x->rows);
  free_counts(&x->series);
  free_counts(&x->day_filters);
  free_counts(&x->paths);
  free_counts(&x->processes);
}

static void iso_local(double t, char *buf, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  localtime_r(&tt, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

static void day_name(const struct ctx *x, int d, char *buf, size_t n) {
  time_t t = (time_t)x->day_start[d];
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%d", &tm);
}

/* ---- output files, written whole then renamed into place ---- */

static int write_file(const char *path, const char *data, size_t len, char *err, size_t errlen) {
  char tmp[1200];
  FILE *f;
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  if ((f = fopen(tmp, "wb")) == NULL || fwrite(data, 1, len, f) != len || fflush(f) != 0 ||
      fsync(fileno(f)) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    if (f)
      fclose(f);
    unlink(tmp);
    return -1;
  }
  fclose(f);
  if (rename(tmp, path) < 0) {
    snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
    return -1;
  }
  return 0;
}

static void csv_field(struct fb_strbuf *b, const char *s) {
  if (strpbrk(s, ",\"\r\n") == NULL) {
    fb_strbuf_puts(b, s);
    return;
  }
  fb_strbuf_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"')
      fb_strbuf_putc(b, '"');
    fb_strbuf_putc(b, *s);
  }
  fb_strbuf_putc(b, '"');
}

static const char *csv_header[] = {"id",        "finished",     "customer", "upload", "state",
                                   "findings",  "confirmed",    "filter",   "vendor", "confidence",
                                   "fail_path", "fail_process", "error",    "verdict"};
#define NCOLS (sizeof(csv_header) / sizeof(csv_header[0]))

static void row_fields(const struct row *w, char num[3][32], char when[40], const char *out[NCOLS]) {
  snprintf(num[0], 32, "%lld", (long long)w->id);
  snprintf(num[1], 32, "%d", w->findings);
  snprintf(num[2], 32, "%d", w->confirmed);
  iso_local(w->finished, when, 40);
  out[0] = num[0], out[1] = when, out[2] = w->customer, out[3] = w->upload, out[4] = job_state_name(w->state);
  out[5] = num[1], out[6] = num[2], out[7] = w->filter, out[8] = w->vendor, out[9] = w->confidence;
  out[10] = w->fail_path, out[11] = w->fail_process, out[12] = w->error, out[13] = w->verdict;
}

static void render_csv(const struct ctx *x, struct fb_strbuf *b) {
  for (size_t c = 0; c < NCOLS; c++) {
    fb_strbuf_puts(b, csv_header[c]);
    fb_strbuf_puts(b, c + 1 < NCOLS ? "," : "\r\n");
  }
  for (size_t i = 0; i < x->nrows; i++) {
    char num[3][32], when[40];
    const char *f[NCOLS];
    row_fields(&x->rows[i], num, when, f);
    for (size_t c = 0; c < NCOLS; c++) {
      csv_field(b, f[c]);
      fb_strbuf_puts(b, c + 1 < NCOLS ? "," : "\r\n");
    }
  }
}

static json_t *jstr(const char *s) {
  json_t *v = json_string(s);
  if (v == NULL) { /* not UTF-8: keep what we can */
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

static json_t *counts_json(const struct counts *c, const char *keyname, size_t max) {
  json_t *a = json_array();
  for (size_t i = 0; i < c->n && i < max; i++) {
    json_t *o = json_object();
    json_object_set_new(o, keyname, jstr(c->v[i].key));
    json_object_set_new(o, "count", json_integer(c->v[i].n));
    json_array_append_new(a, o);
  }
  return a;
}

static char *render_json(const struct ctx *x, const char *date, const struct report_totals *t) {
  json_t *o = json_object(), *tot = json_object(), *days = json_array(), *failed = json_array(),
         *rows = json_array();
  char *s;

  json_object_set_new(o, "date", json_string(date));
  json_object_set_new(tot, "jobs", json_integer(t->jobs));
  json_object_set_new(tot, "done", json_integer(t->done));
  json_object_set_new(tot, "failed", json_integer(t->failed));
  json_object_set_new(tot, "with_findings", json_integer(t->with_findings));
  json_object_set_new(tot, "confirmed", json_integer(t->confirmed));
  json_object_set_new(o, "totals", tot);
  json_object_set_new(o, "verdicts_by_filter", counts_json(&x->day_filters, "filter", (size_t)-1));
  for (int d = 0; d < REPORT_DAYS; d++) {
    json_t *day = json_object(), *per = json_object();
    char name[11];
    day_name(x, d, name, sizeof(name));
    json_object_set_new(day, "date", json_string(name));
    json_object_set_new(day, "total", json_integer(x->per_day_total[d]));
    for (size_t i = 0; i < x->series.n; i++)
      if (x->series.v[i].per_day[d])
        json_object_set_new(per, x->series.v[i].key, json_integer(x->series.v[i].per_day[d]));
    json_object_set_new(day, "by_filter", per);
    json_array_append_new(days, day);
  }
  json_object_set_new(o, "per_day", days);
  json_object_set_new(o, "top_paths", counts_json(&x->paths, "path", TOP_N));
  json_object_set_new(o, "top_processes", counts_json(&x->processes, "process", TOP_N));
  for (size_t i = 0; i < x->nrows; i++) {
    char num[3][32], when[40];
    const char *f[NCOLS];
    json_t *r = json_object();
    row_fields(&x->rows[i], num, when, f);
    for (size_t c = 0; c < NCOLS; c++) {
      if (c == 0 || c == 5 || c == 6)
        json_object_set_new(r, csv_header[c], json_integer(atoll(f[c])));
      else
        json_object_set_new(r, csv_header[c], jstr(f[c]));
    }
    if (x->rows[i].state == JOB_FAILED) {
      json_t *fj = json_object();
      json_object_set_new(fj, "id", json_integer(x->rows[i].id));
      json_object_set_new(fj, "upload", jstr(x->rows[i].upload));
      json_object_set_new(fj, "error", jstr(x->rows[i].error));
      json_array_append_new(failed, fj);
    }
    json_array_append_new(rows, r);
  }
  json_object_set_new(o, "failed_jobs", failed);
  json_object_set_new(o, "rows", rows);
  s = json_dumps(o, JSON_INDENT(2));
  json_decref(o);
  return s;
}

/* ---- HTML ---- */

/* "CUSTOMER/rest" instead of the whole path under the upload root. */
static const char *short_upload(const struct row *w) {
  char pat[300];
  const char *p;
  if (w->customer[0] == '\0' || strlen(w->customer) > 256)
    return w->upload;
  snprintf(pat, sizeof(pat), "/%s/", w->customer);
  p = strstr(w->upload, pat);
  return p ? p + 1 : w->upload;
}

static void html_esc(struct fb_strbuf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': fb_strbuf_puts(b, "&amp;"); break;
    case '<': fb_strbuf_puts(b, "&lt;"); break;
    case '>': fb_strbuf_puts(b, "&gt;"); break;
    case '"': fb_strbuf_puts(b, "&quot;"); break;
    default: fb_strbuf_putc(b, *s);
    }
  }
}

static const char *palette[MAX_SERIES + 1] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                              "#edc948", "#b07aa1", "#ff9da7", "#9c9c9c"};

static const char *series_color(const char *key, size_t rank) {
  if (!strcmp(key, "(job failed)"))
    return "#d62728";
  if (!strcmp(key, "(no finding)"))
    return "#c7c7c7";
  return palette[rank < MAX_SERIES ? rank : MAX_SERIES];
}

/* The same filter gets the same colour in every chart: its rank over 30 days. */
static const char *key_color(const struct counts *series, const char *key) {
  for (size_t i = 0; i < series->n; i++)
    if (!strcmp(series->v[i].key, key))
      return series_color(key, i);
  return palette[MAX_SERIES];
}

/* Stacked bars: one per day, one colour per filter (top MAX_SERIES, rest "other"). */
static void svg_days(const struct ctx *x, struct fb_strbuf *b) {
  const int W = 960, H = 300, L = 40, R = 10, T = 10, B = 50;
  const double bw = (double)(W - L - R) / REPORT_DAYS;
  int max = 1;

  int step;

  for (int d = 0; d < REPORT_DAYS; d++)
    if (x->per_day_total[d] > max)
      max = x->per_day_total[d];
  step = (max + 3) / 4; /* four whole-number steps */
  max = step * 4;
  fb_strbuf_printf(b,
                   "<svg width=\"%d\" height=\"%d\" role=\"img\" "
                   "aria-label=\"verdicts per day\">\n",
                   W, H);
  for (int k = 0; k <= 4; k++) {
    int v = step * k;
    double y = T + (H - T - B) * (1 - (double)v / max);
    fb_strbuf_printf(b,
                     "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                     "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%d</text>\n",
                     L, W - R, y, y, L - 4, y + 4, v);
  }
  for (int d = 0; d < REPORT_DAYS; d++) {
    double y = H - B;
    size_t other = 0;
    char name[11];
    for (size_t i = 0; i < x->series.n; i++) {
      const struct count *c = &x->series.v[i];
      double h;
      if (!c->per_day[d])
        continue;
      if (i >= MAX_SERIES) {
        other += (size_t)c->per_day[d];
        continue;
      }
      h = (double)(H - T - B) * c->per_day[d] / max;
      y -= h;
      fb_strbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
                       L + d * bw + 1, y, bw - 2, h, series_color(c->key, i));
      html_esc(b, c->key);
      fb_strbuf_printf(b, ": %d</title></rect>\n", c->per_day[d]);
    }
    if (other) {
      double h = (double)(H - T - B) * (double)other / max;
      y -= h;
      fb_strbuf_printf(b,
                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                       "<title>other: %zu</title></rect>\n",
                       L + d * bw + 1, y, bw - 2, h, palette[MAX_SERIES], other);
    }
    if (d % 5 == 4 || d == REPORT_DAYS - 1) {
      day_name(x, d, name, sizeof(name));
      fb_strbuf_printf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
                       L + d * bw + bw / 2, H - B + 16, name + 5);
    }
  }
  fb_strbuf_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", L, W - R, H - B,
                   H - B);
  /* legend */
  {
    double lx = L;
    for (size_t i = 0; i < x->series.n && i < MAX_SERIES; i++) {
      fb_strbuf_printf(b,
                       "<rect x=\"%.0f\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                       "<text x=\"%.0f\" y=\"%d\" font-size=\"11\">",
                       lx, H - 22, series_color(x->series.v[i].key, i), lx + 14, H - 13);
      html_esc(b, x->series.v[i].key);
      fb_strbuf_puts(b, "</text>\n");
      lx += 24 + 6.5 * (double)strlen(x->series.v[i].key);
    }
  }
  fb_strbuf_puts(b, "</svg>\n");
}

/* Horizontal bars for a ranking. */
static void svg_bars(const struct counts *c, size_t max_rows, const struct counts *series,
                     struct fb_strbuf *b) {
  const int W = 960, rowh = 22, label_w = 520;
  size_t n = c->n < max_rows ? c->n : max_rows;
  int max = 1;

  if (n == 0) {
    fb_strbuf_puts(b, "<p class=\"none\">none</p>\n");
    return;
  }
  for (size_t i = 0; i < n; i++)
    if (c->v[i].n > max)
      max = c->v[i].n;
  fb_strbuf_printf(b, "<svg width=\"%d\" height=\"%zu\">\n", W, n * rowh + 4);
  for (size_t i = 0; i < n; i++) {
    double w = (double)(W - label_w - 60) * c->v[i].n / max;
    fb_strbuf_printf(b, "<text x=\"%d\" y=\"%zu\" font-size=\"12\" text-anchor=\"end\">", label_w - 6,
                     i * rowh + 15);
    html_esc(b, c->v[i].key);
    fb_strbuf_printf(b,
                     "</text><rect x=\"%d\" y=\"%zu\" width=\"%.1f\" height=\"16\" fill=\"%s\"/>"
                     "<text x=\"%.1f\" y=\"%zu\" font-size=\"12\">%d</text>\n",
                     label_w, i * rowh + 3, w, series ? key_color(series, c->v[i].key) : "#4e79a7",
                     label_w + w + 4, i * rowh + 15, c->v[i].n);
  }
  fb_strbuf_puts(b, "</svg>\n");
}

static void render_html(const struct ctx *x, const char *date, const struct report_totals *t,
                        struct fb_strbuf *b) {
  char when[40];
  int nfailed = 0;

  fb_strbuf_printf(
      b,
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<title>fltblame report %s</title>\n<style>\n"
      "body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei','PingFang SC',sans-serif;"
      "margin:24px;color:#222;max-width:1000px}\n"
      "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}\n"
      ".tiles{display:flex;gap:12px}.tile{border:1px solid #ddd;border-radius:6px;padding:8px 14px}\n"
      ".tile b{display:block;font-size:24px}table{border-collapse:collapse;font-size:12px;width:100%%}\n"
      "td,th{border:1px solid #ddd;padding:3px "
      "6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}\n"
      "th{background:#f3f3f3}.failed{color:#b00}.none{color:#888}\n</style></head><body>\n",
      date);
  fb_strbuf_printf(b,
                   "<h1>fltblame: verdicts of %s</h1>\n<div class=\"tiles\">"
                   "<div class=\"tile\"><b id=\"t-jobs\">%d</b>jobs finished</div>"
                   "<div class=\"tile\"><b id=\"t-done\">%d</b>verdicts</div>"
                   "<div class=\"tile\"><b id=\"t-findings\">%d</b>with a finding</div>"
                   "<div class=\"tile\"><b id=\"t-confirmed\">%d</b>confirmed</div>"
                   "<div class=\"tile failed\"><b id=\"t-failed\">%d</b>jobs failed</div></div>\n",
                   date, t->jobs, t->done, t->with_findings, t->confirmed, t->failed);
  fb_strbuf_puts(b, "<h2>Verdicts per filter, this day</h2>\n");
  svg_bars(&x->day_filters, 20, &x->series, b);
  fb_strbuf_puts(b, "<h2>Verdicts per filter, per day (30 days)</h2>\n");
  svg_days(x, b);
  fb_strbuf_puts(b, "<h2>Top failing paths</h2>\n");
  svg_bars(&x->paths, TOP_N, NULL, b);
  fb_strbuf_puts(b, "<h2>Top failing processes</h2>\n");
  svg_bars(&x->processes, TOP_N, NULL, b);
  fb_strbuf_puts(b, "<h2>Jobs that failed, and why</h2>\n");
  for (size_t i = 0; i < x->nrows; i++)
    if (x->rows[i].state == JOB_FAILED) {
      if (nfailed++ == 0)
        fb_strbuf_puts(b, "<table id=\"failed\"><tr><th>job</th><th>upload</th><th>error</th></tr>\n");
      fb_strbuf_printf(b, "<tr><td>%lld</td><td>", (long long)x->rows[i].id);
      html_esc(b, short_upload(&x->rows[i]));
      fb_strbuf_puts(b, "</td><td class=\"failed\">");
      html_esc(b, x->rows[i].error);
      fb_strbuf_puts(b, "</td></tr>\n");
    }
  fb_strbuf_puts(b, nfailed ? "</table>\n" : "<p class=\"none\">none</p>\n");
  fb_strbuf_puts(b, "<h2>All jobs of the day</h2>\n<table id=\"rows\"><tr><th>job</th><th>finished</th>"
                    "<th>customer</th><th>upload</th><th>state</th><th>filter</th><th>vendor</th>"
                    "<th>confidence</th><th>path</th><th>process</th></tr>\n");
  for (size_t i = 0; i < x->nrows; i++) {
    const struct row *w = &x->rows[i];
    const char *cells[9];
    iso_local(w->finished, when, sizeof(when));
    when[19] = '\0'; /* the day is the report's: the time is enough */
    cells[0] = when + 11, cells[1] = w->customer, cells[2] = short_upload(w),
    cells[3] = job_state_name(w->state);
    cells[4] = w->filter, cells[5] = w->vendor, cells[6] = w->confidence, cells[7] = w->fail_path;
    cells[8] = w->fail_process;
    fb_strbuf_printf(b, "<tr><td>%lld</td>", (long long)w->id);
    for (int c = 0; c < 9; c++) {
      fb_strbuf_puts(b, "<td>");
      html_esc(b, cells[c]);
      fb_strbuf_puts(b, "</td>");
    }
    fb_strbuf_puts(b, "</tr>\n");
  }
  fb_strbuf_puts(
      b,
      "</table>\n<p class=\"none\">CSV and JSON of these rows sit beside this file.</p>\n</body></html>\n");
}

int report_write(struct jobs *j, const char *date, const char *out_dir, struct report_paths *paths,
                 struct report_totals *t, char *err, size_t errlen) {
  struct ctx x;
  char name[11];
  double start, end;
  struct fb_strbuf b;
  char *js;
  int rc = -1;

  memset(&x, 0, sizeof(x));
  memset(t, 0, sizeof(*t));
  if (report_day(date, &start, &end, name) < 0) {
    snprintf(err, errlen, "'%s' is not a date (YYYY-MM-DD, today, yesterday)", date);
    return -1;
  }
  /* Local midnights of the 30 days ending with the report day. */
  for (int d = 0; d <= REPORT_DAYS; d++) {
    time_t t0 = (time_t)start;
    struct tm tm;
    localtime_r(&t0, &tm);
    tm.tm_mday += d - (REPORT_DAYS - 1);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    x.day_start[d] = (double)mktime(&tm);
  }
  if (jobs_finished_between(j, x.day_start[0], end, visit, &x) < 0 || x.oom) {
    snprintf(err, errlen, "cannot read the job index%s", x.oom ? ": out of memory" : "");
    free_ctx(&x);
    return -1;
  }
  qsort(x.series.v, x.series.n, sizeof(*x.series.v), by_count);
  qsort(x.day_filters.v, x.day_filters.n, sizeof(*x.day_filters.v), by_count);
  qsort(x.paths.v, x.paths.n, sizeof(*x.paths.v), by_count);
  qsort(x.processes.v, x.processes.n, sizeof(*x.processes.v), by_count);
  for (size_t i = 0; i < x.nrows; i++) {
    t->jobs++;
    if (x.rows[i].state == JOB_DONE) {
      t->done++;
      t->with_findings += x.rows[i].findings > 0;
      t->confirmed += x.rows[i].confirmed > 0;
    } else {
      t->failed++;
    }
  }
  {
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", out_dir);
    for (char *p = dir + 1; *p; p++)
      if (*p == '/') {
        *p = '\0';
        mkdir(dir, 0755);
        *p = '/';
      }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
      snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
      free_ctx(&x);
      return -1;
    }
  }
  snprintf(paths->html, sizeof(paths->html), "%s/report-%s.html", out_dir, name);
  snprintf(paths->csv, sizeof(paths->csv), "%s/report-%s.csv", out_dir, name);
  snprintf(paths->json, sizeof(paths->json), "%s/report-%s.json", out_dir, name);
  fb_strbuf_init(&b);
  render_csv(&x, &b);
  if (b.oom || write_file(paths->csv, b.s, b.len, err, errlen) < 0)
    goto out;
  fb_strbuf_reset(&b);
  render_html(&x, name, t, &b);
  if (b.oom || write_file(paths->html, b.s, b.len, err, errlen) < 0)
    goto out;
  js = render_json(&x, name, t);
  if (js == NULL || write_file(paths->json, js, strlen(js), err, errlen) < 0) {
    free(js);
    goto out;
  }
  free(js);
  rc = 0;
out:
  if (rc < 0 && b.oom)
    snprintf(err, errlen, "out of memory");
  fb_strbuf_free(&b);
  free_ctx(&x);
  return rc;
}
