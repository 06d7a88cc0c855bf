/* view.h - a read-only view of a whole input file.
 *
 * Files are memory-mapped, so the kernel pages them in and out: a 2 GB trace
 * does not need 2 GB of RAM. A gzip file (magic 1f 8b) is inflated in blocks
 * into an unlinked temporary file which is then mapped, so `.pml.gz` reads
 * like `.pml` without holding the inflated bytes in memory.
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
};

/* Map path (inflating gzip). On error fills err (file, offset, message). */
int fb_view_open(struct fb_view *view, const char *path, struct fb_error *err);

/* A view over bytes the caller owns (tests, fuzzers). Nothing is copied. */
void fb_view_from_memory(struct fb_view *view, const void *data, size_t size);

void fb_view_close(struct fb_view *view);

#endif
