/* pml_reader.c - Process Monitor capture reader: header, tables, events,
 * stack resolution and evidence. Layout: ../shared/docs/pml-format.md.
 *
 * Everything read from the file is checked before use. The tables (strings,
 * processes, modules, hosts, ports) are decoded once at open into a few
 * allocations; events are read on demand through the offsets array and point
 * into the mapped file, so reading N events allocates nothing.
 */
#include "parsers/pml/pml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include "parsers/bytes.h"
#include "parsers/utf16.h"
#include "parsers/view.h"

enum {
  PML_HEADER_SIZE = 0x3A8,
  PML_EVENT_HEADER_SIZE = 0x34,
  PML_OFFSET_ENTRY = 5,
  PML_KNOWN_VERSION = 9,
  /* The offsets array is read in blocks of this size (its own window): a
   * few system calls for a whole capture, few pages to fault in. */
  OFFSETS_WINDOW = 32 << 10,
};

struct pml_host {
  uint8_t addr[16];
  const char *name;
};

struct pml_port {
  uint16_t port;
  uint16_t is_tcp;
  const char *name;
};

struct pml_file {
  struct fb_view view;
  char name[512];
  struct pml_header hdr;

  char *arena; /* UTF-8 text of every string, host and port name */
  size_t arena_used, arena_size;
  size_t arena_likely; /* what the strings take if they are ASCII (most are) */
  const char **strings;
  uint32_t string_count;

  struct pml_process *procs;
  uint32_t proc_count;
  struct pml_module *modules; /* all processes' modules, one block */
  /* process index -> position in procs (dense table), UINT32_MAX = none */
  uint32_t *proc_lookup;
  uint32_t proc_lookup_size;
  const struct pml_process **proc_sorted; /* by index, when indexes are too sparse for a table */
  const struct pml_process *system;

  struct pml_host *hosts;
  uint32_t host_count;
  struct pml_port *ports;
  uint32_t port_count;

  /* The file is read with pread() through two windows (fb_view_bytes):
   * win for the header and tables at open, then the events; owin for the
   * event offsets array (event_count x 5 bytes). A first touch of a mapped
   * page costs a page fault, dearer than copying the page on a VM. */
  struct fb_window win, owin;

  /* The table being decoded at open: bytes [tab_off, tab_off + tab_len) of
   * the file at tab (in win, or in place when larger than it). */
  const uint8_t *tab;
  uint64_t tab_off, tab_len;

  /* Events larger than the window are served from the mapping in place:
   * mapped event pages below released were handed back (release_behind),
   * and in_place says some may have been touched since. */
  uint64_t released;
  int in_place;

  /* Scratch reused by pml_emit_evidence. */
  struct ev_frame *frames;
  uint32_t frames_cap;
};

/* ---- small helpers ---- */

/* Append UTF-16LE text to the arena as UTF-8; returns the string. The arena
 * is sized before use, so this cannot run out of room. */
static const char *arena_utf16(struct pml_file *f, const uint8_t *src, size_t nchars) {
  char *out = f->arena + f->arena_used;
  size_t room = f->arena_size - f->arena_used;
  size_t n = fb_utf16le_to_utf8(src, nchars, out, room);

  f->arena_used += n + 1;
  return out;
}

static void header_text(const uint8_t *p, size_t nchars, char *out, size_t out_size) {
  fb_utf16le_to_utf8(p, nchars, out, out_size);
}

/* Where the table starting at start ends, at the latest: the next region the
 * header names, or the end of the file. Only a guess at how much to read in
 * one go (tb falls back to the mapping for bytes outside it). */
static uint64_t table_end(const struct pml_file *f, uint64_t start) {
  const struct pml_header *h = &f->hdr;
  uint64_t marks[] = {h->events_offset,
                      h->offsets_array_offset,
                      h->offsets_array_offset + (uint64_t)h->event_count * PML_OFFSET_ENTRY,
                      h->process_table_offset,
                      h->string_table_offset,
                      h->icon_table_offset,
                      h->hosts_offset};
  uint64_t end = f->view.size;

  for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
    if (marks[i] > start && marks[i] < end)
      end = marks[i];
  return end;
}

/* Read the table that starts at start into window w (one pread, none if it
 * is there already) before decoding it. The strings and processes go into
 * the event window; the small hosts table into the offsets window, so that
 * the string table stays loaded while the hosts are sized. */
static int table_load(struct pml_file *f, struct fb_window *w, uint64_t start, struct fb_error *err) {
  uint64_t len = start < f->view.size ? table_end(f, start) - start : 0;
  const uint8_t *p = fb_view_bytes(&f->view, w, start, (size_t)len);

  if (p == NULL)
    return fb_error_set(err, FB_EIO, start, "cannot read %llu bytes: %s", (unsigned long long)len,
                        strerror(errno));
  f->tab = p;
  f->tab_off = start;
  f->tab_len = len;
  return FB_OK;
}

/* Bytes [at, at + n) of the file, already checked to lie inside it: from the
 * loaded table when they lie in it, else from the mapping. */
static const uint8_t *tb(const struct pml_file *f, uint64_t at, uint64_t n) {
  if (f->tab != NULL && at >= f->tab_off && n <= f->tab_len && at - f->tab_off <= f->tab_len - n)
    return f->tab + (at - f->tab_off);
  return f->view.data + at;
}

/* ---- header ---- */

