/* pml_writer.c - synthetic PML captures (see pml_writer.h). */
#include "tests/pml/pml_writer.h"

#include "parsers/pml/pml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { HEADER_SIZE = 0x3A8, EVENT_HEADER = 0x34, OUT_BUF = 1 << 20 };

/* ---- output: memory, or a file written in 1 MB blocks ---- */

struct out {
  int fd; /* -1 for memory */
  uint8_t *buf;
  size_t len, cap;
  uint64_t pos; /* bytes written so far (file offset of the next byte) */
  int err;
};

static void out_flush(struct out *o) {
  size_t done = 0;

  if (o->fd < 0)
    return;
  while (done < o->len && !o->err) {
    ssize_t n = write(o->fd, o->buf + done, o->len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      o->err = 1;
    else
      done += (size_t)n;
  }
  o->len = 0;
}

static void out_put(struct out *o, const void *p, size_t n) {
  if (o->err)
    return;
  if (o->fd >= 0 && o->len + n > o->cap)
    out_flush(o);
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap : 4096;
    uint8_t *b;
    while (cap < o->len + n)
      cap *= 2;
    b = realloc(o->buf, cap);
    if (b == NULL) {
      o->err = 1;
      return;
    }
    o->buf = b;
    o->cap = cap;
  }
  memcpy(o->buf + o->len, p, n);
  o->len += n;
  o->pos += n;
}

static void out_u8(struct out *o, uint8_t v) {
  out_put(o, &v, 1);
}
static void out_u16(struct out *o, uint16_t v) {
  uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  out_put(o, b, 2);
}
static void out_u32(struct out *o, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  out_put(o, b, 4);
}
static void out_u64(struct out *o, uint64_t v) {
  out_u32(o, (uint32_t)v);
  out_u32(o, (uint32_t)(v >> 32));
}
static void out_ptr(struct out *o, uint64_t v, int is64) {
  if (is64)
    out_u64(o, v);
  else
    out_u32(o, (uint32_t)v);
}
static void out_zero(struct out *o, size_t n) {
  static const uint8_t z[64];
  while (n > 0) {
    size_t k = n < sizeof(z) ? n : sizeof(z);
    out_put(o, z, k);
    n -= k;
  }
}

/* ---- UTF-8 -> UTF-16LE ---- */

/* Writes at most max units into dst (if not NULL); returns units needed. */
static size_t utf8_to_utf16(const char *s, uint8_t *dst, size_t max) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = 0;

  while (*p) {
    uint32_t cp;
    int extra;
    if (*p < 0x80) {
      cp = *p++;
      extra = 0;
    } else if ((*p & 0xE0) == 0xC0) {
      cp = *p++ & 0x1F;
      extra = 1;
    } else if ((*p & 0xF0) == 0xE0) {
      cp = *p++ & 0x0F;
      extra = 2;
    } else {
      cp = *p++ & 0x07;
      extra = 3;
    }
    while (extra-- > 0 && (*p & 0xC0) == 0x80)
      cp = (cp << 6) | (*p++ & 0x3F);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      if (dst && n + 2 <= max) {
        uint16_t hi = (uint16_t)(0xD800 + (cp >> 10)), lo = (uint16_t)(0xDC00 + (cp & 0x3FF));
        dst[2 * n] = (uint8_t)hi;
        dst[2 * n + 1] = (uint8_t)(hi >> 8);
        dst[2 * n + 2] = (uint8_t)lo;
        dst[2 * n + 3] = (uint8_t)(lo >> 8);
      }
      n += 2;
    } else {
      if (dst && n + 1 <= max) {
        dst[2 * n] = (uint8_t)cp;
        dst[2 * n + 1] = (uint8_t)(cp >> 8);
      }
      n += 1;
    }
  }
  return n;
}

static void out_utf16(struct out *o, const char *s, int nul) {
  size_t n = utf8_to_utf16(s, NULL, 0);
  uint8_t *b = malloc(2 * n + 2);

  if (b == NULL) {
    o->err = 1;
    return;
  }
  utf8_to_utf16(s, b, n);
  b[2 * n] = b[2 * n + 1] = 0;
  out_put(o, b, 2 * n + (nul ? 2 : 0));
  free(b);
}

/* ---- the capture ---- */

struct wmodule {
  uint64_t base;
  uint32_t size, path, version, company, description;
};

