/* fltmc.c - fltmc filters/instances tables (see fltmc.h). */
#include "parsers/text/fltmc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/text/textlines.h"
#include "parsers/view.h"

#define MAX_COLS 12
#define CELL 256

enum table_kind { T_NONE = 0, T_FILTERS, T_INSTANCES, T_OTHER };

struct span {
  size_t start, end; /* character columns, [start, end) */
};

struct table {
  enum table_kind kind;
  int ncols;
  struct span col[MAX_COLS];
  /* which column holds what; -1 = absent */
  int c_name, c_count, c_alt, c_frame, c_volume, c_instance;
};

/* Character column of byte i in s (UTF-8: continuation bytes do not count). */
static size_t column_of(const char *s, size_t i) {
  size_t c = 0, k;

  for (k = 0; k < i; k++)
    if (((unsigned char)s[k] & 0xC0) != 0x80)
      c++;
  return c;
}

static int dash_row(const char *s, size_t n, struct table *t) {
  size_t i = 0;
  int cols = 0;

  while (i < n && s[i] == ' ')
    i++;
  if (i == n)
    return 0;
  while (i < n) {
    size_t start = i;
    while (i < n && s[i] == '-')
      i++;
    if (i == start)
      return 0;
    if (cols < MAX_COLS) {
      t->col[cols].start = start;
      t->col[cols].end = i;
    }
    cols++;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
      i++;
  }
  if (cols < 4 || cols > MAX_COLS || t->col[0].end - t->col[0].start < 8)
    return 0;
  t->ncols = cols;
  return 1;
}

static int has(const char *s, const char *w) {
  return strstr(s, w) != NULL;
}

static enum table_kind header_kind(const char *h, int ncols) {
  if (has(h, "Dos Name") || has(h, "FileSystem") || has(h, "文件系统") || has(h, "Dos 名称") ||
      has(h, "DOS 名称"))
    return T_OTHER;
  if (has(h, "Filter Name") || has(h, "Num Instances") || has(h, "筛选器名称") || has(h, "实例数"))
    return T_FILTERS;
  if (has(h, "Instance Name") || has(h, "Volume Name") || has(h, "实例名称") || has(h, "卷名"))
    return T_INSTANCES;
  if (ncols == 4)
    return T_FILTERS;
  if (ncols >= 6)
    return T_INSTANCES;
  return T_OTHER;
}

static void layout(struct table *t) {
  t->c_name = 0;
  t->c_count = t->c_alt = t->c_frame = t->c_volume = t->c_instance = -1;
  if (t->kind == T_FILTERS) {
    t->c_count = 1;
    t->c_alt = 2;
    t->c_frame = 3;
  } else {
    t->c_volume = 1;
    t->c_alt = 2;
    t->c_instance = 3;
    t->c_frame = 4;
  }
  /* a header may promise more columns than the dash row has */
  if (t->c_count >= t->ncols)
    t->c_count = -1;
  if (t->c_frame >= t->ncols)
    t->c_frame = -1;
  if (t->c_volume >= t->ncols)
    t->c_volume = -1;
  if (t->c_instance >= t->ncols)
    t->c_instance = -1;
}

/* Split a row into cells: every word goes to the column it overlaps most
 * (nearest column when it overlaps none); words of one column are joined
 * with single spaces. */