static int read_header(struct pml_file *f, struct fb_error *err) {
  const uint8_t *d;
  uint64_t size = f->view.size;
  struct pml_header *h = &f->hdr;
  uint32_t flag64;
  struct {
    uint64_t off;
    uint64_t *val;
    const char *name;
  } tables[] = {
      {0x240, &h->events_offset, "events"},
      {0x248, &h->offsets_array_offset, "event offsets array"},
      {0x250, &h->process_table_offset, "process table"},
      {0x258, &h->string_table_offset, "string table"},
      {0x260, &h->icon_table_offset, "icon table"},
      {0x3A0, &h->hosts_offset, "hosts table"},
  };

  if (size < PML_HEADER_SIZE)
    return fb_error_set(err, FB_ETRUNC, 0, "file is %llu bytes, shorter than the 0x3A8-byte PML header",
                        (unsigned long long)size);
  f->owin.cap = OFFSETS_WINDOW;
  if ((d = fb_view_bytes(&f->view, &f->owin, 0, PML_HEADER_SIZE)) == NULL) /* a small window */
    return fb_error_set(err, FB_EIO, 0, "cannot read the header: %s", strerror(errno));
  if (memcmp(d, "PML_", 4) != 0)
    return fb_error_set(err, FB_EFORMAT, 0, "not a Procmon capture: signature is not 'PML_'");
  h->version = fb_le32(d + 4);
  if (h->version != PML_KNOWN_VERSION)
    return fb_error_set(err, FB_EUNSUP, 4, "PML format version %u; only version 9 is known", h->version);
  flag64 = fb_le32(d + 8);
  if (flag64 > 1)
    return fb_error_set(err, FB_EFORMAT, 8, "64-bit flag is %u, expected 0 or 1", flag64);
  h->ptr_size = flag64 ? 8 : 4;
  header_text(d + 0x0C, 16, h->computer, sizeof(h->computer));
  header_text(d + 0x2C, 260, h->system_root, sizeof(h->system_root));
  h->event_count = fb_le32(d + 0x234);
  for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
    *tables[i].val = fb_le64(d + tables[i].off);
    if (*tables[i].val < PML_HEADER_SIZE || *tables[i].val > size)
      return fb_error_set(err, *tables[i].val > size ? FB_ETRUNC : FB_EFORMAT, tables[i].off,
                          "%s offset 0x%llx lies outside the file (header 0x3a8 .. size 0x%llx)",
                          tables[i].name, (unsigned long long)*tables[i].val, (unsigned long long)size);
  }
  h->max_user_address = fb_le64(d + 0x268);
  h->os_major = fb_le32(d + 0x274);
  h->os_minor = fb_le32(d + 0x278);
  h->os_build = fb_le32(d + 0x27C);
  h->platform_id = fb_le32(d + 0x280);
  header_text(d + 0x284, 128, h->service_pack, sizeof(h->service_pack));
  h->cpus = fb_le32(d + 0x38C);
  h->memory = fb_le64(d + 0x390);
  return FB_OK;
}

/* ---- string table ---- */

static int read_strings(struct pml_file *f, struct fb_error *err) {
  const uint8_t *index;
  uint64_t size = f->view.size, base = f->hdr.string_table_offset;
  uint64_t count, need = 0, text = 0;
  int rc;

  if (!fb_span_ok(size, base, 4))
    return fb_error_set(err, FB_ETRUNC, base, "string table count runs past the end of the file");
  if ((rc = table_load(f, &f->win, base, err)) < 0)
    return rc;
  count = fb_le32(tb(f, base, 4));
  if (!fb_span_ok(size, base + 4, count * 4))
    return fb_error_set(err, FB_ETRUNC, base, "string table announces %llu strings, more than the file holds",
                        (unsigned long long)count);
  /* First pass: validate and size the arena. */
  index = tb(f, base + 4, count * 4);
  for (uint64_t i = 0; i < count; i++) {
    uint64_t rel = fb_le32(index + i * 4), at = base + rel, len;
    if (!fb_span_ok(size, at, 4))
      return fb_error_set(err, FB_EFORMAT, base + 4 + i * 4,
                          "string %llu: offset 0x%llx (table-relative 0x%llx) lies outside the file",
                          (unsigned long long)i, (unsigned long long)at, (unsigned long long)rel);
    len = fb_le32(tb(f, at, 4));
    if (!fb_span_ok(size, at + 4, len))
      return fb_error_set(err, FB_ETRUNC, at, "string %llu: length %llu runs past the end of the file",
                          (unsigned long long)i, (unsigned long long)len);
    need += fb_utf16_bound(len / 2);
    text += len;
  }
  /* Strings lie one after another in the file: lengths that add up to more
   * than the file mean entries share bytes, which would make the decoded
   * text grow with the square of the file size. */
  if (text > size)
    return fb_error_set(err, FB_EFORMAT, base,
                        "string table: %llu strings hold %llu bytes, more than the file",
                        (unsigned long long)count, (unsigned long long)text);
  f->string_count = (uint32_t)count;
  f->strings = calloc(count ? count : 1, sizeof(*f->strings));
  f->arena_size = need + 4096; /* room for host/port names is added later */
  f->arena_likely = text / 2 + count;
  return FB_OK;
}

/* Decode the strings read_strings checked. */
static int fill_strings(struct pml_file *f, struct fb_error *err) {
  uint64_t base = f->hdr.string_table_offset;
  const uint8_t *index;
  int rc;

  if ((rc = table_load(f, &f->win, base, err)) < 0)
    return rc;
  index = tb(f, base + 4, (uint64_t)f->string_count * 4);

  for (uint32_t i = 0; i < f->string_count; i++) {
    uint64_t at = base + fb_le32(index + (uint64_t)i * 4);
    uint32_t len = fb_le32(tb(f, at, 4));
    f->strings[i] = arena_utf16(f, tb(f, at + 4, len), len / 2);
  }
  return FB_OK;
}

