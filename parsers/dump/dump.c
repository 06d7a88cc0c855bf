/* dump.c - the 64-bit kernel dump header, dump types, evidence output.
 * The triage area (drivers, unloaded drivers, stack) is in triage.c. */
#include "parsers/dump/dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/bytes.h"
#include "parsers/dump/dump_private.h"

/* DUMP_HEADER64 field offsets (docs/upgrade-failures.md §5). */
enum {
  H64_MAJOR = 0x08,
  H64_MINOR = 0x0C,
  H64_MACHINE = 0x30,
  H64_NPROC = 0x34,
  H64_BUGCHECK = 0x38,
  H64_PARAM1 = 0x40,
  H64_CONTEXT = 0x348,
  H64_EXCEPTION = 0xF00,
  H64_DUMPTYPE = 0xF98,
  H64_REQUIRED = 0xFA0,
  H64_SYSTIME = 0xFA8,
  H64_UPTIME = 0x1030,
  H64_MINIFIELDS = 0x1038,
  H64_PRODUCT = 0x1040,
  H64_SUITE = 0x1044,
};

/* DUMP_HEADER32: only the leading fields, where every source agrees. */
enum {
  H32_MACHINE = 0x20,
  H32_NPROC = 0x24,
  H32_BUGCHECK = 0x28,
  H32_PARAM1 = 0x2C,
  H32_MIN_SIZE = 0x3C,
};

#define MACHINE_X64 0x8664u
#define MACHINE_ARM64 0xAA64u
#define MACHINE_X86 0x14Cu

int dump_sniff(const void *data, size_t size) {
  const uint8_t *p = data;

  return size >= 8 && memcmp(p, "PAGE", 4) == 0 &&
         (memcmp(p + 4, "DU64", 4) == 0 || memcmp(p + 4, "DUMP", 4) == 0);
}

const char *dump_type_name(uint32_t t) {
  switch (t) {
  case DUMP_TYPE_FULL: return "full";
  case DUMP_TYPE_KERNEL: return "kernel";
  case DUMP_TYPE_HEADER: return "header only";
  case DUMP_TYPE_TRIAGE: return "triage";
  case DUMP_TYPE_BITMAP_FULL: return "bitmap full";
  case DUMP_TYPE_BITMAP_KERNEL: return "bitmap kernel";
  case DUMP_TYPE_AUTOMATIC: return "automatic";
  default: return "unknown";
  }
}

const char *dump_machine_name(uint32_t m) {
  switch (m) {
  case MACHINE_X64: return "x64";
  case MACHINE_ARM64: return "arm64";
  case MACHINE_X86: return "x86";
  default: return "unknown";
  }
}

/* A header u64 whose halves are the "PAGE" filler was never written. */
static uint64_t unset_or(uint64_t v) {
  return ((uint32_t)v == DUMP_UNSET32 && (uint32_t)(v >> 32) == DUMP_UNSET32) ? 0 : v;
}

int dump_read_context(struct dump *d, const uint8_t *p, size_t size, uint64_t off) {
  struct dump_context *c = &d->ctx;

  memset(c, 0, sizeof(*c));
  c->offset = off;
  if (d->machine == MACHINE_X64) {
    if (!fb_span_ok(size, off, 0x100))
      return 0;
    c->flags = fb_le32(p + off + 0x30);
    c->sp = fb_le64(p + off + 0x98);
    c->fp = fb_le64(p + off + 0xA0);
    c->ip = fb_le64(p + off + 0xF8);
    c->valid = 1;
  } else if (d->machine == MACHINE_ARM64) {
    if (!fb_span_ok(size, off, 0x110))
      return 0;
    c->flags = fb_le32(p + off);
    c->fp = fb_le64(p + off + 0xF0);
    c->lr = fb_le64(p + off + 0xF8);
    c->sp = fb_le64(p + off + 0x100);
    c->ip = fb_le64(p + off + 0x108);
    c->valid = 1;
  }
  return c->valid;
}

static int read_header64(struct dump *d, const uint8_t *p, size_t size, struct fb_error *err) {
  if (size < DUMP_HEADER64_SIZE)
    return fb_error_set(err, FB_ETRUNC, size, "kernel dump header is 0x%x bytes, the file ends after 0x%zx",
                        DUMP_HEADER64_SIZE, size);
  d->bits = 64;
  d->major_version = fb_le32(p + H64_MAJOR);
  d->build = fb_le32(p + H64_MINOR);
  d->machine = fb_le32(p + H64_MACHINE);
  d->processors = fb_le32(p + H64_NPROC);
  d->bugcheck = fb_le32(p + H64_BUGCHECK);
  for (int i = 0; i < 4; i++)
    d->params[i] = fb_le64(p + H64_PARAM1 + 8 * i);
  d->exception_code = fb_le32(p + H64_EXCEPTION);
  d->exception_address = fb_le64(p + H64_EXCEPTION + 0x10);
  d->dump_type = fb_le32(p + H64_DUMPTYPE);
  d->required_space = unset_or(fb_le64(p + H64_REQUIRED));
  d->system_time = unset_or(fb_le64(p + H64_SYSTIME));
  d->uptime = unset_or(fb_le64(p + H64_UPTIME));
  d->minidump_fields = fb_le32(p + H64_MINIFIELDS);
  d->product_type = fb_le32(p + H64_PRODUCT);
  d->suite_mask = fb_le32(p + H64_SUITE);
  (void)dump_read_context(d, p, size, H64_CONTEXT);
  return 0;
}

