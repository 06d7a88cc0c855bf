/* bench_analyze - how much the verdict engine adds to decoding.
 *   bench_analyze [-n RUNS] FILE.pml...
 *   bench_analyze -1 decode|analyze FILE.pml   (one pass, for callgrind)
 * For each capture: median time of opening and decoding it to evidence with
 * a sink that takes every file operation and does nothing (the parser's own
 * cost), and of the same into the engine plus deciding, the added
 * percentage, and the engine's state bytes. Times are medians of RUNS
 * interleaved runs, in wall-clock time and in the process's CPU time (user +
 * system: on a shared machine wall time also measures the neighbours). Used
 * by bench/analyze; bench/analyze_icount counts instructions of one_run(). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parsers/pml/pml.h"
#include "rules/engine.h"
#include "rules/known_filters.h"
#include "rules/verdict.h"

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void) {
  return clock_s(CLOCK_MONOTONIC);
}

static double cpu_now(void) {
  return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int noop_file_op(void *ctx, const struct ev_file_op *op) {
  (void)ctx;
  (void)op;
  return 0;
}

static int one_run(const char *path, const struct kf_db *db, int analyze, double *secs, double *cpu_secs,
                   size_t *state, size_t *findings) {
  struct pml_file *f;
  struct fb_error err;
  struct ev_sink empty;
  struct rules_engine *e = NULL;
  struct verdict *v = NULL;
  double c0 = cpu_now(), t0 = now();
  int rc;
  memset(&empty, 0, sizeof(empty));
  if (pml_open(&f, path, &err) < 0) {
    fprintf(stderr, "%s: %s\n", path, err.msg);
    return -1;
  }
  if (analyze) {
    e = rules_engine_new(db, NULL);
    v = verdict_new();
    rc = pml_emit_evidence(f, rules_engine_sink(e), &err);
    if (rc == 0)
      rc = rules_engine_finish(e, v);
    *state = rules_engine_state_bytes(e);
    *findings = v->nfindings;
  } else {
    /* a sink that takes every file operation and does nothing: the reader
     * builds every record, stacks resolved, as it does for the engine */
    empty.file_op = noop_file_op;
    rc = pml_emit_evidence(f, &empty, &err);
  }
  rules_engine_free(e);
  verdict_free(v);
  pml_close(f);
  *secs = now() - t0;
  *cpu_secs = cpu_now() - c0;
  return rc;
}

int main(int argc, char **argv) {
  int runs = 5, i0 = 1;
  struct kf_db *db = NULL;
  struct fb_error err;
  const char *dbp = getenv("FLTBLAME_DB");
  if (argc == 4 && !strcmp(argv[1], "-1")) {
    /* one pass of one side, so an instruction count (callgrind) compares
     * exactly what the timed runs compare */
    double secs, cpu;
    size_t state = 0, findings = 0;
    int analyze = !strcmp(argv[2], "analyze"), rc;
    if (!analyze && strcmp(argv[2], "decode")) {
      fprintf(stderr, "bench_analyze -1: decode or analyze\n");
      return 2;
    }
    if (kf_db_load(&db, dbp ? dbp : "etc/known-filters.tsv", &err) < 0) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    rc = one_run(argv[3], db, analyze, &secs, &cpu, &state, &findings);
    printf("%s %s: %.6f s, %zu findings\n", argv[2], argv[3], secs, findings);
    kf_db_free(db);
    return rc < 0;
  }
  if (argc > 2 && !strcmp(argv[1], "-n")) {
    runs = atoi(argv[2]);
    i0 = 3;
  }
  if (runs < 1 || runs > 999)
    runs = 5;
  if (kf_db_load(&db, dbp ? dbp : "etc/known-filters.tsv", &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  printf("%-36s %10s %10s %7s %10s %10s %7s %9s %8s\n", "capture", "decode_ms", "analyze_ms", "added",
         "dec_cpu_ms", "ana_cpu_ms", "added", "state_KiB", "findings");
  for (int a = i0; a < argc; a++) {
    static double dec[999], ana[999], dec_cpu[999], ana_cpu[999];
    size_t state = 0, findings = 0;
    for (int r = 0; r < runs; r++) {
      if (one_run(argv[a], db, 0, &dec[r], &dec_cpu[r], &state, &findings) < 0)
        return 1;
      if (one_run(argv[a], db, 1, &ana[r], &ana_cpu[r], &state, &findings) < 0)
        return 1;
    }
    qsort(dec, (size_t)runs, sizeof(double), cmp_d);
    qsort(ana, (size_t)runs, sizeof(double), cmp_d);
    qsort(dec_cpu, (size_t)runs, sizeof(double), cmp_d);
    qsort(ana_cpu, (size_t)runs, sizeof(double), cmp_d);
    {
      const char *name = strrchr(argv[a], '/');
      double d = dec[runs / 2], x = ana[runs / 2], dc = dec_cpu[runs / 2], xc = ana_cpu[runs / 2];
      printf("%-36s %10.3f %10.3f %6.1f%% %10.3f %10.3f %6.1f%% %9zu %8zu\n", name ? name + 1 : argv[a],
             d * 1e3, x * 1e3, 100.0 * (x - d) / d, dc * 1e3, xc * 1e3, 100.0 * (xc - dc) / dc, state / 1024,
             findings);
    }
  }
  kf_db_free(db);
  return 0;
}