const char *pml_string(const struct pml_file *f, uint32_t index) {
  if (f == NULL || index >= f->string_count)
    return "";
  return f->strings[index];
}

/* ---- hosts and ports ---- */

/* Sizes the name text of the hosts/ports tables; fills them when fill != 0. */
static int walk_hosts_ports(struct pml_file *f, int fill, size_t *text, struct fb_error *err) {
  uint64_t size = f->view.size, at = f->hdr.hosts_offset;
  uint32_t n;
  int rc;

  *text = 0;
  if (!fb_span_ok(size, at, 4))
    return fb_error_set(err, FB_ETRUNC, at, "hosts table count runs past the end of the file");
  if ((rc = table_load(f, &f->owin, at, err)) < 0)
    return rc;
  n = fb_le32(tb(f, at, 4));
  if (n > (size - at) / 20)
    return fb_error_set(err, FB_EFORMAT, at, "hosts table announces %u entries, more than the file holds", n);
  at += 4;
  f->host_count = n;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t len;
    if (!fb_span_ok(size, at, 20))
      return fb_error_set(err, FB_ETRUNC, at, "hosts table entry %u runs past the end of the file", i);
    len = fb_le32(tb(f, at + 16, 4));
    if (!fb_span_ok(size, at + 20, len))
      return fb_error_set(err, FB_ETRUNC, at + 16, "hosts table entry %u: name length %u runs past the end",
                          i, len);
    if (fill) {
      memcpy(f->hosts[i].addr, tb(f, at, 16), 16);
      f->hosts[i].name = arena_utf16(f, tb(f, at + 20, len), len / 2);
    }
    *text += fb_utf16_bound(len / 2);
    at += 20 + (uint64_t)len;
  }
  if (!fb_span_ok(size, at, 4))
    return fb_error_set(err, FB_ETRUNC, at, "ports table count runs past the end of the file");
  n = fb_le32(tb(f, at, 4));
  if (n > (size - at) / 8)
    return fb_error_set(err, FB_EFORMAT, at, "ports table announces %u entries, more than the file holds", n);
  at += 4;
  f->port_count = n;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t len;
    if (!fb_span_ok(size, at, 8))
      return fb_error_set(err, FB_ETRUNC, at, "ports table entry %u runs past the end of the file", i);
    len = fb_le32(tb(f, at + 4, 4));
    if (!fb_span_ok(size, at + 8, len))
      return fb_error_set(err, FB_ETRUNC, at + 4, "ports table entry %u: name length %u runs past the end", i,
                          len);
    if (fill) {
      const uint8_t *q = tb(f, at, 8 + (uint64_t)len);
      f->ports[i].port = fb_le16(q);
      f->ports[i].is_tcp = fb_le16(q + 2);
      f->ports[i].name = arena_utf16(f, q + 8, len / 2);
    }
    *text += fb_utf16_bound(len / 2);
    at += 8 + (uint64_t)len;
  }
  return FB_OK;
}

const char *pml_host_name(const struct pml_file *f, const uint8_t addr[16], int is_ipv4) {
  for (uint32_t i = 0; i < f->host_count; i++) {
    const uint8_t *a = f->hosts[i].addr;
    if (is_ipv4 ? memcmp(a, addr, 4) == 0 : memcmp(a, addr, 16) == 0)
      return f->hosts[i].name;
  }
  return NULL;
}

const char *pml_port_name(const struct pml_file *f, uint16_t port, int is_tcp) {
  for (uint32_t i = 0; i < f->port_count; i++)
    if (f->ports[i].port == port && (f->ports[i].is_tcp != 0) == (is_tcp != 0))
      return f->ports[i].name;
  return NULL;
}

/* ---- process table ---- */

static int module_cmp(const void *a, const void *b) {
  const struct pml_module *x = a, *y = b;
  return x->base < y->base ? -1 : x->base > y->base;
}

enum { PROC_TABLE_MAX = 1 << 16 }; /* 256 KB of lookup table at most */

static int process_index_cmp(const void *a, const void *b) {
  const struct pml_process *x = *(const struct pml_process *const *)a,
                           *y = *(const struct pml_process *const *)b;
  if (x->index != y->index)
    return x->index < y->index ? -1 : 1;
  return x < y ? -1 : x > y; /* the first record of a duplicated index wins */
}

static const char *table_string(const struct pml_file *f, const uint8_t *p) {
  return pml_string(f, fb_le32(p));
}

/* Where the fields after the fixed part of a process record start. */
static uint64_t process_fixed_size(unsigned ptr) {
  return 0x60 + ptr + 4;
}

static uint64_t module_record_size(unsigned ptr) {
  return ptr == 8 ? 64 : 56;
}

