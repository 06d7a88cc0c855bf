/* cmd_analyze.c - 'fltblame analyze PATH...': one verdict for the captures given. */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"
#include "daemon/job.h"
#include "parsers/error.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: fltblame analyze PATH... [--out DIR] [--lang en|zh-CN] [--json] [--id NAME] [--data DIR]\n"
          "\n"
          "Reads what a customer uploaded - Procmon logs (.pml, .pml.gz), event logs (.evtx), CBS.log,\n"
          "fltmc output, setupapi logs, or a folder or archive (zip, 7z, cab, tar) holding them - and\n"
          "says which file-system filter driver denied or held a file, how sure it is, and why.\n"
          "\n"
          "Each finding names the failed operation (path, process, status), the filter (vendor,\n"
          "altitude, Microsoft inbox or third-party) and a confidence:\n"
          "  confirmed     the filter's own callback failed that operation (filter manager trace),\n"
          "                or an open handle with a conflicting share mode was seen (sharing violation)\n"
          "  strong        its frames on the failing stack, its status code, or its pre-callback ran last\n"
          "  suspect       ranked from the filters present on the machine; not proven\n"
          "  undetermined  the captures cannot name a filter; candidates are listed with reasons\n"
          "A Procmon log alone never gives 'confirmed': Procmon only sees what reaches its own altitude.\n"
          "Procmon's driver, FileInfo and other passive filters are never blamed.\n"
          "\n"
          "options:\n"
          "  --out DIR     write DIR/verdict.json and DIR/verdict.txt (created if missing)\n"
          "  --lang LANG   language of the text report: en (default) or zh-CN\n"
          "  --json        print verdict.json instead of the text report\n"
          "  --id NAME     upload id the verdict carries (default: the first path's name)\n"
          "  --data DIR    directory holding known-filters.tsv (default: $FLTBLAME_DATA_DIR,\n"
          "                then the installed /etc/fltblame)\n"
          "\n"
          "Without --out the text report is printed; with --out nothing is printed unless --json.\n"
          "\n"
          "exit status: 0 no findings, 1 findings were made, 2 usage error,\n"
          "             3 no findings and an input could not be read (fully), or no verdict at all,\n"
          "             4 internal error (out of memory)\n"
          "\n"
          "example:\n"
          "  fltblame analyze upload.zip --out /srv/verdicts/case-1234 --lang zh-CN\n");
}

int cmd_analyze(int argc, char **argv) {
  struct job_options opt = {0};
  struct job_summary sum;
  const char *paths[256];
  size_t n = 0;
  int json = 0, rc;

  opt.lang = "en";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return FB_EXIT_OK;
    } else if (!strcmp(a, "--json")) {
      json = 1;
    } else if (!strcmp(a, "--out") || !strcmp(a, "--lang") || !strcmp(a, "--id") || !strcmp(a, "--data")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "fltblame analyze: %s needs a value\n", a);
        return FB_EXIT_USAGE;
      }
      if (!strcmp(a, "--out"))
        opt.out_dir = argv[++i];
      else if (!strcmp(a, "--lang"))
        opt.lang = argv[++i];
      else if (!strcmp(a, "--id"))
        opt.upload_id = argv[++i];
      else
        opt.data_dir = argv[++i];
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "fltblame analyze: unknown option '%s'\n\n", a);
      usage(stderr);
      return FB_EXIT_USAGE;
    } else if (n < sizeof(paths) / sizeof(paths[0])) {
      paths[n++] = a;
    } else {
      fprintf(stderr, "fltblame analyze: too many paths (at most 256)\n");
      return FB_EXIT_USAGE;
    }
  }
  if (n == 0) {
    usage(stderr);
    return FB_EXIT_USAGE;
  }
  if (strcmp(opt.lang, "en") && strcmp(opt.lang, "zh-CN")) {
    fprintf(stderr, "fltblame analyze: --lang must be en or zh-CN, not '%s'\n", opt.lang);
    return FB_EXIT_USAGE;
  }
  opt.print = json ? JOB_PRINT_JSON : JOB_PRINT_DEFAULT;
  rc = job_analyze(paths, n, &opt, &sum);
  if (rc < 0) {
    fprintf(stderr, "fltblame analyze: %s\n", sum.error[0] ? sum.error : "no verdict could be made");
    return rc == FB_ENOMEM ? FB_EXIT_INTERNAL : FB_EXIT_INPUT;
  }
  if (opt.out_dir)
    fprintf(stderr,
            "fltblame analyze: %d finding(s), %d confirmed; %d input(s), %d not fully read; "
            "%s/verdict.{json,txt}\n",
            sum.findings, sum.confirmed, sum.inputs, sum.inputs_failed, opt.out_dir);
  if (sum.findings > 0)
    return FB_EXIT_FINDINGS;
  return sum.inputs_failed > 0 ? FB_EXIT_INPUT : FB_EXIT_OK;
}
