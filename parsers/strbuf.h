/* strbuf.h - a growable string for rendering (CSV rows, JSON, detail text).
 * Reused across events: fb_strbuf_reset() keeps the allocation. */
#ifndef FB_STRBUF_H
#define FB_STRBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fb_strbuf {
  char *s; /* always NUL-terminated once anything was added */
  size_t len;
  size_t cap; /* bytes usable at s; set to len when an allocation fails, so
                 that the inline appends need one comparison */
  int oom;    /* an allocation failed; content is cut */
};

void fb_strbuf_init(struct fb_strbuf *b);
void fb_strbuf_free(struct fb_strbuf *b);
static inline void fb_strbuf_reset(struct fb_strbuf *b) {
  b->len = 0;
  if (b->s)
    b->s[0] = '\0';
}
/* Appends. The common case (room left, no earlier allocation failure) is
 * inline: renderers append a few bytes at a time, many per event, and a
 * literal's strlen folds away. Up to 16 bytes are copied without a call. */
void fb_strbuf_add_grow(struct fb_strbuf *b, const char *s, size_t n);
static inline void fb_strbuf_add(struct fb_strbuf *b, const char *s, size_t n) {
  if (b->cap - b->len > n) { /* false for no buffer (0 - 0) and after oom */
    char *d = b->s + b->len;
    if (n >= 8 && n <= 16) { /* two overlapping 8-byte moves */
      uint64_t x, y;
      memcpy(&x, s, 8);
      memcpy(&y, s + n - 8, 8);
      memcpy(d, &x, 8);
      memcpy(d + n - 8, &y, 8);
    } else if (n >= 4 && n < 8) { /* two overlapping 4-byte moves */
      uint32_t x, y;
      memcpy(&x, s, 4);
      memcpy(&y, s + n - 4, 4);
      memcpy(d, &x, 4);
      memcpy(d + n - 4, &y, 4);
    } else if (n < 4) { /* 0..3 bytes: first, middle and last (some the same) */
      if (n > 0) {
        char a = s[0], m = s[n / 2], z = s[n - 1];
        d[0] = a;
        d[n / 2] = m;
        d[n - 1] = z;
      }
    } else {
      memcpy(d, s, n);
    }
    b->len += n;
    b->s[b->len] = '\0';
  } else {
    fb_strbuf_add_grow(b, s, n);
  }
}
static inline void fb_strbuf_puts(struct fb_strbuf *b, const char *s) {
  fb_strbuf_add(b, s, strlen(s));
}
static inline void fb_strbuf_putc(struct fb_strbuf *b, char c) {
  fb_strbuf_add(b, &c, 1);
}
/* Room for n more bytes (and the NUL): where to write them, or NULL when
 * memory ran out. A writer formats a bounded field in place, then ends it
 * with fb_strbuf_commit at its end: no copy, no check per piece. */
char *fb_strbuf_room_grow(struct fb_strbuf *b, size_t n);
static inline char *fb_strbuf_room(struct fb_strbuf *b, size_t n) {
  return b->cap - b->len > n ? b->s + b->len : fb_strbuf_room_grow(b, n);
}
static inline void fb_strbuf_commit(struct fb_strbuf *b, char *end) {
  b->len = (size_t)(end - b->s);
  *end = '\0';
}
/* v < 100,000,000 as exactly eight decimal digits, zero-padded, at p[0..7]
 * (no NUL). All eight at once: each step splits every lane of the 64-bit
 * word in two by a multiply and a shift (4+4 digits, then 2+2, then 1+1).
 * Times print seven-digit 100-ns fractions, three times per CSV row. */
static inline void fb_digits8(char *p, uint32_t v) {
  uint64_t hi = v / 10000, x = hi | ((v - hi * 10000) << 32), q;

  q = ((x * 10486) >> 20) & 0x0000007F0000007FULL; /* each 32-bit lane / 100 */
  x = q | ((x - q * 100) << 16);
  q = ((x * 103) >> 10) & 0x000F000F000F000FULL; /* each 16-bit lane / 10 */
  x = (q | ((x - q * 10) << 8)) | 0x3030303030303030ULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x); /* the first digit sits in the lowest byte */
#endif
  memcpy(p, &x, 8);
}
void fb_strbuf_printf(struct fb_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Unsigned decimal ("%llu") and hexadecimal with at least min_digits digits
 * ("%0*llx" / "%0*llX"), without printf's cost in hot loops. */
void fb_strbuf_u64(struct fb_strbuf *b, uint64_t v);
/* The same into buf; returns its length. Writes up to 20 bytes, and 8 for
 * any shorter number: buf holds 24. */
size_t fb_fmt_u64(char *buf, uint64_t v);
void fb_strbuf_hex(struct fb_strbuf *b, uint64_t v, int min_digits, int upper);
/* "0x%llx" */
void fb_strbuf_0x(struct fb_strbuf *b, uint64_t v);
/* Append nchars UTF-16LE code units as UTF-8. */
void fb_strbuf_utf16(struct fb_strbuf *b, const uint8_t *src, size_t nchars);
/* Unsigned decimal with en-US thousands separators: 16384 -> "16,384". */
void fb_strbuf_grouped(struct fb_strbuf *b, uint64_t v, char sep);

#endif