/* First pass: check every record and count modules. */
static int scan_processes(struct pml_file *f, uint64_t *total_modules, struct fb_error *err) {
  uint64_t size = f->view.size, base = f->hdr.process_table_offset;
  unsigned ptr = f->hdr.ptr_size;
  uint64_t count;
  int rc;

  *total_modules = 0;
  if (!fb_span_ok(size, base, 4))
    return fb_error_set(err, FB_ETRUNC, base, "process table count runs past the end of the file");
  if ((rc = table_load(f, &f->win, base, err)) < 0)
    return rc;
  count = fb_le32(tb(f, base, 4));
  if (!fb_span_ok(size, base + 4, count * 8))
    return fb_error_set(err, FB_ETRUNC, base,
                        "process table announces %llu processes, more than the file holds",
                        (unsigned long long)count);
  for (uint64_t i = 0; i < count; i++) {
    uint64_t field = base + 4 + count * 4 + i * 4;
    uint64_t at = base + fb_le32(tb(f, field, 4)), modules;
    if (!fb_span_ok(size, at, process_fixed_size(ptr)))
      return fb_error_set(err, FB_ETRUNC, field,
                          "process %llu: record at 0x%llx runs past the end of the file",
                          (unsigned long long)i, (unsigned long long)at);
    modules = fb_le32(tb(f, at + 0x60 + ptr, 4));
    if (!fb_span_ok(size, at + process_fixed_size(ptr), modules * module_record_size(ptr)))
      return fb_error_set(err, FB_ETRUNC, at + 0x60 + ptr,
                          "process %llu: %llu modules of %llu bytes run past the end of the file",
                          (unsigned long long)i, (unsigned long long)modules,
                          (unsigned long long)module_record_size(ptr));
    *total_modules += modules;
    /* Records may not share bytes (see read_strings): the modules of all
     * processes together fit in the file. */
    if (*total_modules * module_record_size(ptr) > size)
      return fb_error_set(err, FB_EFORMAT, field,
                          "process %llu: the process records hold %llu modules, more than the file",
                          (unsigned long long)i, (unsigned long long)*total_modules);
  }
  f->proc_count = (uint32_t)count;
  return FB_OK;
}

static void read_modules(struct pml_file *f, const uint8_t *p, uint32_t n, struct pml_module *out) {
  unsigned ptr = f->hdr.ptr_size;

  for (uint32_t i = 0; i < n; i++, p += module_record_size(ptr)) {
    const uint8_t *q = p + ptr; /* skip the unknown first pointer */
    struct pml_module *m = &out[i];
    m->base = fb_leptr(q, ptr);
    m->size = fb_le32(q + ptr);
    m->path = table_string(f, q + ptr + 4);
    m->name = ev_path_basename(m->path);
    m->version = table_string(f, q + ptr + 8);
    m->company = table_string(f, q + ptr + 12);
    m->description = table_string(f, q + ptr + 16);
  }
  for (uint32_t i = 1; i < n; i++)
    if (out[i].base < out[i - 1].base) {
      qsort(out, n, sizeof(*out), module_cmp);
      break;
    }
}

static int read_processes(struct pml_file *f, struct fb_error *err) {
  uint64_t base = f->hdr.process_table_offset, total;
  unsigned ptr = f->hdr.ptr_size;
  uint32_t count, max_index = 0;
  struct pml_module *next;
  int rc = scan_processes(f, &total, err);

  if (rc < 0)
    return rc;
  count = f->proc_count;
  f->procs = calloc(count ? count : 1, sizeof(*f->procs));
  f->modules = calloc(total ? total : 1, sizeof(*f->modules));
  if (f->modules != NULL) /* fresh memory, all written below (see fb_prefault) */
    fb_prefault(f->modules, (size_t)total * sizeof(*f->modules));
  if (f->procs == NULL || f->modules == NULL)
    return fb_error_set(err, FB_ENOMEM, base, "cannot allocate %u processes / %llu modules", count,
                        (unsigned long long)total);
  next = f->modules;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t at = base + fb_le32(tb(f, base + 4 + (uint64_t)count * 4 + (uint64_t)i * 4, 4));
    const uint8_t *p = tb(f, at, process_fixed_size(ptr));
    struct pml_process *pr = &f->procs[i];
    pr->index = fb_le32(p);
    pr->pid = fb_le32(p + 0x04);
    pr->parent_pid = fb_le32(p + 0x08);
    pr->parent_index = fb_le32(p + 0x0C);
    pr->auth_id = fb_le64(p + 0x10);
    pr->session = fb_le32(p + 0x18);
    pr->start_time = fb_le64(p + 0x20);
    pr->end_time = fb_le64(p + 0x28);
    pr->virtualized = fb_le32(p + 0x30) != 0;
    pr->is_64bit = fb_le32(p + 0x34) != 0;
    pr->integrity = table_string(f, p + 0x38);
    pr->user = table_string(f, p + 0x3C);
    pr->name = table_string(f, p + 0x40);
    pr->image_path = table_string(f, p + 0x44);
    pr->command_line = table_string(f, p + 0x48);
    pr->company = table_string(f, p + 0x4C);
    pr->version = table_string(f, p + 0x50);
    pr->description = table_string(f, p + 0x54);
    pr->module_count = fb_le32(p + 0x60 + ptr);
    pr->modules = next;
    p = tb(f, at, process_fixed_size(ptr) + (uint64_t)pr->module_count * module_record_size(ptr));
    read_modules(f, p + process_fixed_size(ptr), pr->module_count, next);
    next += pr->module_count;
    if (pr->index > max_index)
      max_index = pr->index;
    if (pr->pid == 4 && f->system == NULL)
      f->system = pr;
  }
  /* Events name processes by index: Procmon's running process sequence
   * number (3..4330 in the corpus, not positions). A direct table while the
   * largest index is moderate, else a sorted array searched by halving. */
  if (count > 0 && max_index <= PROC_TABLE_MAX) {
    f->proc_lookup_size = max_index + 1;
    f->proc_lookup = malloc((size_t)f->proc_lookup_size * sizeof(uint32_t));
    if (f->proc_lookup == NULL)
      return fb_error_set(err, FB_ENOMEM, base, "cannot allocate the process index");
    memset(f->proc_lookup, 0xff, (size_t)f->proc_lookup_size * sizeof(uint32_t));
    for (uint32_t i = 0; i < count; i++)
      if (f->proc_lookup[f->procs[i].index] == UINT32_MAX)
        f->proc_lookup[f->procs[i].index] = i;
  } else if (count > 0) {
    f->proc_sorted = malloc((size_t)count * sizeof(*f->proc_sorted));
    if (f->proc_sorted == NULL)
      return fb_error_set(err, FB_ENOMEM, base, "cannot allocate the process index");
    for (uint32_t i = 0; i < count; i++)
      f->proc_sorted[i] = &f->procs[i];
    qsort(f->proc_sorted, count, sizeof(*f->proc_sorted), process_index_cmp);
  }
  return FB_OK;
}