struct wprocess {
  struct pmlw_process p;
  uint32_t s[8];
  struct wmodule *modules;
  uint32_t nmodules;
};

struct wname {
  uint8_t addr[16];
  uint16_t port, tcp;
  char *name;
};

struct pmlw {
  struct pmlw_system sys;
  char computer[64], root[260], sp[128];
  struct out out;
  char **strings;
  uint32_t nstrings, capstrings;
  struct wprocess *procs;
  uint32_t nprocs;
  uint8_t *offsets; /* 5 bytes per event */
  uint64_t nevents, capevents;
  struct wname *hosts, *ports;
  uint32_t nhosts, nports;
  int err;
};

struct pmlw *pmlw_new(const char *path, const struct pmlw_system *sys) {
  struct pmlw *w = calloc(1, sizeof(*w));

  if (w == NULL)
    return NULL;
  w->sys = *sys;
  snprintf(w->computer, sizeof(w->computer), "%s", sys->computer ? sys->computer : "");
  snprintf(w->root, sizeof(w->root), "%s", sys->system_root ? sys->system_root : "C:\\Windows");
  snprintf(w->sp, sizeof(w->sp), "%s", sys->service_pack ? sys->service_pack : "");
  w->out.fd = -1;
  if (path != NULL) {
    w->out.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    w->out.buf = malloc(OUT_BUF);
    w->out.cap = OUT_BUF;
    if (w->out.fd < 0 || w->out.buf == NULL) {
      if (w->out.fd >= 0)
        close(w->out.fd);
      free(w->out.buf);
      free(w);
      return NULL;
    }
  }
  out_zero(&w->out, HEADER_SIZE); /* patched by pmlw_finish */
  pmlw_string(w, "");
  return w;
}

uint32_t pmlw_string(struct pmlw *w, const char *utf8) {
  if (utf8 == NULL)
    utf8 = "";
  for (uint32_t i = 0; i < w->nstrings; i++)
    if (strcmp(w->strings[i], utf8) == 0)
      return i;
  if (w->nstrings == w->capstrings) {
    uint32_t cap = w->capstrings ? w->capstrings * 2 : 64;
    char **s = realloc(w->strings, cap * sizeof(*s));
    if (s == NULL) {
      w->err = 1;
      return 0;
    }
    w->strings = s;
    w->capstrings = cap;
  }
  w->strings[w->nstrings] = strdup(utf8);
  if (w->strings[w->nstrings] == NULL) {
    w->err = 1;
    return 0;
  }
  return w->nstrings++;
}

uint32_t pmlw_add_process(struct pmlw *w, const struct pmlw_process *p) {
  struct wprocess *v = realloc(w->procs, (w->nprocs + 1) * sizeof(*v));
  struct wprocess *n;
  const char *s[8] = {p->integrity,    p->user,    p->name,    p->image_path,
                      p->command_line, p->company, p->version, p->description};

  if (v == NULL) {
    w->err = 1;
    return 0;
  }
  w->procs = v;
  n = &w->procs[w->nprocs];
  memset(n, 0, sizeof(*n));
  n->p = *p;
  for (int i = 0; i < 8; i++)
    n->s[i] = pmlw_string(w, s[i]);
  return w->nprocs++;
}

void pmlw_add_module(struct pmlw *w, uint32_t process, uint64_t base, uint32_t size, const char *path,
                     const char *version, const char *company, const char *description) {
  struct wprocess *p;
  struct wmodule *m;

  if (process >= w->nprocs) {
    w->err = 1;
    return;
  }
  p = &w->procs[process];
  m = realloc(p->modules, (p->nmodules + 1) * sizeof(*m));
  if (m == NULL) {
    w->err = 1;
    return;
  }
  p->modules = m;
  m[p->nmodules].base = base;
  m[p->nmodules].size = size;
  m[p->nmodules].path = pmlw_string(w, path);
  m[p->nmodules].version = pmlw_string(w, version);
  m[p->nmodules].company = pmlw_string(w, company);
  m[p->nmodules].description = pmlw_string(w, description);
  p->nmodules++;
}

static void add_name(struct pmlw *w, struct wname **v, uint32_t *n, const struct wname *x) {
  struct wname *nv = realloc(*v, (*n + 1) * sizeof(**v));
  if (nv == NULL) {
    w->err = 1;
    return;
  }
  *v = nv;
  nv[*n] = *x;
  nv[*n].name = strdup(x->name);
  (*n)++;
}

