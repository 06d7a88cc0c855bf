/* Tests of daemon/ingest: archives built at run time (libarchive's writer,
 * a tiny zip writer of our own for exact name bytes, gcab when installed),
 * names, types, digests, and a hostile-archive suite. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>

#include "daemon/ingest.h"
#include "daemon/ingest_hash.h"
#include "daemon/ingest_side.h"
#include "parsers/error.h"
#include "tests/testutil.h"
#include "tests/text/collect.h"

#define SETUP_EVTX_SHA "c3fc4abdb46de4852ce9ceb64ad4fe514162c37aec52fdef640d4e4c0874d878"
#define CBS_SHA "caa8e646bac99f21ef2fbbfc8ceea924ca8017c11e4d994b667d85c37604df1b"
#define HUBEI "\xe6\xb9\x96\xe5\x8c\x97\xe5\x88\x86\xe8\xa1\x8c" /* 湖北分行 */
#define FAILED_LOGS                                                                                          \
  "\xe5\x8d\x87\xe7\xba\xa7\xe5\xa4\xb1\xe8\xb4\xa5\xe6\x97\xa5\xe5\xbf\x97" /* 升级失败日志 */

/* ---- helpers ---------------------------------------------------------------- */

static char *path_in(const char *dir, const char *name) {
  static char bufs[8][4096];
  static int next;
  char *b = bufs[next++ % 8];
  snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
  return b;
}

/* A fresh directory under the test's scratch dir. */
static const char *fresh_dir(const char *name) {
  static char bufs[8][4096];
  static int next;
  char *b = bufs[next++ % 8], cmd[4200];
  snprintf(b, sizeof(bufs[0]), "%s/%s", tu_tmpdir(), name);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b);
  ck_assert_int_eq(system(cmd), 0);
  ck_assert_int_eq(mkdir(b, 0755), 0);
  return b;
}

static void sha_of_buf(const void *p, size_t n, char hex[65]) {
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(ingest_digest_init(c), 0);
  ck_assert_int_eq(EVP_DigestUpdate(c, p, n), 1);
  ck_assert_int_eq(ingest_digest_hex(c, hex), 0);
  EVP_MD_CTX_free(c);
}

static char *slurp(const char *path, size_t *n) {
  char *d = tu_read_file(path, n);
  ck_assert_msg(d != NULL, "cannot read %s", path);
  return d;
}

/* Number of entries (files and dirs, recursively) under dir. */
static int count_tree(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;

  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL) {
    char sub[4096];
    struct stat st;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    n++;
    snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
    if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
      n += count_tree(sub);
  }
  closedir(d);
  return n;
}

static const struct ingest_artifact *by_chain(const struct ingest_result *r, const char *chain) {
  size_t i;
  for (i = 0; i < r->count; i++)
    if (strcmp(r->items[i].chain, chain) == 0)
      return &r->items[i];
  return NULL;
}

static const struct ingest_artifact *must_chain(const struct ingest_result *r, const char *chain) {
  const struct ingest_artifact *a = by_chain(r, chain);
  size_t i;
  if (a == NULL) {
    for (i = 0; i < r->count; i++)
      fprintf(stderr, "  have: %s [%s] %s\n", r->items[i].chain, ingest_status_name(r->items[i].status),
              r->items[i].error ? r->items[i].error : "");
  }
  ck_assert_msg(a != NULL, "no artifact %s", chain);
  return a;
}

/* Artifact whose error contains text; NULL if none. */
static const struct ingest_artifact *with_error(const struct ingest_result *r, const char *text) {
  size_t i;
  for (i = 0; i < r->count; i++)
    if (r->items[i].error && strstr(r->items[i].error, text))
      return &r->items[i];
  return NULL;
}

static int all_names_utf8(const struct ingest_result *r) {
  size_t i;
  for (i = 0; i < r->count; i++) {
    char *c = ingest_name_to_utf8(r->items[i].chain);
    int same = c && strcmp(c, r->items[i].chain) == 0;
    free(c);
    if (!same)
      return 0;
  }
  return 1;
}

/* Minimal stored-method zip writer: exact name bytes and flags. */
struct zentry {
  const char *name; /* raw bytes */
  const void *data;
  size_t size;
  unsigned flags; /* 0x800 = UTF-8 names */
};

static void put16(FILE *f, unsigned v) {
  fputc((int)(v & 0xff), f);
  fputc((int)((v >> 8) & 0xff), f);
}
static void put32(FILE *f, unsigned long v) {
  put16(f, (unsigned)(v & 0xffff));
  put16(f, (unsigned)((v >> 16) & 0xffff));
}

static void write_zip(const char *path, const struct zentry *e, int n) {
  FILE *f = fopen(path, "wb");
  unsigned long offs[64], crcs[64], cd_start, cd_size;
  int i;

  ck_assert_ptr_nonnull(f);
  for (i = 0; i < n; i++) {
    crcs[i] = crc32(0, e[i].data, (uInt)e[i].size);
    offs[i] = (unsigned long)ftell(f);
    put32(f, 0x04034b50);
    put16(f, 20);
    put16(f, e[i].flags);
    put16(f, 0);
    put16(f, 0);
    put16(f, 0x21);
    put32(f, crcs[i]);
    put32(f, e[i].size);
    put32(f, e[i].size);
    put16(f, (unsigned)strlen(e[i].name));
    put16(f, 0);
    fwrite(e[i].name, 1, strlen(e[i].name), f);
    fwrite(e[i].data, 1, e[i].size, f);
  }
  cd_start = (unsigned long)ftell(f);
  for (i = 0; i < n; i++) {
    put32(f, 0x02014b50);
    put16(f, 20);
    put16(f, 20);
    put16(f, e[i].flags);
    put16(f, 0);
    put16(f, 0);
    put16(f, 0x21);
    put32(f, crcs[i]);
    put32(f, e[i].size);
    put32(f, e[i].size);
    put16(f, (unsigned)strlen(e[i].name));
    put16(f, 0);
    put16(f, 0);
    put16(f, 0);
    put16(f, 0);
    put32(f, 0);
    put32(f, offs[i]);
    fwrite(e[i].name, 1, strlen(e[i].name), f);
  }
  cd_size = (unsigned long)ftell(f) - cd_start;
  put32(f, 0x06054b50);
  put16(f, 0);
  put16(f, 0);
  put16(f, (unsigned)n);
  put16(f, (unsigned)n);
  put32(f, cd_size);
  put32(f, cd_start);
  put16(f, 0);
  fclose(f);
}

/* RAR 4 with stored entries, from the published header layout (no Debian
 * tool writes rar). Each header: CRC16 (low half of the CRC-32 of the rest),
 * type, flags, size, fields. Names ASCII, backslash-separated. */
static void rar_header(FILE *f, const uint8_t *body, size_t n) {
  put16(f, (unsigned)(crc32(0, body, (uInt)n) & 0xffff));
  fwrite(body, 1, n, f);
}

static size_t le(uint8_t *p, uint64_t v, int bytes) {
  int i;
  for (i = 0; i < bytes; i++)
    p[i] = (uint8_t)(v >> (8 * i));
  return (size_t)bytes;
}

