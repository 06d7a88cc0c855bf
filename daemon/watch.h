/* watch.h - find uploads that are complete, under a directory tree.
 *
 * inotify (on a libuv poll handle) tells which files were written, closed,
 * moved in or hard-linked in (OpenSSH's sftp-server renames by link() then
 * unlink()); a periodic walk finds what events missed (queue overflow, new
 * directories, files present at start). A file is handed over only when it
 * settled: its writer closed it (or it arrived whole by rename or link, or
 * was found by a walk), it stayed unchanged (size, mtime, ctime) for the quiet
 * period, and - where the kernel lets us ask with a read lease - nobody has it
 * open for writing. Temporary names (.filepart, .part, .tmp, ...) and hidden
 * names are never handed over. Symlinks are never followed. */
#ifndef FB_WATCH_H
#define FB_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uv.h>

struct watch;

struct watch_callbacks {
  /* Already taken (e.g. a job exists for this path, size and mtime)? The
   * walk asks before it starts watching a file. Non-zero = skip. */
  int (*known)(const char *path, const struct stat *st, void *user);
  /* A settled upload. */
  void (*ready)(const char *path, const struct stat *st, void *user);
  /* A line for the log (level is a syslog priority). */
  void (*log)(int level, const char *msg, void *user);
  void *user;
};

struct watch_stats {
  uint64_t events;    /* inotify events read */
  uint64_t overflows; /* IN_Q_OVERFLOW seen */
  uint64_t rescans;   /* walks of the tree */
  uint64_t handed;    /* uploads handed over */
  size_t dirs;        /* directories watched */
  size_t pending;     /* files waiting to settle */
};

int watch_start(uv_loop_t *loop, const char *root, double quiet_period, double rescan_interval,
                const char *ignore_suffixes, const struct watch_callbacks *cb, struct watch **out, char *err,
                size_t errlen);

/* New settle parameters (SIGHUP). */
void watch_configure(struct watch *w, double quiet_period, double rescan_interval,
                     const char *ignore_suffixes);

/* Walk the tree now (also done on every overflow). */
void watch_rescan(struct watch *w);

void watch_get_stats(const struct watch *w, struct watch_stats *st);

/* Stop and free; the libuv handles close on the next loop turn. */
void watch_stop(struct watch *w);

/* Does a file name look like a temporary one (one of the comma-separated
 * suffixes, or hidden)? */
int watch_name_ignored(const char *name, const char *ignore_suffixes);

#endif