void pmlw_add_host(struct pmlw *w, const uint8_t addr[16], const char *name) {
  struct wname x;
  memset(&x, 0, sizeof(x));
  memcpy(x.addr, addr, 16);
  x.name = (char *)name;
  add_name(w, &w->hosts, &w->nhosts, &x);
}

void pmlw_add_port(struct pmlw *w, uint16_t port, int is_tcp, const char *name) {
  struct wname x;
  memset(&x, 0, sizeof(x));
  x.port = port;
  x.tcp = is_tcp ? 1 : 0;
  x.name = (char *)name;
  add_name(w, &w->ports, &w->nports, &x);
}

static uint32_t process_index(const struct pmlw *w, uint32_t position) {
  return w->procs[position].p.set_index ? w->procs[position].p.index : position;
}

int pmlw_add_event(struct pmlw *w, const struct pmlw_event *e) {
  int is64 = w->sys.is_64bit;
  uint64_t at = w->out.pos;
  uint32_t extra_off = 0;

  if (at > UINT32_MAX) /* event offsets are u32 */
    return -1;
  if (w->nevents == w->capevents) {
    uint64_t cap = w->capevents ? w->capevents * 2 : 1024;
    uint8_t *o = realloc(w->offsets, cap * 5);
    if (o == NULL)
      return -1;
    w->offsets = o;
    w->capevents = cap;
  }
  memcpy(w->offsets + w->nevents * 5,
         (uint8_t[5]){(uint8_t)at, (uint8_t)(at >> 8), (uint8_t)(at >> 16), (uint8_t)(at >> 24), 0}, 5);
  w->nevents++;
  if (e->extra != NULL)
    extra_off = EVENT_HEADER + (uint32_t)e->stack_depth * (is64 ? 8 : 4) + e->detail_size;
  out_u32(&w->out, e->process < w->nprocs ? process_index(w, e->process) : e->process);
  out_u32(&w->out, e->tid);
  out_u32(&w->out, e->event_class);
  out_u16(&w->out, e->operation);
  out_zero(&w->out, 6);
  out_u64(&w->out, e->duration);
  out_u64(&w->out, e->time);
  out_u32(&w->out, e->result);
  out_u16(&w->out, e->stack_depth);
  out_u16(&w->out, 0);
  out_u32(&w->out, e->detail_size);
  out_u32(&w->out, extra_off);
  for (uint16_t i = 0; i < e->stack_depth; i++)
    out_ptr(&w->out, e->stack[i], is64);
  if (e->detail_size)
    out_put(&w->out, e->detail, e->detail_size);
  if (e->extra != NULL) {
    out_u16(&w->out, e->extra_size);
    out_put(&w->out, e->extra, e->extra_size);
  }
  if (e->spare_byte)
    out_u8(&w->out, 0);
  return w->out.err ? -1 : 0;
}

static void write_processes(struct pmlw *w) {
  int is64 = w->sys.is_64bit;
  unsigned ptr = is64 ? 8 : 4;
  uint64_t rel = 4 + 8 * (uint64_t)w->nprocs;

  out_u32(&w->out, w->nprocs);
  for (uint32_t i = 0; i < w->nprocs; i++)
    out_u32(&w->out, process_index(w, i));
  for (uint32_t i = 0; i < w->nprocs; i++) {
    out_u32(&w->out, (uint32_t)rel);
    rel += 0x60 + ptr + 4 + (uint64_t)w->procs[i].nmodules * (is64 ? 64 : 56);
  }
  for (uint32_t i = 0; i < w->nprocs; i++) {
    const struct wprocess *p = &w->procs[i];
    uint32_t parent = UINT32_MAX;
    for (uint32_t k = 0; k < w->nprocs; k++)
      if (w->procs[k].p.pid == p->p.parent_pid)
        parent = process_index(w, k);
    out_u32(&w->out, process_index(w, i));
    out_u32(&w->out, p->p.pid);
    out_u32(&w->out, p->p.parent_pid);
    out_u32(&w->out, parent);
    out_u64(&w->out, p->p.auth_id);
    out_u32(&w->out, p->p.session);
    out_u32(&w->out, 0);
    out_u64(&w->out, p->p.start_time);
    out_u64(&w->out, p->p.end_time);
    out_u32(&w->out, p->p.virtualized ? 1 : 0);
    out_u32(&w->out, p->p.is_64bit ? 1 : 0);
    for (int k = 0; k < 8; k++)
      out_u32(&w->out, p->s[k]);
    out_u32(&w->out, 0); /* icons */
    out_u32(&w->out, 0);
    out_ptr(&w->out, 0, is64);
    out_u32(&w->out, p->nmodules);
    for (uint32_t k = 0; k < p->nmodules; k++) {
      const struct wmodule *m = &p->modules[k];
      out_ptr(&w->out, 0, is64);
      out_ptr(&w->out, m->base, is64);
      out_u32(&w->out, m->size);
      out_u32(&w->out, m->path);
      out_u32(&w->out, m->version);
      out_u32(&w->out, m->company);
      out_u32(&w->out, m->description);
      out_u32(&w->out, 0x5F000000); /* link time stamp */
      out_zero(&w->out, 24);
    }
  }
}

