/* libFuzzer target: CBS.log parser. */
#include <stddef.h>
#include <stdint.h>

#include "parsers/text/cbs.h"

static int on_fact(void *ctx, const struct ev_fact *r) {
  size_t *n = ctx;
  if (r->subject)
    *n += r->subject[0];
  if (r->path)
    *n += r->path[0];
  if (r->text)
    *n += r->text[0];
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ev_sink sink = {0};
  struct fb_error err;
  size_t acc = 0;

  sink.ctx = &acc;
  sink.fact = on_fact;
  (void)cbs_parse(data, size, "fuzz", &sink, NULL, &err);
  return 0;
}
