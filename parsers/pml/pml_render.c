/* pml_render.c - Procmon's words for an event: class, operation, path,
 * result, detail and category, as Procmon's "Save as CSV" prints them
 * (en-US). The per-class layouts live in pml_render_fs.c, pml_render_reg.c
 * and pml_render_proc.c; docs/pml-render.md says what was verified how. */
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "parsers/pml/pml_render_int.h"

/* ---- helpers shared by the pml_render*.c files ---- */

unsigned pml_ptr_size(const struct pml_file *f) {
  const struct pml_header *h = f ? pml_header(f) : NULL;
  return h && h->ptr_size == 4 ? 4 : 8;
}

void pml_dstr_take(struct fb_cursor *c, uint16_t info, struct pml_dstr *s) {
  size_t unit = pml_dstr_ascii(info) ? 1 : 2;
  size_t n = pml_dstr_count(info);
  size_t left = fb_cursor_left(c);

  if (n * unit > left)
    n = left / unit;
  s->ascii = unit == 1;
  s->nchars = (uint32_t)n;
  s->p = n ? fb_cursor_take(c, n * unit) : NULL;
  if (!s->p)
    s->nchars = 0;
  /* a cut string leaves the cursor at the end: nothing after it is trusted */
  if (pml_dstr_count(info) != n)
    c->bad = 1;
}

/* Copy the leading run of bytes below 0x80 of p[0..n) to d, which has room
 * for n + 16 bytes; return its length, and set *quote when it holds a '"'.
 * Paths are most of a CSV row's text: 16 bytes a step where SSE2 is there
 * (every x86-64), 8 otherwise. */
static inline __attribute__((always_inline)) size_t copy_ascii(char *d, const uint8_t *p, size_t n,
                                                               int *quote) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i q = _mm_set1_epi8('"');
  unsigned quotes = 0;

  for (; i + 16 <= n; i += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    unsigned hi = (unsigned)_mm_movemask_epi8(x), qm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, q));
    _mm_storeu_si128((__m128i *)(void *)(d + i), x);
    if (hi) {
      unsigned k = (unsigned)__builtin_ctz(hi);
      *quote |= (quotes | (qm & ((1u << k) - 1))) != 0;
      return i + k;
    }
    quotes |= qm;
  }
  if (i < n && n >= 16) { /* the last 16 bytes, overlapping the ones done */
    unsigned done = (unsigned)(16 - (n - i));
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + n - 16));
    unsigned hi = (unsigned)_mm_movemask_epi8(x) >> done;
    unsigned qm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, q)) >> done;
    _mm_storeu_si128((__m128i *)(void *)(d + n - 16), x); /* done bytes get themselves again */
    if (hi) {
      unsigned k = (unsigned)__builtin_ctz(hi);
      *quote |= (quotes | (qm & ((1u << k) - 1))) != 0;
      return i + k;
    }
    *quote |= (quotes | qm) != 0;
    return n;
  }
  *quote |= quotes != 0;
#endif
  for (uint64_t x, z; i + 8 <= n; i += 8) {
    memcpy(&x, p + i, 8);
    if (x & 0x8080808080808080ULL)
      break;
    memcpy(d + i, &x, 8);
    z = x ^ 0x2222222222222222ULL; /* a '"' byte becomes zero */
    *quote |= ((z - 0x0101010101010101ULL) & ~z & 0x8080808080808080ULL) != 0;
  }
  for (; i < n && p[i] < 0x80; i++) {
    d[i] = (char)p[i];
    *quote |= p[i] == '"';
  }
  return i;
}

int pml_put_dstr(struct fb_strbuf *b, const struct pml_dstr *s) {
  const uint8_t *p = s->p;
  size_t n = s->nchars, i = 0, o = 0;
  int quote = 0;
  char *d;

  if (!p || !n)
    return 0;
  if (!s->ascii) {
    fb_strbuf_utf16(b, p, n);
    return 1; /* not looked at */
  }
  if ((d = fb_strbuf_room(b, 2 * n + 16)) == NULL) /* Latin-1 takes two bytes at most */
    return 0;
  while (i < n) {
    size_t k = copy_ascii(d + o, p + i, n - i, &quote); /* o <= 2i keeps it in the room */
    i += k;
    o += k;
    if (i < n) { /* Latin-1 to UTF-8 */
      d[o++] = (char)(0xC0 | (p[i] >> 6));
      d[o++] = (char)(0x80 | (p[i] & 0x3F));
      i++;
    }
  }
  fb_strbuf_commit(b, d + o);
  return quote;
}

