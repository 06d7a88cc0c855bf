/* dump_writer.c - synthetic kernel dumps (see dump_writer.h). */
#include "tests/dump/dump_writer.h"

#include <stdlib.h>
#include <string.h>

#define HDR 0x2000u
#define TRIAGE_SIZE 0x80u
#define DRIVER_SIZE 0x90u
#define UNLOADED_SIZE 0x38u

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static size_t align8(size_t v) {
  return (v + 7) & ~(size_t)7;
}

static void write_context(uint8_t *p, const struct dw_spec *s, uint32_t machine) {
  memset(p, 0, 0x4D0);
  if (machine == 0xAA64) {
    put32(p, 0x400007);
    put64(p + 0xF0, s->fp);
    put64(p + 0x100, s->sp);
    put64(p + 0x108, s->ip);
  } else {
    put32(p + 0x30, 0x10001F);
    put64(p + 0x98, s->sp);
    put64(p + 0xA0, s->fp);
    put64(p + 0xF8, s->ip);
  }
}

static void write_header(uint8_t *p, const struct dw_spec *s, uint32_t machine, uint32_t type) {
  for (size_t i = 0; i < HDR; i += 4)
    memcpy(p + i, "PAGE", 4); /* Windows' filler for unused fields */
  memcpy(p, s->bits32 ? "PAGEDUMP" : "PAGEDU64", 8);
  put32(p + 0x08, 0xF);
  put32(p + 0x0C, s->build);
  if (s->bits32) {
    put32(p + 0x20, machine);
    put32(p + 0x24, s->processors);
    put32(p + 0x28, s->bugcheck);
    for (int i = 0; i < 4; i++)
      put32(p + 0x2C + 4 * i, (uint32_t)s->params[i]);
    return;
  }
  put32(p + 0x30, machine);
  put32(p + 0x34, s->processors);
  put32(p + 0x38, s->bugcheck);
  put32(p + 0x3C, 0);
  for (int i = 0; i < 4; i++)
    put64(p + 0x40 + 8 * i, s->params[i]);
  write_context(p + 0x348, s, machine);
  memset(p + 0xF00, 0, 0x98);
  put32(p + 0xF00, 0x80000003); /* the marker record Windows writes */
  put32(p + 0xF98, type);
  put32(p + 0xF9C, 0);
  if (s->system_time)
    put64(p + 0xFA8, s->system_time);
  put32(p + 0x1038, 0xCFF);
  put32(p + 0x1040, 1);
  put32(p + 0x1044, 0x110);
}

static size_t name_bytes(const char *s) {
  return align8(4 + 2 * (strlen(s) + 1));
}

