/* test_dynlib.c - libarchive, libcrypto and libsystemd loaded at run time
 * (daemon/dynlib.h): a library that cannot be loaded is an error value with
 * the library's name and dlerror()'s text, through ingest_run, the digests
 * and serve_main; once the library is there, the next call works.
 *
 * This binary links none of the three: it sees what fltblame sees. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "daemon/dynlib.h"
#include "daemon/ingest.h"
#include "daemon/jobs.h"
#include "daemon/serve.h"
#include "daemon/serve_config.h"
#include "tests/testutil.h"

/* The MANIFEST's gcevents/PerfViewData.etl inside gcevents.etl.zip. */
#define GC_ZIP "etl/perfview/gcevents.etl.zip"
#define GC_ETL_SHA256 "5c10150fc9a321542135625b94dace3d4c33c1b47ea0a2f9e1a517927fd08f29"
#define GC_ZIP_SHA256 "f6edadb2aebc6ed2fc7a2adae4e6fc3f322c89df7acde97c626a95d8ff4dc6a9"

static const char *scratch(const char *name) {
  static char buf[4][1024];
  static int next;
  char *b = buf[next++ % 4];
  snprintf(b, sizeof(buf[0]), "%s/dynlib-%s", tu_tmpdir(), name);
  return b;
}

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), k = strlen(tail);
  return n >= k && strcmp(s + n - k, tail) == 0;
}

/* Everything in one test, in order: a library once loaded stays loaded, so
 * the failures come first (with or without CK_FORK). */
START_TEST(missing_libraries_fail_ingest_then_recover) {
  struct ingest_result res;
  struct fb_error err;
  char hex[65];
  const char *zip = tu_corpus(GC_ZIP);

  /* 1. libarchive missing: the loader's error, and ingest_run returns it */
  ck_assert_int_eq(fb_dynlib_set_soname(FB_DYNLIB_ARCHIVE, "libarchive-missing.so.13"), 0);
  ck_assert_str_eq(fb_dynlib_soname(FB_DYNLIB_ARCHIVE), "libarchive-missing.so.13");
  fb_error_init(&err, NULL);
  ck_assert_int_eq(fb_dynlib_load(FB_DYNLIB_ARCHIVE, &err), FB_EIO);
  ck_assert_int_eq(err.code, FB_EIO);
  ck_assert_str_eq(err.msg, "cannot load libarchive: libarchive-missing.so.13: cannot open shared object "
                            "file: No such file or directory");
  ingest_result_init(&res);
  ck_assert_int_eq(ingest_run(zip, scratch("work1"), NULL, &res), FB_EIO);
  ck_assert_str_eq(res.error, err.msg);
  ck_assert_uint_eq(res.count, 0);
  ingest_result_free(&res);

  /* 2. libarchive back; libcrypto is a library without its functions */
  ck_assert_int_eq(fb_dynlib_set_soname(FB_DYNLIB_ARCHIVE, NULL), 0);
  ck_assert_int_eq(fb_dynlib_set_soname(FB_DYNLIB_CRYPTO, "libz.so.1"), 0);
  fb_error_init(&err, NULL);
  ck_assert_int_eq(fb_dynlib_load(FB_DYNLIB_CRYPTO, &err), FB_EIO);
  /* dlerror() names the file it opened: "/lib/x86_64-linux-gnu/libz.so.1" here */
  ck_assert_msg(strncmp(err.msg, "cannot load libcrypto: /", 24) == 0, "%s", err.msg);
  ck_assert_msg(ends_with(err.msg, "/libz.so.1: undefined symbol: EVP_DigestFinal_ex"), "%s", err.msg);
  ingest_result_init(&res);
  ck_assert_int_eq(ingest_run(zip, scratch("work2"), NULL, &res), FB_EIO);
  ck_assert_str_eq(res.error, err.msg);
  ck_assert_uint_eq(res.count, 0);
  ingest_result_free(&res);
  jobs_sha256_buf("abc", 3, hex);
  ck_assert_str_eq(hex, "");
  errno = 0;
  ck_assert_int_eq(jobs_sha256_file(zip, hex), -1);
  ck_assert_int_eq(errno, ELIBACC);
  ck_assert_str_eq(hex, "");

  /* 3. both there: the same upload unpacks, with the MANIFEST's digest */
  ck_assert_int_eq(fb_dynlib_set_soname(FB_DYNLIB_CRYPTO, NULL), 0);
  ingest_result_init(&res);
  ck_assert_int_eq(ingest_run(zip, scratch("work3"), NULL, &res), 0);
  ck_assert_str_eq(res.error, "");
  ck_assert_uint_eq(res.count, 2);
  ck_assert_str_eq(res.items[0].chain, "gcevents.etl.zip");
  ck_assert_str_eq(res.items[0].sha256, GC_ZIP_SHA256);
  ck_assert_str_eq(res.items[1].chain, "gcevents.etl.zip!gcevents/PerfViewData.etl");
  ck_assert_uint_eq(res.items[1].size, 327680);
  ck_assert_str_eq(res.items[1].sha256, GC_ETL_SHA256);
  ck_assert_int_eq(res.items[1].status, INGEST_OK);
  ingest_result_free(&res);
  jobs_sha256_buf("abc", 3, hex);
  ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ck_assert_int_eq(jobs_sha256_file(zip, hex), 0);
  ck_assert_str_eq(hex, GC_ZIP_SHA256);

  /* a loaded library stays: its name can no longer change */
  ck_assert_int_eq(fb_dynlib_set_soname(FB_DYNLIB_ARCHIVE, "libarchive-missing.so.13"), -1);
  ck_assert_int_eq(fb_dynlib_load(FB_DYNLIB_ARCHIVE, NULL), 0);
}
END_TEST

