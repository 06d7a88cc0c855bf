#include "parsers/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/utf16.h"

void fb_strbuf_init(struct fb_strbuf *b) {
  memset(b, 0, sizeof(*b));
}

void fb_strbuf_free(struct fb_strbuf *b) {
  free(b->s);
  memset(b, 0, sizeof(*b));
}

/* Nothing more fits once an allocation failed: what was written stays, cut. */
static int fail(struct fb_strbuf *b) {
  b->oom = 1;
  if (b->cap > b->len)
    b->cap = b->len;
  return -1;
}

static int grow(struct fb_strbuf *b, size_t extra) {
  size_t need, cap;
  char *p;

  if (b->oom)
    return fail(b);
  if (extra > SIZE_MAX / 2 - b->len - 1)
    return fail(b);
  need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  p = realloc(b->s, cap);
  if (p == NULL)
    return fail(b);
  b->s = p;
  b->cap = cap;
  return 0;
}

void fb_strbuf_add_grow(struct fb_strbuf *b, const char *s, size_t n) {
  if (grow(b, n) < 0)
    return;
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

char *fb_strbuf_room_grow(struct fb_strbuf *b, size_t n) {
  return grow(b, n) < 0 ? NULL : b->s + b->len;
}

void fb_strbuf_printf(struct fb_strbuf *b, const char *fmt, ...) {
  va_list ap;
  size_t room = b->cap > b->len ? b->cap - b->len : 0;
  int n;

  /* Format in place when it fits (nearly always): one pass, not two. */
  va_start(ap, fmt);
  n = vsnprintf(room ? b->s + b->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n < 0) {
    if (b->s)
      b->s[b->len] = '\0';
    return;
  }
  if ((size_t)n < room) {
    b->len += (size_t)n;
    return;
  }
  if (grow(b, (size_t)n) < 0) {
    if (b->s)
      b->s[b->len] = '\0';
    return;
  }
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* v < 10^8 without leading zeros: writes 8 bytes at buf, returns the length. */
static size_t fmt_below_1e8(char *buf, uint32_t v) {
  char tmp[16]; /* read 8 bytes from tmp + n, n <= 7 */
  uint64_t zeros;
  size_t n;

  fb_digits8(tmp, v);
  memcpy(&zeros, tmp, 8);
  zeros ^= 0x3030303030303030ULL; /* leading '0's become zero bytes */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  n = zeros ? (size_t)__builtin_clzll(zeros) / 8 : 7;
#else
  n = zeros ? (size_t)__builtin_ctzll(zeros) / 8 : 7;
#endif
  memcpy(buf, tmp + n, 8);
  return 8 - n;
}

size_t fb_fmt_u64(char *buf, uint64_t v) {
  size_t n;

  if (v < 100000000) /* pids, tids, sizes */
    return fmt_below_1e8(buf, (uint32_t)v);
  if (v < 10000000000000000ULL) { /* file offsets: the high part, then eight digits */
    n = fmt_below_1e8(buf, (uint32_t)(v / 100000000));
    fb_digits8(buf + n, (uint32_t)(v % 100000000));
    return n + 8;
  }
  n = fmt_below_1e8(buf, (uint32_t)(v / 10000000000000000ULL)); /* at most 1844 */
  v %= 10000000000000000ULL;
  fb_digits8(buf + n, (uint32_t)(v / 100000000));
  fb_digits8(buf + n + 8, (uint32_t)(v % 100000000));
  return n + 16;
}

void fb_strbuf_u64(struct fb_strbuf *b, uint64_t v) {
  char *p = fb_strbuf_room(b, 24);

  if (p != NULL)
    fb_strbuf_commit(b, p + fb_fmt_u64(p, v));
}

void fb_strbuf_hex(struct fb_strbuf *b, uint64_t v, int min_digits, int upper) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char tmp[16];
  int n = 0;

  if (min_digits > (int)sizeof(tmp))
    min_digits = (int)sizeof(tmp);
  do {
    tmp[sizeof(tmp) - ++n] = digits[v & 15];
    v >>= 4;
  } while (v || n < min_digits);
  fb_strbuf_add(b, tmp + sizeof(tmp) - n, (size_t)n);
}

void fb_strbuf_0x(struct fb_strbuf *b, uint64_t v) {
  fb_strbuf_add(b, "0x", 2);
  fb_strbuf_hex(b, v, 1, 0);
}

void fb_strbuf_utf16(struct fb_strbuf *b, const uint8_t *src, size_t nchars) {
  size_t room = fb_utf16_bound(nchars);

  if (grow(b, room) < 0)
    return;
  b->len += fb_utf16le_to_utf8(src, nchars, b->s + b->len, room);
}

void fb_strbuf_grouped(struct fb_strbuf *b, uint64_t v, char sep) {
  char digits[24], *p = fb_strbuf_room(b, 32);
  size_t n, head;

  if (p == NULL)
    return;
  n = fb_fmt_u64(digits, v);
  if (!sep || n <= 3) {
    memcpy(p, digits, 8); /* fb_fmt_u64 wrote at least 8 bytes */
    fb_strbuf_commit(b, p + n);
    return;
  }
  head = (n - 1) % 3 + 1; /* 1-3 digits before the first separator */
  memcpy(p, digits, 4);
  p += head;
  for (size_t i = head; i < n; i += 3) { /* each later group: sep and 3 digits */
    p[0] = sep;
    memcpy(p + 1, digits + i, 3);
    p += 4;
  }
  fb_strbuf_commit(b, p);
}
