/* view.h - a read-only view of a whole input file.
 *
 * Files are memory-mapped, so the kernel pages them in and out: a 2 GB trace
 * does not need 2 GB of RAM. Readers that walk the bulk of a file in order
 * (PML events) read it through a window instead (fb_view_bytes): pread()
 * into one reused buffer. A first touch of a mapped page costs a page fault,
 * and on a virtual machine a fault costs more than copying the page. A gzip file (magic 1f 8b) is inflated in
 * blocks into an unlinked temporary file which is then mapped, so `.pml.gz` reads like `.pml` without holding
 * the inflated bytes in memory.
 */
#ifndef FB_VIEW_H
#define FB_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"

struct fb_view {
  const uint8_t *data;
  size_t size;
  int gzipped;        /* the file was gzip and data is the inflated content */
  uint64_t file_size; /* size of the file on disk */
  /* private */
  void *map;
  size_t map_size;
  int fd; /* the mapped file, for fb_view_bytes; -1 for memory views */
};

/* A reusable read buffer over a view: bytes [off, off + len) of the file.
 * cap: before the first read, the size wanted (0 = 256 KiB); after it, the
 * size of buf (never more than the file needs). */
struct fb_window {
  uint8_t *buf;
  size_t cap;
  uint64_t off;
  size_t len;
};

/* Map path (inflating gzip). On error fills err (file, offset, message). */
int fb_view_open(struct fb_view *view, const char *path, struct fb_error *err);

/* A view over bytes the caller owns (tests, fuzzers). Nothing is copied. */
void fb_view_from_memory(struct fb_view *view, const void *data, size_t size);

void fb_view_close(struct fb_view *view);

/* Bytes [off, off + n) of the view, which the caller has checked lie inside
 * it (fb_span_ok). For a file, they come from w, refilled with pread() from
 * off when they are not in it; a range larger than the window, or a memory
 * view, is served from the view in place. The pointer stays valid until the
 * next call with the same window. NULL if the read failed (errno set).
 * Inline: most calls find their bytes in the window already. */
const uint8_t *fb_view_bytes_fill(const struct fb_view *view, struct fb_window *w, uint64_t off, size_t n);
static inline const uint8_t *fb_view_bytes(const struct fb_view *view, struct fb_window *w, uint64_t off,
                                           size_t n) {
  if (w->buf != NULL && off >= w->off && off - w->off <= w->len && n <= w->len - (off - w->off))
    return w->buf + (off - w->off);
  return fb_view_bytes_fill(view, w, off, n);
}
void fb_window_free(struct fb_window *w);

/* Fault in the pages of [p, p + n) that lie wholly inside it, in one system
 * call: fresh memory (a new malloc block, a window) costs a page fault per
 * page on first touch, and faults are dear on virtual machines. A hint:
 * nothing happens where the kernel cannot do it. */
void fb_prefault(void *p, size_t n);

/* write() all n bytes, again after EINTR and short writes. 0, or -1 with errno. */
int fb_write_all(int fd, const void *p, size_t n);

#endif
