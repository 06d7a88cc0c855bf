/* pml_synth - write a synthetic Procmon capture.
 *   pml_synth example OUT.pml          the bundled example (ACCESS DENIED case)
 *   pml_synth bulk OUT.pml MEGABYTES   the example's events repeated (benchmarks)
 *   pml_synth shrink IN.pml OUT.pml N  the first N events of a real capture with
 *                                      their processes and the System process
 *                                      (modules included), rewritten small: fuzz
 *                                      seeds with real event bytes */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pml/pml_writer.h"

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "example"))
    return pmlw_build_example(argv[2], NULL, NULL) == 0 ? 0 : 1;
  if (argc == 4 && !strcmp(argv[1], "bulk"))
    return pmlw_build_bulk(argv[2], strtoull(argv[3], NULL, 10) << 20) == 0 ? 0 : 1;
  if (argc == 5 && !strcmp(argv[1], "shrink"))
    return pmlw_shrink(argv[2], argv[3], strtoull(argv[4], NULL, 10), NULL, NULL) == 0 ? 0 : 1;
  fprintf(stderr,
          "usage: pml_synth example OUT.pml | bulk OUT.pml MEGABYTES | shrink IN.pml OUT.pml EVENTS\n");
  return 2;
}