static void write_rar(const char *path, const struct zentry *e, int n) {
  FILE *f = fopen(path, "wb");
  uint8_t b[600];
  size_t k;
  int i;

  ck_assert_ptr_nonnull(f);
  fwrite("Rar!\x1a\x07\x00", 1, 7, f);
  k = 0;
  b[k++] = 0x73; /* archive header */
  k += le(b + k, 0, 2);
  k += le(b + k, 13, 2);
  k += le(b + k, 0, 6);
  rar_header(f, b, k);
  for (i = 0; i < n; i++) {
    size_t nl = strlen(e[i].name);
    ck_assert_uint_lt(nl, 500);
    k = 0;
    b[k++] = 0x74;                /* file header */
    k += le(b + k, 0x8000, 2);    /* LONG_BLOCK: data follows */
    k += le(b + k, 32 + nl, 2);   /* header size */
    k += le(b + k, e[i].size, 4); /* packed */
    k += le(b + k, e[i].size, 4); /* unpacked */
    b[k++] = 2;                   /* host OS: Windows */
    k += le(b + k, crc32(0, e[i].data, (uInt)e[i].size), 4);
    k += le(b + k, 0x5a8e3100, 4); /* DOS time */
    b[k++] = 29;                   /* version to unpack */
    b[k++] = 0x30;                 /* method: store */
    k += le(b + k, nl, 2);
    k += le(b + k, 0x20, 4); /* attributes: archive */
    memcpy(b + k, e[i].name, nl);
    k += nl;
    rar_header(f, b, k);
    fwrite(e[i].data, 1, e[i].size, f);
  }
  k = 0;
  b[k++] = 0x7b; /* end of archive */
  k += le(b + k, 0x4000, 2);
  k += le(b + k, 7, 2);
  rar_header(f, b, k);
  fclose(f);
}

/* libarchive writer. */
enum kind { K_FILE, K_DIR, K_SYMLINK, K_HARDLINK, K_CHR, K_ZEROS };
struct aentry {
  const char *name; /* UTF-8 */
  enum kind kind;
  const char *src;  /* K_FILE: file to copy, or NULL to use data */
  const char *data; /* K_FILE literal data; link target for links */
  uint64_t zeros;   /* K_ZEROS: this many zero bytes */
};

static struct archive *writer(const char *path, const char *format, const char *filter, const char *options) {
  struct archive *a = archive_write_new();
  ck_assert_int_eq(archive_write_set_format_by_name(a, format), ARCHIVE_OK);
  if (filter)
    ck_assert_int_eq(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
  if (options)
    ck_assert_msg(archive_write_set_options(a, options) == ARCHIVE_OK, "%s", archive_error_string(a));
  ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
  return a;
}

static void add_entry(struct archive *a, const struct aentry *x) {
  struct archive_entry *e = archive_entry_new();
  char *buf = NULL;
  size_t n = 0;

  archive_entry_set_pathname_utf8(e, x->name);
  archive_entry_set_mtime(e, 1700000000, 0);
  switch (x->kind) {
  case K_FILE:
    buf = x->src ? slurp(x->src, &n) : strdup(x->data);
    if (!x->src)
      n = strlen(buf);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)n);
    break;
  case K_ZEROS:
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)x->zeros);
    break;
  case K_DIR:
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    break;
  case K_SYMLINK:
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_perm(e, 0777);
    archive_entry_set_symlink_utf8(e, x->data);
    break;
  case K_HARDLINK:
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_hardlink_utf8(e, x->data);
    break;
  case K_CHR:
    archive_entry_set_filetype(e, AE_IFCHR);
    archive_entry_set_perm(e, 0666);
    archive_entry_set_rdev(e, makedev(1, 3));
    break;
  }
  ck_assert_msg(archive_write_header(a, e) >= ARCHIVE_WARN, "%s", archive_error_string(a));
  if (buf != NULL)
    ck_assert_int_eq(archive_write_data(a, buf, n), (la_ssize_t)n);
  if (x->kind == K_ZEROS) {
    static char zero[1 << 16];
    uint64_t left = x->zeros;
    while (left > 0) {
      size_t k = left < sizeof(zero) ? (size_t)left : sizeof(zero);
      ck_assert_int_eq(archive_write_data(a, zero, k), (la_ssize_t)k);
      left -= k;
    }
  }
  free(buf);
  archive_entry_free(e);
}

static void write_archive(const char *path, const char *format, const char *filter, const char *options,
                          const struct aentry *x, int n) {
  struct archive *a = writer(path, format, filter, options);
  int i;
  for (i = 0; i < n; i++)
    add_entry(a, &x[i]);
  ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

static long max_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* ---- tests -------------------------------------------------------------------- */

/* libcrypto's SHA-256 as ingestion drives it: FIPS 180-4 examples, the same
 * bytes in uneven pieces, through the hash thread, and a corpus file against
 * the digest its MANIFEST records. */
START_TEST(sha256_known_vectors) {
  char hex[65], *m = malloc(3000000), *d;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  struct ingest_hasher *h = ingest_hasher_new();
  size_t i, n;

  ck_assert_ptr_nonnull(m);
  ck_assert_ptr_nonnull(c);
  sha_of_buf("", 0, hex);
  ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha_of_buf("abc", 3, hex);
  ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha_of_buf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
  ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  memset(m, 'a', 3000000);
  sha_of_buf(m, 1000000, hex);
  ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* the same in uneven pieces */
  ck_assert_int_eq(ingest_digest_init(c), 0);
  for (i = 0; i < 1000000; i += 7)
    EVP_DigestUpdate(c, m + i, 1000000 - i < 7 ? (size_t)(1000000 - i) : 7);
  ck_assert_int_eq(ingest_digest_hex(c, hex), 0);
  ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* begun inline, continued on the hash thread (fed and filled buffers, the
   * fed ones also written to a file), finished inline: 3 000 000 bytes of
   * 'a', digest as sha256sum gives it */
  if (h != NULL) {
    uint8_t *b;
    char path[4096];
    struct stat st;
    int fd;
    snprintf(path, sizeof(path), "%s/hashed-and-written", tu_tmpdir());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ingest_digest_init(c), 0);
    EVP_DigestUpdate(c, m, 100);
    ingest_hasher_begin(h, c, fd);
    ingest_hasher_feed(h, m + 100, 1999900);
    ck_assert_int_eq(ingest_hasher_end(h), 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(st.st_size, 1999900);
    close(fd);
    ingest_hasher_begin(h, c, -1);
    ck_assert_uint_lt(INGEST_HASH_BUF, 1000000);
    b = ingest_hasher_buffer(h);
    memcpy(b, m, INGEST_HASH_BUF - 1);
    ingest_hasher_commit(h, INGEST_HASH_BUF - 1);
    ck_assert_int_eq(ingest_hasher_end(h), 0);
    EVP_DigestUpdate(c, m, 1000000 - (INGEST_HASH_BUF - 1));
    ck_assert_int_eq(ingest_digest_hex(c, hex), 0);
    ck_assert_str_eq(hex, "2a152c894398719c0570f83fac34ac03a0f6e8e474b995c2403aa5434f7b9dd4");
    /* a write that fails is reported, the digest still goes on */
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ingest_digest_init(c), 0);
    ingest_hasher_begin(h, c, fd);
    ingest_hasher_feed(h, m, 3000000);
    ck_assert_int_eq(ingest_hasher_end(h), EBADF);
    close(fd);
    ck_assert_int_eq(ingest_digest_hex(c, hex), 0);
    ck_assert_str_eq(hex, "2a152c894398719c0570f83fac34ac03a0f6e8e474b995c2403aa5434f7b9dd4");
  }
  /* corpus/logs/MANIFEST.md records this file's sha256 */
  d = tu_read_file(tu_corpus("logs/cbs/hofcake-CBS.log"), &n);
  ck_assert_ptr_nonnull(d);
  ck_assert_uint_eq(n, 317302);
  sha_of_buf(d, n, hex);
  ck_assert_str_eq(hex, CBS_SHA);
  free(d);
  ingest_hasher_free(h);
  EVP_MD_CTX_free(c);
  free(m);
}
END_TEST

