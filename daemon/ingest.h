/* ingest.h - turn an upload (file, directory or archive) into typed artifacts.
 *
 * What the customer sent is unpacked with libarchive into the job's work
 * directory, safely and in bounded memory, and every file found is typed by
 * content (parsers/filetype.h), measured and digested (SHA-256). Archives
 * inside archives are unpacked too, to lim->max_depth.
 *
 * Safety rules (each refusal is an artifact with status INGEST_REFUSED and a
 * message, so the verdict can list it):
 *  - nothing is written outside work_dir: absolute names, "..", symbolic and
 *    hard links, devices/FIFOs are refused; every file is created with
 *    openat(O_CREAT|O_EXCL|O_NOFOLLOW) relative to a directory descriptor
 *    under work_dir, so even a pre-existing symlink is never followed;
 *  - limits stop archive bombs: total unpacked bytes, compression ratio of
 *    an archive (checked before writing when the entry's size is declared,
 *    and while streaming), entries per upload, nesting depth;
 *  - encrypted entries (ZipCrypto, WinZip AES, encrypted 7z/rar) are refused
 *    with a message containing "encrypted";
 *  - the upload is opened read-only and never modified or deleted; plain
 *    files (not inside an archive) are not copied: their artifact points to
 *    the original.
 * Names: entry names become UTF-8; zip names written by Chinese Windows
 * without the UTF-8 flag are decoded from GB18030 (a superset of CP936/GBK);
 * bytes that decode in no way become U+FFFD. Every name in the result is
 * valid UTF-8.
 *
 * Typical use (daemon/job.c):
 *
 *   struct ingest_limits lim;
 *   struct ingest_result res;
 *   ingest_limits_default(&lim);
 *   ingest_result_init(&res);
 *   for (each upload path)
 *     ingest_run(path, work_dir, &lim, &res);   // appends to res
 *   for (size_t i = 0; i < res.count; i++) {
 *     const struct ingest_artifact *a = &res.items[i];
 *     if (ingest_artifact_readable(a)) parse a->path according to a->type;
 *     list a->chain, fb_filetype_name(a->type), a->size, a->sha256,
 *          ingest_status_name(a->status), a->error in the verdict;
 *   }
 *   ingest_result_free(&res);
 */
#ifndef FB_INGEST_H
#define FB_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/filetype.h"

struct ingest_limits {
  uint64_t max_total_bytes; /* bytes unpacked per ingest_run (default 32 GiB) */
  uint32_t max_ratio;       /* unpacked : packed bytes of one archive (default 100) */
  uint64_t ratio_floor;     /* the ratio applies only beyond this many unpacked bytes (default 64 MiB) */
  uint32_t max_entries;     /* archive entries per ingest_run, all levels (default 20000) */
  uint32_t max_depth;       /* archive nesting unpacked: 1 = the upload only (default 6) */
};

enum ingest_status {
  INGEST_OK = 0,  /* written (or, for an archive, unpacked) completely */
  INGEST_PARTIAL, /* only partly: error says why (damaged archive, limit reached mid-way) */
  INGEST_REFUSED, /* not written: unsafe name or kind, encrypted, limit */
  INGEST_FAILED,  /* could not be read at all */
};

struct ingest_artifact {
  char *path;     /* file to read (absolute when work_dir/upload were); NULL if not written */
  char *rel_path; /* relative to work_dir, UTF-8; NULL for plain files read in place */
  char *chain;    /* original names, "upload.zip!inner.7z!procmon.pml" */
  enum fb_filetype type;
  uint64_t size;   /* bytes (written or read) */
  char sha256[65]; /* lower-case hex, "" when not complete */
  unsigned depth;  /* 0: the upload or a file of an upload directory; n: inside n archives */
  int status;      /* enum ingest_status */
  char *error;     /* why not OK, NULL when OK */
};

struct ingest_result {
  struct ingest_artifact *items;
  size_t count;
  size_t cap;
  uint64_t total_bytes; /* unpacked bytes written */
  uint32_t entries;     /* archive entries seen */
  uint32_t refused;     /* artifacts with INGEST_REFUSED */
  char error[512];      /* why ingest_run failed outright ("" otherwise) */
};

void ingest_limits_default(struct ingest_limits *lim);
void ingest_result_init(struct ingest_result *res);
void ingest_result_free(struct ingest_result *res);

/* Ingest one upload (file, directory or archive) into work_dir (created if
 * missing), appending artifacts to res. lim NULL = defaults. Returns 0 when
 * the upload was walked (individual artifacts may still be refused or
 * partial: look at their status), or a negative FB_E* code with res->error
 * set when nothing could be done (upload missing, work_dir unusable). */
int ingest_run(const char *upload, const char *work_dir, const struct ingest_limits *lim,
               struct ingest_result *res);

/* 1 when a parser should read this artifact: written (fully or partly) and
 * not a container. */
int ingest_artifact_readable(const struct ingest_artifact *a);

/* "ok", "partial", "refused", "failed". */
const char *ingest_status_name(int status);

/* Make s (NUL-terminated, any bytes) valid UTF-8: kept as is when it already
 * is, else decoded from GB18030/GBK, else invalid bytes become U+FFFD.
 * Returns a malloc'd string or NULL on allocation failure. */
char *ingest_name_to_utf8(const char *s);

#endif
