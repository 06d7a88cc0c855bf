/* serve_stub.c - the stub analyzer: a trivial verdict, steered by the
 * upload's first line, so the service can be tested and measured without the
 * engine (and made to sleep, spin, crash or eat memory on purpose). */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/serve_worker.h"

struct stub_plan {
  long sleep_ms;
  long alloc_mb;
  int crash;
  int spin;
  char fail[256];
  int findings;
  char filter[128], vendor[128], path[512], process[128], confidence[32];
};

/* Values are single words; '_' stands for a space in fail= and path=. */
static void scopy(char *dst, size_t n, const char *src) {
  size_t l = strlen(src);
  if (l >= n)
    l = n - 1;
  memcpy(dst, src, l);
  dst[l] = '\0';
}

static void plan_set(struct stub_plan *p, const char *key, const char *val) {
  char v[512];
  snprintf(v, sizeof(v), "%s", val);
  if (!strcmp(key, "sleep"))
    p->sleep_ms = atol(v);
  else if (!strcmp(key, "alloc"))
    p->alloc_mb = atol(v);
  else if (!strcmp(key, "crash"))
    p->crash = atoi(v);
  else if (!strcmp(key, "spin"))
    p->spin = atoi(v);
  else if (!strcmp(key, "findings"))
    p->findings = atoi(v);
  else {
    for (char *c = v; *c; c++)
      if (*c == '_' && strcmp(key, "filter") && strcmp(key, "process"))
        *c = ' ';
    if (!strcmp(key, "fail"))
      scopy(p->fail, sizeof(p->fail), v);
    else if (!strcmp(key, "filter"))
      scopy(p->filter, sizeof(p->filter), v);
    else if (!strcmp(key, "vendor"))
      scopy(p->vendor, sizeof(p->vendor), v);
    else if (!strcmp(key, "path"))
      scopy(p->path, sizeof(p->path), v);
    else if (!strcmp(key, "process"))
      scopy(p->process, sizeof(p->process), v);
    else if (!strcmp(key, "confidence"))
      scopy(p->confidence, sizeof(p->confidence), v);
  }
}

static void read_plan(const char *upload, struct stub_plan *p) {
  char line[2048];
  FILE *f = fopen(upload, "rb");
  char *save = NULL;

  memset(p, 0, sizeof(*p));
  if (f == NULL)
    return;
  if (fgets(line, sizeof(line), f) != NULL && strncmp(line, "FLTBLAME-STUB", 13) == 0) {
    for (char *tok = strtok_r(line + 13, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
      char *eq = strchr(tok, '=');
      if (eq) {
        *eq = '\0';
        plan_set(p, tok, eq + 1);
      }
    }
  }
  fclose(f);
  if (p->filter[0] && p->findings == 0)
    p->findings = 1;
}

static int eat_memory(long mb, char *error, size_t errlen) {
  const size_t chunk = 8u << 20;
  for (long got = 0; got < mb; got += 8) {
    char *m = malloc(chunk);
    if (m == NULL) {
      snprintf(error, errlen, "memory limit: allocation failed after %ld MB", got);
      return -1;
    }
    memset(m, 0x5a, chunk); /* resident, not just reserved; kept on purpose */
    usleep(2000);
  }
  return 0;
}

int serve_stub_analyze(const char *upload, const char *upload_id, const char *out_dir, char *error,
                       size_t errlen) {
  struct stub_plan p;
  char path[1200];
  json_t *v, *findings;
  FILE *f;

  read_plan(upload, &p);
  if (p.sleep_ms > 0) {
    struct timespec ts = {p.sleep_ms / 1000, (p.sleep_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
  }
  if (p.alloc_mb > 0 && eat_memory(p.alloc_mb, error, errlen) < 0)
    return -1;
  if (p.spin)
    for (volatile unsigned long x = 0;; x++) {
    }
  if (p.crash)
    raise(SIGSEGV);
  if (p.fail[0]) {
    snprintf(error, errlen, "%s", p.fail);
    return -1;
  }
  v = json_object();
  json_object_set_new(v, "schema", json_string("fltblame-stub/1"));
  json_object_set_new(v, "upload_id", json_string(upload_id));
  json_object_set_new(v, "upload", json_string(upload));
  findings = json_array();
  for (int i = 0; i < p.findings; i++) {
    json_t *fi = json_object();
    json_t *filter = json_object();
    json_object_set_new(fi, "kind", json_string("denied"));
    json_object_set_new(fi, "path", json_string(p.path));
    json_object_set_new(fi, "process", json_string(p.process));
    json_object_set_new(filter, "name", json_string(p.filter));
    json_object_set_new(filter, "vendor", json_string(p.vendor));
    json_object_set_new(fi, "filter", filter);
    json_object_set_new(fi, "confidence", json_string(p.confidence[0] ? p.confidence : "suspect"));
    json_array_append_new(findings, fi);
  }
  json_object_set_new(v, "findings", findings);
  snprintf(path, sizeof(path), "%s/verdict.json", out_dir);
  if (json_dump_file(v, path, JSON_INDENT(2)) < 0) {
    snprintf(error, errlen, "cannot write %s", path);
    json_decref(v);
    return -1;
  }
  json_decref(v);
  snprintf(path, sizeof(path), "%s/verdict.txt", out_dir);
  if ((f = fopen(path, "w")) == NULL) {
    snprintf(error, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  if (p.findings)
    fprintf(f, "%s: %s (%s) denied %s to %s [stub]\n", upload_id, p.filter, p.vendor, p.path, p.process);
  else
    fprintf(f, "%s: no finding [stub]\n", upload_id);
  fclose(f);
  return 0;
}