/* Typing by content on real files (names do not matter: see the renamed copy). */
START_TEST(filetype_of_corpus_files) {
  static const struct {
    const char *rel;
    enum fb_filetype type;
  } cases[] = {
      {"etl/airbus-etl-parser/lxcore_kernel.etl", FB_FT_ETL},
      {"etl/airbus-etl-parser/AMSITrace.etl", FB_FT_ETL},
      {"etl/tx/Process.etl", FB_FT_ETL},
      {"etl/perfview/smallEtlFile.etl", FB_FT_ETL},  /* 32-bit logger */
      {"etl/perfview/net.4.5.2.x64.etl", FB_FT_ETL}, /* compressed, relogged */
      {"etl/perfview/gcevents.etl.zip", FB_FT_ZIP},
      {"etl/etwanalyzer/TraceLoggingTester.7z", FB_FT_7Z},
      {"pml/win7-sp1-x86-filesystem.pml", FB_FT_PML},
      {"pml/win10-1903-x64-registry.pml.gz", FB_FT_GZIP},
      {"evtx/omerbenamram-evtx/issue_201.evtx", FB_FT_EVTX},
      {"dumps/rizin-triage_x64.dmp", FB_FT_KERNEL_DUMP},
      {"dumps/rizin-triage_arm64.dmp", FB_FT_KERNEL_DUMP},
      {"logs/cbs/hofcake-CBS.log", FB_FT_CBS_LOG},
      {"logs/setup/plaso-setupapi.dev.log", FB_FT_SETUPAPI},
      {"logs/setup/rickaK77-setupact.log", FB_FT_SETUP_LOG},
      {"altitudes/altitudes.tsv", FB_FT_OTHER},
      {"etl/perfview/gcevents.baseline.txt", FB_FT_OTHER},
  };
  static const uint8_t mdmp[8] = {'M', 'D', 'M', 'P', 0x93, 0xA7, 0, 0};
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t n = 0;
    char *d = slurp(tu_corpus(cases[i].rel), &n);
    enum fb_filetype t = fb_filetype_detect((const uint8_t *)d, n < FB_FILETYPE_HEAD ? n : FB_FILETYPE_HEAD);
    ck_assert_msg(t == cases[i].type, "%s: %s, expected %s", cases[i].rel, fb_filetype_name(t),
                  fb_filetype_name(cases[i].type));
    free(d);
  }
  ck_assert_int_eq(fb_filetype_detect(mdmp, sizeof(mdmp)), FB_FT_MINIDUMP);
  ck_assert_int_eq(fb_filetype_detect((const uint8_t *)"PAGEDUMP", 8), FB_FT_KERNEL_DUMP);
  ck_assert_int_eq(fb_filetype_detect((const uint8_t *)"Rar!\x1a\x07\x01\x00", 8), FB_FT_RAR);
  ck_assert_int_eq(fb_filetype_detect((const uint8_t *)"MSCF\0\0\0\0", 8), FB_FT_CAB);
  ck_assert_int_eq(fb_filetype_detect(NULL, 0), FB_FT_OTHER);
}
END_TEST

START_TEST(zip_with_gbk_names_from_chinese_windows) {
  const char *dir = fresh_dir("gbk");
  size_t n = 0;
  char *fltmc = slurp(FB_SOURCE_DIR "/tests/text/samples/fltmc-filters-zh-gbk.txt", &n), hex[65];
  /* 湖北分行\升级失败日志\fltmc.txt in code page 936, no UTF-8 flag, backslashes */
  struct zentry e[2] = {
      {"\xba\xfe\xb1\xb1\xb7\xd6\xd0\xd0\\\xc9\xfd\xbc\xb6\xca\xa7\xb0\xdc\xc8\xd5\xd6\xbe\\fltmc.txt", fltmc,
       n, 0},
      {HUBEI "/utf8-flagged.txt", "hello", 5, 0x800}};
  struct ingest_result r;
  const struct ingest_artifact *a;

  write_zip(path_in(dir, "upload.zip"), e, 2);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "upload.zip"), path_in(dir, "work"), NULL, &r), 0);
  ck_assert_uint_eq(r.count, 3);
  a = must_chain(&r, "upload.zip");
  ck_assert_int_eq(a->type, FB_FT_ZIP);
  ck_assert_int_eq(a->status, INGEST_OK);
  ck_assert_uint_eq(a->depth, 0);
  a = must_chain(&r, "upload.zip!" HUBEI "/" FAILED_LOGS "/fltmc.txt");
  ck_assert_int_eq(a->type, FB_FT_FLTMC);
  ck_assert_int_eq(a->status, INGEST_OK);
  ck_assert_uint_eq(a->size, n);
  sha_of_buf(fltmc, n, hex);
  ck_assert_str_eq(a->sha256, hex);
  ck_assert_str_eq(a->rel_path, "upload.zip.d/" HUBEI "/" FAILED_LOGS "/fltmc.txt");
  ck_assert_uint_eq(a->depth, 1);
  ck_assert(ingest_artifact_readable(a));
  ck_assert_int_eq(access(path_in(dir, "work/upload.zip.d/" HUBEI "/" FAILED_LOGS "/fltmc.txt"), R_OK), 0);
  a = must_chain(&r, "upload.zip!" HUBEI "/utf8-flagged.txt");
  ck_assert_str_eq(a->sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  ck_assert(all_names_utf8(&r));
  ingest_result_free(&r);
  free(fltmc);
}
END_TEST

