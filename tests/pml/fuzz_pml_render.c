/* fuzz_pml_render.c - libFuzzer target for the renderer alone: arbitrary
 * detail and extra-detail blocks for every class and operation, rendered
 * with and without options (no capture: f is NULL, 64-bit layouts). The
 * reader's fuzz_pml covers the renderer behind real event framing. */
#include <stddef.h>
#include <stdint.h>

#include "parsers/pml/pml.h"
#include "parsers/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const struct pml_render_opts opts[] = {{PML_RENDER_EN_US, 0, 340}, {PML_RENDER_ES_ES, 7200, 361}};
  struct pml_event ev = {0};
  struct fb_strbuf b;
  size_t split;

  if (size < 6)
    return 0;
  ev.event_class = data[0] % 7;
  ev.operation = (uint16_t)(data[1] | (data[2] << 8)) % 64;
  ev.result = (uint32_t)data[3] << 24 | data[4];
  split = (size_t)data[5] * 4;
  data += 6;
  size -= 6;
  if (split > size)
    split = size;
  ev.detail = data;
  ev.detail_size = (uint32_t)split;
  if (size > split) {
    ev.extra = data + split;
    ev.extra_size = (uint16_t)(size - split > 0xFFFF ? 0xFFFF : size - split);
  }
  fb_strbuf_init(&b);
  pml_render_operation(NULL, &ev, &b);
  pml_render_path(NULL, &ev, &b);
  pml_render_result(ev.result, &b);
  pml_render_detail(NULL, &ev, &b);
  pml_render_category(NULL, &ev, &b);
  for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
    fb_strbuf_reset(&b);
    pml_render_operation_opts(NULL, &ev, &opts[i], &b);
    pml_render_detail_opts(NULL, &ev, &opts[i], &b);
  }
  fb_strbuf_free(&b);
  return 0;
}
