/* fuzz_engine - the verdict engine on arbitrary evidence sequences.
 * Bytes become records over a small vocabulary (modules, paths, processes,
 * statuses, IRPs, file objects), with tiny state limits so eviction, held
 * handles, callback joins and ranking all run; then the verdict is written
 * as JSON and as text in both languages. Seeds: any bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/engine.h"
#include "rules/verdict.h"

static const char *const modules[] = {"FLTMGR.SYS",   "TmPreFlt.sys", "PROCMON24.SYS", "FileInfo.sys",
                                      "WdFilter.sys", "ntoskrnl.exe", "cldflt.sys",    NULL};
static const char *const paths[] = {"C:\\a", "c:\\A", "C:\\Windows\\x.cab", "\\Device\\HarddiskVolume2\\a",
                                    "",      NULL};
static const char *const procs[] = {"TiWorker.exe", "MsMpEng.exe", "System", NULL};
static const uint32_t statuses[] = {0,           0xC0000022u, 0xC0000043u, 0xC000CF0Au,
                                    0xC0000056u, 0xC0000034u, 0x103u,      0xC0000906u};

struct in {
  const uint8_t *p;
  size_t n;
};

static unsigned take(struct in *in) {
  if (in->n == 0)
    return 0;
  in->n--;
  return *in->p++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct in in = {data, size};
  /* Small limits so eviction and the caps are reached; the interned strings
   * get 64 KiB (one arena chunk: the out-of-memory path) for odd first bytes
   * and 4 MiB (the rules themselves) for even ones. */
  struct rules_limits lim = {8, 4, 6, 3, (take(&in) & 1) ? (size_t)1 << 16 : (size_t)1 << 22};
  struct rules_engine *e = rules_engine_new(NULL, &lim);
  const struct ev_sink *s;
  struct verdict *v = verdict_new();
  struct ev_frame frames[16];
  char *json;
  FILE *null = fopen("/dev/null", "w");

  if (e == NULL || v == NULL || null == NULL)
    goto out;
  s = rules_engine_sink(e);
  while (in.n > 0) {
    unsigned op = take(&in) % 5, a = take(&in), b = take(&in), c = take(&in), d = take(&in);
    if (op == 0) {
      struct ev_image r;
      memset(&r, 0, sizeof(r));
      r.name = modules[a % 7];
      r.kernel = b & 1;
      r.unloaded = (b >> 1) & 1;
      r.company = c & 1 ? "Microsoft Corporation" : NULL;
      s->image(s->ctx, &r);
    } else if (op == 1) {
      struct ev_filter_info r;
      memset(&r, 0, sizeof(r));
      r.name = modules[a % 8];
      r.altitude = b & 1 ? "328500" : b & 2 ? "385200" : NULL;
      r.source = (enum ev_filter_source)(c % 4);
      r.instances = -1;
      r.loaded = (int)(d % 3) - 1;
      s->filter_info(s->ctx, &r);
    } else if (op == 2) {
      struct ev_filter_callback r;
      memset(&r, 0, sizeof(r));
      r.phase = (enum ev_cb_phase)(a % 6);
      r.module = modules[b % 8];
      r.irp = c % 4;
      r.file_object = d % 4;
      r.status = statuses[(a >> 4) % 8];
      r.status_known = (b >> 4) & 1;
      r.major_function = (int)(c >> 4) - 2;
      s->filter_callback(s->ctx, &r);
    } else if (op == 3) {
      struct ev_file_op r;
      unsigned depth = take(&in) % 16;
      ev_file_op_init(&r);
      r.origin.format = a & 1 ? "pml" : "etl";
      r.kind = (enum ev_file_op_kind)(a % 18);
      r.path = paths[b % 6];
      r.process_name = procs[c % 4];
      r.pid = c % 5;
      r.status = statuses[d % 8];
      r.status_known = (d >> 3) & 1 ? 1 : r.status != 0x103u;
      r.irp = (b >> 4) % 4;
      r.file_object = (c >> 4) % 4;
      r.desired_access = d & 0x40 ? EV_UNKNOWN_U32 : (uint32_t)a << 24 | b;
      r.share_access = d & 0x80 ? EV_UNKNOWN_U32 : c & 7;
      r.time = (uint64_t)a << 40 | (uint64_t)b << 20 | c;
      for (unsigned i = 0; i < depth; i++) {
        unsigned m = take(&in);
        frames[i].module = modules[m % 8];
        frames[i].kernel = (m >> 3) & 1;
        frames[i].offset = m;
        frames[i].addr = m;
      }
      r.stack.frames = frames;
      r.stack.count = depth;
      s->file_op(s->ctx, &r);
    } else {
      struct ev_fact r;
      memset(&r, 0, sizeof(r));
      r.kind = (enum ev_fact_kind)(a % 7);
      r.code = b & 1 ? 0x80070005u : statuses[c % 8];
      r.path = paths[d % 6];
      r.text = b & 2 ? "note" : NULL;
      s->fact(s->ctx, &r);
    }
  }
  if (rules_engine_finish(e, v) == 0) {
    json = verdict_json_string(v);
    free(json);
    verdict_write_text(v, "en", null);
    verdict_write_text(v, "zh-CN", null);
  }
out:
  if (null)
    fclose(null);
  rules_engine_free(e);
  verdict_free(v);
  return 0;
}