static void write_strings(struct pmlw *w) {
  uint64_t rel = 4 + 4 * (uint64_t)w->nstrings;

  out_u32(&w->out, w->nstrings);
  for (uint32_t i = 0; i < w->nstrings; i++) {
    size_t n = utf8_to_utf16(w->strings[i], NULL, 0);
    out_u32(&w->out, (uint32_t)rel);
    rel += 4 + (n || i ? 2 * n + 2 : 0);
  }
  for (uint32_t i = 0; i < w->nstrings; i++) {
    size_t n = utf8_to_utf16(w->strings[i], NULL, 0);
    if (i == 0 && n == 0) {
      out_u32(&w->out, 0); /* string 0: empty, no terminator */
      continue;
    }
    out_u32(&w->out, (uint32_t)(2 * n + 2));
    out_utf16(&w->out, w->strings[i], 1);
  }
}

static void write_hosts_ports(struct pmlw *w) {
  out_u32(&w->out, w->nhosts);
  for (uint32_t i = 0; i < w->nhosts; i++) {
    out_put(&w->out, w->hosts[i].addr, 16);
    out_u32(&w->out, (uint32_t)(2 * utf8_to_utf16(w->hosts[i].name, NULL, 0) + 2));
    out_utf16(&w->out, w->hosts[i].name, 1);
  }
  out_u32(&w->out, w->nports);
  for (uint32_t i = 0; i < w->nports; i++) {
    out_u16(&w->out, w->ports[i].port);
    out_u16(&w->out, w->ports[i].tcp);
    out_u32(&w->out, (uint32_t)(2 * utf8_to_utf16(w->ports[i].name, NULL, 0) + 2));
    out_utf16(&w->out, w->ports[i].name, 1);
  }
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)v);
  put16(p + 2, (uint16_t)(v >> 16));
}
static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

static void header_utf16(uint8_t *p, const char *s, size_t max_units) {
  size_t n = utf8_to_utf16(s, NULL, 0);
  if (n >= max_units)
    n = max_units - 1;
  utf8_to_utf16(s, p, n);
}

static void build_header(struct pmlw *w, uint8_t *h, uint64_t offsets, uint64_t procs, uint64_t strings,
                         uint64_t icons, uint64_t hosts) {
  memset(h, 0, HEADER_SIZE);
  memcpy(h, "PML_", 4);
  put32(h + 4, 9);
  put32(h + 8, w->sys.is_64bit ? 1 : 0);
  header_utf16(h + 0x0C, w->computer, 16);
  header_utf16(h + 0x2C, w->root, 260);
  put32(h + 0x234, (uint32_t)w->nevents);
  put64(h + 0x240, HEADER_SIZE);
  put64(h + 0x248, offsets);
  put64(h + 0x250, procs);
  put64(h + 0x258, strings);
  put64(h + 0x260, icons);
  put64(h + 0x268, w->sys.is_64bit ? 0x7ffffffeffffULL : 0x7ffeffffULL);
  put32(h + 0x270, 284);
  put32(h + 0x274, w->sys.os_major);
  put32(h + 0x278, w->sys.os_minor);
  put32(h + 0x27C, w->sys.os_build);
  put32(h + 0x280, 2);
  header_utf16(h + 0x284, w->sp, 128);
  put16(h + 0x388, 0x100);
  h[0x38A] = 1;
  put32(h + 0x38C, w->sys.cpus);
  put64(h + 0x390, w->sys.memory);
  put64(h + 0x398, HEADER_SIZE);
  put64(h + 0x3A0, hosts);
}