static void row_cells(const char *s, size_t n, const struct table *t, char cells[][CELL]) {
  size_t i = 0;
  int c;

  for (c = 0; c < t->ncols; c++)
    cells[c][0] = '\0';
  while (i < n) {
    size_t ws, we, cs, ce;
    long best_overlap = -1;
    size_t best_dist = (size_t)-1;
    int best = 0;

    while (i < n && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if (i >= n)
      break;
    ws = i;
    while (i < n && s[i] != ' ' && s[i] != '\t')
      i++;
    we = i;
    cs = column_of(s, ws);
    ce = cs + column_of(s + ws, we - ws);
    for (c = 0; c < t->ncols; c++) {
      size_t lo = cs > t->col[c].start ? cs : t->col[c].start;
      size_t hi = ce < t->col[c].end ? ce : t->col[c].end;
      long ov = hi > lo ? (long)(hi - lo) : 0;
      size_t dist = ce <= t->col[c].start ? t->col[c].start - ce
                    : cs >= t->col[c].end ? cs - t->col[c].end
                                          : 0;
      if (ov > best_overlap || (ov == best_overlap && ov == 0 && dist < best_dist)) {
        best_overlap = ov;
        best_dist = dist;
        best = c;
      }
    }
    {
      size_t have = strlen(cells[best]), add = we - ws;
      if (have + add + 2 < CELL) {
        if (have)
          cells[best][have++] = ' ';
        memcpy(cells[best] + have, s + ws, add);
        cells[best][have + add] = '\0';
      }
    }
  }
}

static int is_number(const char *s, int allow_dot) {
  int digits = 0;

  for (; *s; s++) {
    if (*s >= '0' && *s <= '9')
      digits++;
    else if (!(allow_dot && *s == '.'))
      return 0;
  }
  return digits > 0;
}

static int emit_row(const struct table *t, char cells[][CELL], const char *file, const struct text_lines *tl,
                    const struct ev_sink *sink, struct fltmc_stats *st) {
  struct ev_filter_info fi;
  const char *alt = t->c_alt >= 0 ? cells[t->c_alt] : "";

  if (cells[t->c_name][0] == '\0' || !is_number(alt, 1))
    return 1; /* not a data row */
  memset(&fi, 0, sizeof(fi));
  fi.origin.file = file;
  fi.origin.format = "fltmc";
  fi.origin.index = tl->lineno;
  fi.origin.offset = tl->offset;
  fi.name = cells[t->c_name];
  fi.altitude = alt;
  fi.instances = -1;
  fi.frame = -1;
  fi.loaded = 1;
  if (t->c_frame >= 0 && is_number(cells[t->c_frame], 0))
    fi.frame = atoi(cells[t->c_frame]);
  else if (t->c_frame >= 0 && strstr(cells[t->c_frame], "Legacy") != NULL)
    st->legacy++;
  if (t->kind == T_FILTERS) {
    fi.source = EV_FSRC_FLTMC_FILTERS;
    if (t->c_count >= 0 && is_number(cells[t->c_count], 0))
      fi.instances = atoi(cells[t->c_count]);
    st->filters++;
  } else {
    fi.source = EV_FSRC_FLTMC_INSTANCES;
    fi.volume = t->c_volume >= 0 && cells[t->c_volume][0] ? cells[t->c_volume] : NULL;
    fi.instance = t->c_instance >= 0 && cells[t->c_instance][0] ? cells[t->c_instance] : NULL;
    st->instances++;
  }
  if (sink && sink->filter_info && sink->filter_info(sink->ctx, &fi) != 0)
    return -1;
  return 0;
}

int fltmc_parse(const uint8_t *data, size_t size, const char *file, const struct ev_sink *sink,
                struct fltmc_stats *st, struct fb_error *err) {
  struct fltmc_stats local;
  struct text_lines tl;
  struct table t;
  char header[1024], failure[256];
  char(*cells)[CELL] = NULL;
  const char *s;
  size_t n;
  int r, rc = 0;

  fb_error_init(err, file);
  if (st == NULL)
    st = &local;
  memset(st, 0, sizeof(*st));
  memset(&t, 0, sizeof(t));
  header[0] = failure[0] = '\0';
  cells = calloc(1, sizeof(char[MAX_COLS][CELL]));
  if (cells == NULL)
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory");
  text_lines_init(&tl, data, size);
  while ((r = text_lines_next(&tl, &s, &n)) == 1) {
    struct table cand;
    size_t k = 0;

    st->lines++;
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
      k++;
    if (k == n) {
      t.kind = T_NONE; /* a blank line ends a table */
      continue;
    }
    if (failure[0] == '\0' && (strstr(s, "failed with error") != NULL || strstr(s, "失败") != NULL))
      snprintf(failure, sizeof(failure), "%.*s", (int)(n - k > 200 ? 200 : n - k), s + k);
    memset(&cand, 0, sizeof(cand));
    if (dash_row(s, n, &cand)) {
      /* columns in characters; a dash row is ASCII so bytes = characters */
      cand.kind = header_kind(header, cand.ncols);
      if (cand.kind == T_FILTERS || cand.kind == T_INSTANCES) {
        layout(&cand);
        st->tables++;
      }
      t = cand;
      continue;
    }
    if (t.kind == T_FILTERS || t.kind == T_INSTANCES) {
      int e;
      row_cells(s, n, &t, cells);
      e = emit_row(&t, cells, file, &tl, sink, st);
      if (e < 0) {
        rc = fb_error_set(err, FB_ESTOP, tl.offset, "stopped by the consumer");
        break;
      }
      if (e > 0)
        st->skipped++;
      continue;
    }
    snprintf(header, sizeof(header), "%.*s", (int)(n > 1000 ? 1000 : n), s);
  }
  text_lines_free(&tl);
  free(cells);
  if (r < 0)
    return fb_error_set(err, FB_ENOMEM, tl.offset, "out of memory");
  if (rc == 0 && st->tables == 0) {
    if (failure[0])
      return fb_error_set(err, FB_EFORMAT, 0, "no fltmc table; the output says: %s", failure);
    return fb_error_set(err, FB_EFORMAT, 0, "no fltmc filters/instances table (no dash row under a header)");
  }
  return rc;
}

int fltmc_read(const char *path, const struct ev_sink *sink, struct fltmc_stats *st, struct fb_error *err) {
  struct fb_view v;
  int rc = fb_view_open(&v, path, err);

  if (rc != 0)
    return rc;
  rc = fltmc_parse(v.data, v.size, path, sink, st, err);
  fb_view_close(&v);
  return rc;
}