START_TEST(seven_z_in_zip_in_tar_gz) {
  const char *dir = fresh_dir("nested");
  struct aentry in7[4] = {
      {HUBEI "/" FAILED_LOGS "/Setup.evtx", K_FILE, tu_corpus("evtx/3gstudent/Setup.evtx"), NULL, 0},
      {HUBEI "/CBS.log", K_FILE, tu_corpus("logs/cbs/hofcake-CBS.log"), NULL, 0},
      {"procmon.pml", K_FILE, tu_corpus("pml/win7-sp1-x64-createfile-denied.pml"), NULL, 0},
      /* over 1 MiB: digested on the hash thread */
      {"System.evtx", K_FILE, tu_corpus("evtx/omerbenamram-evtx/system.evtx"), NULL, 0}};
  struct aentry inzip[1] = {{"inner.7z", K_FILE, NULL, NULL, 0}};
  struct aentry intar[1] = {{"outer.zip", K_FILE, NULL, NULL, 0}};
  char work[4096];
  struct ingest_result r;
  const struct ingest_artifact *a;
  struct stat before, after;
  char up_sha_before[65], up_sha_after[65];
  size_t n;
  char *d;

  write_archive(path_in(dir, "inner.7z"), "7zip", NULL, NULL, in7, 4);
  inzip[0].src = path_in(dir, "inner.7z");
  write_archive(path_in(dir, "outer.zip"), "zip", NULL, NULL, inzip, 1);
  intar[0].src = path_in(dir, "outer.zip");
  write_archive(path_in(dir, "upload.tar.gz"), "pax", "gzip", NULL, intar, 1);
  ck_assert_int_eq(stat(path_in(dir, "upload.tar.gz"), &before), 0);
  d = slurp(path_in(dir, "upload.tar.gz"), &n);
  sha_of_buf(d, n, up_sha_before);
  free(d);

  snprintf(work, sizeof(work), "%s", path_in(dir, "work"));
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "upload.tar.gz"), work, NULL, &r), 0);
  ck_assert_uint_eq(r.count, 7);
  ck_assert_uint_eq(r.refused, 0);
  a = must_chain(&r, "upload.tar.gz!outer.zip!inner.7z!System.evtx");
  ck_assert_uint_eq(a->size, 1118208);
  ck_assert_str_eq(a->sha256, "60e5fd8f10a3deecd58bd7bee2e03b1308d190fd13b52908be9d576c7f5d6623");
  ck_assert_int_eq(must_chain(&r, "upload.tar.gz")->type, FB_FT_GZIP);
  ck_assert_int_eq(must_chain(&r, "upload.tar.gz!outer.zip")->type, FB_FT_ZIP);
  a = must_chain(&r, "upload.tar.gz!outer.zip!inner.7z");
  ck_assert_int_eq(a->type, FB_FT_7Z);
  ck_assert_uint_eq(a->depth, 2);
  ck_assert_str_eq(a->rel_path, "upload.tar.gz.d/outer.zip.d/inner.7z");
  a = must_chain(&r, "upload.tar.gz!outer.zip!inner.7z!" HUBEI "/" FAILED_LOGS "/Setup.evtx");
  ck_assert_int_eq(a->type, FB_FT_EVTX);
  ck_assert_uint_eq(a->size, 69632);
  ck_assert_str_eq(a->sha256, SETUP_EVTX_SHA);
  ck_assert_uint_eq(a->depth, 3);
  ck_assert_str_eq(a->rel_path,
                   "upload.tar.gz.d/outer.zip.d/inner.7z.d/" HUBEI "/" FAILED_LOGS "/Setup.evtx");
  a = must_chain(&r, "upload.tar.gz!outer.zip!inner.7z!" HUBEI "/CBS.log");
  ck_assert_int_eq(a->type, FB_FT_CBS_LOG);
  ck_assert_str_eq(a->sha256, CBS_SHA);
  a = must_chain(&r, "upload.tar.gz!outer.zip!inner.7z!procmon.pml");
  ck_assert_int_eq(a->type, FB_FT_PML);
  ck_assert_uint_eq(a->size, 776738);
  /* the upload is untouched */
  ck_assert_int_eq(stat(path_in(dir, "upload.tar.gz"), &after), 0);
  ck_assert_int_eq(before.st_mtime, after.st_mtime);
  ck_assert_int_eq(before.st_size, after.st_size);
  d = slurp(path_in(dir, "upload.tar.gz"), &n);
  sha_of_buf(d, n, up_sha_after);
  free(d);
  ck_assert_str_eq(up_sha_before, up_sha_after);
  ck_assert_str_eq(must_chain(&r, "upload.tar.gz")->sha256, up_sha_before);
  ck_assert_str_eq(must_chain(&r, "upload.tar.gz")->path, path_in(dir, "upload.tar.gz"));
  ingest_result_free(&r);

  /* the same upload twice into the same work dir: no clash, fresh directory */
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "upload.tar.gz"), work, NULL, &r), 0);
  ck_assert_str_eq(must_chain(&r, "upload.tar.gz!outer.zip")->rel_path, "upload.tar.gz.d~2/outer.zip");
  ingest_result_free(&r);
}
END_TEST

START_TEST(compressed_streams_and_tar_filters) {
  const char *dir = fresh_dir("streams");
  struct aentry one[1] = {{"logs/CBS.log", K_FILE, tu_corpus("logs/cbs/hofcake-CBS.log"), NULL, 0}};
  static const char *const filters[] = {"xz", "bzip2", "zstd"};
  struct ingest_result r;
  size_t n, i;
  char *d = slurp(tu_corpus("logs/cbs/hofcake-CBS.log"), &n);
  gzFile gz = gzopen(path_in(dir, "CBS.log.gz"), "wb");

  ck_assert_ptr_nonnull(gz);
  ck_assert_int_eq(gzwrite(gz, d, (unsigned)n), (int)n);
  gzclose(gz);
  free(d);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "CBS.log.gz"), path_in(dir, "w"), NULL, &r), 0);
  ck_assert_uint_eq(r.count, 2);
  ck_assert_int_eq(must_chain(&r, "CBS.log.gz")->type, FB_FT_GZIP);
  ck_assert_int_eq(must_chain(&r, "CBS.log.gz!CBS.log")->type, FB_FT_CBS_LOG);
  ck_assert_str_eq(must_chain(&r, "CBS.log.gz!CBS.log")->sha256, CBS_SHA);
  ingest_result_free(&r);

  for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
    char name[64], chain[128];
    snprintf(name, sizeof(name), "logs.tar.%s", filters[i]);
    write_archive(path_in(dir, name), "gnutar", filters[i], NULL, one, 1);
    ingest_result_init(&r);
    ck_assert_int_eq(ingest_run(path_in(dir, name), path_in(dir, "w"), NULL, &r), 0);
    ck_assert_uint_eq(r.count, 2);
    snprintf(chain, sizeof(chain), "%s!logs/CBS.log", name);
    ck_assert_str_eq(must_chain(&r, chain)->sha256, CBS_SHA);
    ck_assert_int_eq(must_chain(&r, name)->type, i == 0 ? FB_FT_XZ : i == 1 ? FB_FT_BZIP2 : FB_FT_ZSTD);
    ingest_result_free(&r);
  }
}
END_TEST

START_TEST(cab_made_by_gcab) {
  const char *dir = fresh_dir("cab");
  char cmd[8192];
  struct ingest_result r;

  if (system("command -v gcab >/dev/null 2>&1") != 0) {
    fprintf(stderr, "cab_made_by_gcab: gcab not installed (apt-get install gcab); skipped\n");
    return;
  }
  snprintf(
      cmd, sizeof(cmd),
      "cp '%s' '%s/Setup.evtx' && cp '%s' '%s/CBS.log' && cd '%s' && gcab -c -z logs.cab Setup.evtx CBS.log",
      tu_corpus("evtx/3gstudent/Setup.evtx"), dir, tu_corpus("logs/cbs/hofcake-CBS.log"), dir, dir);
  ck_assert_int_eq(system(cmd), 0);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "logs.cab"), path_in(dir, "w"), NULL, &r), 0);
  ck_assert_uint_eq(r.count, 3);
  ck_assert_int_eq(must_chain(&r, "logs.cab")->type, FB_FT_CAB);
  ck_assert_int_eq(must_chain(&r, "logs.cab")->status, INGEST_OK);
  ck_assert_str_eq(must_chain(&r, "logs.cab!Setup.evtx")->sha256, SETUP_EVTX_SHA);
  ck_assert_int_eq(must_chain(&r, "logs.cab!CBS.log")->type, FB_FT_CBS_LOG);
  ingest_result_free(&r);
}
END_TEST

START_TEST(zip64_records) {
  const char *dir = fresh_dir("zip64");
  struct aentry e[2] = {{"a/Setup.evtx", K_FILE, tu_corpus("evtx/3gstudent/Setup.evtx"), NULL, 0},
                        {"a/System.evtx", K_FILE, tu_corpus("evtx/omerbenamram-evtx/system.evtx"), NULL, 0}};
  struct ingest_result r;
  size_t n;
  char *d;

  write_archive(path_in(dir, "z64.zip"), "zip", NULL, "zip:zip64", e, 2);
  d = slurp(path_in(dir, "z64.zip"), &n);
  ck_assert_ptr_nonnull(memmem(d, n, "PK\x06\x06", 4)); /* a zip64 end of central directory record */
  free(d);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "z64.zip"), path_in(dir, "w"), NULL, &r), 0);
  ck_assert_uint_eq(r.count, 3);
  ck_assert_str_eq(must_chain(&r, "z64.zip!a/Setup.evtx")->sha256, SETUP_EVTX_SHA);
  ck_assert_str_eq(must_chain(&r, "z64.zip!a/System.evtx")->sha256,
                   "60e5fd8f10a3deecd58bd7bee2e03b1308d190fd13b52908be9d576c7f5d6623");
  ingest_result_free(&r);
}
END_TEST