static void pmlw_free(struct pmlw *w) {
  for (uint32_t i = 0; i < w->nstrings; i++)
    free(w->strings[i]);
  for (uint32_t i = 0; i < w->nprocs; i++)
    free(w->procs[i].modules);
  for (uint32_t i = 0; i < w->nhosts; i++)
    free(w->hosts[i].name);
  for (uint32_t i = 0; i < w->nports; i++)
    free(w->ports[i].name);
  free(w->strings);
  free(w->procs);
  free(w->hosts);
  free(w->ports);
  free(w->offsets);
  if (w->out.fd >= 0)
    close(w->out.fd);
  free(w->out.buf);
  free(w);
}

int pmlw_finish(struct pmlw *w, uint8_t **data, size_t *size) {
  uint64_t offsets, procs, strings, icons, hosts;
  uint8_t header[HEADER_SIZE];
  int rc;

  offsets = w->out.pos;
  out_put(&w->out, w->offsets, (size_t)w->nevents * 5);
  procs = w->out.pos;
  write_processes(w);
  strings = w->out.pos;
  write_strings(w);
  icons = w->out.pos;
  out_u32(&w->out, 1); /* one empty icon, as in every corpus file */
  out_u32(&w->out, 8);
  out_u32(&w->out, 0);
  out_u32(&w->out, 0);
  hosts = w->out.pos;
  write_hosts_ports(w);
  build_header(w, header, offsets, procs, strings, icons, hosts);
  if (w->out.fd >= 0) {
    out_flush(&w->out);
    if (!w->out.err && pwrite(w->out.fd, header, HEADER_SIZE, 0) != HEADER_SIZE)
      w->out.err = 1;
  } else if (!w->out.err) {
    memcpy(w->out.buf, header, HEADER_SIZE);
  }
  rc = w->out.err || w->err ? -1 : 0;
  if (w->out.fd < 0 && rc == 0 && data != NULL) {
    *data = w->out.buf;
    *size = w->out.len;
    w->out.buf = NULL;
  }
  pmlw_free(w);
  return rc;
}

/* ---- detail blocks ---- */

static size_t fs_detail(uint8_t *out, size_t out_size, int is64, uint8_t sub, const char *path, size_t tail,
                        uint8_t **block, uint8_t **tail_at) {
  size_t L = 5 * (is64 ? 8 : 4) + 0x14, n = utf8_to_utf16(path, NULL, 0), size = 8 + L + 2 * n + tail;

  if (size > out_size || n > 0x7FFF)
    return 0;
  memset(out, 0, size);
  out[0] = sub;
  *block = out + 4;
  put16(out + 4 + L, (uint16_t)n);
  utf8_to_utf16(path, out + 8 + L, n);
  *tail_at = out + 8 + L + 2 * n;
  return size;
}

size_t pmlw_detail_createfile(uint8_t *out, size_t out_size, int is64, const char *path,
                              uint32_t desired_access, uint32_t disposition, uint32_t options,
                              uint16_t attributes, uint16_t share) {
  uint8_t *b, *t;
  size_t n = fs_detail(out, out_size, is64, 0, path, 8, &b, &t);

  if (n == 0)
    return 0;
  put32(b + (is64 ? 0x14 : 0x10), disposition << 24 | (options & 0xFFFFFF));
  put16(b + (is64 ? 0x1C : 0x14), attributes);
  put16(b + (is64 ? 0x1E : 0x16), share);
  put32(t, desired_access); /* then SID length 0 and padding */
  return n;
}

size_t pmlw_detail_readwrite(uint8_t *out, size_t out_size, int is64, const char *path, uint32_t length,
                             uint64_t offset) {
  uint8_t *b, *t;
  size_t n = fs_detail(out, out_size, is64, 0, path, 0, &b, &t);

  if (n == 0)
    return 0;
  put32(b + 0x0C, length);
  put64(b + (is64 ? 0x1C : 0x14), offset);
  return n;
}

size_t pmlw_detail_path_only(uint8_t *out, size_t out_size, int is64, uint8_t sub_op, const char *path) {
  uint8_t *b, *t;
  return fs_detail(out, out_size, is64, sub_op, path, 0, &b, &t);
}

/* ---- the example ---- */

#define K(x) (0xfffff80000000000ULL + (x))
#define T0 132900000000000000ULL /* 2022-02-25 (arbitrary but fixed) */