static const struct pml_process *process_by_index(const struct pml_file *f, uint32_t index) {
  if (f->proc_lookup != NULL) {
    if (index < f->proc_lookup_size && f->proc_lookup[index] != UINT32_MAX)
      return &f->procs[f->proc_lookup[index]];
    return NULL;
  }
  if (f->proc_sorted != NULL) {
    uint32_t lo = 0, hi = f->proc_count;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (f->proc_sorted[mid]->index < index)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < f->proc_count && f->proc_sorted[lo]->index == index)
      return f->proc_sorted[lo];
  }
  return NULL;
}

uint32_t pml_process_count(const struct pml_file *f) {
  return f->proc_count;
}

const struct pml_process *pml_process_at(const struct pml_file *f, uint32_t i) {
  return i < f->proc_count ? &f->procs[i] : NULL;
}

const struct pml_process *pml_system_process(const struct pml_file *f) {
  return f->system;
}

const struct pml_header *pml_header(const struct pml_file *f) {
  return &f->hdr;
}

const char *pml_file_name(const struct pml_file *f) {
  return f->name;
}

/* ---- event offsets ---- */

static int read_offsets(struct pml_file *f, struct fb_error *err) {
  uint64_t at = f->hdr.offsets_array_offset, n = f->hdr.event_count;

  if (!fb_span_ok(f->view.size, at, n * PML_OFFSET_ENTRY))
    return fb_error_set(
        err, FB_ETRUNC, 0x234,
        "header announces %llu events; their offsets (%llu bytes at 0x%llx) run past the end of the "
        "file (size 0x%llx)",
        (unsigned long long)n, (unsigned long long)(n * PML_OFFSET_ENTRY), (unsigned long long)at,
        (unsigned long long)f->view.size);
  return FB_OK;
}

/* ---- open / close ---- */

static int open_view(struct pml_file *f, struct fb_error *err) {
  size_t host_text = 0;
  int rc;

  /* Each table is read into the window (one pread) before it is decoded. */
  if ((rc = read_header(f, err)) < 0 || (rc = read_offsets(f, err)) < 0 || (rc = read_strings(f, err)) < 0)
    return rc;
  if ((rc = walk_hosts_ports(f, 0, &host_text, err)) < 0)
    return rc;
  f->arena_size += host_text;
  f->arena = malloc(f->arena_size);
  if (f->arena != NULL) /* the part the strings will likely fill */
    fb_prefault(f->arena,
                f->arena_likely + host_text < f->arena_size ? f->arena_likely + host_text : f->arena_size);
  if (f->arena == NULL || f->strings == NULL)
    return fb_error_set(err, FB_ENOMEM, f->hdr.string_table_offset,
                        "cannot allocate %zu bytes for the strings", f->arena_size);
  if ((rc = fill_strings(f, err)) < 0 || (rc = read_processes(f, err)) < 0)
    return rc;
  f->hosts = calloc((size_t)f->host_count + 1, sizeof(*f->hosts));
  f->ports = calloc((size_t)f->port_count + 1, sizeof(*f->ports));
  if (f->hosts == NULL || f->ports == NULL)
    return fb_error_set(err, FB_ENOMEM, f->hdr.hosts_offset, "cannot allocate the hosts and ports tables");
  return walk_hosts_ports(f, 1, &host_text, err);
}

static int pml_open_common(struct pml_file **out, struct pml_file *f, struct fb_error *err) {
  int rc = open_view(f, err);

  if (rc < 0) {
    pml_close(f);
    *out = NULL;
    return rc;
  }
  *out = f;
  return FB_OK;
}

int pml_open(struct pml_file **out, const char *path, struct fb_error *err) {
  struct pml_file *f = calloc(1, sizeof(*f));
  int rc;

  *out = NULL;
  fb_error_init(err, path);
  if (f == NULL)
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory");
  snprintf(f->name, sizeof(f->name), "%s", path);
  rc = fb_view_open(&f->view, path, err);
  if (rc < 0) {
    free(f);
    return rc;
  }
  return pml_open_common(out, f, err);
}

int pml_open_memory(struct pml_file **out, const void *data, size_t size, const char *name,
                    struct fb_error *err) {
  struct pml_file *f = calloc(1, sizeof(*f));

  *out = NULL;
  fb_error_init(err, name);
  if (f == NULL)
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory");
  snprintf(f->name, sizeof(f->name), "%s", name ? name : "(memory)");
  fb_view_from_memory(&f->view, data, size);
  return pml_open_common(out, f, err);
}

void pml_close(struct pml_file *f) {
  if (f == NULL)
    return;
  fb_window_free(&f->win);
  fb_window_free(&f->owin);
  fb_view_close(&f->view);
  free(f->arena);
  free(f->strings);
  free(f->procs);
  free(f->modules);
  free(f->proc_lookup);
  free(f->proc_sorted);
  free(f->hosts);
  free(f->ports);
  free(f->frames);
  free(f);
}

/* ---- events ---- */

