/* ingest_tool UPLOAD WORK_DIR [max_depth] - run ingest_run and print one line
 * per artifact (status, type, size, sha256, chain, rel path, error). Used by
 * bench/ingest and for looking at an upload by hand. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/ingest.h"

int main(int argc, char **argv) {
  struct ingest_limits lim;
  struct ingest_result res;
  size_t i;
  int rc;

  if (argc < 3) {
    fprintf(stderr, "usage: %s UPLOAD WORK_DIR [max_depth]\n", argv[0]);
    return 2;
  }
  ingest_limits_default(&lim);
  if (argc > 3)
    lim.max_depth = (uint32_t)strtoul(argv[3], NULL, 10);
  ingest_result_init(&res);
  rc = ingest_run(argv[1], argv[2], &lim, &res);
  if (rc != 0)
    fprintf(stderr, "ingest: %s\n", res.error);
  for (i = 0; i < res.count; i++) {
    const struct ingest_artifact *a = &res.items[i];
    printf("%-8s %-11s %10llu %s %s\t%s\t%s\n", ingest_status_name(a->status), fb_filetype_name(a->type),
           (unsigned long long)a->size, a->sha256[0] ? a->sha256 : "-", a->chain,
           a->rel_path ? a->rel_path : "-", a->error ? a->error : "");
  }
  printf("# %zu artifacts, %u entries, %llu bytes unpacked, %u refused\n", res.count, res.entries,
         (unsigned long long)res.total_bytes, res.refused);
  ingest_result_free(&res);
  return rc == 0 ? 0 : 1;
}
