/* crash.h - which driver crashed the machine: a finding of kind "crash".
 *
 * Fed with evidence (kernel images and EV_FACT_BUGCHECK from a dump,
 * EV_FACT_SETUP_RESULT / EV_FACT_SETUP_CRASH from setup logs, bugcheck facts
 * from event logs, EV_FACT_DRIVER_INSTALL from setupapi.dev.log), it decides:
 *
 * - the faulting module: where the CPU was, from the bugcheck parameter that
 *   holds the faulting address for that code (0x1E/0x7E/0x8E/0x3B p2,
 *   0x0A/0xD1 p4, 0x50 p3) and the saved instruction pointer;
 * - the blamed driver: the faulting module unless it is a core pass-through
 *   module (etc/passthrough-modules.txt: nt, hal, ndis, fltmgr, Wdf01000 ...),
 *   else the first other module on the copied stack, scanned from the saved
 *   stack pointer; none for user-initiated bugchecks or core-only stacks;
 * - a confidence for each, the stack slots that matched (module+0xoffset), the
 *   setup phase/operation of the rollback, whether the rollback log's crash
 *   block agrees with the dump, setupapi sections naming the driver, and the
 *   vendor data a lookup callback knows.
 *
 * Memory is bounded: at most CRASH_MAX_IMAGES images, CRASH_MAX_FRAMES stack
 * slots per bugcheck and CRASH_MAX_INSTALLS driver-install facts are kept.
 * Field meanings for the verdict JSON: docs/crash.md.
 */
#ifndef FB_RULES_CRASH_H
#define FB_RULES_CRASH_H

#include <stdint.h>

#include "parsers/error.h"
#include "parsers/evidence.h"
#include "parsers/strbuf.h"

#define CRASH_MAX_IMAGES 8192
#define CRASH_MAX_FRAMES 8192
#define CRASH_MAX_BUGCHECKS 8
#define CRASH_MAX_INSTALLS 256
#define CRASH_MAX_SLOTS 32
#define CRASH_MAX_EVIDENCE 16
#define CRASH_MAX_FINDING_INSTALLS 4

enum crash_confidence {
  CRASH_CONF_NONE = 0,
  CRASH_CONF_LOW,
  CRASH_CONF_MEDIUM,
  CRASH_CONF_HIGH,
};

/* One stack slot whose value fell inside a listed module. */
struct crash_slot {
  uint32_t index; /* slot number from the scan start (8 bytes each) */
  uint64_t value;
  char module[64];
  uint64_t offset;
};

/* What the known-filter database says about a driver. */
struct crash_vendor {
  char vendor[128];  /* "Contoso Security" */
  char product[128]; /* "Contoso Endpoint Protection" */
  char role[96];     /* "NDIS lightweight filter", "file-system minifilter" */
  int inbox;         /* 1 Microsoft inbox driver, 0 third party, -1 unknown */
};

/* Returns 1 and fills *out when module ("lwfmgr.sys") is known, else 0. */
typedef int (*crash_vendor_fn)(void *arg, const char *module, struct crash_vendor *out);

struct crash_install {
  char file[256];
  uint64_t line;
  uint32_t code;    /* exit status as the parser gave it; 0 = success */
  int names_driver; /* 1 if the section names the blamed driver */
  char text[256];   /* subject / path / text of the section, joined */
};

/* Which rule wrote crash_finding.reason, so a report can say it in another
 * language (verdict.txt --lang zh-CN) from the finding's own fields. */
enum crash_reason {
  CRASH_R_NONE = 0,
  CRASH_R_USER_INITIATED,    /* bugcheck, bugcheck_name */
  CRASH_R_FAULT_IN_DRIVER,   /* blamed; confidence high adds "its frames come first" */
  CRASH_R_FAULT_IN_UNLOADED, /* blamed */
  CRASH_R_FIRST_ABOVE_CORE,  /* faulting_module ("" none), blamed, stack_from_sp, reason_hits */
  CRASH_R_CORE_ONLY,         /* stack_modules */
  CRASH_R_LOG_BLOCK_ONLY,    /* blamed from the rollback log's crash block */
  CRASH_R_LOG_ONLY,          /* bugcheck, bugcheck_source */
  CRASH_R_SETUP_RESULT_ONLY, /* phase */
};