/* A mapped file's pages count as resident memory while cached. Events are
 * read through the window, except those larger than it, which are served
 * from the mapping in place (as is every event of a memory view, whose
 * memory the caller owns). After such reads, hand back the mapped pages more
 * than RELEASE_LAG behind the event being read, so the resident size stays
 * flat however large the capture is. A later read behind the mark just
 * faults the page in again. */
enum { RELEASE_LAG = 4 << 20, RELEASE_STEP = 4 << 20 };

static void release_behind(struct pml_file *f, uint64_t at) {
  uint64_t page, from, upto;

  if (at < RELEASE_LAG || at < f->released + RELEASE_LAG + RELEASE_STEP)
    return;
  page = (uint64_t)sysconf(_SC_PAGESIZE);
  from = f->released & ~(page - 1);
  upto = (at - RELEASE_LAG) & ~(page - 1);
  if (upto > from && upto <= f->view.size)
    madvise((void *)(f->view.data + from), (size_t)(upto - from), MADV_DONTNEED);
  f->released = upto;
  f->in_place = 0;
}

static int event_io_error(struct fb_error *err, uint64_t index, uint64_t at, uint64_t n) {
  return fb_error_set(err, FB_EIO, at, "event %llu: cannot read %llu bytes: %s", (unsigned long long)index,
                      (unsigned long long)n, strerror(errno));
}

static inline __attribute__((always_inline)) void event_fill(const struct pml_file *f, struct pml_event *ev,
                                                             uint64_t index, uint64_t at, const uint8_t *p,
                                                             uint64_t extra_rel, uint16_t extra_size) {
  uint16_t depth = fb_le16(p + 0x28);

  ev->index = index;
  ev->offset = at;
  ev->process_index = fb_le32(p);
  ev->process = process_by_index(f, ev->process_index);
  ev->tid = fb_le32(p + 0x04);
  ev->event_class = fb_le32(p + 0x08);
  ev->operation = fb_le16(p + 0x0C);
  ev->duration = fb_le64(p + 0x14);
  ev->time = fb_le64(p + 0x1C);
  ev->result = fb_le32(p + 0x24);
  ev->stack_depth = depth;
  ev->stack = p + PML_EVENT_HEADER_SIZE;
  ev->detail_size = fb_le32(p + 0x2C);
  ev->detail = p + PML_EVENT_HEADER_SIZE + (size_t)depth * f->hdr.ptr_size;
  ev->extra_size = extra_size;
  ev->extra = extra_rel != 0 ? p + extra_rel + 2 : NULL;
}

/* Every check, with its error: the events the fast path in pml_event_read
 * does not take (extra detail, a window refill, bad input, in-place reads). */
static int __attribute__((noinline))
event_read_checked(struct pml_file *f, uint64_t index, struct pml_event *ev, struct fb_error *err) {
  const uint8_t *p;
  uint64_t size = f->view.size, entry, at, stack_bytes, extra_rel, len;
  uint32_t detail_size;
  uint16_t depth, extra_size = 0;

  if (index >= f->hdr.event_count)
    return fb_error_set(err, FB_EFORMAT, FB_OFFSET_NONE, "event %llu does not exist (the capture has %u)",
                        (unsigned long long)index, f->hdr.event_count);
  entry = f->hdr.offsets_array_offset + index * PML_OFFSET_ENTRY;
  if ((p = fb_view_bytes(&f->view, &f->owin, entry, PML_OFFSET_ENTRY)) == NULL)
    return fb_error_set(err, FB_EIO, entry, "event %llu: cannot read its offset: %s",
                        (unsigned long long)index, strerror(errno));
  at = fb_le32(p);
  if (at < PML_HEADER_SIZE || !fb_span_ok(size, at, PML_EVENT_HEADER_SIZE))
    return fb_error_set(err, FB_EFORMAT, entry,
                        "event %llu: offset 0x%llx lies outside the file (size 0x%llx)",
                        (unsigned long long)index, (unsigned long long)at, (unsigned long long)size);
  if (f->in_place)
    release_behind(f, at);
  if ((p = fb_view_bytes(&f->view, &f->win, at, PML_EVENT_HEADER_SIZE)) == NULL)
    return event_io_error(err, index, at, PML_EVENT_HEADER_SIZE);
  depth = fb_le16(p + 0x28);
  detail_size = fb_le32(p + 0x2C);
  extra_rel = fb_le32(p + 0x30);
  stack_bytes = (uint64_t)depth * f->hdr.ptr_size;
  if (!fb_span_ok(size, at + PML_EVENT_HEADER_SIZE, stack_bytes))
    return fb_error_set(err, FB_ETRUNC, at + 0x28,
                        "event %llu: stack of %u frames runs past the end of the file",
                        (unsigned long long)index, depth);
  if (!fb_span_ok(size, at + PML_EVENT_HEADER_SIZE + stack_bytes, detail_size))
    return fb_error_set(err, FB_ETRUNC, at + 0x2C,
                        "event %llu: detail of %u bytes runs past the end of the file",
                        (unsigned long long)index, detail_size);
  len = PML_EVENT_HEADER_SIZE + stack_bytes + detail_size;
  if (extra_rel != 0) {
    if (!fb_span_ok(size, at + extra_rel, 2))
      return fb_error_set(err, FB_ETRUNC, at + 0x30,
                          "event %llu: extra detail offset 0x%llx runs past the end of the file",
                          (unsigned long long)index, (unsigned long long)extra_rel);
    if ((p = fb_view_bytes(&f->view, &f->win, at, (size_t)(extra_rel + 2))) == NULL)
      return event_io_error(err, index, at, extra_rel + 2);
    extra_size = fb_le16(p + extra_rel);
    if (!fb_span_ok(size, at + extra_rel + 2, extra_size))
      return fb_error_set(err, FB_ETRUNC, at + extra_rel,
                          "event %llu: extra detail of %u bytes runs past the end of the file",
                          (unsigned long long)index, extra_size);
    if (extra_rel + 2 + extra_size > len)
      len = extra_rel + 2 + extra_size;
  }
  /* One contiguous range holds header, stack, detail and extra detail. */
  if ((p = fb_view_bytes(&f->view, &f->win, at, (size_t)len)) == NULL)
    return event_io_error(err, index, at, len);
  if (f->view.map != NULL && p == f->view.data + at)
    f->in_place = 1; /* served from the mapping: see release_behind */
  event_fill(f, ev, index, at, p, extra_rel, extra_size);
  return FB_OK;
}

