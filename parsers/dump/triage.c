/* triage.c - the TRIAGE_DUMP64 area of a kernel small memory dump.
 *
 * Layout (docs/upgrade-failures.md §6): a 0x80-byte triage header at 0x2000
 * whose *Offset fields are file offsets, all inside SizeOfDump; "TRGD" at
 * ValidOffset; a driver list of 0x90-byte entries naming strings in a pool of
 * {u32 count, UTF-16LE chars}; an unloaded-driver list {u64 count, 0x38-byte
 * entries}; the raw stack copy starting at virtual address TopOfStack.
 */
#include <stdlib.h>
#include <string.h>

#include "parsers/bytes.h"
#include "parsers/dump/dump.h"
#include "parsers/dump/dump_private.h"
#include "parsers/evidence.h"
#include "parsers/utf16.h"

#define T_BASE DUMP_HEADER64_SIZE
#define NAME_MAX_CHARS 1024u
#define UNLOADED_NAME_CHARS 12u

/* Driver entry fields, relative to the entry (the KLDR copy starts at +8). */
enum { DRV_NAME = 0x00, DRV_BASE = 0x38, DRV_SIZE = 0x48, DRV_CHECKSUM = 0x80, DRV_STAMP = 0x88 };
/* Unloaded entry fields. */
enum { UNL_LEN = 0x00, UNL_NAME = 0x10, UNL_START = 0x28, UNL_END = 0x30 };

void dump_strings_reset(struct dump *d) {
  free(d->drivers);
  free(d->unloaded);
  free(d->strings);
  d->drivers = NULL;
  d->unloaded = NULL;
  d->strings = NULL;
  d->ndrivers = d->nunloaded = 0;
  d->strings_len = d->strings_cap = 0;
}

/* Append a UTF-16LE string to the arena; returns its position or -1. The
 * arena may move, so callers keep positions until all strings are in. */
static long arena_add_utf16(struct dump *d, const uint8_t *src, size_t nchars) {
  size_t need = fb_utf16_bound(nchars);
  size_t pos = d->strings_len;

  if (d->strings_cap - d->strings_len < need) {
    size_t cap = d->strings_cap ? d->strings_cap : 4096;
    char *s;
    while (cap - d->strings_len < need)
      cap *= 2;
    s = realloc(d->strings, cap);
    if (s == NULL)
      return -1;
    d->strings = s;
    d->strings_cap = cap;
  }
  d->strings_len += fb_utf16le_to_utf8(src, nchars, d->strings + pos, need) + 1;
  return (long)pos;
}

static void read_triage_header(struct dump_triage *t, const uint8_t *h) {
  t->size_of_dump = fb_le32(h + 0x04);
  t->valid_offset = fb_le32(h + 0x08);
  t->context_offset = fb_le32(h + 0x0C);
  t->exception_offset = fb_le32(h + 0x10);
  t->unloaded_offset = fb_le32(h + 0x18);
  t->callstack_offset = fb_le32(h + 0x28);
  t->callstack_size = fb_le32(h + 0x2C);
  t->driver_list_offset = fb_le32(h + 0x30);
  t->driver_count = fb_le32(h + 0x34);
  t->string_pool_offset = fb_le32(h + 0x38);
  t->string_pool_size = fb_le32(h + 0x3C);
  t->broken_driver_offset = fb_le32(h + 0x40);
  t->triage_options = fb_le32(h + 0x44);
  t->top_of_stack = fb_le64(h + 0x48);
  t->debugger_data_offset = fb_le32(h + 0x70);
  t->debugger_data_size = fb_le32(h + 0x74);
  t->data_blocks_offset = fb_le32(h + 0x78);
  t->data_blocks_count = fb_le32(h + 0x7C);
}

