/* ingest.c - safe, bounded unpacking of uploads into typed artifacts (see ingest.h). */
#include "daemon/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include "daemon/dynlib.h"
#include "daemon/ingest_hash.h"
#include "parsers/error.h"
#include "parsers/view.h"

#define COPY_BUF (256 * 1024)
#define MAX_COMPONENTS 128
#define MAX_NAME 255
#define UNIQUE_TRIES 1000
/* Files smaller than this are digested inline: handing them to the hash
 * thread costs more than it saves. */
#define THREAD_MIN (1u << 20)

struct ctx {
  const struct ingest_limits *lim;
  struct ingest_result *res;
  char *work_dir;
  struct ingest_hasher *hasher;    /* for unpacked files; NULL: digest inline */
  struct ingest_hasher *up_hasher; /* for the upload read while it is unpacked */
  EVP_MD_CTX *md;                  /* digest of the file being written */
  EVP_MD_CTX *up_md;               /* digest of the upload file being read */
  uint8_t *buf;                    /* copy buffer (zeros of sparse holes) */
  uint8_t *up_buf;                 /* blocks of the upload, lent to libarchive */
  uint8_t *head;                   /* first FB_FILETYPE_HEAD bytes of the file being written */
  size_t head_len;
  uint64_t total;   /* bytes written in this run */
  uint32_t entries; /* archive entries seen in this run */
  int stop;         /* a run-wide limit was hit: refuse everything else */
  char stop_msg[256];
  dev_t work_dev; /* the work dir, so an upload directory holding it is not walked into it */
  ino_t work_ino;
};

/* Result of writing or reading one file's bytes. */
struct written {
  uint64_t size;
  char sha256[65];
  enum fb_filetype type;
};

void ingest_limits_default(struct ingest_limits *lim) {
  lim->max_total_bytes = 32ull << 30;
  lim->max_ratio = 100;
  lim->ratio_floor = 64ull << 20;
  lim->max_entries = 20000;
  lim->max_depth = 6;
}

void ingest_result_init(struct ingest_result *res) {
  memset(res, 0, sizeof(*res));
}

void ingest_result_free(struct ingest_result *res) {
  size_t i;

  for (i = 0; i < res->count; i++) {
    free(res->items[i].path);
    free(res->items[i].rel_path);
    free(res->items[i].chain);
    free(res->items[i].error);
  }
  free(res->items);
  memset(res, 0, sizeof(*res));
}

const char *ingest_status_name(int status) {
  switch (status) {
  case INGEST_OK: return "ok";
  case INGEST_PARTIAL: return "partial";
  case INGEST_REFUSED: return "refused";
  case INGEST_FAILED: return "failed";
  default: return "unknown";
  }
}

int ingest_artifact_readable(const struct ingest_artifact *a) {
  return a->path != NULL && (a->status == INGEST_OK || a->status == INGEST_PARTIAL) &&
         !fb_filetype_is_archive(a->type);
}

/* ---- names ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s) {
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xC2 && s[0] <= 0xDF)
    return (s[1] & 0xC0) == 0x80 ? 2 : 0;
  if (s[0] >= 0xE0 && s[0] <= 0xEF) {
    if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
      return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F))
      return 0; /* overlong, surrogate */
    return 3;
  }
  if (s[0] >= 0xF0 && s[0] <= 0xF4) {
    if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
      return 0;
    if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
      return 0;
    return 4;
  }
  return 0;
}

static int valid_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;

  while (*p) {
    size_t n = utf8_seq(p);
    if (n == 0)
      return 0;
    p += n;
  }
  return 1;
}

static char *gb18030_to_utf8(const char *s) {
  size_t inlen = strlen(s), outsz = inlen * 4 + 1, outleft = outsz - 1;
  char *out, *in = (char *)s, *o;
  iconv_t cd = iconv_open("UTF-8", "GB18030");

  if (cd == (iconv_t)-1)
    return NULL;
  out = malloc(outsz);
  if (out == NULL) {
    iconv_close(cd);
    return NULL;
  }
  o = out;
  if (iconv(cd, &in, &inlen, &o, &outleft) == (size_t)-1 || inlen != 0) {
    free(out);
    out = NULL;
  } else {
    *o = '\0';
  }
  iconv_close(cd);
  return out;
}

static char *replace_invalid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  char *out = malloc(strlen(s) * 3 + 1), *o = out;

  if (out == NULL)
    return NULL;
  while (*p) {
    size_t n = utf8_seq(p);
    if (n == 0) {
      memcpy(o, "\xEF\xBF\xBD", 3);
      o += 3;
      p++;
    } else {
      memcpy(o, p, n);
      o += n;
      p += n;
    }
  }
  *o = '\0';
  return out;
}

char *ingest_name_to_utf8(const char *s) {
  char *r;

  if (valid_utf8(s))
    return strdup(s);
  r = gb18030_to_utf8(s);
  if (r != NULL && valid_utf8(r))
    return r;
  free(r);
  return replace_invalid(s);
}