START_TEST(rar4_built_by_hand) {
  const char *dir = fresh_dir("rar");
  size_t n = 0;
  char *cbs = slurp(tu_corpus("logs/cbs/hofcake-CBS.log"), &n);
  struct zentry e[2] = {{"logs\\CBS.log", cbs, n, 0},
                        {"fltmc.txt", "Filter listing failed with error: 0x80070005\r\n", 46, 0}};
  struct ingest_result r;

  write_rar(path_in(dir, "logs.rar"), e, 2);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "logs.rar"), path_in(dir, "w"), NULL, &r), 0);
  ck_assert_uint_eq(r.count, 3);
  ck_assert_int_eq(must_chain(&r, "logs.rar")->type, FB_FT_RAR);
  ck_assert_int_eq(must_chain(&r, "logs.rar")->status, INGEST_OK);
  ck_assert_str_eq(must_chain(&r, "logs.rar!logs/CBS.log")->sha256, CBS_SHA);
  ck_assert_int_eq(must_chain(&r, "logs.rar!logs/CBS.log")->type, FB_FT_CBS_LOG);
  ck_assert_int_eq(must_chain(&r, "logs.rar!fltmc.txt")->type, FB_FT_FLTMC);
  ingest_result_free(&r);
  free(cbs);
}
END_TEST

START_TEST(encrypted_zip_is_refused_clearly) {
  const char *dir = fresh_dir("enc");
  struct aentry e[1] = {{"secret/CBS.log", K_FILE, tu_corpus("logs/cbs/hofcake-CBS.log"), NULL, 0}};
  static const char *const modes[] = {"zip:encryption=aes256", "zip:encryption=zipcrypt"};
  int i;

  for (i = 0; i < 2; i++) {
    struct ingest_result r;
    struct archive *a = archive_write_new();
    const struct ingest_artifact *x;
    int k;

    archive_write_set_format_zip(a);
    ck_assert_msg(archive_write_set_options(a, modes[i]) == ARCHIVE_OK, "%s", archive_error_string(a));
    archive_write_set_passphrase(a, "s3cret");
    ck_assert_int_eq(archive_write_open_filename(a, path_in(dir, "enc.zip")), ARCHIVE_OK);
    add_entry(a, &e[0]);
    archive_write_close(a);
    archive_write_free(a);

    ingest_result_init(&r);
    ck_assert_int_eq(ingest_run(path_in(dir, "enc.zip"), path_in(dir, "w"), NULL, &r), 0);
    x = must_chain(&r, "enc.zip!secret/CBS.log");
    ck_assert_int_eq(x->status, INGEST_REFUSED);
    ck_assert_ptr_nonnull(strstr(x->error, "encrypted"));
    ck_assert_ptr_null(x->path);
    ck_assert_int_eq(must_chain(&r, "enc.zip")->status, INGEST_PARTIAL);
    ck_assert_ptr_nonnull(strstr(must_chain(&r, "enc.zip")->error, "encrypted"));
    for (k = 0; k < (int)r.count; k++)
      ck_assert(!ingest_artifact_readable(&r.items[k]));
    ingest_result_free(&r);
  }
}
END_TEST

START_TEST(upload_directory_read_in_place) {
  const char *dir = fresh_dir("updir");
  char cmd[8192];
  struct ingest_result r;
  const struct ingest_artifact *a;

  snprintf(cmd, sizeof(cmd),
           "mkdir -p '%s/up/" HUBEI "' && cp '%s' '%s/up/" HUBEI
           "/System.evtx' && ln -s /etc/passwd '%s/up/link' && "
           "printf 'x' > '%s/up/" HUBEI "/\xb9\xfe.txt'",
           dir, tu_corpus("evtx/omerbenamram-evtx/system.evtx"), dir, dir, dir);
  ck_assert_int_eq(system(cmd), 0);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "up/"), path_in(dir, "w"), NULL, &r), 0);
  ck_assert_uint_eq(r.count, 3);
  a = must_chain(&r, "up/" HUBEI "/System.evtx");
  ck_assert_int_eq(a->type, FB_FT_EVTX);
  ck_assert_str_eq(a->sha256, "60e5fd8f10a3deecd58bd7bee2e03b1308d190fd13b52908be9d576c7f5d6623");
  ck_assert_str_eq(a->path, path_in(dir, "up/" HUBEI "/System.evtx")); /* read in place, not copied */
  ck_assert_ptr_null(a->rel_path);
  a = must_chain(&r, "up/link");
  ck_assert_int_eq(a->status, INGEST_REFUSED);
  ck_assert_str_eq(a->error, "symbolic link refused");
  /* a GBK file name on disk ("\xb9\xfe" = 哈) comes out as UTF-8 */
  ck_assert_ptr_nonnull(by_chain(&r, "up/" HUBEI "/\xe5\x93\x88.txt"));
  ck_assert(all_names_utf8(&r));
  ck_assert_int_eq(count_tree(path_in(dir, "w")), 0);
  ingest_result_free(&r);

  /* the work dir inside the upload directory is not walked into */
  {
    struct aentry z[1] = {{"inner.txt", K_FILE, NULL, "x", 0}};
    write_archive(path_in(dir, "up/logs.zip"), "zip", NULL, NULL, z, 1);
  }
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "up"), path_in(dir, "up/work"), NULL, &r), 0);
  ck_assert_uint_eq(r.count, 5);
  ck_assert_str_eq(must_chain(&r, "up/logs.zip!inner.txt")->rel_path, "logs.zip.d/inner.txt");
  ingest_result_free(&r);

  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "missing.zip"), path_in(dir, "w"), NULL, &r), FB_EIO);
  ck_assert_ptr_nonnull(strstr(r.error, "cannot open upload"));
  ingest_result_free(&r);
}
END_TEST

/* ---- hostile archives ------------------------------------------------------ */

START_TEST(hostile_zip_slip_and_absolute_paths) {
  const char *dir = fresh_dir("slip");
  char abs_target[4096];
  struct aentry e[5] = {{"../../evil.txt", K_FILE, NULL, "pwned", 0},
                        {"ok/../../evil2.txt", K_FILE, NULL, "pwned", 0},
                        {"fine/..\\..\\evil3.txt", K_FILE, NULL, "pwned", 0},
                        {NULL, K_FILE, NULL, "pwned", 0},
                        {"good.txt", K_FILE, NULL, "fine", 0}};
  struct zentry z[2] = {{"C:\\Windows\\System32\\evil.dll", "MZ", 2, 0},
                        {"\\\\server\\share\\x.txt", "x", 1, 0}};
  struct ingest_result r;
  int outside;

  snprintf(abs_target, sizeof(abs_target), "%s/abs-evil.txt", dir);
  e[3].name = abs_target;
  write_archive(path_in(dir, "slip.tar"), "pax", NULL, NULL, e, 5);
  outside = count_tree(dir);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "slip.tar"), path_in(dir, "work"), NULL, &r), 0);
  ck_assert_uint_eq(r.refused, 4);
  ck_assert_ptr_nonnull(strstr(must_chain(&r, "slip.tar!../../evil.txt")->error, "climbs out"));
  ck_assert_ptr_nonnull(strstr(must_chain(&r, "slip.tar!ok/../../evil2.txt")->error, "climbs out"));
  ck_assert_ptr_nonnull(with_error(&r, "absolute path"));
  ck_assert_int_eq(must_chain(&r, "slip.tar!good.txt")->status, INGEST_OK);
  ck_assert_int_eq(access(path_in(dir, "abs-evil.txt"), F_OK), -1);
  ck_assert_int_eq(access(path_in(dir, "evil.txt"), F_OK), -1);
  ck_assert_int_eq(access(path_in(tu_tmpdir(), "evil.txt"), F_OK), -1);
  /* outside the work dir only "work" itself appeared */
  ck_assert_int_eq(count_tree(dir) - count_tree(path_in(dir, "work")), outside + 1);
  ingest_result_free(&r);

  write_zip(path_in(dir, "abs.zip"), z, 2);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "abs.zip"), path_in(dir, "work2"), NULL, &r), 0);
  ck_assert_uint_eq(r.refused, 2);
  /* libarchive turns the backslashes of zips made on Windows into slashes */
  ck_assert_str_eq(must_chain(&r, "abs.zip!C:/Windows/System32/evil.dll")->error,
                   "unsafe name refused: absolute path");
  ck_assert_int_eq(count_tree(path_in(dir, "work2")), 1); /* abs.zip.d, empty */
  ingest_result_free(&r);
}
END_TEST

