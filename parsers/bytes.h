/* bytes.h - bounds-checked little-endian reads.
 *
 * Every length, offset and count read from a file goes through fb_span_ok()
 * before it is used: the check is written so that it cannot overflow.
 */
#ifndef FB_BYTES_H
#define FB_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* True when [off, off+len) lies inside a buffer of size bytes. */
static inline int fb_span_ok(uint64_t size, uint64_t off, uint64_t len) {
  return off <= size && len <= size - off;
}

static inline uint16_t fb_le16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t fb_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t fb_le64(const uint8_t *p) {
  return (uint64_t)fb_le32(p) | ((uint64_t)fb_le32(p + 4) << 32);
}

/* A pointer-sized field: 4 or 8 bytes. */
static inline uint64_t fb_leptr(const uint8_t *p, unsigned ptr_size) {
  return ptr_size == 8 ? fb_le64(p) : fb_le32(p);
}

/* A cursor over a bounded byte range; reads past the end set `bad` and
 * return zeros, so a parser checks once at the end of a structure. */
struct fb_cursor {
  const uint8_t *p;
  size_t size;
  size_t pos;
  int bad;
};

static inline void fb_cursor_init(struct fb_cursor *c, const void *p, size_t size) {
  c->p = (const uint8_t *)p;
  c->size = size;
  c->pos = 0;
  c->bad = 0;
}

static inline const uint8_t *fb_cursor_take(struct fb_cursor *c, size_t n) {
  const uint8_t *r;

  if (c->bad || !fb_span_ok(c->size, c->pos, n)) {
    c->bad = 1;
    return NULL;
  }
  r = c->p + c->pos;
  c->pos += n;
  return r;
}

static inline uint8_t fb_cursor_u8(struct fb_cursor *c) {
  const uint8_t *p = fb_cursor_take(c, 1);
  return p ? p[0] : 0;
}
static inline uint16_t fb_cursor_u16(struct fb_cursor *c) {
  const uint8_t *p = fb_cursor_take(c, 2);
  return p ? fb_le16(p) : 0;
}
static inline uint32_t fb_cursor_u32(struct fb_cursor *c) {
  const uint8_t *p = fb_cursor_take(c, 4);
  return p ? fb_le32(p) : 0;
}
static inline uint64_t fb_cursor_u64(struct fb_cursor *c) {
  const uint8_t *p = fb_cursor_take(c, 8);
  return p ? fb_le64(p) : 0;
}
static inline uint64_t fb_cursor_ptr(struct fb_cursor *c, unsigned ptr_size) {
  return ptr_size == 8 ? fb_cursor_u64(c) : fb_cursor_u32(c);
}
static inline void fb_cursor_skip(struct fb_cursor *c, size_t n) {
  (void)fb_cursor_take(c, n);
}
static inline size_t fb_cursor_left(const struct fb_cursor *c) {
  return c->bad ? 0 : c->size - c->pos;
}

#endif