uint8_t *dw_build(const struct dw_spec *s, size_t *size) {
  uint32_t machine = s->machine ? s->machine : 0x8664;
  uint32_t type = s->dump_type ? s->dump_type : 4;
  uint32_t stack_size = s->stack_bytes ? s->stack_size : s->nstack * 8;
  size_t pool = 0, pos, total;
  size_t unl_off, stack_off, drv_off, pool_off, valid_off;
  uint8_t *p, *t;

  if (s->bits32 || type != 4) {
    total = HDR + 0x1000;
    p = malloc(total);
    if (p == NULL)
      return NULL;
    memset(p + HDR, 0, total - HDR);
    write_header(p, s, machine, type);
    if (type == 5 || type == 6) {
      memcpy(p + HDR, type == 5 ? "FDMPDUMP" : "SDMPDUMP", 8);
      put64(p + HDR + 0x20, 1);    /* FirstPage */
      put64(p + HDR + 0x28, 0x2A); /* TotalPresentPages */
      put64(p + HDR + 0x30, 0x40); /* Pages */
    }
    *size = total;
    return p;
  }
  for (uint32_t i = 0; i < s->ndrivers; i++)
    pool += name_bytes(s->drivers[i].path);
  unl_off = HDR + TRIAGE_SIZE;
  stack_off = align8(unl_off + 8 + (size_t)s->nunloaded * UNLOADED_SIZE);
  drv_off = align8(stack_off + stack_size);
  pool_off = drv_off + (size_t)s->ndrivers * DRIVER_SIZE;
  valid_off = pool_off + pool;
  total = valid_off + 4;
  p = calloc(1, total);
  if (p == NULL)
    return NULL;
  write_header(p, s, machine, type);

  t = p + HDR;
  put32(t + 0x04, (uint32_t)total); /* SizeOfDump */
  put32(t + 0x08, (uint32_t)valid_off);
  put32(t + 0x0C, 0x348);
  put32(t + 0x10, 0xF00);
  put32(t + 0x18, (uint32_t)unl_off);
  put32(t + 0x28, (uint32_t)stack_off);
  put32(t + 0x2C, stack_size);
  put32(t + 0x30, (uint32_t)drv_off);
  put32(t + 0x34, s->ndrivers);
  put32(t + 0x38, (uint32_t)pool_off);
  put32(t + 0x3C, (uint32_t)pool);
  put32(t + 0x44, 0xFFFFFFFF);
  put64(t + 0x48, s->top_of_stack);

  put64(p + unl_off, s->nunloaded);
  for (uint32_t i = 0; i < s->nunloaded; i++) {
    uint8_t *e = p + unl_off + 8 + (size_t)i * UNLOADED_SIZE;
    size_t n = strlen(s->unloaded[i].name);
    if (n > 12)
      n = 12;
    put16(e, (uint16_t)(strlen(s->unloaded[i].name) * 2));
    put16(e + 2, (uint16_t)(strlen(s->unloaded[i].name) * 2 + 2));
    for (size_t k = 0; k < n; k++)
      put16(e + 0x10 + 2 * k, (uint8_t)s->unloaded[i].name[k]);
    put64(e + 0x28, s->unloaded[i].start);
    put64(e + 0x30, s->unloaded[i].end);
  }

  if (s->stack_bytes)
    memcpy(p + stack_off, s->stack_bytes, stack_size);
  else
    for (uint32_t i = 0; i < s->nstack; i++)
      put64(p + stack_off + 8 * (size_t)i, s->stack[i]);

  pos = pool_off;
  for (uint32_t i = 0; i < s->ndrivers; i++) {
    uint8_t *e = p + drv_off + (size_t)i * DRIVER_SIZE;
    const char *path = s->drivers[i].path;
    size_t n = strlen(path);
    put32(e, (uint32_t)pos);
    put64(e + 0x38, s->drivers[i].base);
    put32(e + 0x48, s->drivers[i].size);
    put32(e + 0x80, s->drivers[i].checksum);
    put32(p + pos, (uint32_t)n);
    for (size_t k = 0; k < n; k++)
      put16(p + pos + 4 + 2 * k, (uint8_t)path[k]);
    pos += name_bytes(path);
  }
  memcpy(p + valid_off, "TRGD", 4);
  *size = total;
  return p;
}

/* ---- the seed case ---------------------------------------------------- */

#define NT 0xFFFFF80470000000ull
#define NDIS 0xFFFFF80472610000ull
#define WDF 0xFFFFF80472800000ull
#define LWF 0xFFFFF80480A00000ull
#define DECOY 0xFFFFF80481200000ull
#define STACK_TOP 0xFFFFA60C8E3F6000ull

static const struct dw_driver seed_drivers[] = {
    {"\\SystemRoot\\system32\\ntoskrnl.exe", NT, 0x1046000, 0xA5938C},
    {"\\SystemRoot\\system32\\hal.dll", 0xFFFFF80471200000ull, 0x6000, 0xCE9F},
    {"\\SystemRoot\\System32\\drivers\\ndis.sys", NDIS, 0x16F000, 0x1759F5},
    {"\\SystemRoot\\System32\\drivers\\Wdf01000.sys", WDF, 0xE4000, 0xE2C31},
    {"\\SystemRoot\\System32\\drivers\\tcpip.sys", 0xFFFFF80472900000ull, 0x2E0000, 0x2D7F11},
    {"\\SystemRoot\\System32\\DriverStore\\FileRepository\\lwfmgr.inf_amd64_3c1f0e2a9b7d6e54\\lwfmgr.sys",
     LWF, 0x24000, 0x2C0F7},
    {"\\SystemRoot\\System32\\drivers\\vendorx.sys", DECOY, 0x18000, 0x1A2B3},
};

static const struct dw_unloaded seed_unloaded[] = {
    {"dump_storport.sys", 0xFFFFF80479000000ull, 0xFFFFF8047900E000ull},
};

