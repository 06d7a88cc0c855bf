#include "tests/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tu_corpus(const char *rel) {
  static char bufs[8][4096];
  static int next;
  const char *dir = getenv("FB_CORPUS_DIR");
  char *b = bufs[next++ % 8];

  if (dir == NULL || dir[0] == '\0')
    dir = FB_CORPUS_DIR;
  snprintf(b, sizeof(bufs[0]), "%s/%s", dir, rel);
  return b;
}

const char *tu_tmpdir(void) {
  static char dir[4096];

  if (dir[0] == '\0') {
    char cmd[4200];
    snprintf(dir, sizeof(dir), "%s/%s-%ld", FB_TEST_TMP, "t", (long)getpid());
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) { /* best effort */
    }
    mkdir(FB_TEST_TMP, 0755);
    mkdir(dir, 0755);
  }
  return dir;
}

char *tu_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n;

  if (f == NULL)
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
      free(buf);
      buf = NULL;
    } else if (buf != NULL) {
      buf[n] = '\0';
      if (size)
        *size = (size_t)n;
    }
  }
  fclose(f);
  return buf;
}

int tu_run_suite(Suite *s) {
  SRunner *sr = srunner_create(s);
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
