/* main.c - the fltblame command: one binary, sub-commands. */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"

#ifndef FLTBLAME_VERSION
#define FLTBLAME_VERSION "0.0.0"
#endif

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
    {"analyze", cmd_analyze, "name the filter driver that denied or held a file, from an upload"},
    {"pml", cmd_pml, "read a Process Monitor capture (.pml, .pml.gz): CSV as Procmon writes it, stacks"},
    {"etl", cmd_etl, "read a WPR/xperf trace (.etl): header facts, counts, decoded events"},
    {"serve", cmd_serve, "run the upload-watching daemon"},
    {"ctl", cmd_ctl, "talk to a running daemon through its control socket"},
    {"report", cmd_report, "write the batch report of one day's verdicts"},
};

static void usage(FILE *out) {
  fprintf(out,
          "fltblame %s - find the Windows file-system filter driver behind a failed open\n"
          "\n"
          "usage: fltblame COMMAND [OPTIONS] ...\n"
          "\n"
          "commands:\n",
          FLTBLAME_VERSION);
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n'fltblame COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return FB_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return FB_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("fltblame %s\n", FLTBLAME_VERSION);
    return FB_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "fltblame: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return FB_EXIT_USAGE;
}
