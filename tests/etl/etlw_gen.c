/* etlw_gen OUT.etl N [--compress] [--x86] - a synthetic WPR-like trace made
 * with the project's trace writer: TiWorker.exe (pid 1234) creating N files
 * under C:\Windows\SoftwareDistribution\Download; TmPreFlt's pre-create
 * callback is timed (PreOpInit + PreOpCompletion, stack on the init) and
 * every 100th create is failed by it with ACCESS_DENIED (PreOpFailure +
 * OperationEnd 0xC0000022); each file is cleaned up and closed (own IRPs).
 * Kernel rundown and volume mapping at the end, as WPR writes them.
 * For benchmarks (bench/etl_decode) and hand-made examples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/etl/etl_writer.h"

int main(int argc, char **argv) {
  struct etlw_options o = {.cpus = 4, .buffer_size = 65536};
  struct etlw *w;
  long n;
  uint64_t tm, fm, mask;
  char path[256];

  if (argc < 3) {
    fprintf(stderr, "usage: etlw_gen OUT.etl N [--compress] [--x86]\n");
    return 2;
  }
  n = atol(argv[2]);
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--compress") == 0)
      o.compress = 1;
    else if (strcmp(argv[i], "--x86") == 0)
      o.ptr_size = 4;
  }
  if (etlw_open(&w, argv[1], &o) != 0) {
    fprintf(stderr, "etlw_gen: %s\n", etlw_error(w));
    etlw_abort(w);
    return 1;
  }
  mask = o.ptr_size == 4 ? 0xFFFFFFFFULL : ~0ULL;
  tm = etlw_driver_base(w, (unsigned)etlw_driver_find("TmPreFlt.sys"));
  fm = etlw_driver_base(w, (unsigned)etlw_driver_find("FLTMGR.SYS"));
  {
    struct etlw_ev e = {.cpu = 0, .ts = etlw_ticks(w, 1), .pid = 1234, .tid = 5678};
    etlw_process(w, &e, ETLW_DCSTART, 1234, 700, "TiWorker.exe",
                 "C:\\Windows\\winsxs\\TiWorker.exe -Embedding");
    for (unsigned t = 0; t < 4; t++)
      etlw_thread(w, &e, ETLW_DCSTART, 1234, 5678 + t);
  }
  for (long i = 0; i < n; i++) {
    unsigned cpu = (unsigned)(i % 4);
    uint32_t tid = 5678 + cpu;
    struct etlw_ev e = {
        .cpu = cpu, .ts = etlw_ticks(w, 10 + (uint64_t)i * 20), .pid = UINT32_MAX, .tid = tid};
    uint64_t fo = (0xffffe00000000000ULL + (uint64_t)(i % 65536) * 0x140) & mask;
    uint64_t irp = (0xffffe10000000000ULL + (uint64_t)(i % 4096) * 0x400) & mask;
    uint64_t frames[5] = {tm + 0x1240, fm + 0x2a6c, fm + 0x1844, (fm + 0x2d349), 0x7ff8a0001234ULL & mask};
    struct etlw_flt f = {.routine = tm + 0x1234,
                         .file_object = fo,
                         .fs_context = fo + 0x40,
                         .irp = irp,
                         .callback_data = irp + 0x200,
                         .major_function = 0,
                         .layout = -1};
    int deny = i % 100 == 99;
    int rc = 0;

    snprintf(path, sizeof(path),
             "\\Device\\HarddiskVolume2\\Windows\\SoftwareDistribution\\Download\\%08lx\\%ld.cab", i / 100,
             i);
    rc |= etlw_file_create(w, &e, irp, fo, tid, 0x01000060, 0x80, 1, path);
    e.ts += 5;
    rc |= etlw_filter_callback(w, &e, ETLW_FLT_PREOP_INIT, &f);
    e.ts += 1;
    rc |= etlw_stack(w, &e, e.ts - 1, 1234, tid, frames, 5);
    f.initial_time = e.ts - 1;
    e.ts += 30;
    if (deny) {
      f.status = 0xC0000022;
      rc |= etlw_filter_callback(w, &e, ETLW_FLT_PREOP_FAILURE, &f);
    } else {
      rc |= etlw_filter_callback(w, &e, ETLW_FLT_PREOP_COMPLETION, &f);
    }
    e.ts += 10;
    rc |= etlw_file_opend(w, &e, irp, deny ? 0 : 1, deny ? 0xC0000022 : 0);
    if (!deny) {
      e.ts += 10;
      rc |= etlw_file_simple(w, &e, ETLW_FILE_CLEANUP, irp + 0x100, fo, fo + 0x40, tid);
      rc |= etlw_file_opend(w, &e, irp + 0x100, 0, 0);
      rc |= etlw_file_simple(w, &e, ETLW_FILE_CLOSE, irp + 0x180, fo, fo + 0x40, tid);
      rc |= etlw_file_opend(w, &e, irp + 0x180, 0, 0);
    }
    if (rc) {
      fprintf(stderr, "etlw_gen: %s\n", etlw_error(w));
      etlw_abort(w);
      return 1;
    }
  }
  {
    struct etlw_ev e = {.cpu = 0, .ts = etlw_ticks(w, 10 + (uint64_t)n * 20 + 100), .pid = 0, .tid = 0};
    etlw_kernel_rundown(w, &e, ETLW_DCEND);
    etlw_volume_mapping(w, &e, "\\Device\\HarddiskVolume2\\", "C:\\");
  }
  printf("%s: %llu records in %llu buffers\n", argv[1], (unsigned long long)etlw_records(w),
         (unsigned long long)etlw_buffers(w));
  return etlw_close(w) == 0 ? 0 : 1;
}
