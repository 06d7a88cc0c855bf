/* libFuzzer target: kernel dump reader, evidence output and the crash rules
 * on whatever the reader accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "parsers/dump/dump.h"
#include "rules/crash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct dump d;
  struct fb_error err;
  char msg[1200];

  if (dump_read(&d, data, size, "fuzz.dmp", &err) == 0) {
    struct crash_ctx *c = crash_new();
    struct crash_finding *f = c ? malloc(sizeof(*f)) : NULL;
    struct ev_sink sink;
    if (f != NULL) {
      struct fb_strbuf txt;
      crash_sink(c, &sink);
      if (dump_emit(&d, &sink, &err) == 0 && crash_decide(c, f) == 1) {
        fb_strbuf_init(&txt);
        crash_finding_text(f, &txt);
        fb_strbuf_free(&txt);
      }
    }
    free(f);
    crash_free(c);
  } else {
    fb_error_format(&err, msg, sizeof(msg));
  }
  dump_close(&d);
  return 0;
}
