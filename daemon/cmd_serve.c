/* cmd_serve.c - 'fltblame serve' (not yet written). */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"

int cmd_serve(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: fltblame serve ...\n\nNot available yet in this build.\n");
    return FB_EXIT_OK;
  }
  fprintf(stderr, "fltblame serve: not available yet in this build\n");
  return FB_EXIT_USAGE;
}