static void read_bitmap_header(struct dump *d, const uint8_t *p, size_t size) {
  if (!fb_span_ok(size, DUMP_HEADER64_SIZE, 0x38))
    return;
  if ((memcmp(p + DUMP_HEADER64_SIZE, "SDMP", 4) == 0 || memcmp(p + DUMP_HEADER64_SIZE, "FDMP", 4) == 0) &&
      memcmp(p + DUMP_HEADER64_SIZE + 4, "DUMP", 4) == 0) {
    memcpy(d->second_signature, p + DUMP_HEADER64_SIZE, 8);
    d->second_signature[8] = '\0';
    d->bitmap_present_pages = fb_le64(p + DUMP_HEADER64_SIZE + 0x28);
  }
}

static int read_any(struct dump *d, const uint8_t *p, size_t size, struct fb_error *err) {
  int rc;

  if (!dump_sniff(p, size)) {
    if (size >= 4 && memcmp(p, "MDMP", 4) == 0)
      return fb_error_set(err, FB_EUNSUP, 0, "user-mode minidump (MDMP), not a kernel dump: not analysed");
    return fb_error_set(err, FB_EFORMAT, 0, "not a Windows kernel dump (no PAGEDU64/PAGEDUMP signature)");
  }
  if (memcmp(p + 4, "DUMP", 4) == 0) {
    /* 32-bit: report what the leading header says, analyse nothing else. */
    if (size < H32_MIN_SIZE)
      return fb_error_set(err, FB_ETRUNC, size, "32-bit kernel dump header cut at 0x%zx", size);
    d->bits = 32;
    d->major_version = fb_le32(p + H64_MAJOR);
    d->build = fb_le32(p + H64_MINOR);
    d->machine = fb_le32(p + H32_MACHINE);
    d->processors = fb_le32(p + H32_NPROC);
    d->bugcheck = fb_le32(p + H32_BUGCHECK);
    for (int i = 0; i < 4; i++)
      d->params[i] = fb_le32(p + H32_PARAM1 + 4 * i);
    d->not_analysed = "32-bit kernel dump: only the bugcheck code and parameters were read; "
                      "dump type, context, driver list and stack not analysed";
    return 0;
  }
  rc = read_header64(d, p, size, err);
  if (rc < 0)
    return rc;
  switch (d->dump_type) {
  case DUMP_TYPE_TRIAGE: return dump_read_triage(d, p, size, err);
  case DUMP_TYPE_FULL:
    d->not_analysed = "full memory dump: header read; physical memory, driver list and stack not analysed";
    break;
  case DUMP_TYPE_KERNEL:
    d->not_analysed = "kernel memory dump: header read; memory, driver list and stack not analysed";
    break;
  case DUMP_TYPE_BITMAP_FULL:
  case DUMP_TYPE_BITMAP_KERNEL:
    read_bitmap_header(d, p, size);
    d->not_analysed = "bitmap memory dump: header read; memory pages, driver list and stack not analysed";
    break;
  case DUMP_TYPE_HEADER: d->not_analysed = "header-only dump: no memory in the file"; break;
  default: d->not_analysed = "unknown dump type: header read; nothing else analysed"; break;
  }
  return 0;
}

int dump_read(struct dump *d, const void *data, size_t size, const char *file, struct fb_error *err) {
  int rc;

  memset(d, 0, sizeof(*d));
  d->file = file;
  d->file_size = size;
  if (err)
    fb_error_init(err, file);
  rc = read_any(d, data, size, err);
  if (rc < 0) {
    d->has_triage = 0;
    dump_strings_reset(d);
  }
  return rc;
}

int dump_open(struct dump *d, const char *path, struct fb_error *err) {
  struct fb_view v;
  int rc;

  memset(d, 0, sizeof(*d));
  rc = fb_view_open(&v, path, err);
  if (rc < 0)
    return rc;
  rc = dump_read(d, v.data, v.size, path, err);
  d->view = v;
  d->owns_view = 1;
  return rc;
}

void dump_close(struct dump *d) {
  if (d == NULL)
    return;
  dump_strings_reset(d);
  if (d->owns_view)
    fb_view_close(&d->view);
  d->owns_view = 0;
}

const struct dump_driver *dump_driver_at(const struct dump *d, uint64_t va) {
  for (uint32_t i = 0; i < d->ndrivers; i++) {
    const struct dump_driver *dr = &d->drivers[i];
    if (va >= dr->base && va - dr->base < dr->size)
      return dr;
  }
  return NULL;
}

