/* cmd_etl.c - 'fltblame etl' (not yet written). */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"

int cmd_etl(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: fltblame etl ...\n\nNot available yet in this build.\n");
    return FB_EXIT_OK;
  }
  fprintf(stderr, "fltblame etl: not available yet in this build\n");
  return FB_EXIT_USAGE;
}
