/* setupapi.c - setupapi.dev.log sections (see setupapi.h). */
#include "parsers/text/setupapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/text/textlines.h"
#include "parsers/view.h"

struct section {
  int open;
  uint64_t line, offset, start;
  char header[1024];
  char image[1024];
  uint32_t warnings, errors;
};

static int starts(const char *s, size_t n, const char *p) {
  size_t k = strlen(p);
  return n >= k && memcmp(s, p, k) == 0;
}

/* "2016/10/12 03:36:30.936" */
static uint64_t parse_time(const char *s, size_t n) {
  size_t p = 0;
  int y, mo, d, h, mi, se, ms = 0;

  y = text_num(s, n, &p, 4);
  if (y < 0 || p >= n || s[p++] != '/')
    return 0;
  mo = text_num(s, n, &p, 2);
  if (mo < 0 || p >= n || s[p++] != '/')
    return 0;
  d = text_num(s, n, &p, 2);
  if (d < 0 || p >= n || s[p++] != ' ')
    return 0;
  h = text_num(s, n, &p, 2);
  if (h < 0 || p >= n || s[p++] != ':')
    return 0;
  mi = text_num(s, n, &p, 2);
  if (mi < 0 || p >= n || s[p++] != ':')
    return 0;
  se = text_num(s, n, &p, 2);
  if (se < 0)
    return 0;
  if (p < n && s[p] == '.') {
    p++;
    ms = text_num(s, n, &p, 3);
    if (ms < 0)
      ms = 0;
  }
  return text_filetime(y, mo, d, h, mi, se, ms);
}

static void trim_copy(char *out, size_t size, const char *s, size_t n) {
  while (n > 0 && (*s == ' ' || *s == '\t'))
    s++, n--;
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  if (n >= size)
    n = size - 1;
  memcpy(out, s, n);
  out[n] = '\0';
}

static int emit(struct section *sec, const char *status, const char *file, const struct ev_sink *sink,
                struct setupapi_stats *st) {
  struct ev_fact f;
  char text[2600];
  const char *dash;

  memset(&f, 0, sizeof(f));
  f.origin.file = file;
  f.origin.format = "setupapi";
  f.origin.index = sec->line;
  f.origin.offset = sec->offset;
  f.kind = EV_FACT_DRIVER_INSTALL;
  f.time = sec->start;
  f.subject = sec->header;
  if (status == NULL) {
    f.code = 0xFFFFFFFFu;
    st->unfinished++;
  } else if (strncmp(status, "SUCCESS", 7) == 0) {
    st->succeeded++;
    if (strstr(status, "REBOOT_REQUIRED") != NULL) {
      f.extra_code = 1;
      st->reboot++;
    }
  } else {
    const char *hx = strstr(status, "0x");
    f.code = hx ? (uint32_t)strtoul(hx + 2, NULL, 16) : 0xFFFFFFFFu;
    if (f.code == 0)
      f.code = 0xFFFFFFFFu;
    st->failed++;
  }
  dash = strstr(sec->header, " - ");
  if (sec->image[0])
    f.path = sec->image;
  else if (dash != NULL && (dash[3] == '\\' || (dash[3] != '\0' && dash[4] == ':')))
    f.path = dash + 3;
  snprintf(text, sizeof(text), "%s: %s (%u warnings, %u errors)", sec->header,
           status ? status : "no exit status", sec->warnings, sec->errors);
  f.text = text;
  st->sections++;
  sec->open = 0;
  if (sink && sink->fact && sink->fact(sink->ctx, &f) != 0)
    return -1;
  return 0;
}

int setupapi_parse(const uint8_t *data, size_t size, const char *file, const struct ev_sink *sink,
                   struct setupapi_stats *st, struct fb_error *err) {
  struct setupapi_stats local;
  struct text_lines tl;
  struct section *sec;
  const char *s;
  size_t n;
  int r, rc = 0, stop = 0;

  fb_error_init(err, file);
  if (st == NULL)
    st = &local;
  memset(st, 0, sizeof(*st));
  sec = calloc(1, sizeof(*sec));
  if (sec == NULL)
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory");
  text_lines_init(&tl, data, size);
  while (!stop && (r = text_lines_next(&tl, &s, &n)) == 1) {
    st->lines++;
    if (starts(s, n, ">>>  [")) {
      const char *end = memchr(s + 6, ']', n - 6);
      if (sec->open && emit(sec, NULL, file, sink, st) != 0) {
        stop = 1;
        break;
      }
      memset(sec, 0, sizeof(*sec));
      sec->open = 1;
      sec->line = tl.lineno;
      sec->offset = tl.offset;
      trim_copy(sec->header, sizeof(sec->header), s + 6, end ? (size_t)(end - s - 6) : n - 6);
    } else if (starts(s, n, ">>>  Section start ")) {
      if (sec->open)
        sec->start = parse_time(s + 19, n - 19);
    } else if (starts(s, n, "<<<  [Exit status: ")) {
      char status[256];
      const char *end = memchr(s + 19, ']', n - 19);
      trim_copy(status, sizeof(status), s + 19, end ? (size_t)(end - s - 19) : n - 19);
      if (sec->open && emit(sec, status, file, sink, st) != 0)
        stop = 1;
    } else if (starts(s, n, "[Boot Session: ")) {
      st->boot_sessions++;
    } else if (sec->open) {
      const char *ip;
      if (starts(s, n, "!!!  ")) {
        sec->errors++;
        st->errors++;
      } else if (starts(s, n, "!    ")) {
        sec->warnings++;
        st->warnings++;
      }
      if (sec->image[0] == '\0' && (ip = strstr(s, "Image Path")) != NULL && (ip = strchr(ip, '=')) != NULL)
        trim_copy(sec->image, sizeof(sec->image), ip + 1, n - (size_t)(ip + 1 - s));
    }
  }
  if (stop)
    rc = fb_error_set(err, FB_ESTOP, tl.offset, "stopped by the consumer");
  else if (r < 0)
    rc = fb_error_set(err, FB_ENOMEM, tl.offset, "out of memory");
  else if (sec->open && emit(sec, NULL, file, sink, st) != 0)
    rc = fb_error_set(err, FB_ESTOP, tl.offset, "stopped by the consumer");
  text_lines_free(&tl);
  free(sec);
  if (rc == 0 && st->sections == 0)
    rc = fb_error_set(err, FB_EFORMAT, 0, "no setupapi section found (expected \">>>  [title]\" lines)");
  return rc;
}

int setupapi_read(const char *path, const struct ev_sink *sink, struct setupapi_stats *st,
                  struct fb_error *err) {
  struct fb_view v;
  int rc = fb_view_open(&v, path, err);

  if (rc != 0)
    return rc;
  rc = setupapi_parse(v.data, v.size, path, sink, st, err);
  fb_view_close(&v);
  return rc;
}