/* UCS-4 wchar_t (glibc) to UTF-8; NULL when a value is not a character. */
static char *wide_to_utf8(const wchar_t *w) {
  size_t n = wcslen(w), i;
  char *out = malloc(n * 4 + 1), *o = out;

  if (out == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    uint32_t cp = (uint32_t)w[i];
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      cp = 0xFFFD;
    if (cp < 0x80) {
      *o++ = (char)cp;
    } else if (cp < 0x800) {
      *o++ = (char)(0xC0 | cp >> 6);
      *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *o++ = (char)(0xE0 | cp >> 12);
      *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
      *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
      *o++ = (char)(0xF0 | cp >> 18);
      *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
      *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
      *o++ = (char)(0x80 | (cp & 0x3F));
    }
  }
  *o = '\0';
  return out;
}

/* The entry's name as UTF-8. libarchive keeps a name as the archive stored
 * it (UTF-16 in 7z/cab-unicode/rar5, UTF-8 when the zip flag says so, raw
 * bytes otherwise) and converts on request through the C locale, which
 * cannot represent non-ASCII. So: the wide form when libarchive has one (a
 * real Unicode name), else the raw bytes, decoded as UTF-8 when they are,
 * else as GB18030 (Chinese Windows zips without the UTF-8 flag). */
static char *entry_name(struct archive_entry *e) {
  const wchar_t *w = fb_archive.entry_pathname_w(e);
  const char *raw;

  if (w != NULL && w[0] != 0)
    return wide_to_utf8(w);
  raw = fb_archive.entry_pathname(e);
  if (raw != NULL)
    return ingest_name_to_utf8(raw);
  return strdup("");
}

/* ---- results -------------------------------------------------------------- */

static char *vfmt(const char *fmt, va_list ap) {
  char tmp[1024];

  vsnprintf(tmp, sizeof(tmp), fmt, ap);
  return strdup(tmp);
}

/* Append an artifact; returns its index or -1 on allocation failure. */
static long add_artifact(struct ctx *c, const char *chain, unsigned depth) {
  struct ingest_result *r = c->res;
  struct ingest_artifact *a;

  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    void *p = realloc(r->items, cap * sizeof(*r->items));
    if (p == NULL)
      return -1;
    r->items = p;
    r->cap = cap;
  }
  a = &r->items[r->count];
  memset(a, 0, sizeof(*a));
  a->chain = strdup(chain);
  a->depth = depth;
  a->type = FB_FT_OTHER;
  return (long)r->count++;
}