/* Module bases used by the example's stacks. */
#define B_NT K(0x2000000)
#define B_FLTMGR K(0x100000)
#define B_NTFS K(0x300000)
#define B_CONTOSO K(0x500000)
#define B_PROCMON K(0x600000)

static void example_tables(struct pmlw *w, uint32_t *sys, uint32_t *tiw) {
  struct pmlw_process p;

  memset(&p, 0, sizeof(p));
  p.pid = 4;
  p.auth_id = 0x3e7;
  p.start_time = T0 - 10000000000ULL;
  p.is_64bit = 1;
  p.integrity = "System";
  p.user = "NT AUTHORITY\\SYSTEM";
  p.name = "System";
  *sys = pmlw_add_process(w, &p);
  pmlw_add_module(w, *sys, B_NT, 0x1000000, "\\SystemRoot\\system32\\ntoskrnl.exe", "10.0.19041.2364",
                  "Microsoft Corporation", "NT Kernel & System");
  pmlw_add_module(w, *sys, B_FLTMGR, 0x80000, "\\SystemRoot\\System32\\drivers\\FLTMGR.SYS",
                  "10.0.19041.2193", "Microsoft Corporation", "Microsoft Filesystem Filter Manager");
  pmlw_add_module(w, *sys, B_NTFS, 0x200000, "\\SystemRoot\\System32\\Drivers\\Ntfs.sys", "10.0.19041.2251",
                  "Microsoft Corporation", "NT File System Driver");
  pmlw_add_module(w, *sys, B_CONTOSO, 0x40000, "\\SystemRoot\\System32\\drivers\\ContosoFlt.sys", "4.2.0.17",
                  "Contoso Security Ltd.", "Contoso real-time file protection");
  pmlw_add_module(w, *sys, B_PROCMON, 0x20000, "\\SystemRoot\\System32\\drivers\\PROCMON24.SYS", "4.01",
                  "Sysinternals - www.sysinternals.com", "Process Monitor");
  memset(&p, 0, sizeof(p));
  p.pid = 4242;
  p.parent_pid = 4;
  p.auth_id = 0x3e7;
  p.start_time = T0 - 600000000ULL;
  p.is_64bit = 1;
  p.integrity = "System";
  p.user = "NT AUTHORITY\\SYSTEM";
  p.name = "TiWorker.exe";
  p.image_path = "C:\\Windows\\WinSxS\\amd64_microsoft-windows-servicingstack\\TiWorker.exe";
  p.command_line = "C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack\\TiWorker.exe -Embedding";
  p.company = "Microsoft Corporation";
  p.version = "10.0.19041.2300 (WinBuild.160101.0800)";
  p.description = "Windows Modules Installer Worker";
  *tiw = pmlw_add_process(w, &p);
  pmlw_add_module(w, *tiw, 0x7ff600000000ULL, 0x30000, p.image_path, p.version, p.company, p.description);
  pmlw_add_module(w, *tiw, 0x7ffb56a20000ULL, 0x1f8000, "C:\\Windows\\SYSTEM32\\ntdll.dll", "10.0.19041.2364",
                  "Microsoft Corporation", "NT Layer DLL");
  pmlw_add_module(w, *tiw, 0x7ffb54100000ULL, 0x2f2000, "C:\\Windows\\System32\\KERNELBASE.dll",
                  "10.0.19041.2364", "Microsoft Corporation", "Windows NT BASE API Client DLL");
  {
    uint8_t a[16] = {10, 0, 0, 5};
    pmlw_add_host(w, a, "fileserver.contoso.test");
    pmlw_add_port(w, 445, 1, "microsoft-ds");
  }
}

