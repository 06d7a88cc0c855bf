#include "parsers/view.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { INFLATE_CHUNK = 1 << 20 };
/* Below this many pages, a block is likely heap memory in use already, and
 * faulting the rest in one by one costs little more than the system call. */
enum { PREFAULT_MIN = 8 };
/* Large enough that a refill is rare per event, small enough to stay in L2
 * while the events in it are decoded. */
enum { WINDOW_SIZE = 256 << 10 };

static int map_fd(struct fb_view *view, int fd, size_t size, struct fb_error *err) {
  void *p;

  if (size == 0) { /* mmap refuses empty files; an empty view is still a view */
    view->data = (const uint8_t *)"";
    view->size = 0;
    return FB_OK;
  }
  p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED)
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot map %zu bytes: %s", size, strerror(errno));
  madvise(p, size, MADV_SEQUENTIAL);
  view->fd = fd;
  view->map = p;
  view->map_size = size;
  view->data = p;
  view->size = size;
  return FB_OK;
}

static int temp_file(void) {
  const char *dir = getenv("TMPDIR");
  char path[4096];
  int fd;

  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp";
  fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0)
    return fd;
  /* Filesystems without O_TMPFILE: create and unlink at once. */
  snprintf(path, sizeof(path), "%s/fltblame-XXXXXX", dir);
  fd = mkstemp(path);
  if (fd >= 0)
    unlink(path);
  return fd;
}

int fb_write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;

  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Inflate the gzip member(s) read from in_fd into a temporary file, map it. */
static int inflate_to_view(struct fb_view *view, int in_fd, struct fb_error *err) {
  z_stream zs;
  uint8_t *in = NULL, *out = NULL;
  uint64_t in_off = 0, total = 0;
  int out_fd = -1, zr = Z_OK, rc = FB_OK;

  memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 15 + 32) != Z_OK)
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "cannot start zlib");
  in = malloc(INFLATE_CHUNK);
  out = malloc(INFLATE_CHUNK);
  out_fd = temp_file();
  if (in == NULL || out == NULL || out_fd < 0) {
    rc = fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot create a temporary file to inflate into");
    goto done;
  }
  for (;;) {
    ssize_t n = read(in_fd, in, INFLATE_CHUNK);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = fb_error_set(err, FB_EIO, in_off, "read failed: %s", strerror(errno));
      goto done;
    }
    if (n == 0)
      break;
    zs.next_in = in;
    zs.avail_in = (uInt)n;
    while (zs.avail_in > 0) {
      if (zr == Z_STREAM_END) /* concatenated gzip members */
        inflateReset(&zs);
      zs.next_out = out;
      zs.avail_out = INFLATE_CHUNK;
      zr = inflate(&zs, Z_NO_FLUSH);
      if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
        rc = fb_error_set(err, FB_EFORMAT, in_off + (uint64_t)(n - zs.avail_in), "gzip data is corrupt: %s",
                          zs.msg ? zs.msg : "inflate failed");
        goto done;
      }
      if (fb_write_all(out_fd, out, INFLATE_CHUNK - zs.avail_out) < 0) {
        rc = fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot write inflated data: %s", strerror(errno));
        goto done;
      }
      total += INFLATE_CHUNK - zs.avail_out;
      if (zr == Z_BUF_ERROR && zs.avail_in == 0)
        break;
    }
    in_off += (uint64_t)n;
  }
  if (zr != Z_STREAM_END) {
    rc = fb_error_set(err, FB_ETRUNC, in_off, "gzip stream ends early (%llu bytes inflated)",
                      (unsigned long long)total);
    goto done;
  }
  rc = map_fd(view, out_fd, (size_t)total, err);
  view->gzipped = 1;
done:
  inflateEnd(&zs);
  free(in);
  free(out);
  if (out_fd >= 0 && view->fd != out_fd) /* a mapped view keeps its fd */
    close(out_fd);
  return rc;
}

int fb_view_open(struct fb_view *view, const char *path, struct fb_error *err) {
  struct stat st;
  uint8_t magic[2];
  int fd, rc;

  memset(view, 0, sizeof(*view));
  view->fd = -1;
  fb_error_init(err, path);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot open: %s", strerror(errno));
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "not a regular file");
  }
  view->file_size = (uint64_t)st.st_size;
  if (st.st_size >= 2 && pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
    rc = inflate_to_view(view, fd, err);
  else
    rc = map_fd(view, fd, (size_t)st.st_size, err);
  if (view->fd != fd)
    close(fd);
  return rc;
}

void fb_view_from_memory(struct fb_view *view, const void *data, size_t size) {
  memset(view, 0, sizeof(*view));
  view->data = data;
  view->size = size;
  view->file_size = size;
  view->fd = -1;
}

void fb_view_close(struct fb_view *view) {
  if (view->map != NULL)
    munmap(view->map, view->map_size);
  if (view->fd >= 0)
    close(view->fd);
  memset(view, 0, sizeof(*view));
  view->fd = -1;
}

/* The window's buffer, no larger than the file needs. Its pages are
 * faulted in with one call rather than one fault per page on the first fill
 * (fresh memory; a block malloc hands out again costs little). */
static int window_alloc(const struct fb_view *view, struct fb_window *w) {
  size_t want = w->cap ? w->cap : WINDOW_SIZE;

  if (view->size < want)
    want = view->size > 0 ? (size_t)view->size : 1;
  if ((w->buf = malloc(want)) == NULL)
    return -1;
  fb_prefault(w->buf, want);
  w->cap = want;
  w->off = 0;
  w->len = 0;
  return 0;
}

static int window_fill(const struct fb_view *view, struct fb_window *w, uint64_t off) {
  size_t want = view->size - off < w->cap ? (size_t)(view->size - off) : w->cap, got = 0;

  w->off = off;
  w->len = 0;
  while (got < want) {
    ssize_t r = pread(view->fd, w->buf + got, want - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      if (r == 0)
        errno = EIO; /* the file shrank under us */
      return -1;
    }
    got += (size_t)r;
  }
  w->len = got;
  return 0;
}

const uint8_t *fb_view_bytes_fill(const struct fb_view *view, struct fb_window *w, uint64_t off, size_t n) {
  if (view->fd < 0)
    return view->data + off;
  if (w->buf == NULL && window_alloc(view, w) < 0)
    return NULL;
  if (n > w->cap)
    return view->data + off;
  if (window_fill(view, w, off) < 0)
    return NULL;
  return w->buf + (off - w->off);
}

void fb_window_free(struct fb_window *w) {
  free(w->buf);
  memset(w, 0, sizeof(*w));
}

void fb_prefault(void *p, size_t n) {
#ifdef MADV_POPULATE_WRITE
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), from = ((uintptr_t)p + page - 1) & ~(page - 1),
            upto = ((uintptr_t)p + n) & ~(page - 1);

  if (upto > from && upto - from >= PREFAULT_MIN * page)
    madvise((void *)from, upto - from, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)n;
#endif
}
