/* libFuzzer target: fltmc text parser (and the line decoder and typing under it). */
#include <stddef.h>
#include <stdint.h>

#include "parsers/filetype.h"
#include "parsers/text/fltmc.h"
#include "parsers/text/setupapi.h"

static int on_filter(void *ctx, const struct ev_filter_info *r) {
  size_t *n = ctx;
  /* touch every string so ASan sees a bad pointer */
  if (r->name)
    *n += r->name[0];
  if (r->altitude)
    *n += r->altitude[0];
  if (r->volume)
    *n += r->volume[0];
  if (r->instance)
    *n += r->instance[0];
  return 0;
}

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
  sink.filter_info = on_filter;
  sink.fact = on_fact;
  (void)fb_filetype_detect(data, size);
  (void)fltmc_parse(data, size, "fuzz", &sink, NULL, &err);
  (void)setupapi_parse(data, size, "fuzz", &sink, NULL, &err);
  return 0;
}