void pml_put_utf16z(struct fb_strbuf *b, const uint8_t *p, size_t nbytes) {
  size_t n = 0;

  if (!p)
    return;
  while (2 * n + 2 <= nbytes && fb_le16(p + 2 * n) != 0)
    n++;
  fb_strbuf_utf16(b, p, n);
}

static int is_es(const struct pml_dw *w) {
  return w->o && w->o->locale == PML_RENDER_ES_ES;
}

void pml_put_num(struct pml_dw *w, uint64_t v) {
  fb_strbuf_grouped(w->b, v, is_es(w) ? '.' : ',');
}

void pml_put_snum(struct pml_dw *w, int64_t v) {
  if (v < 0) {
    fb_strbuf_putc(w->b, '-');
    pml_put_num(w, (uint64_t)0 - (uint64_t)v);
  } else {
    pml_put_num(w, (uint64_t)v);
  }
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_2digits(struct fb_strbuf *b, unsigned v) {
  char two[2] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10)};
  if (v >= 100)
    fb_strbuf_u64(b, v);
  else
    fb_strbuf_add(b, two, 2);
}

/* "%lld" of a year, which may be negative for absurd FILETIMEs. */
static void put_year(struct fb_strbuf *b, int64_t y) {
  if (y < 0) {
    fb_strbuf_putc(b, '-');
    fb_strbuf_u64(b, (uint64_t)(-(y + 1)) + 1);
  } else {
    fb_strbuf_u64(b, (uint64_t)y);
  }
}

void pml_put_date(struct pml_dw *w, uint64_t ft) {
  /* FILETIME epoch 1601-01-01 is 134774 days before 1970-01-01; the value
   * is signed for Procmon (SetBasicInformation's -1 "do not change") */
  int64_t ticks = (int64_t)ft, secs, days, sod;
  int64_t y;
  unsigned m, d, h;

  secs = ticks >= 0 ? ticks / 10000000 : -((-(ticks + 1)) / 10000000) - 1;
  secs += w->o ? w->o->utc_offset : 0;
  days = secs >= 0 ? secs / 86400 : -((-(secs + 1)) / 86400) - 1;
  sod = secs - days * 86400;
  h = (unsigned)(sod / 3600);
  civil_from_days(days - 134774, &y, &m, &d);
  if (is_es(w)) { /* dd/mm/yyyy H:mm:ss */
    put_2digits(w->b, d);
    fb_strbuf_putc(w->b, '/');
    put_2digits(w->b, m);
    fb_strbuf_putc(w->b, '/');
    put_year(w->b, y);
    fb_strbuf_putc(w->b, ' ');
    fb_strbuf_u64(w->b, h);
  } else { /* m/d/yyyy h:mm:ss AM */
    fb_strbuf_u64(w->b, m);
    fb_strbuf_putc(w->b, '/');
    fb_strbuf_u64(w->b, d);
    fb_strbuf_putc(w->b, '/');
    put_year(w->b, y);
    fb_strbuf_putc(w->b, ' ');
    fb_strbuf_u64(w->b, h % 12 ? h % 12 : 12);
  }
  fb_strbuf_putc(w->b, ':');
  put_2digits(w->b, (unsigned)(sod / 60 % 60));
  fb_strbuf_putc(w->b, ':');
  put_2digits(w->b, (unsigned)(sod % 60));
  if (!is_es(w))
    fb_strbuf_add(w->b, h < 12 ? " AM" : " PM", 3);
}

void pml_put_seconds(struct fb_strbuf *b, uint64_t ticks) {
  char frac[8];
  uint64_t f = ticks % 10000000u;

  fb_strbuf_u64(b, ticks / 10000000u);
  frac[0] = '.';
  for (int i = 7; i >= 1; i--, f /= 10)
    frac[i] = (char)('0' + f % 10);
  fb_strbuf_add(b, frac, 8);
}

