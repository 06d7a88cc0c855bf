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

size_t fb_fmt_u64(char *buf, uint64_t v) {
  char tmp[24];
  size_t n = 0;

  if (v < 100000000) { /* pids, tids, sizes: eight digits at once */
    uint64_t zeros;
    fb_digits8(tmp, (uint32_t)v);
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
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
  return n;
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
  char out[32];
  size_t o = sizeof(out), digits = 0;

  do {
    if (digits > 0 && digits % 3 == 0 && sep)
      out[--o] = sep;
    out[--o] = (char)('0' + v % 10);
    v /= 10;
    digits++;
  } while (v);
  fb_strbuf_add(b, out + o, sizeof(out) - o);
}
