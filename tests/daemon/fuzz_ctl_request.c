/* fuzz_ctl_request.c - libFuzzer target: any bytes as one control request
 * line, against a daemon state with a few jobs in an in-memory index. Every
 * answer must be a JSON object carrying "ok" (a bad request is an error
 * answer, never a crash). Workers are never started (the state is stopped). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/serve.h"

static struct serve *state(void) {
  static struct serve *s;
  char err[256];

  if (s != NULL)
    return s;
  s = calloc(1, sizeof(*s));
  serve_config_defaults(&s->cfg);
  s->cfg.log_level = 0; /* quiet */
  snprintf(s->cfg.upload_dir, sizeof(s->cfg.upload_dir), "/nonexistent-fltblame-upload");
  snprintf(s->cfg.report_dir, sizeof(s->cfg.report_dir), "/tmp/fltblame-fuzz-ctl-reports");
  s->stopped = 1; /* serve_pump starts nothing */
  if (jobs_open(&s->jobs, ":memory:", err, sizeof(err)) < 0)
    abort();
  for (int i = 1; i <= 4; i++) {
    char path[64];
    snprintf(path, sizeof(path), "/nonexistent-fltblame-upload/acme/x%d.zip", i);
    jobs_add(s->jobs, path, "acme", i, i, 1795132800.0 + i, 1795132800.0 + i);
  }
  jobs_mark_running(s->jobs, 2, 1795132900.0);
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *answer = serve_ctl_handle(state(), (const char *)data, size);
  if (!json_is_object(answer) || !json_is_boolean(json_object_get(answer, "ok")))
    __builtin_trap();
  json_decref(answer);
  return 0;
}
