/* fuzz_pml.c - libFuzzer target for the PML reader: open from memory, read
 * every event, resolve every frame, render every CSV column, emit evidence;
 * then open the same bytes as a file (read through the pread window) and
 * check every event reads the same as from memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "parsers/pml/pml.h"
#include "parsers/pml/pml_csv.h"

static int on_file_op(void *ctx, const struct ev_file_op *r) {
  uint64_t *sum = ctx;
  *sum += r->status + r->stack.count + (r->path ? (uint8_t)r->path[0] : 0);
  for (uint32_t i = 0; i < r->stack.count; i++)
    *sum += r->stack.frames[i].module ? (uint8_t)r->stack.frames[i].module[0] : 0;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_event(const struct pml_event *a, const struct pml_event *b, int ra, int rb) {
  if (ra != rb)
    return 0;
  if (ra < 0)
    return 1;
  return a->offset == b->offset && a->stack_depth == b->stack_depth && a->detail_size == b->detail_size &&
         a->extra_size == b->extra_size && (a->extra == NULL) == (b->extra == NULL) &&
         memcmp(a->detail, b->detail, a->detail_size) == 0 &&
         (a->extra == NULL || memcmp(a->extra, b->extra, a->extra_size) == 0);
}

/* The file reader (fb_view_bytes window) agrees with the memory reader. */
static void check_file_reader(const uint8_t *data, size_t size, struct pml_file *mem) {
  char path[64];
  struct pml_file *f = NULL;
  struct fb_error err;
  int fd;

  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) /* gzip: inflated to a file, not compared */
    return;
  fd = memfd_create("fuzz-pml", 0);
  if (fd < 0)
    return;
  if (write(fd, data, size) == (ssize_t)size) {
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (pml_open(&f, path, &err) < 0)
      __builtin_trap(); /* the memory reader opened these bytes */
    for (uint64_t i = 0; i < pml_header(f)->event_count && i < 4096; i++) {
      struct pml_event a, b;
      int ra = pml_event_read(f, i, &a, &err), rb = pml_event_read(mem, i, &b, &err);
      if (!same_event(&a, &b, ra, rb))
        __builtin_trap();
    }
    pml_close(f);
  }
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pml_file *f = NULL;
  struct fb_error err;
  struct pml_csv_options opt;
  struct pml_csv *csv;
  struct fb_strbuf row;
  struct pml_event ev;
  struct ev_sink sink = {0};
  uint64_t sum = 0, work = 0;

  if (pml_open_memory(&f, data, size, "fuzz", &err) < 0)
    return 0;
  pml_csv_options_default(&opt);
  opt.ncolumns = 0;
  for (int c = 0; c < PML_COL_PROCMON_COUNT; c++) /* Procmon's 27; frames are resolved below */
    opt.columns[opt.ncolumns++] = c;
  csv = pml_csv_new(f, &opt);
  fb_strbuf_init(&row);
  for (uint64_t i = 0; csv && i < pml_header(f)->event_count; i++) {
    if (pml_event_read(f, i, &ev, &err) < 0)
      continue;
    /* Overlapping events can repeat a 65535-frame stack many times: bound
     * the work per input so slow inputs are not mistaken for hangs. */
    work += 64 + ev.stack_depth;
    if (work > (1u << 21))
      break;
    for (uint32_t k = 0; k < ev.stack_depth; k++) {
      struct ev_frame fr;
      pml_frame_resolve(f, &ev, k, &fr);
      sum += fr.offset;
    }
    fb_strbuf_reset(&row);
    pml_csv_row(csv, &ev, &row);
  }
  sink.ctx = &sum;
  sink.file_op = on_file_op;
  if (work <= (1u << 21))
    pml_emit_evidence(f, &sink, &err);
  fb_strbuf_free(&row);
  pml_csv_free(csv);
  check_file_reader(data, size, f);
  pml_close(f);
  return sum == 42 ? 0 : 0;
}
