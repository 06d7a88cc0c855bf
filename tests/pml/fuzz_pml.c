/* fuzz_pml.c - libFuzzer target for the PML reader: open from memory, read
 * every event, resolve every frame, render every CSV column, emit evidence. */
#include <stddef.h>
#include <stdint.h>

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
  pml_close(f);
  return sum == 42 ? 0 : 0;
}