const struct dump_unloaded *dump_unloaded_at(const struct dump *d, uint64_t va) {
  for (uint32_t i = 0; i < d->nunloaded; i++)
    if (va >= d->unloaded[i].start && va < d->unloaded[i].end)
      return &d->unloaded[i];
  return NULL;
}

uint32_t dump_stack_scan_start(const struct dump *d, int *from_sp) {
  *from_sp = 0;
  if (d->ctx.valid && d->ctx.sp >= d->stack_va && d->ctx.sp - d->stack_va < d->stack_size) {
    *from_sp = 1;
    return (uint32_t)((d->ctx.sp - d->stack_va) & ~(uint64_t)7);
  }
  return 0;
}

static int emit_images(const struct dump *d, const struct ev_sink *sink) {
  struct ev_image im;

  for (uint32_t i = 0; i < d->ndrivers; i++) {
    const struct dump_driver *dr = &d->drivers[i];
    memset(&im, 0, sizeof(im));
    im.origin = (struct ev_origin){d->file, "dump", i, dr->entry_offset};
    im.time = d->system_time;
    im.pid = 4;
    im.base = dr->base;
    im.size = dr->size;
    im.path = dr->path;
    im.name = dr->name;
    im.kernel = 1;
    if (sink->image(sink->ctx, &im))
      return FB_ESTOP;
  }
  for (uint32_t i = 0; i < d->nunloaded; i++) {
    const struct dump_unloaded *u = &d->unloaded[i];
    memset(&im, 0, sizeof(im));
    im.origin = (struct ev_origin){d->file, "dump", i, u->entry_offset};
    im.time = d->system_time;
    im.pid = 4;
    im.base = u->start;
    im.size = u->end > u->start ? u->end - u->start : 0;
    im.path = u->name;
    im.name = u->name;
    im.kernel = 1;
    im.unloaded = 1;
    if (sink->image(sink->ctx, &im))
      return FB_ESTOP;
  }
  return 0;
}

/* Resolve every stack slot from the scan start into a frame. */
static int resolve_stack(const struct dump *d, struct ev_frame **out, uint32_t *count, int *from_sp) {
  uint32_t start = dump_stack_scan_start(d, from_sp);
  uint32_t n = (d->stack_size - start) / 8;
  struct ev_frame *f;

  *out = NULL;
  *count = 0;
  if (n > DUMP_MAX_STACK_SLOTS)
    n = DUMP_MAX_STACK_SLOTS;
  if (n == 0)
    return 0;
  f = calloc(n, sizeof(*f));
  if (f == NULL)
    return FB_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t v = fb_le64(d->stack + start + 8 * i);
    const struct dump_driver *dr = dump_driver_at(d, v);
    f[i].addr = v;
    f[i].kernel = (v >> 63) != 0;
    /* A module's base itself is a pointer to its header, not code. */
    if (dr != NULL && v != dr->base) {
      f[i].module = dr->name;
      f[i].offset = v - dr->base;
    }
  }
  *out = f;
  *count = n;
  return 0;
}

int dump_emit(const struct dump *d, const struct ev_sink *sink, struct fb_error *err) {
  struct ev_fact fact;
  struct ev_frame *frames = NULL;
  uint32_t nframes = 0;
  int from_sp = 0, rc;
  char text[512];

  if (sink->image) {
    rc = emit_images(d, sink);
    if (rc < 0)
      return fb_error_set(err, rc, FB_OFFSET_NONE, "stopped by the evidence consumer");
  }
  if (sink->fact == NULL)
    return 0;
  if (d->has_triage && d->stack_size >= 8) {
    if (resolve_stack(d, &frames, &nframes, &from_sp) < 0)
      return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "no memory for the stack slots");
  }
  memset(&fact, 0, sizeof(fact));
  fact.origin = (struct ev_origin){d->file, "dump", 0, d->bits == 64 ? H64_BUGCHECK : H32_BUGCHECK};
  fact.kind = EV_FACT_BUGCHECK;
  fact.time = d->system_time;
  fact.code = d->bugcheck;
  fact.extra_code = d->dump_type;
  memcpy(fact.params, d->params, sizeof(fact.params));
  fact.path = d->file;
  fact.address = d->ctx.valid ? d->ctx.ip : 0;
  fact.stack.frames = frames;
  fact.stack.count = nframes;
  if (d->has_triage)
    fact.subject = from_sp ? "triage: stack from context sp" : "triage: stack from top of copy";
  else
    fact.subject = "not analysed";
  snprintf(text, sizeof(text), "%s kernel dump, %s, build %u, %s dump, %u drivers, bugcheck 0x%08X%s%s",
           d->bits == 64 ? "64-bit" : "32-bit", dump_machine_name(d->machine), d->build,
           dump_type_name(d->dump_type), d->ndrivers, d->bugcheck, d->not_analysed ? "; " : "",
           d->not_analysed ? d->not_analysed : "");
  fact.text = text;
  rc = sink->fact(sink->ctx, &fact);
  free(frames);
  if (rc)
    return fb_error_set(err, FB_ESTOP, FB_OFFSET_NONE, "stopped by the evidence consumer");
  return 0;
}
