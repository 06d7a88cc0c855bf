/* crash.c - name the driver that crashed the machine (see crash.h). */
#include "rules/crash.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PATTERNS 256

/* The built-in pass-through list; etc/passthrough-modules.txt says the same. */
static const char *const default_passthrough[] = {
    "ntoskrnl.exe", "ntkrnl*.exe",  "ntkrpamp.exe", "hal.dll",      "hal*.dll",   "ndis.sys",
    "Wdf01000.sys", "WDFLDR.SYS",   "FLTMGR.SYS",   "tcpip.sys",    "NETIO.SYS",  "ACPI.sys",
    "pci.sys",      "storport.sys", "CLASSPNP.SYS", "ataport.sys",  "Ntfs.sys",   "msrpc.sys",
    "ksecdd.sys",   "CI.dll",       "cng.sys",      "fwpkclnt.sys", "volmgr.sys", "partmgr.sys",
};

struct image {
  int dump; /* index into dumps[], -1 when not from a dump */
  int unloaded;
  uint64_t base;
  uint64_t size;
  char name[64];
  char path[256];
};

struct frame {
  uint64_t addr;
  uint64_t offset;
  char module[64]; /* "" unresolved */
};

struct bugcheck {
  int dump; /* index into dumps[], -1 if not from a dump */
  enum ev_fact_kind kind;
  char format[16];
  char file[256];
  char subject[64];
  char text[256];
  uint32_t code;
  uint64_t params[4];
  uint64_t address;
  uint64_t line;
  struct frame *frames;
  uint32_t nframes;
};

struct crash_ctx {
  char *patterns[MAX_PATTERNS];
  int npatterns;
  crash_vendor_fn vendor_fn;
  void *vendor_arg;

  char dumps[CRASH_MAX_BUGCHECKS][256]; /* dump files seen, by origin.file */
  int ndumps;
  struct image *images;
  uint32_t nimages;
  uint32_t images_cap;

  struct bugcheck bugchecks[CRASH_MAX_BUGCHECKS];
  int nbugchecks;
  struct bugcheck log_crash; /* last rollback-log crash block */
  int has_log_crash;

  int has_result;
  uint32_t result, extend;
  char phase[64];
  char result_file[256];
  uint64_t result_line;

  struct crash_install installs[CRASH_MAX_INSTALLS];
  uint32_t ninstalls; /* total seen; the ring keeps the last CRASH_MAX_INSTALLS */
};

/* ---- small helpers --------------------------------------------------- */

static void copy(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src ? src : "");
}

const char *crash_confidence_name(enum crash_confidence conf) {
  switch (conf) {
  case CRASH_CONF_HIGH: return "high";
  case CRASH_CONF_MEDIUM: return "medium";
  case CRASH_CONF_LOW: return "low";
  default: return "none";
  }
}

