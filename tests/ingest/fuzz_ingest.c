/* libFuzzer target: ingest_run on arbitrary bytes as an upload (archive
 * formats come from libarchive, fuzzed upstream; this fuzzes our side:
 * names, path checks, limits, nesting, typing) and checks the safety
 * invariants after every input: nothing appeared outside the work dir, every
 * name is UTF-8, no rel path climbs out, and the upload's size and digest
 * (taken from the unpacker's reads) are those of the input. Violations abort. */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/ingest.h"
#include "daemon/jobs.h"

static char root[256], upload[300], work[300], outside[300];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

static int entries_in(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;

  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      n++;
  closedir(d);
  return n;
}

/* 1 when a "/"-separated path has a ".." component (a name like "x.." is fine). */
static int climbs(const char *p) {
  while (*p) {
    size_t n = strcspn(p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return 1;
    p += n;
    if (*p == '/')
      p++;
  }
  return 0;
}

static void setup(void) {
  snprintf(root, sizeof(root), "/tmp/fuzz_ingest.XXXXXX");
  if (mkdtemp(root) == NULL)
    abort();
  snprintf(upload, sizeof(upload), "%s/upload.bin", root);
  snprintf(work, sizeof(work), "%s/work", root);
  snprintf(outside, sizeof(outside), "%s/outside", root);
  mkdir(outside, 0755);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ingest_limits lim;
  struct ingest_result r;
  FILE *f;
  size_t i;

  if (root[0] == '\0')
    setup();
  f = fopen(upload, "wb");
  if (f == NULL)
    abort();
  if (size > 0 && fwrite(data, 1, size, f) != size)
    abort();
  fclose(f);
  ingest_limits_default(&lim);
  lim.max_total_bytes = 4 << 20;
  lim.ratio_floor = 256 << 10;
  lim.max_entries = 64;
  lim.max_depth = 3;
  ingest_result_init(&r);
  (void)ingest_run(upload, work, &lim, &r);
  if (r.count > 0) {
    char hex[65];
    jobs_sha256_buf(data, size, hex);
    if (strcmp(r.items[0].chain, "upload.bin") != 0 || r.items[0].size != size ||
        strcmp(r.items[0].sha256, hex) != 0)
      abort(); /* the upload's digest missed or misplaced bytes */
  }
  for (i = 0; i < r.count; i++) {
    const struct ingest_artifact *a = &r.items[i];
    char *u = ingest_name_to_utf8(a->chain);
    if (u == NULL || strcmp(u, a->chain) != 0)
      abort(); /* a name that is not UTF-8 */
    free(u);
    if (a->rel_path != NULL &&
        (a->rel_path[0] == '/' || climbs(a->rel_path) || strncmp(a->rel_path, "upload.bin.d", 12) != 0))
      abort(); /* written outside its unpack directory */
  }
  ingest_result_free(&r);
  if (entries_in(outside) != 0 || entries_in(root) > 3)
    abort(); /* something escaped the work dir */
  nftw(work, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
