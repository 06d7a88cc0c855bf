/* cmd_serve.c - 'fltblame serve': run the upload-watching daemon. */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"
#include "daemon/serve.h"

int cmd_serve(int argc, char **argv) {
  struct serve_config cfg;
  char err[1024];
  int help;

  serve_config_defaults(&cfg);
  if (serve_config_from_args(&cfg, argc, argv, &help, err, sizeof(err)) < 0) {
    fprintf(stderr, "fltblame serve: %s\n", err);
    return FB_EXIT_USAGE;
  }
  if (help) {
    printf("usage: fltblame serve [--config FILE] [--KEY VALUE]...\n\n"
           "Watch the SFTP upload root, analyze every upload that settled in a worker process, and\n"
           "write its verdict under out_dir. Every key of the config file is also an option\n"
           "(--quiet-period 2s sets quiet_period); options beat the file. SIGTERM drains, SIGHUP\n"
           "reloads the file. Talk to a running daemon with 'fltblame ctl'.\n\n"
           "  --config FILE        ini file (etc/fltblame.conf documents every key)\n");
    serve_config_usage(stdout, &cfg);
    return FB_EXIT_OK;
  }
  return serve_main(&cfg, argc, argv);
}
