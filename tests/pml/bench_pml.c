/* bench_pml - in-process timings for bench/pml, free of process start-up:
 *   bench_pml [-n RUNS] [-m MEASURE] FILE.pml...
 * For each file, the median CPU time (CLOCK_PROCESS_CPUTIME_ID) of
 *   read:  read() of the whole file in 128 KiB blocks (cat's work, without
 *          cat's process start-up)
 *   check: open, read every event, resolve every frame (fltblame pml --check)
 *   csv27: open and write the 27-column CSV to /dev/null in 64 KiB writes
 *          (fltblame pml --csv --columns all)
 *   csv7:  the same with Procmon's seven default columns (fltblame pml --csv)
 * One line per file: "FILE EVENTS READ_S CHECK_S CSV27_S CSV7_S".
 * -m read|check|csv27|csv7 runs only that measure (the others print 0), for
 * a profiler; -c COLUMNS makes csv27 write those columns instead of all.  * Start-up weighs heavily on whole
 * processes for the corpus's small captures
 * (~5 ms for fltblame, ~2.5 ms for cat, as long as reading 10-25 MB), and
 * subtracting a separately measured start-up leaves mostly noise; bench/pml
 * times the whole commands too. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parsers/pml/pml.h"
#include "parsers/pml/pml_csv.h"

enum { READ_BLOCK = 128 << 10, WRITE_BLOCK = 64 << 10, MAX_RUNS = 99 };

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int run_read(const char *path) {
  static char buf[READ_BLOCK];
  int fd = open(path, O_RDONLY);
  ssize_t n;

  if (fd < 0)
    return -1;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    ;
  close(fd);
  return n < 0 ? -1 : 0;
}

static int run_check(const char *path, uint64_t *events) {
  struct pml_file *f;
  struct fb_error err;
  struct pml_event ev;
  struct ev_frame fr;
  uint64_t sum = 0;

  if (pml_open(&f, path, &err) < 0)
    return -1;
  *events = pml_header(f)->event_count;
  for (uint64_t i = 0; i < *events; i++) {
    if (pml_event_read(f, i, &ev, &err) < 0)
      continue;
    for (uint32_t k = 0; k < ev.stack_depth; k++) {
      pml_frame_resolve(f, &ev, k, &fr);
      sum += fr.module != NULL;
    }
  }
  pml_close(f);
  return sum == UINT64_MAX ? -1 : 0;
}

static int run_csv(const char *path, const char *columns, int null_fd, uint64_t *events) {
  struct pml_csv_options opt;
  struct pml_file *f;
  struct pml_csv *csv;
  struct fb_error err;
  struct fb_strbuf out;
  struct pml_event ev;
  char msg[256];
  int rc = 0;

  pml_csv_options_default(&opt);
  if (columns && pml_csv_columns_parse(&opt, columns, msg, sizeof(msg)) < 0)
    return -1;
  if (pml_open(&f, path, &err) < 0)
    return -1;
  *events = pml_header(f)->event_count;
  csv = pml_csv_new(f, &opt);
  fb_strbuf_init(&out);
  pml_csv_header(csv, &out);
  for (uint64_t i = 0; i < pml_header(f)->event_count; i++) {
    if (pml_event_read(f, i, &ev, &err) < 0)
      continue;
    pml_csv_row(csv, &ev, &out);
    if (out.len >= WRITE_BLOCK) {
      if (write(null_fd, out.s, out.len) != (ssize_t)out.len)
        rc = -1;
      fb_strbuf_reset(&out);
    }
  }
  if (out.len > 0 && write(null_fd, out.s, out.len) != (ssize_t)out.len)
    rc = -1;
  fb_strbuf_free(&out);
  pml_csv_free(csv);
  pml_close(f);
  return rc;
}

/* Median CPU seconds of runs of one measure (0 read, 1 check, 2 csv27, 3 csv7). */
static double median_of(int what, const char *path, const char *columns, int runs, int null_fd,
                        uint64_t *events) {
  double t[MAX_RUNS];

  for (int r = 0; r < runs; r++) {
    double t0 = cpu_now();
    int rc = what == 0   ? run_read(path)
             : what == 1 ? run_check(path, events)
             : what == 2 ? run_csv(path, columns, null_fd, events)
                         : run_csv(path, NULL, null_fd, events);
    t[r] = cpu_now() - t0;
    if (rc < 0) {
      fprintf(stderr, "bench_pml: %s: measure %d failed\n", path, what);
      exit(1);
    }
  }
  qsort(t, (size_t)runs, sizeof(t[0]), cmp_d);
  return runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
}

int main(int argc, char **argv) {
  static const char *const measures[] = {"read", "check", "csv27", "csv7"};
  const char *columns = "all";
  int runs = 11, i0 = 1, only = -1, null_fd = open("/dev/null", O_WRONLY);

  while (i0 + 1 < argc && argv[i0][0] == '-') {
    if (!strcmp(argv[i0], "-n"))
      runs = atoi(argv[i0 + 1]);
    else if (!strcmp(argv[i0], "-c"))
      columns = argv[i0 + 1];
    else if (!strcmp(argv[i0], "-m")) {
      for (int w = 0; w < 4; w++)
        if (!strcmp(argv[i0 + 1], measures[w]))
          only = w;
      if (only < 0)
        runs = 0; /* unknown measure: usage */
    } else
      break;
    i0 += 2;
  }
  if (runs < 1 || runs > MAX_RUNS || null_fd < 0 || i0 >= argc) {
    fprintf(stderr, "usage: bench_pml [-n RUNS (1-%d)] [-m read|check|csv27|csv7] [-c COLUMNS] FILE.pml...\n",
            MAX_RUNS);
    return 2;
  }
  for (int a = i0; a < argc; a++) {
    uint64_t events = 0;
    double m[4];
    run_read(argv[a]); /* page cache warm */
    for (int w = 0; w < 4; w++)
      m[w] = only < 0 || only == w ? median_of(w, argv[a], columns, runs, null_fd, &events) : 0;
    printf("%s %llu %.6f %.6f %.6f %.6f\n", argv[a], (unsigned long long)events, m[0], m[1], m[2], m[3]);
    fflush(stdout);
  }
  close(null_fd);
  return 0;
}
