/* pml_render_int.h - helpers shared by the pml_render*.c files (Procmon's
 * words). Internal to parsers/pml.
 *
 * Every read of a detail block goes through struct fb_cursor or the
 * pml_get* helpers below, which return 0 past the end: a short or damaged
 * detail renders what it holds and never reads outside it. */
#ifndef FB_PML_RENDER_INT_H
#define FB_PML_RENDER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "parsers/bytes.h"
#include "parsers/pml/pml.h"
#include "parsers/pml/pml_names.h"
#include "parsers/strbuf.h"

/* A string inside a detail block (format doc 7.1): announced by a u16
 * (bit 15 = ASCII, low 15 bits = characters), characters stored later. */
/* Longest Detail Procmon writes, in UTF-16 code units. */
#define PML_DETAIL_MAX_CHARS 4095

struct pml_dstr {
  const uint8_t *p;
  uint32_t nchars;
  int ascii;
};

static inline int pml_dstr_ascii(uint16_t info) {
  return (info & 0x8000) != 0;
}
static inline uint32_t pml_dstr_count(uint16_t info) {
  return info & 0x7FFF;
}

/* Take the characters announced by info from c; a string cut by the end of
 * the block keeps the whole characters that are there. */
void pml_dstr_take(struct fb_cursor *c, uint16_t info, struct pml_dstr *s);
/* Append s as UTF-8. Returns 0 when the text it added holds no '"' (the CSV
 * writer then skips its escaping pass), 1 when it may. */
int pml_put_dstr(struct fb_strbuf *b, const struct pml_dstr *s);
/* nbytes of UTF-16LE (odd byte dropped), stopping at a NUL. */
void pml_put_utf16z(struct fb_strbuf *b, const uint8_t *p, size_t nbytes);

/* Bounded little-endian reads at an offset: 0 when out of range. */
static inline uint32_t pml_get32(const uint8_t *p, size_t size, size_t off) {
  return fb_span_ok(size, off, 4) ? fb_le32(p + off) : 0;
}
static inline uint16_t pml_get16(const uint8_t *p, size_t size, size_t off) {
  return fb_span_ok(size, off, 2) ? fb_le16(p + off) : 0;
}
static inline uint64_t pml_get64(const uint8_t *p, size_t size, size_t off) {
  return fb_span_ok(size, off, 8) ? fb_le64(p + off) : 0;
}
static inline uint8_t pml_get8(const uint8_t *p, size_t size, size_t off) {
  return off < size ? p[off] : 0;
}

/* Detail writer: "Name: value" pairs joined by ", ", in the locale and
 * for the Procmon version of o. */
struct pml_dw {
  struct fb_strbuf *b;
  int fields;
  const struct pml_render_opts *o;
};
/* Starts a field: ", " unless it is the first, then "Name: " (n bytes of
 * name). pml_field: a literal name's length is folded at compile time, and
 * inline it is copied by a few moves instead of a call. */
static inline __attribute__((always_inline)) void pml_field_n(struct pml_dw *w, const char *name, size_t n) {
  char *p = fb_strbuf_room(w->b, n + 4);

  if (p == NULL)
    return;
  if (w->fields++ > 0) { /* ", Name: " */
    memcpy(p, ", ", 2);
    p += 2;
  }
  memcpy(p, name, n);
  memcpy(p + n, ": ", 2);
  fb_strbuf_commit(w->b, p + n + 2);
}
#define pml_field(w, name) pml_field_n((w), (name), strlen(name))
/* Numbers with the locale's digit grouping: "16,384" (en-US), "16.384" (es-ES). */
void pml_put_num(struct pml_dw *w, uint64_t v);
void pml_put_snum(struct pml_dw *w, int64_t v);
/* A FILETIME inside a Detail, as Procmon prints it: local time by the
 * export-time offset, "7/12/2020 1:17:45 AM" (en-US), "12/07/2020 1:17:45"
 * (es-ES). Signed: -1 is the last tick of 1600. */
void pml_put_date(struct pml_dw *w, uint64_t ft);
/* 100-ns duration as seconds with 7 decimals: "0.0468750". */
void pml_put_seconds(struct fb_strbuf *b, uint64_t ticks);

struct pml_flag {
  uint32_t mask;
  const char *name;
};
/* Names of the flags in table order, each consuming its bits; returns the
 * bits left unnamed. Writes nothing when none matched. */
uint32_t pml_put_flags(struct fb_strbuf *b, uint32_t v, const struct pml_flag *t, size_t n, const char *sep);
/* An access mask as Procmon names it: GENERIC_READ/WRITE/EXECUTE/ALL first
 * become the object's own rights (generic[0..3]), then the table names the
 * bits; nothing named prints "None 0x...". */
