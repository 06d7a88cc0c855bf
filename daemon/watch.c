/* watch.c - inotify + periodic walk + settle rule; see watch.h. */
#include "daemon/watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define WATCH_MAX_DEPTH 16
#define DIR_MASK                                                                                             \
  (IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM |            \
   IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

struct wdir {
  int wd;
  char *path;
};

struct pending {
  char *path;
  int64_t size, mtime_ns, ctime_ns;
  uint64_t last_change; /* uv_now() of the last change seen */
  int closed;           /* no writer known to have it open */
};

struct watch {
  uv_loop_t *loop;
  char *root;
  int fd;
  uv_poll_t poll;
  uv_timer_t settle_timer;
  uv_timer_t rescan_timer;
  int handles_open;
  double quiet;
  double rescan_every;
  char ignore[512];
  struct watch_callbacks cb;
  struct wdir *dirs;
  size_t ndirs, capdirs;
  struct pending *pend;
  size_t npend, cappend;
  struct watch_stats stats;
  /* Inodes recently closed under a temporary name: when one shows up under a
   * final name (sftp-server's link-then-unlink rename; by the time we read the
   * event the old name may be gone and st_nlink back to 1), it is complete. */
  struct {
    dev_t dev;
    ino_t ino;
  } closed_tmp[64];
  unsigned closed_tmp_next;
};

static void closed_tmp_add(struct watch *w, const struct stat *st) {
  unsigned i = w->closed_tmp_next++ % 64;
  w->closed_tmp[i].dev = st->st_dev;
  w->closed_tmp[i].ino = st->st_ino;
}

static int closed_tmp_has(const struct watch *w, const struct stat *st) {
  for (unsigned i = 0; i < 64; i++)
    if (w->closed_tmp[i].ino == st->st_ino && w->closed_tmp[i].dev == st->st_dev && st->st_ino != 0)
      return 1;
  return 0;
}

static void wlog(struct watch *w, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void wlog(struct watch *w, int level, const char *fmt, ...) {
  char msg[1400];
  va_list ap;
  if (w->cb.log == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  w->cb.log(level, msg, w->cb.user);
}

int watch_name_ignored(const char *name, const char *suffixes) {
  size_t ln = strlen(name);
  const char *p = suffixes;

  if (name[0] == '.' || ln == 0)
    return 1;
  while (p && *p) {
    const char *e = strchr(p, ',');
    size_t ls = e ? (size_t)(e - p) : strlen(p);
    while (ls > 0 && (*p == ' ' || *p == '\t'))
      p++, ls--;
    while (ls > 0 && (p[ls - 1] == ' ' || p[ls - 1] == '\t'))
      ls--;
    if (ls > 0 && ls <= ln && strncasecmp(name + ln - ls, p, ls) == 0)
      return 1;
    p = e ? e + 1 : NULL;
  }
  return 0;
}

static int64_t ts_ns(const struct timespec *t) {
  return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* ---- directories ---- */

static const char *wd_path(struct watch *w, int wd) {
  for (size_t i = 0; i < w->ndirs; i++)
    if (w->dirs[i].wd == wd)
      return w->dirs[i].path;
  return NULL;
}

static void wd_forget(struct watch *w, int wd) {
  for (size_t i = 0; i < w->ndirs; i++)
    if (w->dirs[i].wd == wd) {
      free(w->dirs[i].path);
      w->dirs[i] = w->dirs[--w->ndirs];
      return;
    }
}

/* Watch one directory; inotify gives back the same wd for a directory already
 * watched, so a walk may call this for every directory it passes. */
static int watch_dir(struct watch *w, const char *path) {
  int wd = inotify_add_watch(w->fd, path, DIR_MASK);
  if (wd < 0) {
    wlog(w, 4, "watch %s: %s", path, strerror(errno));
    return -1;
  }
  for (size_t i = 0; i < w->ndirs; i++)
    if (w->dirs[i].wd == wd) {
      if (strcmp(w->dirs[i].path, path) != 0) { /* moved: keep the new name */
        char *p = strdup(path);
        if (p) {
          free(w->dirs[i].path);
          w->dirs[i].path = p;
        }
      }
      return 0;
    }
  if (w->ndirs == w->capdirs) {
    size_t cap = w->capdirs ? w->capdirs * 2 : 16;
    struct wdir *d = realloc(w->dirs, cap * sizeof(*d));
    if (d == NULL)
      return -1;
    w->dirs = d;
    w->capdirs = cap;
  }
  w->dirs[w->ndirs].wd = wd;
  w->dirs[w->ndirs].path = strdup(path);
  if (w->dirs[w->ndirs].path == NULL)
    return -1;
  w->ndirs++;
  return 0;
}

/* ---- pending files ---- */

static struct pending *pend_find(struct watch *w, const char *path) {
  for (size_t i = 0; i < w->npend; i++)
    if (!strcmp(w->pend[i].path, path))
      return &w->pend[i];
  return NULL;
}

static void pend_drop(struct watch *w, struct pending *p) {
  free(p->path);
  *p = w->pend[--w->npend];
}

static struct pending *pend_add(struct watch *w, const char *path, const struct stat *st, int closed) {
  struct pending *p = pend_find(w, path);
  if (p == NULL) {
    if (w->npend == w->cappend) {
      size_t cap = w->cappend ? w->cappend * 2 : 64;
      struct pending *n = realloc(w->pend, cap * sizeof(*n));
      if (n == NULL)
        return NULL;
      w->pend = n;
      w->cappend = cap;
    }
    p = &w->pend[w->npend];
    memset(p, 0, sizeof(*p));
    p->path = strdup(path);
    if (p->path == NULL)
      return NULL;
    w->npend++;
    p->closed = closed;
  } else if (closed) {
    p->closed = 1;
  }
  p->size = st->st_size;
  p->mtime_ns = ts_ns(&st->st_mtim);
  p->ctime_ns = ts_ns(&st->st_ctim);
  p->last_change = uv_now(w->loop);
  return p;
}

/* ---- the walk ---- */

static void walk(struct watch *w, const char *dir, int depth) {
  DIR *d;
  struct dirent *e;

  if (depth > WATCH_MAX_DEPTH || watch_dir(w, dir) < 0)
    return;
  d = opendir(dir);
  if (d == NULL)
    return;
  while ((e = readdir(d)) != NULL) {
    char path[PATH_MAX];
    struct stat st;

    if (e->d_name[0] == '.') /* ".", ".." and hidden names (.ssh in a chroot home, editor swaps) */
      continue;
    if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
      continue;
    if (lstat(path, &st) < 0)
      continue;
    if (S_ISDIR(st.st_mode)) {
      walk(w, path, depth + 1);
    } else if (S_ISREG(st.st_mode) && !watch_name_ignored(e->d_name, w->ignore) &&
               pend_find(w, path) == NULL) {
      if (w->cb.known && w->cb.known(path, &st, w->cb.user))
        continue;
      /* Found by a walk: no close event was seen, so it must stay unchanged for
       * the quiet period from now, and pass the lease test. */
      pend_add(w, path, &st, 1);
    }
  }
  closedir(d);
}

void watch_rescan(struct watch *w) {
  w->stats.rescans++;
  walk(w, w->root, 0);
}

/* ---- events ---- */

static void on_file_event(struct watch *w, const char *path, const char *name, uint32_t mask) {
  struct stat st;
  struct pending *p;

  if (mask & (IN_DELETE | IN_MOVED_FROM)) {
    if ((p = pend_find(w, path)) != NULL)
      pend_drop(w, p);
    return;
  }
  if (watch_name_ignored(name, w->ignore)) {
    if ((mask & IN_CLOSE_WRITE) && lstat(path, &st) == 0 && S_ISREG(st.st_mode))
      closed_tmp_add(w, &st);
    return;
  }
  if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
    return;
  if (mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
    pend_add(w, path, &st, 1);
  } else if (mask & IN_CREATE) {
    /* A new name with another link is sftp-server's rename (link, then unlink
     * of the old name): the bytes were written and closed under the old name. */
    pend_add(w, path, &st, st.st_nlink > 1 || closed_tmp_has(w, &st));
  } else if (mask & (IN_MODIFY | IN_ATTRIB)) {
    p = pend_find(w, path);
    if (p != NULL)
      p->last_change = uv_now(w->loop);
    else if (mask & IN_MODIFY) /* rewritten in place: wait for its close */
      pend_add(w, path, &st, 0);
  }
}

static void on_inotify(uv_poll_t *h, int status, int events) {
  struct watch *w = h->data;
  char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
  ssize_t n;

  (void)events;
  if (status < 0)
    return;
  while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
    for (char *p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      const char *dir;
      char path[PATH_MAX];

      p += sizeof(*ev) + ev->len;
      w->stats.events++;
      if (ev->mask & IN_Q_OVERFLOW) {
        w->stats.overflows++;
        wlog(w, 4, "inotify queue overflowed: walking %s", w->root);
        watch_rescan(w);
        continue;
      }
      if (ev->mask & IN_IGNORED) {
        wd_forget(w, ev->wd);
        continue;
      }
      if ((dir = wd_path(w, ev->wd)) == NULL || ev->len == 0 || ev->name[0] == '\0')
        continue;
      if (snprintf(path, sizeof(path), "%s/%s", dir, ev->name) >= (int)sizeof(path))
        continue;
      if (ev->mask & IN_ISDIR) {
        if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->name[0] != '.')
          walk(w, path, 1); /* files may already be inside */
        continue;
      }
      on_file_event(w, path, ev->name, ev->mask);
    }
  }
}

/* ---- settling ---- */

/* 1 when somebody has the file open for writing, 0 when not, -1 when the
 * kernel does not let us ask (a read lease needs ownership or CAP_LEASE). */
static int has_writer(const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  int r;
  if (fd < 0)
    return -1;
  r = fcntl(fd, F_SETLEASE, F_RDLCK);
  if (r == 0) {
    fcntl(fd, F_SETLEASE, F_UNLCK);
    close(fd);
    return 0;
  }
  r = (errno == EAGAIN || errno == EBUSY) ? 1 : -1;
  close(fd);
  return r;
}

static void settle(uv_timer_t *t) {
  struct watch *w = t->data;
  uint64_t now = uv_now(w->loop);
  uint64_t quiet_ms = (uint64_t)(w->quiet * 1000);

  for (size_t i = 0; i < w->npend;) {
    struct pending *p = &w->pend[i];
    struct stat st;
    int writer;

    if (lstat(p->path, &st) < 0 || !S_ISREG(st.st_mode)) {
      pend_drop(w, p);
      continue;
    }
    if (st.st_size != p->size || ts_ns(&st.st_mtim) != p->mtime_ns || ts_ns(&st.st_ctim) != p->ctime_ns) {
      p->size = st.st_size;
      p->mtime_ns = ts_ns(&st.st_mtim);
      p->ctime_ns = ts_ns(&st.st_ctim);
      p->last_change = now;
    }
    if (now - p->last_change < quiet_ms) {
      i++;
      continue;
    }
    writer = has_writer(p->path);
    if (writer == 1) { /* a paused upload: still open for writing */
      p->last_change = now;
      i++;
      continue;
    }
    /* No close seen: only the kernel's word (no writer) lets it through. */
    if (!p->closed && writer != 0) {
      i++;
      continue;
    }
    w->stats.handed++;
    {
      char *path = p->path;
      p->path = NULL;
      pend_drop(w, p); /* before the callback, which may call back into us */
      w->cb.ready(path, &st, w->cb.user);
      free(path);
    }
  }
}

static void on_rescan(uv_timer_t *t) {
  watch_rescan(t->data);
}

static void arm_timers(struct watch *w) {
  uint64_t tick = (uint64_t)(w->quiet * 1000 / 4);
  uint64_t every = (uint64_t)(w->rescan_every * 1000);
  if (tick < 20)
    tick = 20;
  if (tick > 250)
    tick = 250;
  if (every < 100)
    every = 100;
  uv_timer_start(&w->settle_timer, settle, tick, tick);
  uv_timer_start(&w->rescan_timer, on_rescan, every, every);
}

void watch_configure(struct watch *w, double quiet, double rescan, const char *ignore) {
  w->quiet = quiet;
  w->rescan_every = rescan;
  snprintf(w->ignore, sizeof(w->ignore), "%s", ignore);
  arm_timers(w);
}

int watch_start(uv_loop_t *loop, const char *root, double quiet, double rescan, const char *ignore,
                const struct watch_callbacks *cb, struct watch **out, char *err, size_t errlen) {
  struct watch *w = calloc(1, sizeof(*w));
  struct stat st;

  *out = NULL;
  if (w == NULL || (w->root = strdup(root)) == NULL) {
    free(w);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "upload_dir %s: %s", root, errno ? strerror(errno) : "not a directory");
    free(w->root);
    free(w);
    return -1;
  }
  w->loop = loop;
  w->cb = *cb;
  w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->fd < 0) {
    snprintf(err, errlen, "inotify: %s", strerror(errno));
    free(w->root);
    free(w);
    return -1;
  }
  uv_poll_init(loop, &w->poll, w->fd);
  w->poll.data = w;
  uv_timer_init(loop, &w->settle_timer);
  w->settle_timer.data = w;
  uv_timer_init(loop, &w->rescan_timer);
  w->rescan_timer.data = w;
  w->handles_open = 3;
  uv_poll_start(&w->poll, UV_READABLE, on_inotify);
  w->quiet = quiet;
  w->rescan_every = rescan;
  snprintf(w->ignore, sizeof(w->ignore), "%s", ignore);
  watch_rescan(w);
  arm_timers(w);
  *out = w;
  return 0;
}

void watch_get_stats(const struct watch *w, struct watch_stats *st) {
  *st = w->stats;
  st->dirs = w->ndirs;
  st->pending = w->npend;
}

static void free_watch(struct watch *w) {
  for (size_t i = 0; i < w->ndirs; i++)
    free(w->dirs[i].path);
  for (size_t i = 0; i < w->npend; i++)
    free(w->pend[i].path);
  free(w->dirs);
  free(w->pend);
  free(w->root);
  if (w->fd >= 0)
    close(w->fd);
  free(w);
}

static void on_closed(uv_handle_t *h) {
  struct watch *w = h->data;
  if (--w->handles_open == 0)
    free_watch(w);
}

void watch_stop(struct watch *w) {
  if (w == NULL)
    return;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
  uv_close((uv_handle_t *)&w->settle_timer, on_closed);
  uv_close((uv_handle_t *)&w->rescan_timer, on_closed);
}
