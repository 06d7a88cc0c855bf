/* textlines.c - decode Windows text logs line by line (see textlines.h). */
#include "parsers/text/textlines.h"

#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/filetype.h"
#include "parsers/utf16.h"

void text_lines_init(struct text_lines *t, const uint8_t *data, size_t size) {
  size_t skip = 0;
  int enc;

  memset(t, 0, sizeof(*t));
  t->data = data;
  t->size = size;
  enc = data != NULL ? fb_text_encoding(data, size, &skip) : 0;
  t->enc = enc == 2 ? TEXT_UTF16LE : enc == 1 ? TEXT_UTF8_BOM : TEXT_8BIT;
  t->pos = skip;
}

void text_lines_free(struct text_lines *t) {
  free(t->buf);
  if (t->iconv != NULL)
    iconv_close((iconv_t)t->iconv);
  t->buf = NULL;
  t->iconv = NULL;
}

static int reserve(struct text_lines *t, size_t need) {
  char *p;

  if (need <= t->cap)
    return 0;
  p = realloc(t->buf, need);
  if (p == NULL)
    return -1;
  t->buf = p;
  t->cap = need;
  return 0;
}

static int valid_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;

  while (i < n) {
    uint8_t c = s[i];
    size_t k, len;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4;
    else
      return 0;
    if (n - i < len)
      return 0;
    for (k = 1; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80)
        return 0;
    i += len;
  }
  return 1;
}

/* GB18030 -> UTF-8 into t->buf; undecodable bytes become '?'. */
static size_t from_gbk(struct text_lines *t, const uint8_t *s, size_t n) {
  char *in = (char *)s, *out = t->buf;
  size_t inleft = n, outleft = t->cap - 1;

  if (t->iconv == NULL) {
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1)
      t->iconv = NULL;
    else
      t->iconv = (void *)cd;
  }
  while (inleft > 0 && outleft > 0) {
    if (t->iconv == NULL || iconv((iconv_t)t->iconv, &in, &inleft, &out, &outleft) == (size_t)-1) {
      if (t->iconv != NULL)
        iconv((iconv_t)t->iconv, NULL, NULL, NULL, NULL);
      if (outleft == 0 || inleft == 0)
        break;
      *out++ = (unsigned char)*in < 0x80 ? *in : '?';
      outleft--;
      in++;
      inleft--;
    }
  }
  return (size_t)(out - t->buf);
}

static int next_8bit(struct text_lines *t, const char **line, size_t *len) {
  const uint8_t *s = t->data + t->pos, *nl;
  size_t n = t->size - t->pos, l, out;

  nl = memchr(s, '\n', n);
  l = nl ? (size_t)(nl - s) : n;
  t->pos += l + (nl ? 1 : 0);
  if (l > 0 && s[l - 1] == '\r')
    l--;
  if (l > TEXT_LINE_MAX)
    l = TEXT_LINE_MAX;
  if (reserve(t, l * 2 + 4) != 0)
    return -1;
  if (valid_utf8(s, l)) {
    memcpy(t->buf, s, l);
    out = l;
  } else {
    t->gbk_lines++;
    out = from_gbk(t, s, l);
  }
  t->buf[out] = '\0';
  *line = t->buf;
  *len = out;
  return 1;
}

static int next_utf16(struct text_lines *t, const char **line, size_t *len) {
  size_t i = t->pos, units, out;

  while (i + 1 < t->size && !(t->data[i] == '\n' && t->data[i + 1] == 0))
    i += 2;
  units = (i - t->pos) / 2;
  if (units > 0 && t->data[t->pos + 2 * (units - 1)] == '\r' && t->data[t->pos + 2 * (units - 1) + 1] == 0)
    units--;
  if (units > TEXT_LINE_MAX / 3)
    units = TEXT_LINE_MAX / 3;
  if (reserve(t, fb_utf16_bound(units) + 1) != 0)
    return -1;
  out = fb_utf16le_to_utf8(t->data + t->pos, units, t->buf, t->cap);
  t->buf[out] = '\0';
  t->pos = i + 1 < t->size ? i + 2 : t->size;
  *line = t->buf;
  *len = out;
  return 1;
}

int text_lines_next(struct text_lines *t, const char **line, size_t *len) {
  if (t->data == NULL || t->pos >= t->size || (t->enc == TEXT_UTF16LE && t->pos + 1 >= t->size))
    return 0;
  t->offset = t->pos;
  t->lineno++;
  return t->enc == TEXT_UTF16LE ? next_utf16(t, line, len) : next_8bit(t, line, len);
}

uint64_t text_filetime(int year, int month, int day, int hour, int min, int sec, int msec) {
  /* days from 1601-01-01 via the civil-from-days algorithm on a March-based year */
  long y, era, yoe, doy, doe, days;
  int m;

  if (year < 1601 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      min < 0 || min > 59 || sec < 0 || sec > 60 || msec < 0 || msec > 999)
    return 0;
  y = year - (month <= 2);
  m = month;
  era = y / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  days = era * 146097 + doe - 719468; /* days since 1970-01-01 */
  days += 134774;                     /* 1601-01-01 .. 1970-01-01 */
  return ((((uint64_t)days * 24 + (uint64_t)hour) * 60 + (uint64_t)min) * 60 + (uint64_t)sec) * 10000000ull +
         (uint64_t)msec * 10000ull;
}

int text_num(const char *s, size_t len, size_t *pos, int digits) {
  int v = 0, n = 0;

  while (*pos < len && n < digits && s[*pos] >= '0' && s[*pos] <= '9') {
    v = v * 10 + (s[*pos] - '0');
    (*pos)++;
    n++;
  }
  return n ? v : -1;
}