START_TEST(hostile_links_and_devices) {
  const char *dir = fresh_dir("links");
  const char *outside = fresh_dir("links-outside");
  struct aentry e[5] = {{"evil", K_SYMLINK, NULL, NULL, 0},
                        {"evil/pwned.txt", K_FILE, NULL, "through the link", 0},
                        {"target.txt", K_FILE, NULL, "x", 0},
                        {"hard", K_HARDLINK, NULL, "/etc/passwd", 0},
                        {"null", K_CHR, NULL, NULL, 0}};
  struct ingest_result r;
  const struct ingest_artifact *a;
  struct stat st;

  e[0].data = outside;
  write_archive(path_in(dir, "links.tar"), "pax", NULL, NULL, e, 5);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "links.tar"), path_in(dir, "work"), NULL, &r), 0);
  a = must_chain(&r, "links.tar!evil");
  ck_assert_int_eq(a->status, INGEST_REFUSED);
  ck_assert_ptr_nonnull(strstr(a->error, "symbolic link refused: points to "));
  ck_assert_str_eq(must_chain(&r, "links.tar!hard")->error, "hard link refused: points to /etc/passwd");
  ck_assert_str_eq(must_chain(&r, "links.tar!null")->error, "device file refused");
  /* the write-through lands in a real directory inside the work dir */
  a = must_chain(&r, "links.tar!evil/pwned.txt");
  ck_assert_int_eq(a->status, INGEST_OK);
  ck_assert_int_eq(lstat(path_in(dir, "work/links.tar.d/evil"), &st), 0);
  ck_assert(S_ISDIR(st.st_mode));
  ck_assert_int_eq(count_tree(outside), 0);
  ingest_result_free(&r);

  /* a symlink planted in the work dir beforehand is not followed either */
  ck_assert_int_eq(mkdir(path_in(dir, "work2"), 0755), 0);
  ck_assert_int_eq(mkdir(path_in(dir, "work2/links.tar.d"), 0755), 0);
  ck_assert_int_eq(symlink(outside, path_in(dir, "work2/links.tar.d/evil")), 0);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "links.tar"), path_in(dir, "work2"), NULL, &r), 0);
  ck_assert_int_eq(count_tree(outside), 0);
  ingest_result_free(&r);
}
END_TEST

START_TEST(hostile_gigabyte_of_zeros) {
  const char *dir = fresh_dir("bomb");
  struct aentry e[2] = {{"zeros.bin", K_ZEROS, NULL, NULL, 1ull << 30}, {"after.txt", K_FILE, NULL, "x", 0}};
  struct ingest_limits lim;
  struct ingest_result r;
  const struct ingest_artifact *a;
  long rss0, rss1;
  struct stat st;

  /* zip: the declared size gives the bomb away before a byte is written */
  write_archive(path_in(dir, "bomb.zip"), "zip", NULL, "zip:compression-level=1", e, 2);
  ck_assert_int_eq(stat(path_in(dir, "bomb.zip"), &st), 0);
  ck_assert_int_lt(st.st_size, 8 << 20); /* > 200:1 */
  rss0 = max_rss_kb();
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "bomb.zip"), path_in(dir, "work"), NULL, &r), 0);
  a = must_chain(&r, "bomb.zip!zeros.bin");
  ck_assert_int_eq(a->status, INGEST_REFUSED);
  ck_assert_ptr_nonnull(strstr(a->error, "limit: compression ratio over 100:1"));
  ck_assert_ptr_nonnull(strstr(a->error, "entry declares 1073741824 bytes"));
  ck_assert_int_eq(must_chain(&r, "bomb.zip")->status, INGEST_PARTIAL);
  ck_assert_uint_eq(r.total_bytes, 0);
  ck_assert_ptr_null(by_chain(&r, "bomb.zip!after.txt")); /* the archive stopped there */
  ingest_result_free(&r);

  /* single .gz stream: no declared size, stopped while streaming. 1 GiB of
   * zeros as 256 gzip members of 4 MiB each (one valid gzip stream, built
   * much faster than one member) */
  {
    z_stream z;
    size_t chunk = 4u << 20, cap = compressBound((uLong)chunk) + 64, out;
    char *zero = calloc(1, chunk), *packed = malloc(cap);
    FILE *f = fopen(path_in(dir, "zeros.bin.gz"), "wb");
    int i;

    ck_assert_ptr_nonnull(zero);
    ck_assert_ptr_nonnull(packed);
    ck_assert_ptr_nonnull(f);
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)zero;
    z.avail_in = (uInt)chunk;
    z.next_out = (Bytef *)packed;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    out = cap - z.avail_out;
    deflateEnd(&z);
    for (i = 0; i < 256; i++)
      ck_assert_uint_eq(fwrite(packed, 1, out, f), out);
    fclose(f);
    free(zero);
    free(packed);
  }
  ingest_limits_default(&lim);
  lim.ratio_floor = 1 << 20;
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "zeros.bin.gz"), path_in(dir, "work"), &lim, &r), 0);
  a = must_chain(&r, "zeros.bin.gz!zeros.bin");
  ck_assert_int_eq(a->status, INGEST_REFUSED);
  ck_assert_ptr_nonnull(strstr(a->error, "an archive bomb?"));
  ck_assert_ptr_null(a->path);
  ck_assert_uint_lt(r.total_bytes, 200u << 20); /* stopped at ~100x the 1 MB archive */
  ck_assert_int_eq(access(path_in(dir, "work/zeros.bin.gz.d/zeros.bin"), F_OK), -1); /* removed */
  rss1 = max_rss_kb();
  ck_assert_msg(rss1 - rss0 < 64 * 1024, "peak RSS grew by %ld KB", rss1 - rss0);
  ingest_result_free(&r);

  /* total-bytes limit */
  ingest_limits_default(&lim);
  lim.max_total_bytes = 1 << 20;
  lim.max_ratio = 1u << 30;
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "zeros.bin.gz"), path_in(dir, "work"), &lim, &r), 0);
  ck_assert_ptr_nonnull(strstr(must_chain(&r, "zeros.bin.gz!zeros.bin")->error, "max_total_bytes"));
  ck_assert_uint_le(r.total_bytes, 1 << 20);
  ingest_result_free(&r);
}
END_TEST