static void set_status(struct ctx *c, long idx, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_status(struct ctx *c, long idx, int status, const char *fmt, ...) {
  struct ingest_artifact *a;
  va_list ap;

  if (idx < 0)
    return;
  a = &c->res->items[idx];
  if (a->status == INGEST_REFUSED && status != INGEST_REFUSED)
    return;
  if (status == INGEST_REFUSED && a->status != INGEST_REFUSED)
    c->res->refused++;
  a->status = status;
  free(a->error);
  a->error = NULL;
  if (fmt != NULL) {
    va_start(ap, fmt);
    a->error = vfmt(fmt, ap);
    va_end(ap);
  }
}

/* Refusal of an entry that is never written: one artifact carrying the reason. */
static void refuse(struct ctx *c, const char *chain, unsigned depth, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refuse(struct ctx *c, const char *chain, unsigned depth, const char *fmt, ...) {
  long idx = add_artifact(c, chain, depth);
  struct ingest_artifact *a;
  va_list ap;

  if (idx < 0)
    return;
  a = &c->res->items[idx];
  a->status = INGEST_REFUSED;
  c->res->refused++;
  va_start(ap, fmt);
  a->error = vfmt(fmt, ap);
  va_end(ap);
}

static char *join(const char *a, const char *sep, const char *b) {
  size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
  char *r = malloc(la + ls + lb + 1);

  if (r == NULL)
    return NULL;
  memcpy(r, a, la);
  memcpy(r + la, sep, ls);
  memcpy(r + la + ls, b, lb + 1);
  return r;
}

/* "parent!a/b/c" from the safe components of an entry name. */
static char *join_comps(const char *parent, char **comps, int n) {
  size_t len = strlen(parent) + 2;
  char *r, *o;
  int i;

  for (i = 0; i < n; i++)
    len += strlen(comps[i]) + 1;
  r = malloc(len);
  if (r == NULL)
    return NULL;
  o = r + sprintf(r, "%s!", parent);
  for (i = 0; i < n; i++)
    o += sprintf(o, i ? "/%s" : "%s", comps[i]);
  return r;
}

static void set_paths(struct ctx *c, long idx, const char *rel) {
  struct ingest_artifact *a = &c->res->items[idx];

  a->rel_path = strdup(rel);
  a->path = join(c->work_dir, "/", rel);
}

/* ---- safe paths ----------------------------------------------------------- */

/* Split an entry name into safe components (in place in buf). Backslashes
 * separate too (zips from Windows tools). Returns the count, or -1 with a
 * reason when the name is absolute or climbs out. */
static int split_name(char *buf, char **comps, const char **why) {
  int n = 0;
  char *p = buf, *s;

  for (s = buf; *s; s++)
    if (*s == '\\')
      *s = '/';
  if (buf[0] == '/' || (((buf[0] | 0x20) >= 'a' && (buf[0] | 0x20) <= 'z') && buf[1] == ':')) {
    *why = "absolute path";
    return -1;
  }
  while (*p) {
    char *end = strchr(p, '/');
    if (end != NULL)
      *end = '\0';
    if (strcmp(p, "..") == 0) {
      *why = "path climbs out with \"..\"";
      return -1;
    }
    if (p[0] != '\0' && strcmp(p, ".") != 0) {
      if (n == MAX_COMPONENTS) {
        *why = "path too deep";
        return -1;
      }
      if (strlen(p) > MAX_NAME) {
        /* a legal name, shortened at a character boundary */
        size_t cut = MAX_NAME;
        while (cut > 0 && ((unsigned char)p[cut] & 0xC0) == 0x80)
          cut--;
        p[cut] = '\0';
      }
      comps[n++] = p;
    }
    if (end == NULL)
      break;
    p = end + 1;
  }
  if (n == 0) {
    *why = "empty name";
    return -1;
  }
  return n;
}

/* Open (creating as needed) directory `name` under dirfd, never following a
 * symbolic link. */
static int open_subdir(int dirfd, const char *name) {
  if (mkdirat(dirfd, name, 0755) != 0 && errno != EEXIST)
    return -1;
  return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Create a new file or directory called name (or name~2, name~3, ...) in
 * dirfd; the chosen name goes to actual. Returns an fd (files) or 0 (dirs). */
static int create_unique(int dirfd, const char *name, int dir, char *actual, size_t size) {
  int i, fd;

  for (i = 1; i <= UNIQUE_TRIES; i++) {
    if (i == 1)
      snprintf(actual, size, "%s", name);
    else
      snprintf(actual, size, "%s~%d", name, i);
    if (dir) {
      if (mkdirat(dirfd, actual, 0755) == 0)
        return openat(dirfd, actual, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    } else {
      fd = openat(dirfd, actual, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd >= 0)
        return fd;
    }
    if (errno != EEXIST)
      return -1;
  }
  errno = EEXIST;
  return -1;
}

static void head_add(struct ctx *c, const void *p, size_t n) {
  if (n > 0 && c->head_len < FB_FILETYPE_HEAD) {
    size_t take = FB_FILETYPE_HEAD - c->head_len;
    if (take > n)
      take = n;
    memcpy(c->head + c->head_len, p, take);
    c->head_len += take;
  }
}

/* One file's digest in progress, and where its bytes are written. */
struct digest {
  EVP_MD_CTX *md;
  struct ingest_hasher *hasher; /* NULL: always inline */
  int fd;                       /* bytes are written here too; -1: digest only */
  uint64_t len;                 /* bytes digested so far */
  int threaded;                 /* md (and fd) are on the hash thread */
};

static int digest_start(struct digest *d, EVP_MD_CTX *md, struct ingest_hasher *hasher, int fd) {
  d->md = md;
  d->hasher = hasher;
  d->fd = fd;
  d->len = 0;
  d->threaded = 0;
  return ingest_digest_init(md);
}

/* Write (when d has an fd) and digest n more bytes: inline for a small
 * file, hot from the unpacker; on the hash thread, which then does the
 * writing too, once the file is big enough to be worth it. Returns 0 or an
 * errno of a failed write (maybe of earlier bytes, on the thread). */
static int digest_add(struct digest *d, const void *p, size_t n) {
  if (!d->threaded && d->hasher != NULL && d->len + n > THREAD_MIN) {
    ingest_hasher_begin(d->hasher, d->md, d->fd);
    d->threaded = 1;
  }
  d->len += n;
  if (d->threaded) {
    ingest_hasher_feed(d->hasher, p, n);
    return ingest_hasher_write_error(d->hasher);
  }
  if (d->fd >= 0 && fb_write_all(d->fd, p, n) != 0)
    return errno;
  fb_evp.DigestUpdate(d->md, p, n);
  return 0;
}

/* Bring md and fd back from the hash thread (always call before using them
 * or leaving the file). Returns 0 or the errno of a failed write. */
static int digest_sync(struct digest *d) {
  if (d->threaded) {
    d->threaded = 0;
    return ingest_hasher_end(d->hasher);
  }
  return 0;
}

/* ---- archives ------------------------------------------------------------- */

struct unpack {
  struct archive *a;
  const char *chain; /* chain of the archive itself */
  const char *rel;   /* rel path of the destination directory */
  int dest_fd;       /* destination directory */
  unsigned depth;    /* depth of the entries (archive's depth + 1) */
  uint64_t packed;   /* archive size on disk */
  uint64_t unpacked; /* bytes written from this archive */
  long self;         /* artifact index of the archive */
};

struct upload_reader;
static int unpack_fd(struct ctx *c, int fd, struct upload_reader *ur, uint64_t packed, enum fb_filetype type,
                     const char *chain, unsigned depth, int parent_fd, const char *parent_rel,
                     const char *file_name, long self);

/* Would unpacking `more` bytes (declared or just read) break a limit? Fills
 * why and returns 1 when so. */
static int over_limit(struct ctx *c, struct unpack *u, uint64_t more, char *why, size_t size) {
  const struct ingest_limits *l = c->lim;
  uint64_t after = u->unpacked + more;

  if (c->total + more > l->max_total_bytes) {
    snprintf(why, size,
             "limit: more than %llu bytes unpacked from the upload (max_total_bytes); unpacking stopped",
             (unsigned long long)l->max_total_bytes);
    return 1;
  }
  if (after > l->ratio_floor && u->packed > 0 && after / (u->packed ? u->packed : 1) >= l->max_ratio) {
    snprintf(why, size,
             "limit: compression ratio over %u:1 (%llu bytes from a %llu-byte archive), an archive bomb? "
             "unpacking stopped",
             l->max_ratio, (unsigned long long)after, (unsigned long long)u->packed);
    return 1;
  }
  return 0;
}

/* Stream the current entry's data into fd. Returns 0, or -1 with why filled
 * (limit: the archive must stop; read error: the entry is partial). */
static int copy_entry(struct ctx *c, struct unpack *u, int fd, struct written *w, char *why, size_t size,
                      int *limit_hit) {
  struct digest dg;
  const void *blk;
  size_t len;
  la_int64_t off;
  uint64_t pos = 0;
  int r, rc = 0, werr = 0;

  c->head_len = 0;
  *limit_hit = 0;
  w->size = 0;
  w->sha256[0] = '\0';
  if (digest_start(&dg, c->md, c->hasher, fd) != 0) {
    snprintf(why, size, "cannot start a SHA-256 digest (libcrypto)");
    return -1;
  }
  for (;;) {
    r = fb_archive.read_data_block(u->a, &blk, &len, &off);
    if (r == ARCHIVE_EOF)
      break;
    if (r < ARCHIVE_WARN) {
      snprintf(why, size, "read error after %llu bytes: %s", (unsigned long long)pos,
               fb_archive.error_string(u->a) ? fb_archive.error_string(u->a) : "unknown");
      rc = -1;
      break;
    }
    if ((uint64_t)off > pos) {
      /* sparse hole: write zeros so the digest matches the file */
      uint64_t gap = (uint64_t)off - pos;
      if (over_limit(c, u, gap, why, size)) {
        *limit_hit = 1;
        rc = -1;
        break;
      }
      memset(c->buf, 0, COPY_BUF);
      while (gap > 0 && werr == 0) {
        size_t n = gap < COPY_BUF ? (size_t)gap : COPY_BUF;
        werr = digest_add(&dg, c->buf, n);
        head_add(c, c->buf, n);
        gap -= n;
        pos += n;
        u->unpacked += n;
        c->total += n;
      }
      if (werr != 0)
        break;
    }
    if (over_limit(c, u, len, why, size)) {
      *limit_hit = 1;
      rc = -1;
      break;
    }
    /* written and digested now, or copied to the hash thread that does both */
    werr = digest_add(&dg, blk, len);
    head_add(c, blk, len);
    pos += len;
    u->unpacked += len;
    c->total += len;
    if (werr != 0)
      break;
  }
  {
    int e = digest_sync(&dg); /* the thread's writes may have failed too */
    if (werr == 0)
      werr = e;
  }
  if (werr != 0 && rc == 0) {
    snprintf(why, size, "write failed: %s", strerror(werr));
    rc = -1;
  }
  w->size = pos;
  w->type = fb_filetype_detect(c->head, c->head_len);
  if (rc == 0)
    ingest_digest_hex(c->md, w->sha256);
  return rc;
}

/* Classify an entry that is not a plain file; returns a refusal text or NULL. */
static const char *entry_kind_refusal(struct archive_entry *e) {
  if (fb_archive.entry_hardlink(e) != NULL)
    return "hard link refused";
  switch (fb_archive.entry_filetype(e)) {
  case AE_IFREG:
  case AE_IFDIR: return NULL;
  case AE_IFLNK: return "symbolic link refused";
  case AE_IFCHR:
  case AE_IFBLK: return "device file refused";
  case AE_IFIFO: return "FIFO refused";
  case AE_IFSOCK: return "socket refused";
  default: return fb_archive.entry_filetype(e) == 0 ? NULL : "special file refused";
  }
}

/* Walk (creating) comps[0..n-1] as directories under dest_fd. Returns a
 * directory fd (to close) and the rel path of that directory in *rel. */
static int open_dirs(int dest_fd, const char *dest_rel, char **comps, int n, char **rel) {
  int fd = dup(dest_fd), i;
  char *r = strdup(dest_rel), *t;

  for (i = 0; i < n && fd >= 0 && r != NULL; i++) {
    int sub = open_subdir(fd, comps[i]);
    close(fd);
    fd = sub;
    t = join(r, "/", comps[i]);
    free(r);
    r = t;
  }
  if (r == NULL && fd >= 0) {
    close(fd);
    fd = -1;
  }
  *rel = r;
  return fd;
}

/* One regular-file entry. Returns 1 when the archive must stop (limit). */
static int unpack_file_entry(struct ctx *c, struct unpack *u, struct archive_entry *e, char **comps, int n,
                             const char *chain) {
  char why[512], actual[MAX_NAME + 16], *dir_rel = NULL, *rel;
  struct written w;
  int dfd, fd, limit_hit = 0, rc;
  long idx;

  if (fb_archive.entry_size_is_set(e) && fb_archive.entry_size(e) > 0 &&
      over_limit(c, u, (uint64_t)fb_archive.entry_size(e), why, sizeof(why))) {
    /* declared size alone breaks a limit: refuse before writing a byte */
    refuse(c, chain, u->depth, "%s (entry declares %lld bytes)", why, (long long)fb_archive.entry_size(e));
    set_status(c, u->self, INGEST_PARTIAL, "%s", why);
    return 1;
  }
  dfd = open_dirs(u->dest_fd, u->rel, comps, n - 1, &dir_rel);
  if (dfd < 0) {
    refuse(c, chain, u->depth, "cannot create directory for entry: %s", strerror(errno));
    free(dir_rel);
    return 0;
  }
  fd = create_unique(dfd, comps[n - 1], 0, actual, sizeof(actual));
  if (fd < 0) {
    refuse(c, chain, u->depth, "cannot create file: %s", strerror(errno));
    close(dfd);
    free(dir_rel);
    return 0;
  }
  idx = add_artifact(c, chain, u->depth);
  rel = join(dir_rel, "/", actual);
  rc = copy_entry(c, u, fd, &w, why, sizeof(why), &limit_hit);
  close(fd);
  if (idx >= 0 && rel != NULL) {
    struct ingest_artifact *a = &c->res->items[idx];
    set_paths(c, idx, rel);
    a->size = w.size;
    if (rc == 0) {
      memcpy(a->sha256, w.sha256, sizeof(a->sha256));
      a->type = w.type;
    } else if (limit_hit) {
      /* a bomb: do not leave its bytes on disk */
      unlinkat(dfd, actual, 0);
      free(a->path);
      free(a->rel_path);
      a->path = a->rel_path = NULL;
      set_status(c, idx, INGEST_REFUSED, "%s", why);
      set_status(c, u->self, INGEST_PARTIAL, "%s", why);
    } else {
      a->type = fb_filetype_detect(c->head, c->head_len);
      set_status(c, idx, INGEST_PARTIAL, "%s", why);
      set_status(c, u->self, INGEST_PARTIAL, "entry %s: %s", chain, why);
    }
  }
  if (rc == 0 && idx >= 0 && fb_filetype_is_archive(w.type)) {
    int afd = openat(dfd, actual, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (afd >= 0) {
      unpack_fd(c, afd, NULL, w.size, w.type, chain, u->depth, dfd, dir_rel, actual, idx);
      close(afd);
    }
  }
  free(rel);
  free(dir_rel);
  close(dfd);
  return limit_hit;
}

static void unpack_entries(struct ctx *c, struct unpack *u, enum fb_filetype type) {
  struct archive_entry *e;
  int r;

  for (;;) {
    char *name, *chain, *comps[MAX_COMPONENTS], *norm;
    const char *why = NULL, *kind;
    int n;

    r = fb_archive.read_next_header(u->a, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r < ARCHIVE_WARN) {
      const char *msg = fb_archive.error_string(u->a);
      if (msg != NULL && strstr(msg, "ncrypt") != NULL)
        set_status(c, u->self, INGEST_REFUSED, "encrypted archive: %s; ask for an unencrypted copy", msg);
      else
        set_status(c, u->self, INGEST_PARTIAL, "damaged archive: %s", msg ? msg : "unreadable header");
      break;
    }
    if (c->stop)
      break;
    if (++c->entries > c->lim->max_entries) {
      c->stop = 1;
      snprintf(c->stop_msg, sizeof(c->stop_msg),
               "limit: more than %u archive entries in the upload (max_entries); unpacking stopped",
               c->lim->max_entries);
      set_status(c, u->self, INGEST_PARTIAL, "%s", c->stop_msg);
      break;
    }
    c->res->entries++;
    name = entry_name(e);
    if (name == NULL)
      break;
    /* a bare compressed stream holds one file called "data": name it after the archive */
    if (fb_filetype_is_compressed_stream(type) && strcmp(name, "data") == 0) {
      const char *base = strrchr(u->chain, '!');
      size_t bl;
      base = base ? base + 1 : u->chain;
      if (strrchr(base, '/'))
        base = strrchr(base, '/') + 1;
      free(name);
      name = strdup(base);
      if (name == NULL)
        break;
      bl = strlen(name);
      for (size_t k = bl; k-- > 1;) {
        if (name[k] == '.') {
          name[k] = '\0';
          break;
        }
      }
    }
    norm = strdup(name);
    if (norm == NULL) {
      free(name);
      break;
    }
    kind = entry_kind_refusal(e);
    n = split_name(norm, comps, &why);
    if (n == 0 || (n < 0 && kind == NULL && fb_archive.entry_filetype(e) == AE_IFDIR &&
                   strcmp(why, "empty name") == 0)) {
      /* "./" and the like: nothing to create */
      free(norm);
      free(name);
      continue;
    }
    chain = n > 0 ? join_comps(u->chain, comps, n) : join(u->chain, "!", name);
    if (chain == NULL) {
      free(norm);
      free(name);
      break;
    }
    if (kind != NULL) {
      const char *target =
          fb_archive.entry_symlink(e) ? fb_archive.entry_symlink(e) : fb_archive.entry_hardlink(e);
      char *t8 = target ? ingest_name_to_utf8(target) : NULL;
      refuse(c, chain, u->depth, "%s%s%s", kind, t8 ? ": points to " : "", t8 ? t8 : "");
      free(t8);
    } else if (n < 0) {
      refuse(c, chain, u->depth, "unsafe name refused: %s", why);
    } else if (fb_archive.entry_is_encrypted(e)) {
      refuse(c, chain, u->depth, "encrypted entry refused (password-protected); ask for an unencrypted copy");
      set_status(c, u->self, INGEST_PARTIAL, "encrypted entries were not unpacked");
    } else if (fb_archive.entry_filetype(e) == AE_IFDIR) {
      char *rel = NULL;
      int dfd = open_dirs(u->dest_fd, u->rel, comps, n, &rel);
      if (dfd >= 0)
        close(dfd);
      free(rel);
    } else if (unpack_file_entry(c, u, e, comps, n, chain)) {
      free(chain);
      free(norm);
      free(name);
      break;
    }
    free(chain);
    free(norm);
    free(name);
  }
}

/* A compressed stream holds either a tar or one single file. libarchive's
 * own bidding would take a stream of zeros for an empty tar (a zero block
 * ends a tar), so look at the inflated head: tar only with "ustar" at 257.
 * Leaves fd at offset 0. */
static int stream_holds_tar(int fd) {
  struct archive *a = fb_archive.read_new();
  struct archive_entry *e;
  char head[512];
  size_t got = 0;
  int tar = 0;

  if (a == NULL)
    return 0;
  fb_archive.read_support_filter_all(a);
  fb_archive.read_support_format_raw(a);
  if (fb_archive.read_open_fd(a, fd, 64 * 1024) == ARCHIVE_OK &&
      fb_archive.read_next_header(a, &e) == ARCHIVE_OK) {
    while (got < sizeof(head)) {
      la_ssize_t n = fb_archive.read_data(a, head + got, sizeof(head) - got);
      if (n <= 0)
        break;
      got += (size_t)n;
    }
    tar = got >= 263 && memcmp(head + 257, "ustar", 5) == 0;
  }
  fb_archive.read_free(a);
  lseek(fd, 0, SEEK_SET);
  return tar;
}

/* ---- reading an upload -------------------------------------------------- */

/* An upload file is read once: its digest is taken from the very blocks
 * libarchive reads to unpack it, instead of a pass of its own before. The
 * digest only takes bytes that continue it (at offset `done`); what the
 * unpacker read out of order (a zip's central directory first) or skipped
 * is read again by upload_finish. Reads use pread at the reader's own
 * offset, so others moving fd's offset (stream_holds_tar) do not matter. */
struct upload_reader {
  int fd;
  uint64_t pos;  /* offset of the next read */
  uint64_t done; /* bytes [0, done) are digested */
  uint64_t size; /* file size at open */
  struct digest dg;
  int err; /* errno of a failed read, 0 if none */
  uint8_t *buf;
};

/* pread n bytes at r->pos into r->buf and digest what continues the
 * digest; returns the count, 0 at the end, -1 on error (r->err). */
static ssize_t upload_pread(struct upload_reader *r) {
  ssize_t n;

  do
    n = pread(r->fd, r->buf, COPY_BUF, (off_t)r->pos);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    r->err = errno;
    return -1;
  }
  if (n > 0 && r->pos <= r->done && r->done < r->pos + (uint64_t)n) {
    size_t skip = (size_t)(r->done - r->pos);
    digest_add(&r->dg, r->buf + skip, (size_t)n - skip);
    r->done = r->pos + (uint64_t)n;
  }
  r->pos += (uint64_t)n;
  return n;
}

static la_ssize_t upload_read_cb(struct archive *a, void *data, const void **block) {
  struct upload_reader *r = data;
  ssize_t n = upload_pread(r);

  if (n < 0) {
    fb_archive.set_error(a, r->err, "read failed at offset %llu: %s", (unsigned long long)r->pos,
                         strerror(r->err));
    return ARCHIVE_FATAL;
  }
  *block = r->buf;
  return n;
}

static la_int64_t upload_seek_cb(struct archive *a, void *data, la_int64_t off, int whence) {
  struct upload_reader *r = data;
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)r->pos : (int64_t)r->size;

  if (off < -base || (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END)) {
    fb_archive.set_error(a, EINVAL, "bad seek in the upload");
    return ARCHIVE_FATAL;
  }
  r->pos = (uint64_t)(base + off);
  return (la_int64_t)r->pos;
}

/* Open a for reading the upload through r. */
static int upload_open_archive(struct archive *a, struct upload_reader *r) {
  fb_archive.read_set_read_callback(a, upload_read_cb);
  fb_archive.read_set_seek_callback(a, upload_seek_cb);
  fb_archive.read_set_callback_data(a, r);
  return fb_archive.read_open1(a);
}

/* Digest the rest of the upload from `done` to the end (all of it when the
 * unpacker read in order); w gets size and digest. */
static int upload_finish(struct upload_reader *r, struct written *w, char *why, size_t size) {
  int rc = 0;

  r->pos = r->done;
  for (;;) {
    ssize_t n;
    if (r->dg.threaded) {
      /* read straight into the hash thread's buffers: no copy */
      uint8_t *into = ingest_hasher_buffer(r->dg.hasher);
      do
        n = pread(r->fd, into, INGEST_HASH_BUF, (off_t)r->pos);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        r->err = errno;
      if (n > 0) {
        ingest_hasher_commit(r->dg.hasher, (size_t)n);
        r->dg.len += (uint64_t)n;
        r->pos += (uint64_t)n;
        r->done = r->pos;
      }
    } else {
      n = upload_pread(r);
    }
    if (n < 0) {
      snprintf(why, size, "read failed after %llu bytes: %s", (unsigned long long)r->done, strerror(r->err));
      rc = -1;
      break;
    }
    if (n == 0)
      break;
  }
  digest_sync(&r->dg);
  w->size = r->done;
  w->sha256[0] = '\0';
  if (rc == 0)
    ingest_digest_hex(r->dg.md, w->sha256);
  return rc;
}

/* Unpack the archive open on fd (file_name in parent_fd) into a new directory
 * file_name.d beside it; through ur when it is the upload being digested.
 * self is the archive's artifact. */
static int unpack_fd(struct ctx *c, int fd, struct upload_reader *ur, uint64_t packed, enum fb_filetype type,
                     const char *chain, unsigned depth, int parent_fd, const char *parent_rel,
                     const char *file_name, long self) {
  struct unpack u;
  char dname[MAX_NAME + 32], actual[MAX_NAME + 48];
  int dest;

  if (depth >= c->lim->max_depth) {
    set_status(c, self, INGEST_REFUSED,
               "limit: archive nested %u deep, over the depth limit (max_depth %u); not unpacked", depth + 1,
               c->lim->max_depth);
    return 0;
  }
  if (c->stop) {
    set_status(c, self, INGEST_REFUSED, "%s", c->stop_msg);
    return 0;
  }
  snprintf(dname, sizeof(dname), "%.*s.d", MAX_NAME - 8, file_name);
  dest = create_unique(parent_fd, dname, 1, actual, sizeof(actual));
  if (dest < 0) {
    set_status(c, self, INGEST_FAILED, "cannot create the unpack directory: %s", strerror(errno));
    return -1;
  }
  memset(&u, 0, sizeof(u));
  u.a = fb_archive.read_new();
  u.chain = chain;
  u.dest_fd = dest;
  u.depth = depth + 1;
  u.packed = packed;
  u.self = self;
  {
    char *rel = parent_rel[0] ? join(parent_rel, "/", actual) : strdup(actual);
    u.rel = rel;
    if (u.a == NULL || rel == NULL) {
      set_status(c, self, INGEST_FAILED, "out of memory");
    } else {
      fb_archive.read_support_filter_all(u.a);
      if (fb_filetype_is_compressed_stream(type) && !stream_holds_tar(fd))
        fb_archive.read_support_format_raw(u.a);
      else
        fb_archive.read_support_format_all(u.a);
      if ((ur ? upload_open_archive(u.a, ur) : fb_archive.read_open_fd(u.a, fd, COPY_BUF)) != ARCHIVE_OK) {
        const char *msg = fb_archive.error_string(u.a);
        set_status(c, self, INGEST_FAILED, "cannot open archive: %s", msg ? msg : "unknown format");
      } else {
        unpack_entries(c, &u, type);
      }
    }
    if (u.a != NULL)
      fb_archive.read_free(u.a);
    free(rel);
  }
  close(dest);
  return 0;
}

/* ---- plain files and directories ------------------------------------------ */

static int work_dir_fd(struct ctx *c) {
  int fd = open(c->work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 && errno == ENOENT && mkdir(c->work_dir, 0755) == 0)
    fd = open(c->work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd;
}

/* One plain file of the upload (the upload itself, or a file in an upload
 * directory), read in place: typed by its head, unpacked when an archive,
 * and digested from the same reads. */
static void ingest_file(struct ctx *c, int fd, const char *path, const char *chain) {
  struct upload_reader r;
  struct written w;
  struct stat st;
  char why[512];
  long idx = add_artifact(c, chain, 0);
  struct ingest_artifact *a;
  ssize_t n = 1;

  if (idx < 0)
    return;
  a = &c->res->items[idx];
  a->path = strdup(path);
  memset(&r, 0, sizeof(r));
  r.fd = fd;
  r.buf = c->up_buf;
  r.size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  if (digest_start(&r.dg, c->up_md, c->up_hasher, -1) != 0) {
    set_status(c, idx, INGEST_FAILED, "cannot start a SHA-256 digest (libcrypto)");
    return;
  }
  /* the head, for the type */
  c->head_len = 0;
  while (c->head_len < FB_FILETYPE_HEAD && (n = upload_pread(&r)) > 0)
    head_add(c, r.buf, (size_t)n);
  a->type = fb_filetype_detect(c->head, c->head_len);
  if (n >= 0 && fb_filetype_is_archive(a->type)) {
    int wfd = work_dir_fd(c);
    r.pos = 0; /* the unpacker starts at the beginning; the head stays digested */
    const char *base = strrchr(chain, '/');
    if (wfd < 0) {
      set_status(c, idx, INGEST_FAILED, "cannot open work directory %s: %s", c->work_dir, strerror(errno));
    } else {
      unpack_fd(c, fd, &r, r.size, a->type, chain, 0, wfd, "", base ? base + 1 : chain, idx);
      close(wfd);
    }
  }
  a = &c->res->items[idx]; /* unpacking added artifacts: items may have moved */
  if (upload_finish(&r, &w, why, sizeof(why)) != 0) {
    a->size = w.size;
    set_status(c, idx, INGEST_PARTIAL, "%s", why);
    return;
  }
  a->size = w.size;
  memcpy(a->sha256, w.sha256, sizeof(a->sha256));
}

static void ingest_dir(struct ctx *c, int dfd, const char *path, const char *chain, int level) {
  DIR *d;
  struct dirent *de;
  int own = dup(dfd);

  if (own < 0 || (d = fdopendir(own)) == NULL) {
    if (own >= 0)
      close(own);
    refuse(c, chain, 0, "cannot list directory: %s", strerror(errno));
    return;
  }
  while ((de = readdir(d)) != NULL) {
    struct stat st;
    char *name8, *sub_chain, *sub_path;

    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    name8 = ingest_name_to_utf8(de->d_name);
    sub_chain = name8 ? join(chain, "/", name8) : NULL;
    sub_path = join(path, "/", de->d_name);
    if (sub_chain == NULL || sub_path == NULL) {
      free(name8);
      free(sub_chain);
      free(sub_path);
      break;
    }
    if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      refuse(c, sub_chain, 0, "cannot stat: %s", strerror(errno));
    } else if (S_ISDIR(st.st_mode) && st.st_dev == c->work_dev && st.st_ino == c->work_ino) {
      /* the work directory inside the upload directory: our own output */
    } else if (S_ISDIR(st.st_mode)) {
      int sub = level < MAX_COMPONENTS
                    ? openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    : -1;
      if (sub >= 0) {
        ingest_dir(c, sub, sub_path, sub_chain, level + 1);
        close(sub);
      } else {
        refuse(c, sub_chain, 0, "cannot open directory: %s", strerror(errno));
      }
    } else if (S_ISREG(st.st_mode)) {
      int f = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (f >= 0) {
        ingest_file(c, f, sub_path, sub_chain);
        close(f);
      } else {
        refuse(c, sub_chain, 0, "cannot open: %s", strerror(errno));
      }
    } else if (S_ISLNK(st.st_mode)) {
      refuse(c, sub_chain, 0, "symbolic link refused");
    } else {
      refuse(c, sub_chain, 0, "special file refused");
    }
    free(name8);
    free(sub_chain);
    free(sub_path);
  }
  closedir(d);
}

int ingest_run(const char *upload, const char *work_dir, const struct ingest_limits *lim,
               struct ingest_result *res) {
  struct ingest_limits def;
  struct fb_error lib_err;
  struct ctx c;
  struct stat st;
  const char *base;
  char *base8 = NULL, *trimmed;
  size_t len;
  int fd, rc = 0;
  locale_t utf8, old = (locale_t)0;

  if (lim == NULL) {
    ingest_limits_default(&def);
    lim = &def;
  }
  res->error[0] = '\0';
  /* Loaded here, not at start-up: commands that never ingest do not map them. */
  fb_error_init(&lib_err, NULL);
  if (fb_dynlib_load(FB_DYNLIB_ARCHIVE, &lib_err) < 0 || fb_dynlib_load(FB_DYNLIB_CRYPTO, &lib_err) < 0) {
    snprintf(res->error, sizeof(res->error), "%s", lib_err.msg);
    return lib_err.code;
  }
  memset(&c, 0, sizeof(c));
  c.lim = lim;
  c.res = res;
  c.work_dir = strdup(work_dir);
  c.buf = malloc(COPY_BUF);
  c.up_buf = malloc(COPY_BUF);
  c.head = malloc(FB_FILETYPE_HEAD);
  c.hasher = ingest_hasher_new();
  c.up_hasher = ingest_hasher_new();
  c.md = fb_evp.MD_CTX_new();
  c.up_md = fb_evp.MD_CTX_new();
  trimmed = strdup(upload);
  if (c.work_dir == NULL || c.buf == NULL || c.up_buf == NULL || c.head == NULL || c.md == NULL ||
      c.up_md == NULL || trimmed == NULL) {
    snprintf(res->error, sizeof(res->error), "out of memory");
    rc = FB_ENOMEM;
    goto out;
  }
  len = strlen(trimmed);
  while (len > 1 && trimmed[len - 1] == '/')
    trimmed[--len] = '\0';
  base = strrchr(trimmed, '/');
  base = base ? base + 1 : trimmed;
  if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
    base = "upload";
  base8 = ingest_name_to_utf8(base);
  fd = open(trimmed, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(res->error, sizeof(res->error), "%s: cannot open upload: %s", upload, strerror(errno));
    if (fd >= 0)
      close(fd);
    rc = FB_EIO;
    goto out;
  }
  if (base8 == NULL) {
    close(fd);
    rc = FB_ENOMEM;
    goto out;
  }
  /* libarchive converts names through the calling thread's locale; in the
   * C locale it loses every non-ASCII name. Use C.UTF-8 for this thread only. */
  utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  if (utf8 != (locale_t)0)
    old = uselocale(utf8);
  if (S_ISDIR(st.st_mode)) {
    struct stat ws;
    int wfd = work_dir_fd(&c);
    if (wfd >= 0 && fstat(wfd, &ws) == 0) {
      c.work_dev = ws.st_dev;
      c.work_ino = ws.st_ino;
    }
    if (wfd >= 0)
      close(wfd);
    ingest_dir(&c, fd, trimmed, base8, 0);
  } else if (S_ISREG(st.st_mode)) {
    fcntl(fd, F_SETFL, 0);
    ingest_file(&c, fd, trimmed, base8);
  } else {
    snprintf(res->error, sizeof(res->error), "%s: not a regular file or directory", upload);
    rc = FB_EUNSUP;
  }
  if (utf8 != (locale_t)0) {
    uselocale(old);
    freelocale(utf8);
  }
  close(fd);
  res->total_bytes += c.total;
out:
  free(base8);
  free(trimmed);
  free(c.work_dir);
  free(c.buf);
  free(c.up_buf);
  free(c.head);
  ingest_hasher_free(c.hasher);
  ingest_hasher_free(c.up_hasher);
  fb_evp.MD_CTX_free(c.md); /* loaded: fb_dynlib_load above succeeded */
  fb_evp.MD_CTX_free(c.up_md);
  return rc;
}