void pml_put_access(struct fb_strbuf *b, uint32_t mask, const uint32_t generic[4], const struct pml_flag *t,
                    size_t n) {
  size_t start = b->len;

  for (int i = 0; i < 4; i++)
    if (mask & (0x80000000u >> i))
      mask |= generic[i];
  pml_put_flags(b, mask, t, n, ", ");
  if (b->len == start)
    fb_strbuf_printf(b, "None 0x%x", mask);
}

uint32_t pml_put_flags(struct fb_strbuf *b, uint32_t v, const struct pml_flag *t, size_t n, const char *sep) {
  int any = 0;

  for (size_t i = 0; i < n && v != 0; i++) { /* once every bit is named, none can match */
    if (t[i].mask && (v & t[i].mask) == t[i].mask) {
      if (any++)
        fb_strbuf_puts(b, sep);
      fb_strbuf_puts(b, t[i].name);
      v &= ~t[i].mask;
    }
  }
  return v;
}

/* ---- the public API (pml.h) ---- */

const char *pml_class_name_n(uint32_t event_class, size_t *n) {
  static const struct {
    const char *s;
    size_t n;
  } names[] = {{"Unknown", 7},      {"Process", 7},   {"Registry", 8},
               {"File System", 11}, {"Profiling", 9}, {"Network", 7}};
  uint32_t i = event_class < 6 ? event_class : 0;

  *n = names[i].n;
  return names[i].s;
}

const char *pml_class_name(uint32_t event_class) {
  size_t n;
  return pml_class_name_n(event_class, &n);
}