const char *crash_bugcheck_name(uint32_t code, char *buf, unsigned long size) {
  static const struct {
    uint32_t code;
    const char *name;
  } names[] = {
      {0x0A, "IRQL_NOT_LESS_OR_EQUAL"},
      {0x1E, "KMODE_EXCEPTION_NOT_HANDLED"},
      {0x3B, "SYSTEM_SERVICE_EXCEPTION"},
      {0x4F, "NDIS_INTERNAL_ERROR"},
      {0x50, "PAGE_FAULT_IN_NONPAGED_AREA"},
      {0x7B, "INACCESSIBLE_BOOT_DEVICE"},
      {0x7C, "BUGCODE_NDIS_DRIVER"},
      {0x7E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"},
      {0x7F, "UNEXPECTED_KERNEL_MODE_TRAP"},
      {0x8E, "KERNEL_MODE_EXCEPTION_NOT_HANDLED"},
      {0x9F, "DRIVER_POWER_STATE_FAILURE"},
      {0xC2, "BAD_POOL_CALLER"},
      {0xC4, "DRIVER_VERIFIER_DETECTED_VIOLATION"},
      {0xC5, "DRIVER_CORRUPTED_EXPOOL"},
      {0xCE, "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS"},
      {0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL"},
      {0xE2, "MANUALLY_INITIATED_CRASH"},
      {0xEF, "CRITICAL_PROCESS_DIED"},
      {0xF4, "CRITICAL_OBJECT_TERMINATION"},
      {0x101, "CLOCK_WATCHDOG_TIMEOUT"},
      {0x116, "VIDEO_TDR_FAILURE"},
      {0x133, "DPC_WATCHDOG_VIOLATION"},
      {0x139, "KERNEL_SECURITY_CHECK_FAILURE"},
      {0x13A, "KERNEL_MODE_HEAP_CORRUPTION"},
      {0x1C8, "MANUALLY_INITIATED_POWER_BUTTON_HOLD"},
      {0xDEADDEAD, "MANUALLY_INITIATED_CRASH1"},
  };
  /* 0x1000007E etc.: the same check raised through KeBugCheckEx's "_M" path. */
  uint32_t base = (code & 0xF0000000u) == 0x10000000u ? code & 0x0FFFFFFFu : code;

  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (names[i].code == base) {
      snprintf(buf, size, "%s%s", names[i].name, base != code ? "_M" : "");
      return buf;
    }
  return NULL;
}

/* Which parameter holds the faulting instruction address, -1 if none. */
static int fault_param(uint32_t code) {
  uint32_t base = (code & 0xF0000000u) == 0x10000000u ? code & 0x0FFFFFFFu : code;

  switch (base) {
  case 0x1E:
  case 0x7E:
  case 0x8E:
  case 0x3B: return 1;
  case 0x0A:
  case 0xD1: return 3;
  case 0x50: return 2;
  default: return -1;
  }
}

static int user_initiated(uint32_t code) {
  return code == 0xE2 || code == 0xDEADDEAD || code == 0x1C8;
}

static void add_evidence(struct crash_finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_evidence(struct crash_finding *f, const char *fmt, ...) {
  va_list ap;

  if (f->nevidence >= CRASH_MAX_EVIDENCE)
    return;
  va_start(ap, fmt);
  vsnprintf(f->evidence[f->nevidence++], sizeof(f->evidence[0]), fmt, ap);
  va_end(ap);
}

/* ---- pass-through list ----------------------------------------------- */

static void patterns_clear(struct crash_ctx *c) {
  for (int i = 0; i < c->npatterns; i++)
    free(c->patterns[i]);
  c->npatterns = 0;
}

int crash_passthrough_add(struct crash_ctx *c, const char *pattern) {
  if (c->npatterns >= MAX_PATTERNS)
    return FB_ELIMIT;
  c->patterns[c->npatterns] = strdup(pattern);
  if (c->patterns[c->npatterns] == NULL)
    return FB_ENOMEM;
  c->npatterns++;
  return 0;
}

int crash_is_passthrough(const struct crash_ctx *c, const char *module) {
  for (int i = 0; i < c->npatterns; i++)
    if (fnmatch(c->patterns[i], module, FNM_CASEFOLD) == 0)
      return 1;
  return 0;
}

int crash_passthrough_load(struct crash_ctx *c, const char *path, struct fb_error *err) {
  FILE *fp = fopen(path, "r");
  char line[512];
  uint64_t lineno = 0;
  int rc = 0;

  fb_error_init(err, path);
  if (fp == NULL)
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot open the pass-through module list");
  patterns_clear(c);
  while (fgets(line, sizeof(line), fp) != NULL) {
    char *s = line, *e;
    lineno++;
    while (isspace((unsigned char)*s))
      s++;
    if ((e = strchr(s, '#')) != NULL)
      *e = '\0';
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
      *--e = '\0';
    if (*s == '\0')
      continue;
    if ((rc = crash_passthrough_add(c, s)) < 0) {
      rc = fb_error_set(err, rc, FB_OFFSET_NONE, "line %llu: more than %d patterns",
                        (unsigned long long)lineno, MAX_PATTERNS);
      break;
    }
  }
  fclose(fp);
  return rc;
}

/* ---- context --------------------------------------------------------- */

struct crash_ctx *crash_new(void) {
  struct crash_ctx *c = calloc(1, sizeof(*c));

  if (c == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof(default_passthrough) / sizeof(default_passthrough[0]); i++)
    if (crash_passthrough_add(c, default_passthrough[i]) < 0) {
      crash_free(c);
      return NULL;
    }
  return c;
}

void crash_free(struct crash_ctx *c) {
  if (c == NULL)
    return;
  patterns_clear(c);
  for (int i = 0; i < c->nbugchecks; i++)
    free(c->bugchecks[i].frames);
  free(c->images);
  free(c);
}

void crash_set_vendor_lookup(struct crash_ctx *c, crash_vendor_fn fn, void *arg) {
  c->vendor_fn = fn;
  c->vendor_arg = arg;
}

void crash_sink(struct crash_ctx *c, struct ev_sink *sink) {
  memset(sink, 0, sizeof(*sink));
  sink->ctx = c;
  sink->image = crash_on_image;
  sink->fact = crash_on_fact;
}

/* The dump a record belongs to, registering its file; -1 if not a dump. */
static int dump_index(struct crash_ctx *c, const struct ev_origin *o) {
  if (o->format == NULL || strcmp(o->format, "dump") != 0 || o->file == NULL)
    return -1;
  for (int i = 0; i < c->ndumps; i++)
    if (strcmp(c->dumps[i], o->file) == 0)
      return i;
  if (c->ndumps >= CRASH_MAX_BUGCHECKS)
    return -1;
  copy(c->dumps[c->ndumps], sizeof(c->dumps[0]), o->file);
  return c->ndumps++;
}

int crash_on_image(void *ctx, const struct ev_image *r) {
  struct crash_ctx *c = ctx;
  struct image *im;
  int d;

  if (!r->kernel || r->name == NULL || (d = dump_index(c, &r->origin)) < 0)
    return 0; /* only dump module lists resolve dump addresses */
  if (c->nimages >= CRASH_MAX_IMAGES)
    return 0;
  if (c->nimages == c->images_cap) {
    uint32_t cap = c->images_cap ? c->images_cap * 2 : 256;
    struct image *grown = realloc(c->images, cap * sizeof(*grown));
    if (grown == NULL)
      return 0; /* the decision then lacks these modules, nothing worse */
    c->images = grown;
    c->images_cap = cap;
  }
  im = &c->images[c->nimages++];
  memset(im, 0, sizeof(*im));
  im->dump = d;
  im->unloaded = r->unloaded;
  im->base = r->base;
  im->size = r->size;
  copy(im->name, sizeof(im->name), r->name);
  copy(im->path, sizeof(im->path), r->path);
  return 0;
}

static void keep_bugcheck(struct crash_ctx *c, struct bugcheck *b, const struct ev_fact *r) {
  memset(b, 0, sizeof(*b));
  b->dump = dump_index(c, &r->origin);
  b->kind = r->kind;
  copy(b->format, sizeof(b->format), r->origin.format);
  copy(b->file, sizeof(b->file), r->origin.file);
  copy(b->subject, sizeof(b->subject), r->subject);
  copy(b->text, sizeof(b->text), r->text);
  b->code = r->code;
  memcpy(b->params, r->params, sizeof(b->params));
  b->address = r->address;
  b->line = r->origin.index;
  if (r->stack.count > 0 && r->stack.frames != NULL) {
    uint32_t n = r->stack.count > CRASH_MAX_FRAMES ? CRASH_MAX_FRAMES : r->stack.count;
    b->frames = calloc(n, sizeof(*b->frames));
    if (b->frames == NULL)
      return;
    for (uint32_t i = 0; i < n; i++) {
      b->frames[i].addr = r->stack.frames[i].addr;
      b->frames[i].offset = r->stack.frames[i].offset;
      copy(b->frames[i].module, sizeof(b->frames[i].module), r->stack.frames[i].module);
    }
    b->nframes = n;
  }
}

static void keep_install(struct crash_ctx *c, const struct ev_fact *r) {
  struct crash_install *in = &c->installs[c->ninstalls % CRASH_MAX_INSTALLS];

  memset(in, 0, sizeof(*in));
  copy(in->file, sizeof(in->file), r->origin.file);
  in->line = r->origin.index;
  in->code = r->code;
  snprintf(in->text, sizeof(in->text), "%s%s%s%s%s", r->subject ? r->subject : "",
           r->path && r->subject ? " | " : "", r->path ? r->path : "",
           r->text && (r->path || r->subject) ? " | " : "", r->text ? r->text : "");
  c->ninstalls++;
}

int crash_on_fact(void *ctx, const struct ev_fact *r) {
  struct crash_ctx *c = ctx;

  switch (r->kind) {
  case EV_FACT_BUGCHECK:
    if (c->nbugchecks < CRASH_MAX_BUGCHECKS)
      keep_bugcheck(c, &c->bugchecks[c->nbugchecks++], r);
    break;
  case EV_FACT_SETUP_CRASH:
    free(c->log_crash.frames);
    keep_bugcheck(c, &c->log_crash, r);
    c->has_log_crash = 1;
    break;
  case EV_FACT_SETUP_RESULT:
    /* A result with an extend code wins over a bare final result; among
     * those, a rollback (0xC19001xx) over others; the later one over the earlier. */
    if (r->extra_code == EV_UNKNOWN_U32 && c->has_result && c->extend != EV_UNKNOWN_U32)
      break;
    if (c->has_result && (c->result & 0xFFFFFF00u) == 0xC1900100u && (r->code & 0xFFFFFF00u) != 0xC1900100u &&
        c->extend != EV_UNKNOWN_U32)
      break;
    c->has_result = 1;
    c->result = r->code;
    c->extend = r->extra_code;
    copy(c->phase, sizeof(c->phase), r->extra_code != EV_UNKNOWN_U32 ? r->subject : "");
    copy(c->result_file, sizeof(c->result_file), r->origin.file);
    c->result_line = r->origin.index;
    break;
  case EV_FACT_DRIVER_INSTALL: keep_install(c, r); break;
  default: break;
  }
  return 0;
}

/* ---- deciding -------------------------------------------------------- */

static const struct image *image_at(const struct crash_ctx *c, int dump, uint64_t va, int unloaded) {
  if (va == 0)
    return NULL;
  for (uint32_t i = 0; i < c->nimages; i++) {
    const struct image *im = &c->images[i];
    if (im->dump == dump && im->unloaded == unloaded && va >= im->base && va - im->base < im->size)
      return im;
  }
  return NULL;
}

static const struct image *image_named(const struct crash_ctx *c, int dump, const char *name) {
  for (uint32_t i = 0; i < c->nimages; i++)
    if (c->images[i].dump == dump && !c->images[i].unloaded && strcasecmp(c->images[i].name, name) == 0)
      return &c->images[i];
  return NULL;
}

static void faulting_module(const struct crash_ctx *c, const struct bugcheck *b, struct crash_finding *f) {
  int pi = fault_param(b->code);
  const struct image *by_param = NULL, *by_ip = image_at(c, b->dump, b->address, 0), *fm;

  f->context_ip = b->address;
  if (pi >= 0 && b->params[pi] != 0) {
    f->fault_address = b->params[pi];
    snprintf(f->fault_address_from, sizeof(f->fault_address_from), "parameter %d", pi + 1);
    by_param = image_at(c, b->dump, f->fault_address, 0);
  }
  fm = by_param ? by_param : by_ip;
  if (fm != NULL) {
    uint64_t at = by_param ? f->fault_address : b->address;
    copy(f->faulting_module, sizeof(f->faulting_module), fm->name);
    snprintf(f->faulting_at, sizeof(f->faulting_at), "%s+0x%llx", fm->name,
             (unsigned long long)(at - fm->base));
    f->faulting_confidence = by_param && by_ip == by_param ? CRASH_CONF_HIGH : CRASH_CONF_MEDIUM;
    if (by_param && by_ip == by_param)
      add_evidence(f, "fault address (%s) and saved instruction pointer both at %s", f->fault_address_from,
                   f->faulting_at);
    else if (by_param)
      add_evidence(f, "fault address (%s) at %s", f->fault_address_from, f->faulting_at);
    else
      add_evidence(f, "saved instruction pointer at %s", f->faulting_at);
    return;
  }
  if (f->fault_address != 0) {
    const struct image *u = image_at(c, b->dump, f->fault_address, 1);
    if (u != NULL) {
      f->fault_in_unloaded = 1;
      copy(f->faulting_module, sizeof(f->faulting_module), u->name);
      snprintf(f->faulting_at, sizeof(f->faulting_at), "%s+0x%llx (unloaded)", u->name,
               (unsigned long long)(f->fault_address - u->base));
      f->faulting_confidence = CRASH_CONF_MEDIUM;
      add_evidence(f, "fault address 0x%llx lies in the unloaded driver %s",
                   (unsigned long long)f->fault_address, u->name);
    } else {
      add_evidence(f, "fault address 0x%llx lies in no listed module", (unsigned long long)f->fault_address);
    }
  }
}

/* Distinct modules in stack order, and the matched slots up to the end of
 * the blamed module's first run of hits. */
static void stack_report(const struct bugcheck *b, const char *blamed, struct crash_finding *f) {
  char seen[8][64];
  int nseen = 0, in_blamed = 0, done = 0;

  for (uint32_t i = 0; i < b->nframes; i++) {
    const struct frame *fr = &b->frames[i];
    int known = 0;
    if (fr->module[0] == '\0')
      continue;
    for (int k = 0; k < nseen; k++)
      known |= strcmp(seen[k], fr->module) == 0;
    if (!known && nseen < 8) {
      size_t len = strlen(f->stack_modules);
      copy(seen[nseen++], sizeof(seen[0]), fr->module);
      snprintf(f->stack_modules + len, sizeof(f->stack_modules) - len, "%s%s", len ? ", " : "", fr->module);
    }
    if (done || f->nslots >= CRASH_MAX_SLOTS)
      continue;
    if (blamed[0] && strcmp(fr->module, blamed) == 0)
      in_blamed = 1;
    else if (in_blamed) {
      done = 1;
      continue;
    }
    if (!blamed[0] && f->nslots >= 16)
      continue;
    f->slots[f->nslots].index = i;
    f->slots[f->nslots].value = fr->addr;
    f->slots[f->nslots].offset = fr->offset;
    copy(f->slots[f->nslots].module, sizeof(f->slots[0].module), fr->module);
    f->nslots++;
  }
}

static void blame_from_dump(const struct crash_ctx *c, const struct bugcheck *b, struct crash_finding *f) {
  const struct frame *first = NULL; /* first non-core slot */
  uint32_t first_hits = 0;
  int fault_seen_before = 0;
  const char *name;
  const struct image *im;

  f->stack_from_sp = strstr(b->subject, "from context sp") != NULL;
  f->stack_slots = b->nframes;
  for (uint32_t i = 0; i < b->nframes; i++) {
    const struct frame *fr = &b->frames[i];
    if (fr->module[0] == '\0')
      continue;
    if (first == NULL && crash_is_passthrough(c, fr->module)) {
      fault_seen_before |= strcmp(fr->module, f->faulting_module) == 0;
      continue;
    }
    if (first == NULL)
      first = fr;
    if (strcmp(fr->module, first->module) == 0)
      first_hits++;
  }
  if (f->user_initiated) {
    stack_report(b, "", f);
    f->reason_code = CRASH_R_USER_INITIATED;
    snprintf(
        f->reason, sizeof(f->reason),
        "bugcheck 0x%X was initiated by the user or firmware (%s), not by a driver fault: no driver blamed",
        b->code, f->bugcheck_name[0] ? f->bugcheck_name : "manual crash");
    return;
  }
  if (f->faulting_module[0] && !f->fault_in_unloaded && !crash_is_passthrough(c, f->faulting_module)) {
    name = f->faulting_module;
    f->confidence = f->faulting_confidence == CRASH_CONF_HIGH && f->stack_from_sp && first != NULL &&
                            strcmp(first->module, name) == 0
                        ? CRASH_CONF_HIGH
                        : CRASH_CONF_MEDIUM;
    f->reason_code = CRASH_R_FAULT_IN_DRIVER;
    snprintf(f->reason, sizeof(f->reason),
             "the CPU faulted inside %s, which is not a core pass-through module%s", name,
             f->confidence == CRASH_CONF_HIGH ? "; the first driver frames on the stack are its own" : "");
    if (first != NULL && strcmp(first->module, name) != 0)
      add_evidence(f, "the first non-core module on the stack is %s, not %s", first->module, name);
  } else if (f->fault_in_unloaded) {
    name = f->faulting_module;
    f->confidence = CRASH_CONF_MEDIUM;
    f->reason_code = CRASH_R_FAULT_IN_UNLOADED;
    snprintf(f->reason, sizeof(f->reason),
             "the fault address lies where %s was loaded before it unloaded: code of an unloaded driver ran",
             name);
  } else if (first != NULL) {
    name = first->module;
    /* High only when everything tells one story: the fault address and the
     * saved IP agree, the scan starts at the saved stack pointer, the
     * faulting core module's frames come first and the driver above them
     * holds at least two slots. Codes without a fault address (0x9F, 0x133,
     * 0x7C ...) stay medium: the stack alone names a caller, not a culprit. */
    f->confidence =
        f->faulting_confidence == CRASH_CONF_HIGH && f->stack_from_sp && first_hits >= 2 && fault_seen_before
            ? CRASH_CONF_HIGH
            : CRASH_CONF_MEDIUM;
    f->reason_code = CRASH_R_FIRST_ABOVE_CORE;
    f->reason_hits = first_hits;
    snprintf(f->reason, sizeof(f->reason),
             "%s%s%s is a core pass-through module; %s is the first other module on the stack%s (%u slots)",
             f->faulting_module[0] ? "the fault is in " : "no faulting module; ", f->faulting_module,
             f->faulting_module[0] ? ", which" : "", name,
             f->stack_from_sp ? " above the saved stack pointer" : "", first_hits);
  } else {
    stack_report(b, "", f);
    f->reason_code = CRASH_R_CORE_ONLY;
    snprintf(f->reason, sizeof(f->reason),
             "only core pass-through modules on the copied stack (%s): no driver blamed",
             f->stack_modules[0] ? f->stack_modules : "no module hits");
    return;
  }
  copy(f->blamed, sizeof(f->blamed), name);
  stack_report(b, name, f);
  im = image_named(c, b->dump, name);
  if (im == NULL && f->fault_in_unloaded) {
    for (uint32_t i = 0; i < c->nimages; i++)
      if (c->images[i].dump == b->dump && c->images[i].unloaded && strcmp(c->images[i].name, name) == 0)
        im = &c->images[i];
  }
  if (im != NULL) {
    copy(f->blamed_path, sizeof(f->blamed_path), im->path);
    f->blamed_base = im->base;
    f->blamed_size = im->size;
  }
  if (strcmp(name, f->faulting_module) == 0)
    copy(f->blamed_at, sizeof(f->blamed_at), f->faulting_at);
  else
    for (uint32_t i = 0; i < f->nslots; i++)
      if (strcmp(f->slots[i].module, name) == 0) {
        snprintf(f->blamed_at, sizeof(f->blamed_at), "%s+0x%llx", name,
                 (unsigned long long)f->slots[i].offset);
        break;
      }
  if (f->nslots > 0) {
    uint32_t nb = 0, lo = UINT32_MAX, hi = 0;
    for (uint32_t i = 0; i < f->nslots; i++)
      if (strcmp(f->slots[i].module, name) == 0) {
        nb++;
        lo = f->slots[i].index < lo ? f->slots[i].index : lo;
        hi = f->slots[i].index;
      }
    if (nb > 0)
      add_evidence(f, "%u stack slot%s in %s (slots %u..%u from the %s)", nb, nb == 1 ? "" : "s", name, lo,
                   hi, f->stack_from_sp ? "saved stack pointer" : "top of the stack copy");
  }
}

static void merge_log_crash(const struct crash_ctx *c, struct crash_finding *f, int from_dump) {
  const struct bugcheck *l = &c->log_crash;

  if (!c->has_log_crash)
    return;
  f->has_log_crash = 1;
  f->log_crash_code = l->code;
  memcpy(f->log_crash_params, l->params, sizeof(f->log_crash_params));
  copy(f->log_crash_module, sizeof(f->log_crash_module), l->subject);
  copy(f->log_crash_file, sizeof(f->log_crash_file), l->file);
  f->log_crash_line = l->line;
  if (!from_dump) {
    f->log_crash_matches = -1;
    return;
  }
  f->log_crash_matches = l->code == f->bugcheck && memcmp(l->params, f->params, sizeof(l->params)) == 0;
  if (f->log_crash_matches)
    add_evidence(f, "rollback log crash block (%s line %llu) reports the same bugcheck 0x%X and parameters",
                 ev_path_basename(l->file), (unsigned long long)l->line, l->code);
  else {
    add_evidence(f,
                 "rollback log crash block (%s line %llu) reports a different crash 0x%X: not the same event",
                 ev_path_basename(l->file), (unsigned long long)l->line, l->code);
    if (f->confidence > CRASH_CONF_MEDIUM)
      f->confidence = CRASH_CONF_MEDIUM;
  }
  if (l->subject[0] && f->blamed[0] && strcasecmp(l->subject, f->blamed) != 0)
    add_evidence(f, "the rollback log names module %s", l->subject);
}

static void merge_setup_result(const struct crash_ctx *c, struct crash_finding *f) {
  if (!c->has_result)
    return;
  f->has_setup_result = 1;
  f->setup_result = c->result;
  f->setup_extend = c->extend;
  copy(f->phase, sizeof(f->phase), c->phase);
  copy(f->setup_result_file, sizeof(f->setup_result_file), c->result_file);
  f->setup_result_line = c->result_line;
  if (c->extend != EV_UNKNOWN_U32)
    add_evidence(f, "setup failed with 0x%08X - 0x%X (%s) in %s line %llu", c->result, c->extend, c->phase,
                 ev_path_basename(c->result_file), (unsigned long long)c->result_line);
}

static int names_driver(const char *text, const char *driver) {
  char stem[64];
  const char *dot;
  size_t n;

  if (driver[0] == '\0')
    return 0;
  if (strcasestr(text, driver) != NULL)
    return 1;
  /* "{Add Service: lwfmgr}" names the service, not the file. */
  dot = strrchr(driver, '.');
  n = dot ? (size_t)(dot - driver) : strlen(driver);
  if (n < 3 || n >= sizeof(stem))
    return 0;
  memcpy(stem, driver, n);
  stem[n] = '\0';
  return strcasestr(text, stem) != NULL;
}

static void merge_installs(const struct crash_ctx *c, struct crash_finding *f) {
  uint32_t kept = c->ninstalls < CRASH_MAX_INSTALLS ? c->ninstalls : CRASH_MAX_INSTALLS;

  /* First the sections that name the blamed driver, then failing ones, newest first. */
  for (int pass = 0; pass < 2; pass++)
    for (uint32_t k = 0; k < kept && f->ninstalls < CRASH_MAX_FINDING_INSTALLS; k++) {
      const struct crash_install *in = &c->installs[(c->ninstalls - 1 - k) % CRASH_MAX_INSTALLS];
      int named = names_driver(in->text, f->blamed);
      if ((pass == 0 && !named) || (pass == 1 && (named || in->code == 0)))
        continue;
      f->installs[f->ninstalls] = *in;
      f->installs[f->ninstalls].names_driver = named;
      f->ninstalls++;
      if (named)
        add_evidence(f, "setupapi section names %s (%s line %llu, status 0x%X)", f->blamed,
                     ev_path_basename(in->file), (unsigned long long)in->line, in->code);
    }
}

static void fill_bugcheck(struct crash_finding *f, const struct bugcheck *b, const char *source) {
  char name[64];

  f->has_bugcheck = 1;
  f->bugcheck = b->code;
  memcpy(f->params, b->params, sizeof(f->params));
  copy(f->bugcheck_name, sizeof(f->bugcheck_name), crash_bugcheck_name(b->code, name, sizeof(name)));
  copy(f->bugcheck_source, sizeof(f->bugcheck_source), source);
  copy(f->source_file, sizeof(f->source_file), b->file);
  f->user_initiated = user_initiated(b->code);
}

int crash_decide(struct crash_ctx *c, struct crash_finding *f) {
  const struct bugcheck *b = NULL;

  memset(f, 0, sizeof(*f));
  copy(f->kind, sizeof(f->kind), "crash");
  f->setup_extend = EV_UNKNOWN_U32;
  f->log_crash_matches = -1;
  for (int i = 0; i < c->nbugchecks && b == NULL; i++)
    if (c->bugchecks[i].dump >= 0)
      b = &c->bugchecks[i];
  if (b != NULL) {
    copy(f->rule, sizeof(f->rule), "dump-stack-scan");
    fill_bugcheck(f, b, "dump");
    copy(f->dump_summary, sizeof(f->dump_summary), b->text);
    if (b->nframes == 0 && strstr(b->text, "not analysed") != NULL)
      add_evidence(f, "dump not analysed beyond its header: %s", b->text);
    faulting_module(c, b, f);
    blame_from_dump(c, b, f);
    if (c->ndumps > 1)
      add_evidence(f, "%d more dump%s uploaded; this finding reads the first only", c->ndumps - 1,
                   c->ndumps > 2 ? "s were" : " was");
    merge_log_crash(c, f, 1);
  } else if (c->has_log_crash || c->nbugchecks > 0) {
    b = c->has_log_crash ? &c->log_crash : &c->bugchecks[0];
    copy(f->rule, sizeof(f->rule), c->has_log_crash ? "rollback-log-crash-block" : "event-log-bugcheck");
    fill_bugcheck(f, b, c->has_log_crash ? "setup log" : "event log");
    merge_log_crash(c, f, 0);
    if (f->user_initiated) {
      f->reason_code = CRASH_R_USER_INITIATED;
      snprintf(f->reason, sizeof(f->reason), "bugcheck 0x%X was initiated by the user: no driver blamed",
               b->code);
    } else if (c->has_log_crash && b->subject[0]) {
      copy(f->blamed, sizeof(f->blamed), b->subject);
      f->confidence = CRASH_CONF_LOW;
      f->reason_code = CRASH_R_LOG_BLOCK_ONLY;
      snprintf(f->reason, sizeof(f->reason),
               "named only by the rollback log's crash block; no dump was read to confirm it");
    } else {
      f->reason_code = CRASH_R_LOG_ONLY;
      snprintf(
          f->reason, sizeof(f->reason),
          "bugcheck 0x%X known from the %s only; without the dump's module list and stack no driver can be "
          "named",
          b->code, f->bugcheck_source);
    }
  } else if (c->has_result && c->extend != EV_UNKNOWN_U32 && (c->result & 0xFFFFFF00u) == 0xC1900100u) {
    copy(f->rule, sizeof(f->rule), "setup-result");
    f->reason_code = CRASH_R_SETUP_RESULT_ONLY;
    snprintf(f->reason, sizeof(f->reason),
             "Setup rolled back in %s; no dump or crash block was found to name a driver", c->phase);
  } else {
    return 0;
  }
  for (int i = 0; i < c->nbugchecks; i++)
    if (&c->bugchecks[i] != b && c->bugchecks[i].dump < 0 && c->bugchecks[i].code == f->bugcheck &&
        f->has_bugcheck)
      add_evidence(f, "%s (%s) reports the same bugcheck 0x%X", ev_path_basename(c->bugchecks[i].file),
                   c->bugchecks[i].format, c->bugchecks[i].code);
  merge_setup_result(c, f);
  merge_installs(c, f);
  if (f->blamed[0] && c->vendor_fn != NULL && c->vendor_fn(c->vendor_arg, f->blamed, &f->vendor) == 1) {
    f->has_vendor = 1;
    add_evidence(f, "%s is %s%s%s%s", f->blamed, f->vendor.role[0] ? f->vendor.role : "a driver",
                 f->vendor.product[0] ? " of " : "", f->vendor.product,
                 f->vendor.vendor[0] && !f->vendor.product[0] ? f->vendor.vendor : "");
  }
  return 1;
}

/* ---- text ------------------------------------------------------------ */

void crash_finding_text(const struct crash_finding *f, struct fb_strbuf *out) {
  fb_strbuf_printf(out, "Crash finding (%s)\n", f->rule);
  if (f->has_bugcheck)
    fb_strbuf_printf(out, "  Bugcheck:        0x%08X %s (0x%llX, 0x%llX, 0x%llX, 0x%llX) from %s\n",
                     f->bugcheck, f->bugcheck_name, (unsigned long long)f->params[0],
                     (unsigned long long)f->params[1], (unsigned long long)f->params[2],
                     (unsigned long long)f->params[3], f->bugcheck_source);
  if (f->has_setup_result && f->setup_extend != EV_UNKNOWN_U32)
    fb_strbuf_printf(out, "  Setup result:    0x%08X - 0x%X (%s)\n", f->setup_result, f->setup_extend,
                     f->phase);
  if (f->faulting_module[0])
    fb_strbuf_printf(out, "  Faulting module: %s [%s]\n", f->faulting_at,
                     crash_confidence_name(f->faulting_confidence));
  if (f->blamed[0])
    fb_strbuf_printf(out, "  Blamed driver:   %s at %s [%s]%s%s\n", f->blamed,
                     f->blamed_at[0] ? f->blamed_at : "?", crash_confidence_name(f->confidence),
                     f->has_vendor ? " - " : "",
                     f->has_vendor ? (f->vendor.product[0] ? f->vendor.product : f->vendor.vendor) : "");
  else
    fb_strbuf_puts(out, "  Blamed driver:   none\n");
  fb_strbuf_printf(out, "  Why:             %s\n", f->reason);
  if (f->stack_modules[0])
    fb_strbuf_printf(out, "  Stack modules:   %s\n", f->stack_modules);
  for (uint32_t i = 0; i < f->nevidence; i++)
    fb_strbuf_printf(out, "  - %s\n", f->evidence[i]);
}
