/* cbs.c - CBS.log failures (see cbs.h). */
#include "parsers/text/cbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/text/textlines.h"
#include "parsers/view.h"

#define PATH_MAX_LEN 1024
#define CONTEXT_LINES 6

struct cbs_line {
  uint64_t time; /* local time as FILETIME */
  const char *level;
  size_t level_len;
  const char *comp;
  size_t comp_len;
  const char *msg;
  size_t msg_len;
};

/* "YYYY-MM-DD HH:MM:SS, " then level, component, message. */
static int split_line(const char *s, size_t len, struct cbs_line *l) {
  size_t p = 0, i;
  int y, mo, d, h, mi, se;

  y = text_num(s, len, &p, 4);
  if (y < 0 || p != 4 || p >= len || s[p++] != '-')
    return 0;
  mo = text_num(s, len, &p, 2);
  if (mo < 0 || p >= len || s[p++] != '-')
    return 0;
  d = text_num(s, len, &p, 2);
  if (d < 0 || p >= len || s[p++] != ' ')
    return 0;
  h = text_num(s, len, &p, 2);
  if (h < 0 || p >= len || s[p++] != ':')
    return 0;
  mi = text_num(s, len, &p, 2);
  if (mi < 0 || p >= len || s[p++] != ':')
    return 0;
  se = text_num(s, len, &p, 2);
  if (se < 0 || p + 1 >= len || s[p] != ',' || s[p + 1] != ' ')
    return 0;
  p += 2;
  l->time = text_filetime(y, mo, d, h, mi, se, 0);
  i = p;
  while (i < len && s[i] != ' ')
    i++;
  l->level = s + p;
  l->level_len = i - p;
  while (i < len && s[i] == ' ')
    i++;
  if (i + 2 < len && s[i] == '[' && s[i + 1] == '0' && s[i + 2] == 'x') { /* message id (Panther style) */
    while (i < len && s[i] != ' ')
      i++;
    while (i < len && s[i] == ' ')
      i++;
  }
  p = i;
  while (i < len && s[i] != ' ')
    i++;
  l->comp = s + p;
  l->comp_len = i - p;
  while (i < len && s[i] == ' ')
    i++;
  l->msg = s + i;
  l->msg_len = len - i;
  return 1;
}

static const char *find_n(const char *s, size_t n, const char *needle) {
  size_t k = strlen(needle), i;

  for (i = 0; k <= n && i <= n - k; i++)
    if (memcmp(s + i, needle, k) == 0)
      return s + i;
  return NULL;
}

/* A Windows path in s: "X:\...", "\\?\X:\...", "\SystemRoot\...". Copied to
 * out (prefix \\?\ dropped), ended by ] , " ; or " [", trailing blanks and
 * dots trimmed. Returns 1 if found. */
static int find_path(const char *s, size_t n, char *out, size_t size) {
  size_t i, start = n, end;

  for (i = 0; i + 2 < n; i++) {
    char c = (char)(s[i] | 0x20);
    if (c >= 'a' && c <= 'z' && s[i + 1] == ':' && s[i + 2] == '\\' &&
        (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\\' || s[i - 1] == '"' || s[i - 1] == '\'' ||
         s[i - 1] == '(' || s[i - 1] == '[' || s[i - 1] == ':' || s[i - 1] == '=')) {
      start = i;
      break;
    }
    if (s[i] == '\\' && n - i > 12 && memcmp(s + i, "\\SystemRoot\\", 12) == 0) {
      start = i;
      break;
    }
  }
  if (start == n)
    return 0;
  for (end = start; end < n; end++) {
    char c = s[end];
    if (c == ']' || c == ',' || c == '"' || c == ';' || c == '\'' || c == '|')
      break;
    if (c == ' ' && end + 1 < n && (s[end + 1] == '[' || s[end + 1] == '('))
      break;
  }
  while (end > start && (s[end - 1] == ' ' || s[end - 1] == '.'))
    end--;
  if (end - start >= size)
    end = start + size - 1;
  memcpy(out, s + start, end - start);
  out[end - start] = '\0';
  return 1;
}

/* Package identity (token with '~', e.g. Package_for_KB3021128~31bf3856ad364e35~amd64~~6.3.1.0) or "KBnnnn".
 */
static int find_subject(const char *s, size_t n, char *out, size_t size) {
  size_t i, start, end;

  for (i = 0; i < n; i++) {
    if (s[i] != '~')
      continue;
    start = i;
    while (start > 0 && s[start - 1] != ' ' && s[start - 1] != ':' && s[start - 1] != '\\' &&
           s[start - 1] != '"')
      start--;
    end = i;
    while (end < n && s[end] != ' ' && s[end] != ',' && s[end] != ']' && s[end] != '"')
      end++;
    while (end > start && s[end - 1] == '.')
      end--;
    if (end - start < size && end > start) {
      memcpy(out, s + start, end - start);
      out[end - start] = '\0';
      return 1;
    }
  }
  for (i = 0; i + 3 < n; i++) {
    if (s[i] == 'K' && s[i + 1] == 'B' && s[i + 2] >= '0' && s[i + 2] <= '9' &&
        (i == 0 || !((s[i - 1] | 0x20) >= 'a' && (s[i - 1] | 0x20) <= 'z'))) {
      end = i + 2;
      while (end < n && s[end] >= '0' && s[end] <= '9')
        end++;
      if (end - i < size) {
        memcpy(out, s + i, end - i);
        out[end - i] = '\0';
        return 1;
      }
    }
  }
  return 0;
}

