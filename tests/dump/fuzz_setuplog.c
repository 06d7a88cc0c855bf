/* libFuzzer target: setupact/setuperr reader feeding the crash rules. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "parsers/text/setuplog.h"
#include "rules/crash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct setuplog_summary sum;
  struct fb_error err;
  struct crash_ctx *c = crash_new();
  struct crash_finding *f = malloc(sizeof(*f));
  struct ev_sink sink;

  if (c != NULL && f != NULL) {
    crash_sink(c, &sink);
    if (setuplog_parse(data, size, "fuzz.log", &sink, &sum, &err) == 0)
      (void)crash_decide(c, f);
  }
  free(f);
  crash_free(c);
  return 0;
}