/* serve_main refuses to start, saying why on stderr (its log). */
START_TEST(serve_without_libsystemd_does_not_start) {
  struct serve_config cfg;
  char *argv[] = {"fltblame", "serve", NULL};
  const char *log = scratch("serve.log");
  char *text;
  int saved, fd, rc;

  ck_assert_int_eq(fb_dynlib_set_soname(FB_DYNLIB_SYSTEMD, "libsystemd-missing.so.0"), 0);
  serve_config_defaults(&cfg);
  snprintf(cfg.upload_dir, sizeof(cfg.upload_dir), "%s", scratch("up"));
  snprintf(cfg.out_dir, sizeof(cfg.out_dir), "%s", scratch("out"));
  snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", scratch("state"));
  snprintf(cfg.socket_path, sizeof(cfg.socket_path), "%s", scratch("ctl.sock"));
  mkdir(cfg.upload_dir, 0755);
  fflush(stderr);
  saved = dup(2);
  fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ck_assert_int_ge(fd, 0);
  dup2(fd, 2);
  close(fd);
  rc = serve_main(&cfg, 2, argv);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  ck_assert_int_eq(rc, FB_EXIT_INTERNAL);
  text = tu_read_file(log, NULL);
  ck_assert_ptr_nonnull(text);
  ck_assert_str_eq(text, "<3>cannot start: cannot load libsystemd: libsystemd-missing.so.0: cannot open "
                         "shared object file: No such file or directory\n");
  free(text);
  /* no lock taken, no job index made */
  ck_assert_int_ne(access(scratch("state/serve.lock"), F_OK), 0);
  ck_assert_int_eq(fb_dynlib_set_soname(FB_DYNLIB_SYSTEMD, NULL), 0);
  ck_assert_int_eq(fb_dynlib_load(FB_DYNLIB_SYSTEMD, NULL), 0);
  ck_assert_int_eq(fb_sd.notify(0, "READY=1") >= 0, 1); /* 0 without NOTIFY_SOCKET */
}
END_TEST

int main(void) {
  Suite *s = suite_create("dynlib");
  TCase *tc = tcase_create("load");
  tcase_add_test(tc, missing_libraries_fail_ingest_then_recover);
  tcase_add_test(tc, serve_without_libsystemd_does_not_start);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