/* Most events: offset and bytes already in their windows. The same checks
 * as event_read_checked, which handles the rest (a window refill, bad
 * input, reads in place) and reports what is wrong. */
int pml_event_read(struct pml_file *f, uint64_t index, struct pml_event *ev, struct fb_error *err) {
  const struct fb_window *o = &f->owin, *w = &f->win;
  uint64_t entry = f->hdr.offsets_array_offset + index * PML_OFFSET_ENTRY, at, len, room, extra_rel;
  uint16_t extra_size = 0;
  const uint8_t *p;

  if (index >= f->hdr.event_count || entry < o->off || entry - o->off + PML_OFFSET_ENTRY > o->len ||
      f->in_place)
    return event_read_checked(f, index, ev, err);
  at = fb_le32(o->buf + (entry - o->off));
  if (at < PML_HEADER_SIZE || at < w->off || at - w->off + PML_EVENT_HEADER_SIZE > w->len)
    return event_read_checked(f, index, ev, err);
  p = w->buf + (at - w->off);
  room = w->len - (at - w->off); /* window bytes from the event on */
  len = PML_EVENT_HEADER_SIZE + (uint64_t)fb_le16(p + 0x28) * f->hdr.ptr_size + fb_le32(p + 0x2C);
  extra_rel = fb_le32(p + 0x30);
  if (extra_rel != 0) {
    if (extra_rel + 2 > room)
      return event_read_checked(f, index, ev, err);
    extra_size = fb_le16(p + extra_rel);
    if (extra_rel + 2 + extra_size > len)
      len = extra_rel + 2 + extra_size;
  }
  if (len > room)
    return event_read_checked(f, index, ev, err);
  event_fill(f, ev, index, at, p, extra_rel, extra_size);
  return FB_OK;
}

/* ---- stacks ---- */