static int example_events(struct pmlw *w, uint32_t tiw, uint64_t t0) {
  /* Stacks: Procmon's minifilter takes them inside FltMgr. */
  static const uint64_t plain[] = {B_FLTMGR + 0x4a5c, B_FLTMGR + 0x45a0, B_FLTMGR + 0x3cd13,
                                   B_NT + 0x31f79,    B_NT + 0x5e61eb,   0x7ffb56abcb64ULL,
                                   0x7ffb5412f167ULL, 0x7ff600012345ULL};
  /* The denied open: ContosoFlt.sys issues its own open between two FltMgr runs. */
  static const uint64_t nested[] = {
      B_FLTMGR + 0x4a5c,  B_FLTMGR + 0x45a0,   B_FLTMGR + 0x3cd13, B_NT + 0x31f79,    B_NT + 0x5e61eb,
      B_FLTMGR + 0x18063, B_CONTOSO + 0x15d59, B_CONTOSO + 0x7923, B_FLTMGR + 0x4a5c, B_FLTMGR + 0x45a0,
      B_NT + 0x31f79,     B_NT + 0x6305b9,     0x7ffb56abcb64ULL,  0x7ffb5412f167ULL, 0x7ff600012345ULL};
  static const char *file =
      "C:\\Windows\\SoftwareDistribution\\Download\\a1b2c3d4e5f6\\Windows10.0-KB5021233-x64.cab";
  static const char *chinese = "C:\\Users\\客服\\Desktop\\更新日志.txt";
  uint8_t d[1024], extra[4] = {1, 0, 0, 0};
  struct pmlw_event e;
  struct {
    uint16_t op;
    uint32_t result;
    const char *path;
    int kind; /* 0 create, 1 read, 2 path only */
    uint32_t access, disp, opts;
    uint16_t share;
    int nested, opened;
  } plan[PMLW_EXAMPLE_EVENTS] = {
      {20, 0, chinese, 0, 0x120089, 1, 0x60, 7, 0, 1},
      {23, 0, chinese, 1, 0, 0, 0, 0, 0, 0},
      {38, 0, chinese, 2, 0, 0, 0, 0, 0, 0},
      {20, 0xC0000022, file, 0, 0x120116 | 0x80, 5, 0x60, 0, 1, 0},
      {20, 0xC0000043, file, 0, 0x10000 | 0x80 | 0x100000, 1, 0x200060, 7, 0, 0},
      {20, 0, file, 0, 0x120089, 1, 0x60, 7, 0, 1},
      {23, 0xC0000022, file, 1, 0, 0, 0, 0, 1, 0},
      {38, 0, file, 2, 0, 0, 0, 0, 0, 0},
      {22, 0x103, file, 2, 0, 0, 0, 0, 0, 0},
  };

  for (unsigned i = 0; i < PMLW_EXAMPLE_EVENTS; i++) {
    size_t n;
    memset(&e, 0, sizeof(e));
    e.process = tiw;
    e.tid = 5120;
    e.event_class = 3;
    e.operation = plan[i].op;
    e.time = t0 + i * 12345ULL;
    e.duration = 355 + i;
    e.result = plan[i].result;
    e.stack = plan[i].nested ? nested : plain;
    e.stack_depth = plan[i].nested ? sizeof(nested) / sizeof(nested[0]) : sizeof(plain) / sizeof(plain[0]);
    if (plan[i].kind == 0)
      n = pmlw_detail_createfile(d, sizeof(d), 1, plan[i].path, plan[i].access, plan[i].disp, plan[i].opts,
                                 0x80, plan[i].share);
    else if (plan[i].kind == 1)
      n = pmlw_detail_readwrite(d, sizeof(d), 1, plan[i].path, 32768, 4096 * i);
    else
      n = pmlw_detail_path_only(d, sizeof(d), 1, 0, plan[i].path);
    e.detail = d;
    e.detail_size = (uint32_t)n;
    if (plan[i].opened) {
      e.extra = extra;
      e.extra_size = sizeof(extra);
    }
    if (pmlw_add_event(w, &e) < 0)
      return -1;
  }
  return 0;
}

static struct pmlw *example_writer(const char *path, uint32_t *tiw) {
  static const struct pmlw_system sys = {1, "FLTBLAME-DEMO", "C:\\Windows", 10, 0, 19045, "",
                                         4, 17128075264ULL};
  struct pmlw *w = pmlw_new(path, &sys);
  uint32_t system;

  if (w != NULL)
    example_tables(w, &system, tiw);
  return w;
}

int pmlw_build_example(const char *path, uint8_t **data, size_t *size) {
  uint32_t tiw;
  struct pmlw *w = example_writer(path, &tiw);

  if (w == NULL)
    return -1;
  if (example_events(w, tiw, T0) < 0) {
    pmlw_finish(w, NULL, NULL);
    return -1;
  }
  return pmlw_finish(w, data, size);
}

int pmlw_build_bulk(const char *path, uint64_t target_bytes) {
  uint32_t tiw;
  struct pmlw *w = example_writer(path, &tiw);
  uint64_t t = T0;

  if (w == NULL)
    return -1;
  /* Leave room for the offsets array and tables after the events. */
  while (w->out.pos + w->nevents * 5 + 4096 < target_bytes && w->out.pos < UINT32_MAX - (1u << 20)) {
    if (example_events(w, tiw, t) < 0) {
      pmlw_finish(w, NULL, NULL);
      return -1;
    }
    t += PMLW_EXAMPLE_EVENTS * 12345ULL;
  }
  return pmlw_finish(w, NULL, NULL);
}

