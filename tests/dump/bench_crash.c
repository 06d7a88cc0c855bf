/* bench_crash CORPUS RUNS - median time to read a corpus triage dump into
 * the crash rules and decide, and to read a corpus setupact.log. Run by
 * bench/dump.sh; prints figures, asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parsers/dump/dump.h"
#include "parsers/text/setuplog.h"
#include "rules/crash.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double run_dump(const char *path, char *blamed, size_t n) {
  double t0 = now_ms();
  struct crash_ctx *c = crash_new();
  struct crash_finding *f = malloc(sizeof(*f));
  struct ev_sink sink;
  struct dump d;
  struct fb_error err;

  crash_sink(c, &sink);
  if (dump_open(&d, path, &err) == 0 && dump_emit(&d, &sink, &err) == 0 && crash_decide(c, f) == 1)
    snprintf(blamed, n, "%s", f->blamed[0] ? f->blamed : "(none)");
  dump_close(&d);
  free(f);
  crash_free(c);
  return now_ms() - t0;
}

static double run_log(const char *path, unsigned long long *lines) {
  double t0 = now_ms();
  struct setuplog_summary s;
  struct fb_error err;

  if (setuplog_parse_file(path, NULL, &s, &err) == 0)
    *lines = (unsigned long long)s.lines;
  return now_ms() - t0;
}

int main(int argc, char **argv) {
  static const char *const dumps[] = {"dumps/rizin-triage_x64.dmp", "dumps/rizin-triage_arm64.dmp"};
  static const char *const logs[] = {"logs/setup/rickaK77-setupact.log", "logs/setup/bitbtrust-setupact.log"};
  int runs = argc > 2 ? atoi(argv[2]) : 20;
  double *t;
  char path[4096], blamed[64] = "";

  if (argc < 2 || runs < 1) {
    fprintf(stderr, "usage: bench_crash CORPUS [RUNS]\n");
    return 2;
  }
  t = calloc((size_t)runs, sizeof(*t));
  for (size_t k = 0; k < 2; k++) {
    snprintf(path, sizeof(path), "%s/%s", argv[1], dumps[k]);
    for (int i = 0; i < runs; i++)
      t[i] = run_dump(path, blamed, sizeof(blamed));
    qsort(t, (size_t)runs, sizeof(*t), cmp);
    printf("%-36s read+emit+decide  median %.3f ms  min %.3f ms  blamed %s\n", dumps[k], t[runs / 2], t[0],
           blamed);
  }
  for (size_t k = 0; k < 2; k++) {
    unsigned long long lines = 0;
    FILE *fp;
    long size = 0;
    snprintf(path, sizeof(path), "%s/%s", argv[1], logs[k]);
    if ((fp = fopen(path, "rb")) != NULL) {
      fseek(fp, 0, SEEK_END);
      size = ftell(fp);
      fclose(fp);
    }
    for (int i = 0; i < runs; i++)
      t[i] = run_log(path, &lines);
    qsort(t, (size_t)runs, sizeof(*t), cmp);
    printf("%-36s setuplog_parse    median %.3f ms  %.1f MB/s  %llu lines\n", logs[k], t[runs / 2],
           size / 1e6 / (t[runs / 2] / 1e3), lines);
  }
  free(t);
  return 0;
}