static const struct pml_module *module_find(const struct pml_module *m, uint32_t n, uint64_t addr) {
  uint32_t lo = 0, hi = n;

  /* Last module whose base <= addr. */
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (m[mid].base <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return NULL;
  m = &m[lo - 1];
  return addr - m->base < m->size ? m : NULL;
}

uint64_t pml_frame_address(const struct pml_file *f, const struct pml_event *ev, uint32_t i) {
  if (i >= ev->stack_depth)
    return 0;
  return fb_leptr(ev->stack + (size_t)i * f->hdr.ptr_size, f->hdr.ptr_size);
}

void pml_frame_resolve(const struct pml_file *f, const struct pml_event *ev, uint32_t i,
                       struct ev_frame *out) {
  const struct pml_process *owner;
  const struct pml_module *m;

  memset(out, 0, sizeof(*out));
  if (i >= ev->stack_depth)
    return;
  out->addr = pml_frame_address(f, ev, i);
  out->kernel = out->addr > f->hdr.max_user_address;
  owner = out->kernel ? f->system : ev->process;
  if (owner == NULL)
    return;
  m = module_find(owner->modules, owner->module_count, out->addr);
  if (m != NULL) {
    out->module = m->name;
    out->offset = out->addr - m->base;
  }
}

/* ---- evidence ---- */

/* File System operation code -> evidence kind (pml-format.md §8.3). */
static enum ev_file_op_kind file_op_kind(uint16_t op, uint8_t sub) {
  switch (op) {
  case 20: return EV_FOP_CREATE;
  case 38: return EV_FOP_CLEANUP;
  case 22: return EV_FOP_CLOSE;
  case 23:
  case 5: return EV_FOP_READ;
  case 24:
  case 3: return EV_FOP_WRITE;
  case 25:
  case 27:
  case 30: return EV_FOP_QUERY_INFO;
  case 26:
    if (sub == 0x0A || sub == 0x41)
      return EV_FOP_RENAME;
    if (sub == 0x0D || sub == 0x40)
      return EV_FOP_DELETE;
    return EV_FOP_SET_INFO;
  case 28:
  case 31: return EV_FOP_SET_INFO;
  case 32: return EV_FOP_DIRECTORY;
  case 33:
  case 34:
  case 35: return EV_FOP_FSCTL;
  case 19:
  case 18: return EV_FOP_SECTION;
  case 6: return EV_FOP_QUERY_OPEN;
  case 37: return EV_FOP_LOCK;
  case 40:
  case 41: return EV_FOP_SECURITY;
  case 29: return EV_FOP_FLUSH;
  default: return EV_FOP_OTHER;
  }
}

/* Create parameters from the File System detail block (pml-format.md §7.2). */
static void file_create_params(const struct pml_file *f, const struct pml_event *ev, struct ev_file_op *op) {
  unsigned ptr = f->hdr.ptr_size;
  uint64_t L = 5 * (uint64_t)ptr + 0x14, path_bytes, tail;
  const uint8_t *b = ev->detail + 4;
  uint16_t info;

  if (ev->detail_size < 8 + L)
    return;
  {
    uint32_t v = fb_le32(b + (ptr == 8 ? 0x14 : 0x10));
    op->disposition = v >> 24;
    op->create_options = v & 0xFFFFFF;
    op->attributes = fb_le16(b + (ptr == 8 ? 0x1C : 0x14));
    op->share_access = fb_le16(b + (ptr == 8 ? 0x1E : 0x16));
  }
  info = fb_le16(ev->detail + 4 + L);
  path_bytes = (uint64_t)(info & 0x7FFF) * ((info & 0x8000) ? 1 : 2);
  tail = 8 + L + path_bytes;
  if (fb_span_ok(ev->detail_size, tail, 4))
    op->desired_access = fb_le32(ev->detail + tail);
  if (ev->extra != NULL && ev->extra_size >= 4)
    op->open_result = fb_le32(ev->extra);
}

static int ensure_frames(struct pml_file *f, uint32_t n) {
  struct ev_frame *p;

  if (n <= f->frames_cap)
    return 0;
  p = realloc(f->frames, (size_t)65536 * sizeof(*p)); /* the most a u16 depth can ask for */
  if (p == NULL)
    return -1;
  f->frames = p;
  f->frames_cap = 65536;
  return 0;
}

static int emit_tables(struct pml_file *f, const struct ev_sink *sink) {
  for (uint32_t i = 0; i < f->proc_count && sink->process; i++) {
    const struct pml_process *p = &f->procs[i];
    struct ev_process r;
    memset(&r, 0, sizeof(r));
    r.origin.file = f->name;
    r.origin.format = "pml";
    r.origin.index = i;
    r.origin.offset = EV_UNKNOWN_U64;
    r.pid = p->pid;
    r.parent_pid = p->parent_pid;
    r.start_time = p->start_time;
    r.end_time = p->end_time;
    r.name = p->name;
    r.image_path = p->image_path;
    r.command_line = p->command_line;
    r.user = p->user;
    r.company = p->company;
    r.is_64bit = p->is_64bit;
    if (sink->process(sink->ctx, &r))
      return FB_ESTOP;
  }
  for (uint32_t i = 0; f->system != NULL && i < f->system->module_count && sink->image; i++) {
    const struct pml_module *m = &f->system->modules[i];
    struct ev_image r;
    memset(&r, 0, sizeof(r));
    r.origin.file = f->name;
    r.origin.format = "pml";
    r.origin.index = i;
    r.origin.offset = EV_UNKNOWN_U64;
    r.pid = f->system->pid;
    r.base = m->base;
    r.size = m->size;
    r.path = m->path;
    r.name = m->name;
    r.company = m->company;
    r.version = m->version;
    r.description = m->description;
    r.kernel = 1;
    if (sink->image(sink->ctx, &r))
      return FB_ESTOP;
  }
  return FB_OK;
}

int pml_emit_evidence(struct pml_file *f, const struct ev_sink *sink, struct fb_error *err) {
  struct fb_strbuf op_name, path;
  struct pml_event ev;
  int rc = emit_tables(f, sink);

  if (rc < 0)
    return fb_error_set(err, rc, FB_OFFSET_NONE, "stopped by the evidence consumer");
  if (sink->file_op == NULL)
    return FB_OK;
  fb_strbuf_init(&op_name);
  fb_strbuf_init(&path);
  for (uint64_t i = 0; i < f->hdr.event_count; i++) {
    struct ev_file_op op;
    if ((rc = pml_event_read(f, i, &ev, err)) < 0)
      break;
    if (ev.event_class != PML_CLASS_FILE_SYSTEM)
      continue;
    ev_file_op_init(&op);
    op.origin.file = f->name;
    op.origin.format = "pml";
    op.origin.index = i;
    op.origin.offset = ev.offset;
    op.time = ev.time;
    op.status = ev.result;
    op.status_known = ev.result != 0x103;
    op.duration = op.status_known ? ev.duration : EV_UNKNOWN_U64;
    op.pid = ev.process ? ev.process->pid : EV_UNKNOWN_U32;
    op.tid = ev.tid;
    op.process_name = ev.process ? ev.process->name : NULL;
    op.kind = file_op_kind(ev.operation, ev.detail_size > 0 ? ev.detail[0] : 0);
    if ((ev.operation == 25 || ev.operation == 26) && ev.detail_size > 0)
      op.info_class = ev.detail[0];
    fb_strbuf_reset(&op_name);
    fb_strbuf_reset(&path);
    pml_render_operation(f, &ev, &op_name);
    pml_render_path(f, &ev, &path);
    op.op_name = op_name.s ? op_name.s : "";
    op.path = path.s ? path.s : "";
    if (op.kind == EV_FOP_CREATE)
      file_create_params(f, &ev, &op);
    if (ev.stack_depth > 0) {
      if (ensure_frames(f, ev.stack_depth) < 0) {
        rc = fb_error_set(err, FB_ENOMEM, ev.offset, "cannot allocate stack frames");
        break;
      }
      for (uint32_t k = 0; k < ev.stack_depth; k++)
        pml_frame_resolve(f, &ev, k, &f->frames[k]);
      op.stack.frames = f->frames;
      op.stack.count = ev.stack_depth;
    }
    if (sink->file_op(sink->ctx, &op)) {
      rc = fb_error_set(err, FB_ESTOP, ev.offset, "stopped by the evidence consumer");
      break;
    }
  }
  fb_strbuf_free(&op_name);
  fb_strbuf_free(&path);
  return rc;
}