static int check_bounds(const struct dump_triage *t, size_t size, struct fb_error *err) {
  if (t->size_of_dump > size)
    return fb_error_set(err, FB_ETRUNC, size,
                        "triage dump: SizeOfDump (at 0x%x) says 0x%x bytes, the file ends at 0x%zx",
                        T_BASE + 0x04, t->size_of_dump, size);
  if (t->size_of_dump < T_BASE + DUMP_TRIAGE64_SIZE)
    return fb_error_set(err, FB_EFORMAT, T_BASE + 0x04,
                        "triage dump: SizeOfDump 0x%x is smaller than the headers", t->size_of_dump);
  if (!fb_span_ok(t->size_of_dump, t->valid_offset, 4))
    return fb_error_set(err, FB_EFORMAT, T_BASE + 0x08,
                        "triage dump: ValidOffset 0x%x lies outside the triage area (0x%x bytes)",
                        t->valid_offset, t->size_of_dump);
  return 0;
}

static int read_drivers(struct dump *d, const uint8_t *p, uint64_t limit, struct fb_error *err) {
  const struct dump_triage *t = &d->triage;
  long *path_pos;

  if (t->driver_count == 0)
    return 0;
  if (t->driver_count > DUMP_MAX_DRIVERS)
    return fb_error_set(err, FB_EFORMAT, T_BASE + 0x34, "triage dump: DriverCount %u is over the limit of %u",
                        t->driver_count, DUMP_MAX_DRIVERS);
  if (!fb_span_ok(limit, t->driver_list_offset, (uint64_t)t->driver_count * DUMP_DRIVER64_SIZE))
    return fb_error_set(
        err, FB_EFORMAT, T_BASE + 0x30,
        "triage dump: driver list at 0x%x with %u entries of 0x%x bytes runs past the triage area "
        "(0x%llx bytes)",
        t->driver_list_offset, t->driver_count, DUMP_DRIVER64_SIZE, (unsigned long long)limit);
  d->drivers = calloc(t->driver_count, sizeof(*d->drivers));
  path_pos = calloc(t->driver_count, sizeof(*path_pos));
  if (d->drivers == NULL || path_pos == NULL) {
    free(path_pos);
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "no memory for %u drivers", t->driver_count);
  }
  for (uint32_t i = 0; i < t->driver_count; i++) {
    uint64_t eo = (uint64_t)t->driver_list_offset + (uint64_t)i * DUMP_DRIVER64_SIZE;
    const uint8_t *e = p + eo;
    struct dump_driver *dr = &d->drivers[i];
    uint32_t name_off = fb_le32(e + DRV_NAME), nchars;

    dr->entry_offset = eo;
    dr->base = fb_le64(e + DRV_BASE);
    dr->size = fb_le32(e + DRV_SIZE);
    dr->checksum = fb_le32(e + DRV_CHECKSUM);
    dr->stamp = fb_le32(e + DRV_STAMP);
    if (!fb_span_ok(limit, name_off, 4)) {
      free(path_pos);
      return fb_error_set(err, FB_EFORMAT, eo,
                          "triage dump: driver #%u names a string at 0x%x, outside the file", i, name_off);
    }
    nchars = fb_le32(p + name_off);
    if (nchars > NAME_MAX_CHARS || !fb_span_ok(limit, (uint64_t)name_off + 4, (uint64_t)nchars * 2)) {
      free(path_pos);
      return fb_error_set(err, FB_EFORMAT, name_off,
                          "triage dump: name of driver #%u claims %u characters, more than the file holds", i,
                          nchars);
    }
    path_pos[i] = arena_add_utf16(d, p + name_off + 4, nchars);
    if (path_pos[i] < 0) {
      free(path_pos);
      return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "no memory for driver names");
    }
  }
  d->ndrivers = t->driver_count;
  for (uint32_t i = 0; i < d->ndrivers; i++) {
    d->drivers[i].path = d->strings + path_pos[i];
    d->drivers[i].name = ev_path_basename(d->drivers[i].path);
  }
  free(path_pos);
  return 0;
}