static const char *const process_ops[] = {
    "Process Defined", "Process Create", "Process Exit",  "Thread Create",      "Thread Exit",
    "Load Image",      "Thread Profile", "Process Start", "Process Statistics", "System Statistics",
};
static const char *const registry_ops[] = {
    "RegOpenKey",        "RegCreateKey",        "RegCloseKey",    "RegQueryKey",
    "RegSetValue",       "RegQueryValue",       "RegEnumValue",   "RegEnumKey",
    "RegSetInfoKey",     "RegDeleteKey",        "RegDeleteValue", "RegFlushKey",
    "RegLoadKey",        "RegUnloadKey",        "RegRenameKey",   "RegQueryMultipleValueKey",
    "RegSetKeySecurity", "RegQueryKeySecurity", "RegSaveKey",     "RegLoadKey",
    "RegRestoreKey",
};
static const char *const network_ops[] = {
    "Unknown", "Other",      "Send",      "Receive",    "Accept",
    "Connect", "Disconnect", "Reconnect", "Retransmit", "TCPCopy",
};
static const char *const profiling_ops[] = {"Thread Profiling", "Process Profiling",
                                            "Debug Output Profiling"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void pml_front_parse(const struct pml_file *f, const struct pml_event *ev, struct pml_front *fr) {
  if (ev->event_class == PML_CLASS_FILE_SYSTEM)
    pml_fs_parse(f, ev, &fr->u.fs);
  else if (ev->event_class == PML_CLASS_REGISTRY)
    pml_reg_parse(ev, &fr->u.reg);
}

void pml_front_operation(const struct pml_event *ev, const struct pml_front *fr,
                         const struct pml_render_opts *o, struct fb_strbuf *out) {
  const char *name = NULL;

  switch (ev->event_class) {
  case PML_CLASS_PROCESS:
    name = ev->operation < COUNT(process_ops) ? process_ops[ev->operation] : NULL;
    break;
  case PML_CLASS_REGISTRY:
    name = ev->operation < COUNT(registry_ops) ? registry_ops[ev->operation] : NULL;
    break;
  case PML_CLASS_PROFILING:
    name = ev->operation < COUNT(profiling_ops) ? profiling_ops[ev->operation] : NULL;
    break;
  case PML_CLASS_NETWORK:
    if (ev->operation < COUNT(network_ops)) {
      fb_strbuf_puts(out, pml_net_is_tcp(ev) ? "TCP " : "UDP ");
      name = network_ops[ev->operation];
    }
    break;
  case PML_CLASS_FILE_SYSTEM: pml_fs_operation(ev, &fr->u.fs, o && o->procmon >= 360, out); return;
  default: break;
  }
  fb_strbuf_puts(out, name ? name : "<Unknown>");
}

int pml_front_path(const struct pml_file *f, const struct pml_event *ev, const struct pml_front *fr,
                   struct fb_strbuf *out) {
  switch (ev->event_class) {
  case PML_CLASS_FILE_SYSTEM: return pml_fs_path(ev, &fr->u.fs, out);
  case PML_CLASS_REGISTRY: return pml_reg_path(&fr->u.reg, out);
  case PML_CLASS_PROCESS: pml_proc_path(f, ev, out); return 1;
  case PML_CLASS_NETWORK: pml_net_path(f, ev, out); return 1;
  default: return 0;
  }
}

void pml_render_operation(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  pml_render_operation_opts(f, ev, NULL, out);
}

void pml_render_operation_opts(const struct pml_file *f, const struct pml_event *ev,
                               const struct pml_render_opts *o, struct fb_strbuf *out) {
  struct pml_front fr;

  pml_front_parse(f, ev, &fr);
  pml_front_operation(ev, &fr, o, out);
}

void pml_render_path(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  struct pml_front fr;

  pml_front_parse(f, ev, &fr);
  pml_front_path(f, ev, &fr, out);
}

void pml_render_result(uint32_t status, struct fb_strbuf *out) {
  const char *name;

  if (status == 0x103) /* STATUS_PENDING: the operation had not completed */
    return;
  if (status == 0) { /* most events */
    fb_strbuf_add(out, "SUCCESS", 7);
    return;
  }
  name = pml_name_find(pml_status_names, pml_status_names_count, status);
  if (name)
    fb_strbuf_puts(out, name);
  else
    fb_strbuf_printf(out, "0x%X", status);
}

/* Procmon keeps at most 4095 UTF-16 characters of a Detail (the rest of a
 * long directory listing or environment is dropped): cut the UTF-8 text
 * appended since start at the same place. */
static void cut_detail(struct fb_strbuf *out, size_t start) {
  size_t units = 0, i = start;

  while (i < out->len) {
    unsigned char c = (unsigned char)out->s[i];
    size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    size_t u = len == 4 ? 2 : 1;
    if (units + u > PML_DETAIL_MAX_CHARS) {
      out->len = i;
      out->s[i] = '\0';
      return;
    }
    units += u;
    i += len;
  }
}

void pml_front_detail(const struct pml_file *f, const struct pml_event *ev, const struct pml_front *fr,
                      const struct pml_render_opts *o, struct fb_strbuf *out) {
  struct pml_dw w = {out, 0, o};
  size_t start = out->len;

  switch (ev->event_class) {
  case PML_CLASS_FILE_SYSTEM: pml_fs_detail(f, ev, &fr->u.fs, &w); break;
  case PML_CLASS_REGISTRY: pml_reg_detail(ev, &fr->u.reg, &w); break;
  case PML_CLASS_PROCESS: pml_proc_detail(f, ev, &w); break;
  case PML_CLASS_NETWORK: pml_net_detail(f, ev, &w); break;
  default: break;
  }
  if (!out->oom && out->len - start > PML_DETAIL_MAX_CHARS)
    cut_detail(out, start);
}

void pml_front_category(const struct pml_event *ev, const struct pml_front *fr, struct fb_strbuf *out) {
  switch (ev->event_class) {
  case PML_CLASS_FILE_SYSTEM: pml_fs_category(ev, &fr->u.fs, out); break;
  case PML_CLASS_REGISTRY: pml_reg_category(ev, out); break;
  default: break;
  }
}

void pml_render_detail(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  pml_render_detail_opts(f, ev, NULL, out);
}

void pml_render_detail_opts(const struct pml_file *f, const struct pml_event *ev,
                            const struct pml_render_opts *o, struct fb_strbuf *out) {
  struct pml_front fr;

  pml_front_parse(f, ev, &fr);
  pml_front_detail(f, ev, &fr, o, out);
}

void pml_render_category(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  struct pml_front fr;

  pml_front_parse(f, ev, &fr);
  pml_front_category(ev, &fr, out);
}
