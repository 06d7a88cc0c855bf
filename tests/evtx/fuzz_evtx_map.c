/* libFuzzer target: the event -> evidence mapping of parsers/evtx (XML value
 * extraction, ExtraInfoString, bugcheck text), fed as if libevtx had
 * rendered the input as XML and as positional strings. libevtx itself is
 * fuzzed upstream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/evtx/evtx.h"

static int on_filter(void *ctx, const struct ev_filter_info *r) {
  size_t *n = ctx;
  if (r->name)
    *n += r->name[0];
  if (r->altitude)
    *n += r->altitude[0];
  if (r->volume)
    *n += r->volume[0];
  return 0;
}

static int on_fact(void *ctx, const struct ev_fact *r) {
  size_t *n = ctx;
  if (r->subject)
    *n += r->subject[0];
  if (r->text)
    *n += r->text[0];
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const struct {
    const char *provider;
    uint32_t id;
  } kinds[] = {{"Microsoft-Windows-FilterManager", 6},
               {"Microsoft-Windows-FilterManager", 4},
               {"Microsoft-Windows-WindowsUpdateClient", 20},
               {"Windows Error Reporting", 1001},
               {"Microsoft-Windows-WER-SystemErrorReporting", 1001},
               {"Microsoft-Windows-Kernel-Power", 41},
               {"Microsoft-Windows-Servicing", 3}};
  struct ev_sink sink = {0};
  struct evtx_event e;
  const char *strings[8];
  char *text = malloc(size + 1);
  size_t acc = 0, i;

  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  /* positional strings: the input cut at NULs / every 8th part */
  for (i = 0; i < 8; i++)
    strings[i] = text + (size * i) / 8;
  sink.ctx = &acc;
  sink.filter_info = on_filter;
  sink.fact = on_fact;
  for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    memset(&e, 0, sizeof(e));
    e.provider = kinds[i].provider;
    e.event_id = kinds[i].id;
    e.level = 2;
    e.xml = text;
    (void)evtx_event_emit(&e, &sink, NULL);
    e.xml = NULL;
    e.strings = strings;
    e.nstrings = 8;
    (void)evtx_event_emit(&e, &sink, NULL);
  }
  free(text);
  return 0;
}