/* ---- shrink: a real capture rewritten small ---- */

static uint32_t copy_process(struct pmlw *w, const struct pml_process *p) {
  struct pmlw_process q;
  uint32_t at;

  memset(&q, 0, sizeof(q));
  q.pid = p->pid;
  q.parent_pid = p->parent_pid;
  q.auth_id = p->auth_id;
  q.session = p->session;
  q.start_time = p->start_time;
  q.end_time = p->end_time;
  q.virtualized = p->virtualized;
  q.is_64bit = p->is_64bit;
  q.integrity = p->integrity;
  q.user = p->user;
  q.name = p->name;
  q.image_path = p->image_path;
  q.command_line = p->command_line;
  q.company = p->company;
  q.version = p->version;
  q.description = p->description;
  q.set_index = 1;
  q.index = p->index;
  at = pmlw_add_process(w, &q);
  for (uint32_t i = 0; i < p->module_count; i++)
    pmlw_add_module(w, at, p->modules[i].base, p->modules[i].size, p->modules[i].path, p->modules[i].version,
                    p->modules[i].company, p->modules[i].description);
  return at;
}

int pmlw_shrink(const char *in, const char *out, uint64_t n, uint8_t **data, size_t *size) {
  struct pml_file *f;
  struct fb_error err;
  const struct pml_header *h;
  struct pmlw_system sys;
  struct pmlw *w;
  struct pml_event ev;
  uint32_t *pos;
  uint64_t *stack = malloc(65536 * sizeof(*stack));
  char buf[1200];

  if (pml_open(&f, in, &err) < 0) {
    fprintf(stderr, "pml_synth: %s\n", fb_error_format(&err, buf, sizeof(buf)));
    return -1;
  }
  h = pml_header(f);
  memset(&sys, 0, sizeof(sys));
  sys.is_64bit = h->ptr_size == 8;
  sys.computer = h->computer;
  sys.system_root = h->system_root;
  sys.os_major = h->os_major;
  sys.os_minor = h->os_minor;
  sys.os_build = h->os_build;
  sys.service_pack = h->service_pack;
  sys.cpus = h->cpus;
  sys.memory = h->memory;
  w = pmlw_new(out, &sys);
  pos = calloc(pml_process_count(f) + 1, sizeof(*pos)); /* writer position + 1, 0 = not copied */
  if (w == NULL || pos == NULL || stack == NULL) {
    free(pos);
    free(stack);
    pml_close(f);
    return -1;
  }
  if (n > h->event_count)
    n = h->event_count;
  for (uint32_t i = 0; i < pml_process_count(f); i++)
    if (pml_process_at(f, i) == pml_system_process(f))
      pos[i] = copy_process(w, pml_process_at(f, i)) + 1;
  for (uint64_t i = 0; i < n; i++) {
    struct pmlw_event e;
    uint32_t k;
    if (pml_event_read(f, i, &ev, &err) < 0)
      continue;
    memset(&e, 0, sizeof(e));
    if (ev.process != NULL) {
      k = (uint32_t)(ev.process - pml_process_at(f, 0));
      if (pos[k] == 0)
        pos[k] = copy_process(w, ev.process) + 1;
      e.process = pos[k] - 1;
    } else {
      e.process = UINT32_MAX; /* an index no process has */
    }
    e.tid = ev.tid;
    e.event_class = ev.event_class;
    e.operation = ev.operation;
    e.duration = ev.duration;
    e.time = ev.time;
    e.result = ev.result;
    for (uint32_t s = 0; s < ev.stack_depth; s++)
      stack[s] = pml_frame_address(f, &ev, s);
    e.stack = stack;
    e.stack_depth = ev.stack_depth;
    e.detail = ev.detail;
    e.detail_size = ev.detail_size;
    e.extra = ev.extra;
    e.extra_size = ev.extra_size;
    e.spare_byte = ev.extra != NULL && (ev.extra_size & 1);
    if (pmlw_add_event(w, &e) < 0)
      break;
  }
  free(pos);
  free(stack);
  pml_close(f);
  return pmlw_finish(w, data, size);
}