const uint64_t dw_seed_params[4] = {0xFFFFFFFFC0000005ull, NDIS + 0x3A2F1, STACK_TOP + 0x2E8,
                                    STACK_TOP + 0x1A0};

uint8_t *dw_build_seed_case(size_t *size) {
  uint64_t stack[256];
  struct dw_spec s;

  memset(stack, 0, sizeof(stack));
  /* Below the saved stack pointer: the bugcheck machinery, and a stale
   * pointer into an unrelated third-party driver that a scan from the top of
   * the copy would wrongly meet first. */
  stack[3] = NT + 0x3F5A80; /* KeBugCheckEx */
  stack[9] = DECOY + 0x4410;
  stack[17] = NT + 0x40C7E2;
  stack[30] = NT + 0x41A3F0;
  /* From the saved stack pointer (slot 128) up: ndis, then lwfmgr's frames,
   * then the kernel's unload path and more stale data. */
  stack[129] = NDIS + 0x3A0C4;
  stack[130] = STACK_TOP + 0x500;
  stack[131] = NDIS + 0x1B2E0;
  stack[133] = LWF + 0x2A10;
  stack[135] = LWF + 0x1F44;
  stack[137] = WDF + 0x96DA0;
  stack[139] = NT + 0x6F2D0;
  stack[141] = DECOY + 0x1100;
  stack[143] = NT + 0x3A1000;

  memset(&s, 0, sizeof(s));
  s.machine = 0x8664;
  s.build = 19045;
  s.processors = 8;
  s.bugcheck = 0x1000007E;
  memcpy(s.params, dw_seed_params, sizeof(s.params));
  s.system_time = 134396828100000000ull; /* 2026-11-20 21:13:30 UTC */
  s.ip = dw_seed_params[1];
  s.sp = STACK_TOP + 128 * 8;
  s.fp = 0;
  s.drivers = seed_drivers;
  s.ndrivers = sizeof(seed_drivers) / sizeof(seed_drivers[0]);
  s.unloaded = seed_unloaded;
  s.nunloaded = 1;
  s.top_of_stack = STACK_TOP;
  s.stack = stack;
  s.nstack = 256;
  return dw_build(&s, size);
}

const char *dw_seed_rollback_log(void) {
  return "\xEF\xBB\xBF"
         "2026-11-20 21:02:11, Info                  MOUPG  Setup phase change: [SetupPhaseInstall] -> "
         "[SetupPhaseFinalize]\r\n"
         "2026-11-20 21:02:40, Info                  SP     CNewSystem::QueueOperations: Dumptype: 2, "
         "Filterpages: 0 "
         "will be generated in case of bugcheck\r\n"
         "2026-11-20 21:14:02, Info                  SP     Rollback: Starting rollback\r\n"
         "2026-11-20 21:14:03, Info                  SP     Crash 0x1000007E detected\r\n"
         "2026-11-20 21:14:03, Info                  SP       Module name           :\r\n"
         "2026-11-20 21:14:03, Info                  SP       Bugcheck parameter 1  : 0xFFFFFFFFC0000005\r\n"
         "2026-11-20 21:14:03, Info                  SP       Bugcheck parameter 2  : 0xFFFFF8047264A2F1\r\n"
         "2026-11-20 21:14:03, Info                  SP       Bugcheck parameter 3  : 0xFFFFA60C8E3F62E8\r\n"
         "2026-11-20 21:14:03, Info                  SP       Bugcheck parameter 4  : 0xFFFFA60C8E3F61A0\r\n"
         "2026-11-20 21:14:03, Info                  SP     Cannot recover the system.\r\n"
         "2026-11-20 21:14:03, Info                  SP     Rollback: Showing splash window with restoring "
         "text: "
         "Restoring your previous version of Windows.\r\n"
         "2026-11-20 21:20:55, Error                 MOUPG  CSetupManager::ExecuteInstallMode(840): Result = "
         "0xC1900101\r\n"
         "2026-11-20 21:20:55, Error      [0x0a0007] MOUPG  The installation failed in the SECOND_BOOT phase "
         "with an "
         "error during BOOT operation: 0xC1900101 - 0x40017\r\n"
         "2026-11-20 21:20:55, Info                  MOUPG  Setup phase change: [SetupPhaseFinalize] -> "
         "[SetupPhaseError]\r\n";
}