/* "[HRESULT = 0x80070005 - E_ACCESSDENIED]" -> code. */
static int find_hresult(const char *s, size_t n, uint32_t *code) {
  const char *p = find_n(s, n, "HRESULT = 0x");
  char hex[9];
  size_t k = 0;

  if (p == NULL)
    return 0;
  p += 12;
  while (k < 8 && p + k < s + n &&
         ((p[k] >= '0' && p[k] <= '9') || ((p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'f'))) {
    hex[k] = p[k];
    k++;
  }
  if (k == 0)
    return 0;
  hex[k] = '\0';
  *code = (uint32_t)strtoul(hex, NULL, 16);
  return 1;
}

/* "Universal Time is: 2015-02-24 02:47:28.286" -> UTC FILETIME. */
static uint64_t universal_time(const char *msg, size_t n) {
  const char *p = find_n(msg, n, "Universal Time is: ");
  size_t pos = 0, len;
  int y, mo, d, h, mi, se;

  if (p == NULL)
    return 0;
  p += 19;
  len = (size_t)(msg + n - p);
  y = text_num(p, len, &pos, 4);
  if (y < 0 || pos >= len || p[pos++] != '-')
    return 0;
  mo = text_num(p, len, &pos, 2);
  if (mo < 0 || pos >= len || p[pos++] != '-')
    return 0;
  d = text_num(p, len, &pos, 2);
  if (d < 0 || pos >= len || p[pos++] != ' ')
    return 0;
  h = text_num(p, len, &pos, 2);
  if (h < 0 || pos >= len || p[pos++] != ':')
    return 0;
  mi = text_num(p, len, &pos, 2);
  if (mi < 0 || pos >= len || p[pos++] != ':')
    return 0;
  se = text_num(p, len, &pos, 2);
  return se < 0 ? 0 : text_filetime(y, mo, d, h, mi, se, 0);
}

int cbs_parse(const uint8_t *data, size_t size, const char *file, const struct ev_sink *sink,
              struct cbs_stats *st, struct fb_error *err) {
  struct cbs_stats local;
  struct text_lines tl;
  const char *s;
  size_t n;
  char path[PATH_MAX_LEN], ctx_path[PATH_MAX_LEN], subject[512], text[2048];
  uint64_t ctx_line = 0, ctx_time = 0;
  int r, rc = 0;

  fb_error_init(err, file);
  if (st == NULL)
    st = &local;
  memset(st, 0, sizeof(*st));
  ctx_path[0] = '\0';
  text_lines_init(&tl, data, size);
  while ((r = text_lines_next(&tl, &s, &n)) == 1) {
    struct cbs_line l;
    uint32_t code;
    uint64_t utc;

    st->lines++;
    if (!split_line(s, n, &l))
      continue;
    st->entries++;
    if (l.level_len == 5 && memcmp(l.level, "Error", 5) == 0)
      st->errors++;
    if ((utc = universal_time(l.msg, l.msg_len)) != 0 && l.time != 0) {
      /* whole quarter hours: the two stamps are taken a few ms apart */
      int64_t diff = (int64_t)(utc - l.time), q = 9000000000LL;
      st->utc_offset = (diff >= 0 ? diff + q / 2 : diff - q / 2) / q * q;
    }
    if (find_path(l.msg, l.msg_len, path, sizeof(path)) && !find_hresult(l.msg, l.msg_len, &code)) {
      memcpy(ctx_path, path, sizeof(path));
      ctx_line = tl.lineno;
      ctx_time = l.time;
    }
    if (!find_hresult(l.msg, l.msg_len, &code) || (code & 0x80000000u) == 0)
      continue;
    {
      struct ev_fact f;
      size_t tn = l.msg_len < sizeof(text) - 1 ? l.msg_len : sizeof(text) - 1;

      memset(&f, 0, sizeof(f));
      f.origin.file = file;
      f.origin.format = "cbs";
      f.origin.index = tl.lineno;
      f.origin.offset = tl.offset;
      f.kind = EV_FACT_CBS_FAILURE;
      f.time = l.time ? (uint64_t)((int64_t)l.time + st->utc_offset) : 0;
      f.code = code;
      if (find_path(l.msg, l.msg_len, path, sizeof(path)))
        f.path = path;
      else if (ctx_path[0] && tl.lineno - ctx_line <= CONTEXT_LINES && ctx_time == l.time)
        f.path = ctx_path;
      if (find_subject(l.msg, l.msg_len, subject, sizeof(subject)))
        f.subject = subject;
      memcpy(text, l.msg, tn);
      while (tn > 0 && (text[tn - 1] == ' ' || text[tn - 1] == '\t'))
        tn--;
      text[tn] = '\0';
      f.text = text;
      st->failures++;
      if (sink && sink->fact && sink->fact(sink->ctx, &f) != 0) {
        rc = fb_error_set(err, FB_ESTOP, tl.offset, "stopped by the consumer");
        break;
      }
    }
  }
  text_lines_free(&tl);
  if (r < 0)
    return fb_error_set(err, FB_ENOMEM, tl.offset, "out of memory reading line %llu",
                        (unsigned long long)tl.lineno);
  if (rc == 0 && st->entries == 0)
    return fb_error_set(err, FB_EFORMAT, 0,
                        "no CBS.log line found (expected \"YYYY-MM-DD HH:MM:SS, Level Component message\")");
  return rc;
}

int cbs_read(const char *path, const struct ev_sink *sink, struct cbs_stats *st, struct fb_error *err) {
  struct fb_view v;
  int rc = fb_view_open(&v, path, err);

  if (rc != 0)
    return rc;
  rc = cbs_parse(v.data, v.size, path, sink, st, err);
  fb_view_close(&v);
  return rc;
}