static int read_unloaded(struct dump *d, const uint8_t *p, uint64_t limit, struct fb_error *err) {
  uint32_t off = d->triage.unloaded_offset;
  uint64_t count;
  long *pos;

  if (off == 0)
    return 0;
  if (!fb_span_ok(limit, off, 8))
    return fb_error_set(err, FB_EFORMAT, T_BASE + 0x18,
                        "triage dump: unloaded-driver list at 0x%x lies outside the triage area", off);
  count = fb_le64(p + off);
  if (count > DUMP_MAX_UNLOADED || !fb_span_ok(limit, (uint64_t)off + 8, count * DUMP_UNLOADED64_SIZE))
    return fb_error_set(err, FB_EFORMAT, off,
                        "triage dump: unloaded-driver count %llu does not fit the triage area",
                        (unsigned long long)count);
  if (count == 0)
    return 0;
  d->unloaded = calloc(count, sizeof(*d->unloaded));
  pos = calloc(count, sizeof(*pos));
  if (d->unloaded == NULL || pos == NULL) {
    free(pos);
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "no memory for unloaded drivers");
  }
  for (uint64_t i = 0; i < count; i++) {
    uint64_t eo = (uint64_t)off + 8 + i * DUMP_UNLOADED64_SIZE;
    const uint8_t *e = p + eo;
    uint32_t nchars = fb_le16(e + UNL_LEN) / 2;

    if (nchars > UNLOADED_NAME_CHARS)
      nchars = UNLOADED_NAME_CHARS;
    d->unloaded[i].entry_offset = eo;
    d->unloaded[i].start = fb_le64(e + UNL_START);
    d->unloaded[i].end = fb_le64(e + UNL_END);
    pos[i] = arena_add_utf16(d, e + UNL_NAME, nchars);
    if (pos[i] < 0) {
      free(pos);
      return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "no memory for unloaded driver names");
    }
  }
  d->nunloaded = (uint32_t)count;
  for (uint32_t i = 0; i < d->nunloaded; i++)
    d->unloaded[i].name = d->strings + pos[i];
  free(pos);
  return 0;
}

static int read_stack(struct dump *d, const uint8_t *p, uint64_t limit, struct fb_error *err) {
  const struct dump_triage *t = &d->triage;

  if (t->callstack_size == 0)
    return 0;
  if (t->callstack_size > DUMP_MAX_STACK_SLOTS * 8)
    return fb_error_set(err, FB_EFORMAT, T_BASE + 0x2C,
                        "triage dump: SizeOfCallStack 0x%x is over the limit of 0x%x", t->callstack_size,
                        DUMP_MAX_STACK_SLOTS * 8);
  if (!fb_span_ok(limit, t->callstack_offset, t->callstack_size))
    return fb_error_set(
        err, FB_EFORMAT, T_BASE + 0x28,
        "triage dump: stack copy at 0x%x (0x%x bytes) runs past the triage area (0x%llx bytes)",
        t->callstack_offset, t->callstack_size, (unsigned long long)limit);
  d->stack = p + t->callstack_offset;
  d->stack_size = t->callstack_size;
  d->stack_va = t->top_of_stack;
  return 0;
}

int dump_read_triage(struct dump *d, const uint8_t *p, size_t size, struct fb_error *err) {
  struct dump_triage *t = &d->triage;
  uint64_t limit;
  int rc;

  if (!fb_span_ok(size, T_BASE, DUMP_TRIAGE64_SIZE))
    return fb_error_set(err, FB_ETRUNC, size,
                        "triage dump: the triage header at 0x%x is cut (file ends at 0x%zx)", T_BASE, size);
  read_triage_header(t, p + T_BASE);
  rc = check_bounds(t, size, err);
  if (rc < 0)
    return rc;
  limit = t->size_of_dump;
  if (memcmp(p + t->valid_offset, "TRGD", 4) != 0)
    return fb_error_set(err, FB_EFORMAT, t->valid_offset,
                        "triage dump: no \"TRGD\" validity marker at ValidOffset 0x%x", t->valid_offset);
  /* The triage copy of the context is the one that belongs to the stack. */
  if (t->context_offset != 0 && fb_span_ok(limit, t->context_offset, 0x110))
    (void)dump_read_context(d, p, limit, t->context_offset);
  if ((rc = read_drivers(d, p, limit, err)) < 0 || (rc = read_unloaded(d, p, limit, err)) < 0 ||
      (rc = read_stack(d, p, limit, err)) < 0)
    return rc;
  d->has_triage = 1;
  return 0;
}