START_TEST(hostile_hundred_thousand_entries) {
  const char *dir = fresh_dir("many");
  struct archive *a = writer(path_in(dir, "many.tar.gz"), "ustar", "gzip", "gzip:compression-level=1");
  struct ingest_limits lim;
  struct ingest_result r;
  int i;

  for (i = 0; i < 100000; i++) {
    char name[64];
    struct aentry e = {name, K_FILE, NULL, "x", 0};
    snprintf(name, sizeof(name), "d%03d/f%06d.txt", i / 1000, i);
    add_entry(a, &e);
  }
  archive_write_close(a);
  archive_write_free(a);
  ingest_limits_default(&lim);
  lim.max_entries = 2000; /* the default (20000) behaves the same, only slower under ASan */
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "many.tar.gz"), path_in(dir, "work"), &lim, &r), 0);
  ck_assert_uint_eq(r.entries, 2000);
  ck_assert_uint_eq(r.count, 2001);
  ck_assert_str_eq(must_chain(&r, "many.tar.gz")->error,
                   "limit: more than 2000 archive entries in the upload (max_entries); unpacking stopped");
  ck_assert_int_eq(must_chain(&r, "many.tar.gz")->status, INGEST_PARTIAL);
  ck_assert_int_eq(count_tree(path_in(dir, "work")), 1 + 2 + 2000); /* many.tar.gz.d, d000, d001, files */
  ingest_result_free(&r);
}
END_TEST

START_TEST(hostile_depth_twenty) {
  const char *dir = fresh_dir("deep");
  char name[64], prev[64], chain[2048];
  struct ingest_result r;
  const struct ingest_artifact *a;
  int i;

  snprintf(prev, sizeof(prev), "payload.txt");
  {
    FILE *f = fopen(path_in(dir, prev), "w");
    fputs("deepest", f);
    fclose(f);
  }
  for (i = 20; i >= 1; i--) {
    struct aentry e = {prev, K_FILE, NULL, NULL, 0};
    char src[4096];
    snprintf(src, sizeof(src), "%s", path_in(dir, prev));
    e.src = src;
    snprintf(name, sizeof(name), "level%02d.zip", i);
    write_archive(path_in(dir, name), "zip", NULL, NULL, &e, 1);
    snprintf(prev, sizeof(prev), "%s", name);
  }
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "level01.zip"), path_in(dir, "work"), NULL, &r), 0);
  /* default max_depth 6: level01..level06 unpacked, level07 (7 deep) refused */
  ck_assert_uint_eq(r.count, 7);
  snprintf(chain, sizeof(chain), "level01.zip");
  for (i = 2; i <= 7; i++) {
    size_t l = strlen(chain);
    snprintf(chain + l, sizeof(chain) - l, "!level%02d.zip", i);
  }
  a = must_chain(&r, chain);
  ck_assert_int_eq(a->status, INGEST_REFUSED);
  ck_assert_str_eq(a->error,
                   "limit: archive nested 7 deep, over the depth limit (max_depth 6); not unpacked");
  ck_assert_uint_eq(a->depth, 6);
  ck_assert_ptr_null(with_error(&r, "damaged"));
  ingest_result_free(&r);
}
END_TEST

START_TEST(damaged_archives_read_partly) {
  const char *dir = fresh_dir("damaged");
  struct aentry e[2] = {{"a/Setup.evtx", K_FILE, tu_corpus("evtx/3gstudent/Setup.evtx"), NULL, 0},
                        {"b/CBS.log", K_FILE, tu_corpus("logs/cbs/hofcake-CBS.log"), NULL, 0}};
  struct ingest_result r;
  const struct ingest_artifact *a;
  size_t n;
  char *d;
  FILE *f;

  /* tar.gz cut in the middle of the second entry */
  write_archive(path_in(dir, "full.tar.gz"), "pax", "gzip", NULL, e, 2);
  d = slurp(path_in(dir, "full.tar.gz"), &n);
  f = fopen(path_in(dir, "cut.tar.gz"), "wb");
  ck_assert_uint_eq(fwrite(d, 1, n * 2 / 3, f), n * 2 / 3);
  fclose(f);
  free(d);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "cut.tar.gz"), path_in(dir, "work"), NULL, &r), 0);
  ck_assert_str_eq(must_chain(&r, "cut.tar.gz!a/Setup.evtx")->sha256, SETUP_EVTX_SHA);
  a = must_chain(&r, "cut.tar.gz!b/CBS.log");
  ck_assert_int_eq(a->status, INGEST_PARTIAL);
  ck_assert_ptr_nonnull(strstr(a->error, "read error after "));
  ck_assert_str_eq(a->sha256, "");
  ck_assert_int_eq(a->type, FB_FT_CBS_LOG); /* the head was there */
  ck_assert(ingest_artifact_readable(a));
  ck_assert_int_eq(must_chain(&r, "cut.tar.gz")->status, INGEST_PARTIAL);
  ingest_result_free(&r);

  /* zip without its central directory: libarchive falls back to reading local headers */
  write_archive(path_in(dir, "full.zip"), "zip", NULL, NULL, e, 2);
  d = slurp(path_in(dir, "full.zip"), &n);
  f = fopen(path_in(dir, "cut.zip"), "wb");
  ck_assert_uint_eq(fwrite(d, 1, n / 2, f), n / 2);
  fclose(f);
  free(d);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "cut.zip"), path_in(dir, "work"), NULL, &r), 0);
  a = must_chain(&r, "cut.zip");
  ck_assert_int_eq(a->status, INGEST_PARTIAL);
  ck_assert_ptr_nonnull(strstr(a->error, "damaged archive: "));
  ck_assert_uint_eq(r.count, 3);
  ck_assert_str_eq(must_chain(&r, "cut.zip!a/Setup.evtx")->sha256, SETUP_EVTX_SHA);
  ck_assert_int_eq(must_chain(&r, "cut.zip!b/CBS.log")->status, INGEST_PARTIAL);
  ingest_result_free(&r);
}
END_TEST

/* The upload's own digest comes from the reads that unpack it: zip and 7z
 * are read end first (central directory, header), tar.gz in order, a cut
 * zip stops early, a stored zip over 1 MiB goes through the hash thread.
 * Each must give the digest and size of the whole file. */
START_TEST(upload_digest_taken_while_unpacking) {
  const char *dir = fresh_dir("updigest");
  struct aentry e[3] = {{"a/Setup.evtx", K_FILE, tu_corpus("evtx/3gstudent/Setup.evtx"), NULL, 0},
                        {"b/CBS.log", K_FILE, tu_corpus("logs/cbs/hofcake-CBS.log"), NULL, 0},
                        {"System.evtx", K_FILE, tu_corpus("evtx/omerbenamram-evtx/system.evtx"), NULL, 0}};
  static const struct {
    const char *name, *format, *filter, *options;
    size_t entries;
  } cases[] = {{"up.zip", "zip", NULL, NULL, 4},
               {"stored.zip", "zip", NULL, "zip:compression=store", 4},
               {"up.7z", "7zip", NULL, NULL, 4},
               {"up.tar.gz", "pax", "gzip", NULL, 4}};
  struct ingest_result r;
  const struct ingest_artifact *a;
  char hex[65], name[64];
  size_t i, n;
  char *d;
  FILE *f;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    write_archive(path_in(dir, cases[i].name), cases[i].format, cases[i].filter, cases[i].options, e, 3);
    d = slurp(path_in(dir, cases[i].name), &n);
    sha_of_buf(d, n, hex);
    free(d);
    ingest_result_init(&r);
    ck_assert_int_eq(ingest_run(path_in(dir, cases[i].name), path_in(dir, "work"), NULL, &r), 0);
    ck_assert_uint_eq(r.count, cases[i].entries);
    a = must_chain(&r, cases[i].name);
    ck_assert_int_eq(a->status, INGEST_OK);
    ck_assert_uint_eq(a->size, n);
    ck_assert_str_eq(a->sha256, hex);
    snprintf(name, sizeof(name), "%s!System.evtx", cases[i].name);
    ck_assert_str_eq(must_chain(&r, name)->sha256,
                     "60e5fd8f10a3deecd58bd7bee2e03b1308d190fd13b52908be9d576c7f5d6623");
    ingest_result_free(&r);
  }
  ck_assert_uint_gt(n, 0);
  /* the stored zip is past the hash thread's threshold */
  d = slurp(path_in(dir, "stored.zip"), &n);
  ck_assert_uint_gt(n, 1u << 20);
  /* unpacking stopped after the first entry (a limit): what libarchive never
   * read is read for the digest alone */
  sha_of_buf(d, n, hex);
  {
    struct ingest_limits lim;
    ingest_limits_default(&lim);
    lim.max_entries = 1;
    ingest_result_init(&r);
    ck_assert_int_eq(ingest_run(path_in(dir, "stored.zip"), path_in(dir, "work"), &lim, &r), 0);
    ck_assert_uint_eq(r.count, 2);
    a = must_chain(&r, "stored.zip");
    ck_assert_int_eq(a->status, INGEST_PARTIAL);
    ck_assert_uint_eq(a->size, n);
    ck_assert_str_eq(a->sha256, hex);
    ingest_result_free(&r);
  }
  /* cut after its first third: damaged, but the digest covers every byte */
  f = fopen(path_in(dir, "cut.zip"), "wb");
  ck_assert_uint_eq(fwrite(d, 1, n / 3, f), n / 3);
  fclose(f);
  sha_of_buf(d, n / 3, hex);
  free(d);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "cut.zip"), path_in(dir, "work"), NULL, &r), 0);
  a = must_chain(&r, "cut.zip");
  ck_assert_int_eq(a->status, INGEST_PARTIAL);
  ck_assert_uint_eq(a->size, n / 3);
  ck_assert_str_eq(a->sha256, hex);
  ingest_result_free(&r);
}
END_TEST