struct crash_finding {
  char kind[8];  /* "crash" */
  char rule[48]; /* "dump-stack-scan", "rollback-log-crash-block", "event-log-bugcheck", "setup-result" */

  int has_bugcheck;
  uint32_t bugcheck;
  char bugcheck_name[64]; /* "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M", "" if not in our table */
  uint64_t params[4];
  char bugcheck_source[16]; /* "dump", "setup log", "event log" */
  char source_file[512];
  char dump_summary[256]; /* the dump reader's one-line description */
  int user_initiated;     /* manual crash / power-button hold: nobody to blame */

  uint64_t fault_address;      /* 0 if the code carries none */
  char fault_address_from[24]; /* "parameter 2", "parameter 4", "" */
  uint64_t context_ip;         /* saved instruction pointer, 0 unknown */
  char faulting_module[64];
  char faulting_at[96]; /* "ndis.sys+0x1234" */
  int fault_in_unloaded;
  enum crash_confidence faulting_confidence;

  char blamed[64]; /* "" = no driver blamed */
  char blamed_path[256];
  uint64_t blamed_base;
  uint64_t blamed_size;
  char blamed_at[96]; /* first matching address, "lwfmgr.sys+0x2a10" */
  enum crash_confidence confidence;
  char reason[512]; /* why this driver, or why none */
  enum crash_reason reason_code;
  uint32_t reason_hits; /* CRASH_R_FIRST_ABOVE_CORE: stack slots of the blamed driver */

  int stack_from_sp;       /* scan started at the saved stack pointer */
  uint32_t stack_slots;    /* slots scanned */
  char stack_modules[256]; /* distinct modules in stack order, "ndis.sys, lwfmgr.sys, ntoskrnl.exe" */
  uint32_t nslots;
  struct crash_slot slots[CRASH_MAX_SLOTS];

  int has_setup_result;
  uint32_t setup_result;
  uint32_t setup_extend; /* EV_UNKNOWN_U32 if none */
  char phase[64];        /* "SECOND_BOOT / boot" */
  char setup_result_file[256];
  uint64_t setup_result_line;

  int has_log_crash;
  uint32_t log_crash_code;
  uint64_t log_crash_params[4];
  char log_crash_module[128];
  int log_crash_matches; /* 1 same code and params as the dump, 0 differs, -1 nothing to compare */
  char log_crash_file[256];
  uint64_t log_crash_line;

  uint32_t ninstalls;
  struct crash_install installs[CRASH_MAX_FINDING_INSTALLS];

  int has_vendor;
  struct crash_vendor vendor;

  uint32_t nevidence;
  char evidence[CRASH_MAX_EVIDENCE][256];
};

struct crash_ctx;

/* A context with the built-in pass-through list (same as etc/passthrough-modules.txt). */
struct crash_ctx *crash_new(void);
void crash_free(struct crash_ctx *c);

/* Replace the pass-through list with the file's: one module name per line,
 * '#' comments, case-insensitive, '*' and '?' wildcards ("ntkrnl*.exe"). */
int crash_passthrough_load(struct crash_ctx *c, const char *path, struct fb_error *err);
int crash_passthrough_add(struct crash_ctx *c, const char *pattern);
int crash_is_passthrough(const struct crash_ctx *c, const char *module);

void crash_set_vendor_lookup(struct crash_ctx *c, crash_vendor_fn fn, void *arg);

/* Evidence input: either point a parser at crash_sink(), or call these from
 * a job's own fan-out sink (ctx = the crash_ctx). */
void crash_sink(struct crash_ctx *c, struct ev_sink *sink);
int crash_on_image(void *ctx, const struct ev_image *r);
int crash_on_fact(void *ctx, const struct ev_fact *r);

/* Decide. Returns 1 and fills *f when there is crash evidence (a bugcheck, a
 * crash block, or a rollback result with an extend code), else 0. */
int crash_decide(struct crash_ctx *c, struct crash_finding *f);

/* A readable block for verdict.txt / the command line (English). */
void crash_finding_text(const struct crash_finding *f, struct fb_strbuf *out);

const char *crash_confidence_name(enum crash_confidence conf);
/* "DRIVER_IRQL_NOT_LESS_OR_EQUAL"; NULL for codes not in the table. */
const char *crash_bugcheck_name(uint32_t code, char *buf, unsigned long size);

#endif
