/* pml_synth - write a synthetic Procmon capture.
 *   pml_synth example OUT.pml          the bundled example (ACCESS DENIED case)
 *   pml_synth bulk OUT.pml MEGABYTES   the example's events repeated (benchmarks)
 *   pml_synth shrink IN.pml OUT.pml N  the first N events of a real capture with
 *                                      their processes and the System process
 *                                      (modules included), rewritten small: fuzz
 *                                      seeds with real event bytes */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/pml/pml.h"
#include "tests/pml/pml_writer.h"

static uint32_t copy_process(struct pmlw *w, const struct pml_process *p) {
  struct pmlw_process q;
  uint32_t at;

  memset(&q, 0, sizeof(q));
  q.pid = p->pid;
  q.parent_pid = p->parent_pid;
  q.auth_id = p->auth_id;
  q.session = p->session;
  q.start_time = p->start_time;
  q.end_time = p->end_time;
  q.virtualized = p->virtualized;
  q.is_64bit = p->is_64bit;
  q.integrity = p->integrity;
  q.user = p->user;
  q.name = p->name;
  q.image_path = p->image_path;
  q.command_line = p->command_line;
  q.company = p->company;
  q.version = p->version;
  q.description = p->description;
  q.set_index = 1;
  q.index = p->index;
  at = pmlw_add_process(w, &q);
  for (uint32_t i = 0; i < p->module_count; i++)
    pmlw_add_module(w, at, p->modules[i].base, p->modules[i].size, p->modules[i].path, p->modules[i].version,
                    p->modules[i].company, p->modules[i].description);
  return at;
}

static int shrink(const char *in, const char *out, uint64_t n) {
  struct pml_file *f;
  struct fb_error err;
  const struct pml_header *h;
  struct pmlw_system sys;
  struct pmlw *w;
  struct pml_event ev;
  uint32_t *pos;
  static uint64_t stack[65536];
  char buf[1200];

  if (pml_open(&f, in, &err) < 0) {
    fprintf(stderr, "pml_synth: %s\n", fb_error_format(&err, buf, sizeof(buf)));
    return 1;
  }
  h = pml_header(f);
  memset(&sys, 0, sizeof(sys));
  sys.is_64bit = h->ptr_size == 8;
  sys.computer = h->computer;
  sys.system_root = h->system_root;
  sys.os_major = h->os_major;
  sys.os_minor = h->os_minor;
  sys.os_build = h->os_build;
  sys.service_pack = h->service_pack;
  sys.cpus = h->cpus;
  sys.memory = h->memory;
  w = pmlw_new(out, &sys);
  pos = calloc(pml_process_count(f) + 1, sizeof(*pos)); /* writer position + 1, 0 = not copied */
  if (w == NULL || pos == NULL)
    return 1;
  if (n > h->event_count)
    n = h->event_count;
  for (uint32_t i = 0; i < pml_process_count(f); i++)
    if (pml_process_at(f, i) == pml_system_process(f))
      pos[i] = copy_process(w, pml_process_at(f, i)) + 1;
  for (uint64_t i = 0; i < n; i++) {
    struct pmlw_event e;
    uint32_t k;
    if (pml_event_read(f, i, &ev, &err) < 0)
      continue;
    memset(&e, 0, sizeof(e));
    if (ev.process != NULL) {
      k = (uint32_t)(ev.process - pml_process_at(f, 0));
      if (pos[k] == 0)
        pos[k] = copy_process(w, ev.process) + 1;
      e.process = pos[k] - 1;
    } else {
      e.process = UINT32_MAX; /* an index no process has */
    }
    e.tid = ev.tid;
    e.event_class = ev.event_class;
    e.operation = ev.operation;
    e.duration = ev.duration;
    e.time = ev.time;
    e.result = ev.result;
    for (uint32_t s = 0; s < ev.stack_depth; s++)
      stack[s] = pml_frame_address(f, &ev, s);
    e.stack = stack;
    e.stack_depth = ev.stack_depth;
    e.detail = ev.detail;
    e.detail_size = ev.detail_size;
    e.extra = ev.extra;
    e.extra_size = ev.extra_size;
    e.spare_byte = ev.extra != NULL && (ev.extra_size & 1);
    if (pmlw_add_event(w, &e) < 0)
      return 1;
  }
  free(pos);
  pml_close(f);
  return pmlw_finish(w, NULL, NULL) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "example"))
    return pmlw_build_example(argv[2], NULL, NULL) == 0 ? 0 : 1;
  if (argc == 4 && !strcmp(argv[1], "bulk"))
    return pmlw_build_bulk(argv[2], strtoull(argv[3], NULL, 10) << 20) == 0 ? 0 : 1;
  if (argc == 5 && !strcmp(argv[1], "shrink"))
    return shrink(argv[2], argv[3], strtoull(argv[4], NULL, 10));
  fprintf(stderr,
          "usage: pml_synth example OUT.pml | bulk OUT.pml MEGABYTES | shrink IN.pml OUT.pml EVENTS\n");
  return 2;
}
