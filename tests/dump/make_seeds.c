/* make_seeds CORPUS OUTDIR - small fuzz seeds for fuzz_dump and
 * fuzz_setuplog, made at build time (never committed):
 *   OUTDIR/dump/     the corpus triage dumps re-packed without PRCB, process,
 *                    thread and data blocks (same header, context, drivers,
 *                    unloaded drivers and stack; ~40 KB instead of 1.4 MB),
 *                    the synthetic seed case, bitmap, full and 32-bit headers;
 *   OUTDIR/setuplog/ the first 24 KB of each corpus setup log (cut at a line
 *                    end) and the synthetic rollback log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parsers/dump/dump.h"
#include "tests/dump/dump_writer.h"

static int write_file(const char *dir, const char *name, const void *p, size_t n) {
  char path[4096];
  FILE *fp;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  fp = fopen(path, "wb");
  if (fp == NULL || fwrite(p, 1, n, fp) != n) {
    fprintf(stderr, "make_seeds: cannot write %s\n", path);
    if (fp)
      fclose(fp);
    return 1;
  }
  return fclose(fp) != 0;
}

static int repack(const char *corpus, const char *rel, const char *dir, const char *name) {
  char path[4096];
  struct dump d;
  struct fb_error err;
  struct dw_spec s;
  struct dw_driver *drv;
  struct dw_unloaded *unl;
  uint8_t *buf;
  size_t n;
  int rc;

  snprintf(path, sizeof(path), "%s/%s", corpus, rel);
  if (dump_open(&d, path, &err) < 0) {
    fprintf(stderr, "make_seeds: %s: %s (skipped)\n", path, err.msg);
    dump_close(&d);
    return 0;
  }
  drv = calloc(d.ndrivers + 1, sizeof(*drv));
  unl = calloc(d.nunloaded + 1, sizeof(*unl));
  for (uint32_t i = 0; i < d.ndrivers; i++)
    drv[i] =
        (struct dw_driver){d.drivers[i].path, d.drivers[i].base, d.drivers[i].size, d.drivers[i].checksum};
  for (uint32_t i = 0; i < d.nunloaded; i++)
    unl[i] = (struct dw_unloaded){d.unloaded[i].name, d.unloaded[i].start, d.unloaded[i].end};
  memset(&s, 0, sizeof(s));
  s.machine = d.machine;
  s.build = d.build;
  s.processors = d.processors;
  s.bugcheck = d.bugcheck;
  memcpy(s.params, d.params, sizeof(s.params));
  s.system_time = d.system_time;
  s.ip = d.ctx.ip;
  s.sp = d.ctx.sp;
  s.fp = d.ctx.fp;
  s.drivers = drv;
  s.ndrivers = d.ndrivers;
  s.unloaded = unl;
  s.nunloaded = d.nunloaded;
  s.top_of_stack = d.stack_va;
  s.stack_bytes = d.stack;
  s.stack_size = d.stack_size;
  buf = dw_build(&s, &n);
  rc = buf ? write_file(dir, name, buf, n) : 1;
  free(buf);
  free(drv);
  free(unl);
  dump_close(&d);
  return rc;
}

static int cut_log(const char *corpus, const char *rel, const char *dir, const char *name) {
  char path[4096];
  static char buf[24 * 1024];
  FILE *fp;
  size_t n;

  snprintf(path, sizeof(path), "%s/%s", corpus, rel);
  fp = fopen(path, "rb");
  if (fp == NULL)
    return 0; /* the corpus may be absent: fewer seeds, not a failure */
  n = fread(buf, 1, sizeof(buf), fp);
  fclose(fp);
  if (n == sizeof(buf))
    while (n > 0 && buf[n - 1] != '\n')
      n--;
  return write_file(dir, name, buf, n);
}

int main(int argc, char **argv) {
  char ddir[4096], ldir[4096];
  struct dw_spec s;
  uint8_t *buf;
  size_t n;
  int rc = 0;
  const char *log;

  if (argc != 3) {
    fprintf(stderr, "usage: make_seeds CORPUS OUTDIR\n");
    return 2;
  }
  snprintf(ddir, sizeof(ddir), "%s/dump", argv[2]);
  snprintf(ldir, sizeof(ldir), "%s/setuplog", argv[2]);
  mkdir(argv[2], 0755);
  mkdir(ddir, 0755);
  mkdir(ldir, 0755);

  rc |= repack(argv[1], "dumps/rizin-triage_x64.dmp", ddir, "x64-triage-repacked.dmp");
  rc |= repack(argv[1], "dumps/rizin-triage_arm64.dmp", ddir, "arm64-triage-repacked.dmp");
  buf = dw_build_seed_case(&n);
  rc |= buf ? write_file(ddir, "seed-case-setupmem.dmp", buf, n) : 1;
  free(buf);
  memset(&s, 0, sizeof(s));
  s.bugcheck = 0x133;
  s.params[0] = 1;
  for (uint32_t type = 1; type <= 6; type += 5) {
    char name[64];
    s.dump_type = type;
    buf = dw_build(&s, &n);
    snprintf(name, sizeof(name), "type%u.dmp", type);
    rc |= buf ? write_file(ddir, name, buf, n) : 1;
    free(buf);
  }
  s.bits32 = 1;
  buf = dw_build(&s, &n);
  rc |= buf ? write_file(ddir, "x86-header.dmp", buf, n) : 1;
  free(buf);

  rc |= cut_log(argv[1], "logs/setup/rickaK77-setupact.log", ldir, "rickaK77-head.log");
  rc |= cut_log(argv[1], "logs/setup/bitbtrust-setupact.log", ldir, "bitbtrust-head.log");
  rc |= cut_log(argv[1], "logs/setup/bitbtrust-setuperr.log", ldir, "bitbtrust-err.log");
  rc |= cut_log(argv[1], "logs/setup/shekhar-pbr-setupact.log", ldir, "shekhar-head.log");
  log = dw_seed_rollback_log();
  rc |= write_file(ldir, "rollback-seed-case.log", log, strlen(log));
  return rc ? 1 : 0;
}