void pml_put_access(struct fb_strbuf *b, uint32_t mask, const uint32_t generic[4], const struct pml_flag *t,
                    size_t n);

/* File System events: the common front of the detail block (format doc 7.2). */
struct pml_fs {
  uint8_t subop;
  const uint8_t *pb; /* parameter block B */
  size_t pb_len;     /* may be short in a damaged block */
  struct pml_dstr path;
  struct fb_cursor tail; /* what follows the path */
  unsigned ptr;
};
void pml_fs_parse(const struct pml_file *f, const struct pml_event *ev, struct pml_fs *fs);
/* u32 / u64 at x86 offset a or x64 offset b within B. */
uint32_t pml_fs_b32(const struct pml_fs *fs, size_t x86, size_t x64);
uint64_t pml_fs_b64(const struct pml_fs *fs, size_t x86, size_t x64);

unsigned pml_ptr_size(const struct pml_file *f);
/* pml_class_name with its length, for the CSV writer. */
const char *pml_class_name_n(uint32_t event_class, size_t *n);

/* Per class renderers (pml_render_fs.c, pml_render_reg.c, pml_render_proc.c). */
void pml_fs_operation(const struct pml_event *ev, const struct pml_fs *fs, int modern, struct fb_strbuf *out);
int pml_fs_path(const struct pml_event *ev, const struct pml_fs *fs, struct fb_strbuf *out);
void pml_fs_detail(const struct pml_file *f, const struct pml_event *ev, const struct pml_fs *fs,
                   struct pml_dw *w);
void pml_fs_category(const struct pml_event *ev, const struct pml_fs *fs, struct fb_strbuf *out);

/* Registry events: the fixed fields of the detail block, then the path(s). */
struct pml_reg {
  struct pml_dstr path, path2; /* path2: RegLoadKey hive / RegRenameKey new name */
  uint32_t access;             /* Open/Create */
  uint32_t length, index, info_class;
  uint32_t type, data_length; /* SetValue */
  struct fb_cursor rest;      /* after the path(s): SetValue / SetInfoKey data */
};
void pml_reg_parse(const struct pml_event *ev, struct pml_reg *v);
int pml_reg_path(const struct pml_reg *v, struct fb_strbuf *out);
void pml_reg_detail(const struct pml_event *ev, const struct pml_reg *v, struct pml_dw *w);
void pml_reg_category(const struct pml_event *ev, struct fb_strbuf *out);

void pml_proc_path(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out);
/* Impersonating: the account of a SID (pml_render_sid.c). */
void pml_put_account(const struct pml_file *f, struct fb_strbuf *b, const uint8_t *sid, size_t len);
void pml_proc_detail(const struct pml_file *f, const struct pml_event *ev, struct pml_dw *w);
void pml_net_path(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out);
void pml_net_detail(const struct pml_file *f, const struct pml_event *ev, struct pml_dw *w);
int pml_net_is_tcp(const struct pml_event *ev);

/* The front of an event's detail block, parsed once by a writer that
 * renders several columns of one event (the CSV row). The pml_render_*
 * functions of pml.h parse it for each call. */
struct pml_front {
  union { /* by the event's class: File System or Registry; unused for others */
    struct pml_fs fs;
    struct pml_reg reg;
  } u;
};
void pml_front_parse(const struct pml_file *f, const struct pml_event *ev, struct pml_front *fr);
void pml_front_operation(const struct pml_event *ev, const struct pml_front *fr,
                         const struct pml_render_opts *o, struct fb_strbuf *out);
/* What the Operation text depends on besides the options: two events with
 * the same key get the same text, so a writer may reuse it. The class, the
 * operation, and File System's sub-operation or Network's protocol. */
static inline uint64_t pml_front_operation_key(const struct pml_event *ev, const struct pml_front *fr) {
  uint64_t extra = ev->event_class == PML_CLASS_FILE_SYSTEM ? fr->u.fs.subop
                   : ev->event_class == PML_CLASS_NETWORK   ? (uint64_t)pml_net_is_tcp(ev)
                                                            : 0;
  return (uint64_t)ev->event_class << 32 | (uint64_t)ev->operation << 16 | extra;
}
/* The Path column; returns as pml_put_dstr does (0: no '"' added). */
int pml_front_path(const struct pml_file *f, const struct pml_event *ev, const struct pml_front *fr,
                   struct fb_strbuf *out);
void pml_front_detail(const struct pml_file *f, const struct pml_event *ev, const struct pml_front *fr,
                      const struct pml_render_opts *o, struct fb_strbuf *out);
void pml_front_category(const struct pml_event *ev, const struct pml_front *fr, struct fb_strbuf *out);

#endif