/* The whole path for job.c: upload -> artifacts -> side evidence. */
START_TEST(side_evidence_of_an_upload) {
  const char *dir = fresh_dir("side");
  struct aentry e[6] = {
      {"logs/System.evtx", K_FILE, tu_corpus("evtx/omerbenamram-evtx/system.evtx"), NULL, 0},
      {"logs/CAPI2.evtx", K_FILE,
       tu_corpus(
           "evtx/omerbenamram-evtx/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx"),
       NULL, 0},
      {"logs/CBS.log", K_FILE, FB_SOURCE_DIR "/tests/text/samples/cbs-accessdenied.log", NULL, 0},
      {"fltmc.txt", K_FILE, FB_SOURCE_DIR "/tests/text/samples/fltmc-filters-zh-gbk.txt", NULL, 0},
      {"setupapi.dev.log", K_FILE, tu_corpus("logs/setup/plaso-setupapi.dev.log"), NULL, 0},
      {"procmon.pml", K_FILE, tu_corpus("pml/win7-sp1-x86-filesystem.pml"), NULL, 0}};
  struct ingest_result r;
  struct collect c;
  struct ev_sink sink = collect_sink(&c);
  char msg[1024];
  int counts[5] = {0, 0, 0, 0, 0};
  size_t i;

  write_archive(path_in(dir, "upload.zip"), "zip", NULL, NULL, e, 6);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "upload.zip"), path_in(dir, "work"), NULL, &r), 0);
  ck_assert_uint_eq(r.count, 7);
  for (i = 0; i < r.count; i++) {
    enum ingest_side_result x = ingest_read_side(&r.items[i], &sink, msg, sizeof(msg));
    counts[x]++;
    if (strcmp(r.items[i].chain, "upload.zip!logs/CAPI2.evtx") == 0) {
      ck_assert_int_eq(x, INGEST_SIDE_PARTIAL);
      ck_assert_ptr_nonnull(strstr(msg, "upload.zip!logs/CAPI2.evtx: "));
      ck_assert_ptr_nonnull(strstr(msg, "3 of 340 records"));
    }
  }
  ck_assert_int_eq(counts[INGEST_SIDE_NOT_MINE], 2); /* the zip and the PML */
  ck_assert_int_eq(counts[INGEST_SIDE_READ], 4);
  ck_assert_int_eq(counts[INGEST_SIDE_PARTIAL], 1);
  ck_assert_uint_eq(c.nfilters, 26 + 6);    /* FilterManager events + fltmc rows */
  ck_assert_uint_eq(c.nfacts, 5 + 3 + 194); /* WU failures, CBS failures, setupapi sections */
  for (i = 0; i < c.nfacts; i++)
    if (c.facts[i].r.kind == EV_FACT_CBS_FAILURE)
      ck_assert_str_eq(c.facts[i].r.origin.file, "upload.zip!logs/CBS.log");
  ck_assert_str_eq(c.filters[0].r.origin.file, "upload.zip!logs/System.evtx");
  collect_free(&c);
  ingest_result_free(&r);
}
END_TEST

START_TEST(names_that_decode_in_no_way) {
  const char *dir = fresh_dir("badnames");
  struct zentry z[2] = {{"bad\xff\xfe\x80name.txt", "x", 1, 0}, {"dots../..x", "y", 1, 0}};
  struct ingest_result r;
  const struct ingest_artifact *a;

  write_zip(path_in(dir, "bad.zip"), z, 2);
  ingest_result_init(&r);
  ck_assert_int_eq(ingest_run(path_in(dir, "bad.zip"), path_in(dir, "work"), NULL, &r), 0);
  a = must_chain(&r, "bad.zip!bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdname.txt");
  ck_assert_int_eq(a->status, INGEST_OK);
  /* dots inside a name are not "..": written, inside */
  a = must_chain(&r, "bad.zip!dots../..x");
  ck_assert_int_eq(a->status, INGEST_OK);
  ck_assert_str_eq(a->rel_path, "bad.zip.d/dots../..x");
  ck_assert(all_names_utf8(&r));
  ingest_result_free(&r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ingest");
  TCase *tc = tcase_create("ingest");
  int rc;

  /* the writer converts UTF-8 names through the locale, as the reader does */
  setlocale(LC_CTYPE, "C.UTF-8");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, sha256_known_vectors);
  tcase_add_test(tc, upload_digest_taken_while_unpacking);
  tcase_add_test(tc, filetype_of_corpus_files);
  tcase_add_test(tc, zip_with_gbk_names_from_chinese_windows);
  tcase_add_test(tc, seven_z_in_zip_in_tar_gz);
  tcase_add_test(tc, compressed_streams_and_tar_filters);
  tcase_add_test(tc, cab_made_by_gcab);
  tcase_add_test(tc, zip64_records);
  tcase_add_test(tc, rar4_built_by_hand);
  tcase_add_test(tc, encrypted_zip_is_refused_clearly);
  tcase_add_test(tc, upload_directory_read_in_place);
  tcase_add_test(tc, damaged_archives_read_partly);
  tcase_add_test(tc, names_that_decode_in_no_way);
  tcase_add_test(tc, side_evidence_of_an_upload);
  suite_add_tcase(s, tc);
  /* each refused with its message, nothing written outside, memory bounded */
  tc = tcase_create("hostile");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, hostile_zip_slip_and_absolute_paths);
  tcase_add_test(tc, hostile_links_and_devices);
  tcase_add_test(tc, hostile_depth_twenty);
  suite_add_tcase(s, tc);
  tc = tcase_create("bombs");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, hostile_gigabyte_of_zeros);
  suite_add_tcase(s, tc);
  tc = tcase_create("many");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, hostile_hundred_thousand_entries);
  suite_add_tcase(s, tc);
  rc = tu_run_suite(s);
  if (rc == 0) { /* keep the evidence of a failure, drop the bulk of a pass */
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tu_tmpdir());
    if (system(cmd) != 0)
      rc = 1;
  }
  return rc;
}
