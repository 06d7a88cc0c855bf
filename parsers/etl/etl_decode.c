/* etl_decode.c - the decoder state machine: records -> evidence (see etl_decode.h). */
#include "parsers/etl/etl_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parsers/bytes.h"
#include "parsers/etl/etl_kernel.h"

#define MAX_FRAMES 256
#define PATH_MAX_UTF8 2048
#define MAP_CAP_DEFAULT (1u << 20) /* entries per map before it is cleared */
#define MAX_VOLUMES 64

/* ---- a u64 -> u64 hash map (linear probing, backward-shift deletion) ---- */

struct u64map {
  uint64_t *keys;
  uint64_t *vals;
  uint8_t *used;
  size_t cap; /* power of two, 0 = not allocated */
  size_t n;
};

static uint64_t mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

static void map_free(struct u64map *m) {
  free(m->keys);
  free(m->vals);
  free(m->used);
  memset(m, 0, sizeof(*m));
}

static int map_grow(struct u64map *m) {
  struct u64map g = {0};
  size_t cap = m->cap ? m->cap * 2 : 256;

  g.keys = malloc(cap * sizeof(uint64_t));
  g.vals = malloc(cap * sizeof(uint64_t));
  g.used = calloc(cap, 1);
  if (!g.keys || !g.vals || !g.used) {
    map_free(&g);
    return -1;
  }
  g.cap = cap;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->used[i])
      continue;
    size_t j = mix64(m->keys[i]) & (cap - 1);
    while (g.used[j])
      j = (j + 1) & (cap - 1);
    g.used[j] = 1;
    g.keys[j] = m->keys[i];
    g.vals[j] = m->vals[i];
    g.n++;
  }
  map_free(m);
  *m = g;
  return 0;
}

static uint64_t *map_get(const struct u64map *m, uint64_t key) {
  if (m->cap == 0)
    return NULL;
  for (size_t j = mix64(key) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
    if (!m->used[j])
      return NULL;
    if (m->keys[j] == key)
      return &m->vals[j];
  }
}

/* Insert or replace; returns the previous value's slot state: 1 replaced (old in *old), 0 new, -1 OOM. */
static int map_put(struct u64map *m, uint64_t key, uint64_t val, uint64_t *old) {
  size_t j;

  if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m))
    return -1;
  for (j = mix64(key) & (m->cap - 1); m->used[j]; j = (j + 1) & (m->cap - 1)) {
    if (m->keys[j] == key) {
      if (old)
        *old = m->vals[j];
      m->vals[j] = val;
      return 1;
    }
  }
  m->used[j] = 1;
  m->keys[j] = key;
  m->vals[j] = val;
  m->n++;
  return 0;
}

static int map_del(struct u64map *m, uint64_t key, uint64_t *old) {
  size_t i, j, k;

  if (m->cap == 0)
    return 0;
  for (i = mix64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->used[i])
      return 0;
    if (m->keys[i] == key)
      break;
  }
  if (old)
    *old = m->vals[i];
  /* backward-shift: move later members of the cluster into the hole */
  for (j = (i + 1) & (m->cap - 1); m->used[j]; j = (j + 1) & (m->cap - 1)) {
    k = mix64(m->keys[j]) & (m->cap - 1);
    if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      i = j;
    }
  }
  m->used[i] = 0;
  m->n--;
  return 1;
}

/* Maps whose values are malloc'd strings. */
static void strmap_clear(struct u64map *m) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->used[i])
      free((void *)(uintptr_t)m->vals[i]);
  map_free(m);
}

/* ---- interned strings (process and module names: few, kept to the end) */

struct intern {
  struct u64map map; /* hash -> char* (chained on collision by probing a new hash) */
};

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static const char *intern(struct intern *in, const char *s) {
  uint64_t h = hash_str(s);

  for (;;) {
    uint64_t *v = map_get(&in->map, h);
    char *copy;
    if (v == NULL) {
      copy = strdup(s);
      if (copy == NULL || map_put(&in->map, h, (uint64_t)(uintptr_t)copy, NULL) < 0) {
        free(copy);
        return NULL;
      }
      return copy;
    }
    if (strcmp((const char *)(uintptr_t)*v, s) == 0)
      return (const char *)(uintptr_t)*v;
    h = mix64(h + 1); /* a different string with this hash: probe on */
  }
}

/* ---- modules ------------------------------------------------------------ */

struct module {
  uint32_t pid; /* 0 = kernel */
  uint64_t base;
  uint64_t size;
  uint64_t seq; /* insertion order: the latest wins on duplicates */
  const char *name;
  const char *path;
  const char *company;
};

struct modmap {
  struct module *v;
  size_t n, cap;
  int dirty;
  uint64_t seq;
};

static int mod_cmp(const void *a, const void *b) {
  const struct module *x = a, *y = b;
  if (x->pid != y->pid)
    return x->pid < y->pid ? -1 : 1;
  if (x->base != y->base)
    return x->base < y->base ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void mod_sort(struct modmap *m) {
  size_t o = 0;

  if (!m->dirty)
    return;
  qsort(m->v, m->n, sizeof(m->v[0]), mod_cmp);
  for (size_t i = 0; i < m->n; i++) { /* keep the newest of equal (pid, base) */
    if (o > 0 && m->v[o - 1].pid == m->v[i].pid && m->v[o - 1].base == m->v[i].base)
      m->v[o - 1] = m->v[i];
    else
      m->v[o++] = m->v[i];
  }
  m->n = o;
  m->dirty = 0;
}

static void mod_add(struct modmap *m, const struct module *x) {
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 512;
    struct module *v;
    if (cap > (1u << 22))
      return; /* bounded: 4 M images is no real trace */
    v = realloc(m->v, cap * sizeof(*v));
    if (v == NULL)
      return;
    m->v = v;
    m->cap = cap;
  }
  m->v[m->n] = *x;
  m->v[m->n].seq = ++m->seq;
  m->n++;
  m->dirty = 1;
}

static const struct module *mod_find(struct modmap *m, uint32_t pid, uint64_t addr) {
  size_t lo = 0, hi;

  mod_sort(m);
  hi = m->n;
  /* last module with (pid, base) <= (pid, addr) */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const struct module *x = &m->v[mid];
    if (x->pid < pid || (x->pid == pid && x->base <= addr))
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return NULL;
  {
    const struct module *x = &m->v[lo - 1];
    if (x->pid == pid && addr >= x->base && addr - x->base < x->size)
      return x;
  }
  return NULL;
}

/* ---- held operations ---------------------------------------------------- */

enum { HELD_FILE = 1, HELD_CALLBACK = 2 };

struct held {
  int what; /* 0 free */
  uint32_t gen;
  uint64_t ts;
  uint64_t index, offset;
  uint32_t pid, tid;
  unsigned ptr_size;
  /* file operation */
  int kfile;
  struct etl_file f; /* f.path is not valid here: see path */
  char *path;        /* device path as recorded or looked up, malloc'd */
  int completed;
  uint64_t end_ts;
  uint32_t status;
  uint64_t extra;
  /* callback */
  struct etl_flt_event cb;
  uint64_t start_ts; /* the matching init event's timestamp, 0 unknown */
  int klass;         /* event class for stack_class */
  /* stack */
  uint64_t *kframes, *uframes;
  uint32_t nk, nu;
  int has_stack;
  int waiting_keys;
  uint32_t next_free;
};

struct waiter {
  uint32_t slot;
  uint32_t gen;
  int user;
  uint32_t next; /* index+1 into waiters, 0 = end */
};

struct volume {
  char nt[256];
  size_t nt_len;
  char dos[64];
};

struct etl_decoder {
  struct etl_clock clock;
  struct ev_sink sink;
  struct etl_decode_options opt;
  const char *origin;
  int emitting;
  int stop;
  uint64_t kernel_min; /* lowest kernel address for the file's pointer size */

  struct intern names;
  struct modmap mods;
  struct u64map tid_pid;
  struct u64map pid_name;     /* pid -> interned name */
  struct u64map fo_path;      /* file object -> malloc'd device path */
  struct u64map key_path;     /* file key -> malloc'd device path */
  struct u64map irp_held;     /* irp -> slot */
  struct u64map tsid_held;    /* mix(ts, tid) -> slot, for StackWalk matching */
  struct u64map key_wait;     /* stack key -> waiter index+1 */
  struct u64map cb_start;     /* (callback data, routine, pre/post) -> init timestamp */
  struct u64map filters_seen; /* interned module name -> 1 */
  struct volume *vols;        /* MAX_VOLUMES, allocated at the first mapping */
  unsigned nvols;
  /* pass-1 knowledge */
  uint64_t opend_seen;
  uint64_t stackwalk_seen;
  /* which event classes (FileIo opcode, or 256 + Kernel-File id) receive
   * StackWalk stacks: learnt in pass 1, so that pass 2 holds only those */
  uint8_t stack_class[64];
  int learned, stack_classes_known;
  struct u64map recent; /* pass 1: mix(ts, tid) -> class + 1 of recent file/minifilter events */
  /* FileVersion record waiting for its image event (same timestamp) */
  uint64_t fv_ts;
  const char *fv_company;
  const char *fv_version;
  const char *fv_description;

  struct held *held;
  uint32_t nheld, held_cap, free_head, held_used;
  struct ring_entry {
    uint32_t slot, gen;
  } * ring;                             /* held slots in arrival (= time) order, for cheap eviction */
  uint32_t ring_cap, ring_head, ring_n; /* ring_cap: a power of two >= 4 x held_cap */
  uint32_t scan_pos;
  uint64_t last_scan_ts;
  uint64_t now;
  struct waiter *waiters;
  uint32_t nwaiters, waiters_cap, waiter_free;

  uint64_t stack_window, hold_max, scan_every; /* in ticks */
  struct ev_frame frames[MAX_FRAMES];
  char buf_a[PATH_MAX_UTF8], buf_b[PATH_MAX_UTF8], buf_c[PATH_MAX_UTF8];
  struct etl_decode_stats st;
};

uint64_t etl_clock_filetime(const struct etl_clock *c, uint64_t ts) {
  uint64_t d, freq = c->freq ? c->freq : 10000000;

  if (ts >= c->t0) {
    d = ts - c->t0;
    return c->start_filetime + (d / freq) * 10000000ULL + (d % freq) * 10000000ULL / freq;
  }
  d = c->t0 - ts;
  d = (d / freq) * 10000000ULL + (d % freq) * 10000000ULL / freq;
  return d < c->start_filetime ? c->start_filetime - d : 0;
}

static uint64_t ticks_of(const struct etl_decoder *d, double seconds) {
  double f = (double)(d->clock.freq ? d->clock.freq : 10000000);
  return (uint64_t)(seconds * f);
}

static uint64_t dur100ns(const struct etl_decoder *d, uint64_t ticks) {
  uint64_t f = d->clock.freq ? d->clock.freq : 10000000;
  return (ticks / f) * 10000000ULL + (ticks % f) * 10000000ULL / f;
}

struct etl_decoder *etl_decoder_new(const struct etl_clock *clock, const struct ev_sink *sink,
                                    const struct etl_decode_options *opt, const char *origin_file) {
  struct etl_decoder *d = calloc(1, sizeof(*d));

  if (d == NULL)
    return NULL;
  d->clock = *clock;
  if (sink)
    d->sink = *sink;
  if (opt)
    d->opt = *opt;
  if (d->opt.max_pending == 0)
    d->opt.max_pending = 8192;
  if (d->opt.stack_window_s <= 0)
    d->opt.stack_window_s = 1.0;
  if (d->opt.hold_max_s <= 0)
    d->opt.hold_max_s = 10.0;
  d->origin = origin_file;
  d->kernel_min = clock->ptr_size == 4 ? 0x80000000ULL : 0xFFFF000000000000ULL;
  d->stack_window = ticks_of(d, d->opt.stack_window_s);
  d->hold_max = ticks_of(d, d->opt.hold_max_s);
  d->scan_every = ticks_of(d, 0.05);
  d->held_cap = d->opt.max_pending;
  d->held = calloc(d->held_cap, sizeof(*d->held));
  for (d->ring_cap = 64; d->ring_cap < 4 * d->held_cap; d->ring_cap *= 2)
    ;
  d->ring = malloc(d->ring_cap * sizeof(*d->ring));
  if (d->held == NULL || d->ring == NULL) {
    free(d->held);
    free(d->ring);
    free(d);
    return NULL;
  }
  return d;
}

static void held_release(struct etl_decoder *d, uint32_t slot);

void etl_decoder_free(struct etl_decoder *d) {
  if (d == NULL)
    return;
  for (uint32_t i = 0; i < d->nheld; i++)
    if (d->held[i].what)
      held_release(d, i);
  free(d->held);
  free(d->ring);
  free(d->vols);
  free(d->waiters);
  for (size_t i = 0; i < d->names.map.cap; i++)
    if (d->names.map.used[i])
      free((void *)(uintptr_t)d->names.map.vals[i]);
  map_free(&d->names.map);
  free(d->mods.v);
  map_free(&d->tid_pid);
  map_free(&d->pid_name);
  strmap_clear(&d->fo_path);
  strmap_clear(&d->key_path);
  map_free(&d->irp_held);
  map_free(&d->tsid_held);
  map_free(&d->key_wait);
  map_free(&d->cb_start);
  map_free(&d->filters_seen);
  map_free(&d->recent);
  free(d);
}

const struct etl_decode_stats *etl_decoder_stats(const struct etl_decoder *d) {
  struct etl_decoder *m = (struct etl_decoder *)d;
  mod_sort(&m->mods);
  m->st.kernel_modules = 0;
  for (size_t i = 0; i < m->mods.n; i++)
    if (m->mods.v[i].pid == 0)
      m->st.kernel_modules++;
  m->st.volume_mappings = d->nvols;
  return &d->st;
}

/* ---- small helpers ------------------------------------------------------ */

static void map_put_capped(struct etl_decoder *d, struct u64map *m, uint64_t k, uint64_t v) {
  if (m->n >= MAP_CAP_DEFAULT) {
    map_free(m);
    d->st.map_resets++;
  }
  map_put(m, k, v, NULL);
}

static void strmap_set(struct etl_decoder *d, struct u64map *m, uint64_t key, const char *s) {
  char *copy;
  uint64_t old;

  if (m->n >= MAP_CAP_DEFAULT) {
    strmap_clear(m);
    d->st.map_resets++;
  }
  copy = strdup(s);
  if (copy == NULL)
    return;
  switch (map_put(m, key, (uint64_t)(uintptr_t)copy, &old)) {
  case 1: free((void *)(uintptr_t)old); break;
  case -1: free(copy); break;
  default: break;
  }
}

static void strmap_remove(struct u64map *m, uint64_t key) {
  uint64_t old;
  if (map_del(m, key, &old))
    free((void *)(uintptr_t)old);
}

static const char *strmap_get(const struct u64map *m, uint64_t key) {
  uint64_t *v = map_get(m, key);
  return v ? (const char *)(uintptr_t)*v : NULL;
}

static int is_kernel_addr(const struct etl_decoder *d, uint64_t a, unsigned ptr_size) {
  return ptr_size == 4 ? a >= 0x80000000ULL && a <= 0xFFFFFFFFULL : a >= d->kernel_min;
}

static uint32_t pid_of_tid(const struct etl_decoder *d, uint32_t tid) {
  uint64_t *v = map_get(&d->tid_pid, tid);
  return v ? (uint32_t)*v : EV_UNKNOWN_U32;
}

static const char *name_of_pid(const struct etl_decoder *d, uint32_t pid) {
  uint64_t *v = map_get(&d->pid_name, pid);
  return v ? (const char *)(uintptr_t)*v : NULL;
}

/* Replace a \Device\HarddiskVolumeN\ (or \SystemRoot\) prefix by its DOS
 * path. Returns out, or NULL if no mapping applies. */
static const char *map_volume(const struct etl_decoder *d, const char *dev, char *out, size_t cap) {
  for (unsigned i = 0; i < d->nvols; i++) {
    const struct volume *v = &d->vols[i];
    if (v->nt_len && strncasecmp(dev, v->nt, v->nt_len) == 0) {
      size_t dl = strlen(v->dos);
      size_t rest = strlen(dev + v->nt_len);
      if (dl + rest + 1 > cap)
        return NULL;
      memcpy(out, v->dos, dl);
      memcpy(out + dl, dev + v->nt_len, rest + 1);
      return out;
    }
  }
  return NULL;
}

static void learn_volume(struct etl_decoder *d, const struct etl_event_in *e) {
  struct etl_volume_mapping vm;
  struct volume v;

  if (etl_decode_volume_mapping(e->payload, e->size, &vm) != 0)
    return;
  memset(&v, 0, sizeof(v));
  etl_str_utf8(&vm.nt_path, v.nt, sizeof(v.nt));
  etl_str_utf8(&vm.dos_path, v.dos, sizeof(v.dos));
  v.nt_len = strlen(v.nt);
  /* mappings end with '\' on both sides; make sure, so C:\ never maps \Device\HarddiskVolume21 */
  if (v.nt_len == 0 || v.nt[v.nt_len - 1] != '\\' || v.dos[0] == '\0')
    return;
  for (unsigned i = 0; i < d->nvols; i++)
    if (strcasecmp(d->vols[i].nt, v.nt) == 0) {
      d->vols[i] = v;
      return;
    }
  if (d->vols == NULL && (d->vols = malloc(MAX_VOLUMES * sizeof(*d->vols))) == NULL)
    return;
  if (d->nvols < MAX_VOLUMES)
    d->vols[d->nvols++] = v;
}

/* ---- learning (both passes) ------------------------------------------- */

static int guid_eq(const uint8_t *a, const uint8_t *b) {
  return a && memcmp(a, b, 16) == 0;
}

static void learn_process(struct etl_decoder *d, const struct etl_event_in *e, const struct etl_process *p) {
  const char *name;

  if (e->type == ETL_OP_PROCESS_TERMINATE || p->image_name.len == 0)
    return;
  etl_str_utf8(&p->image_name, d->buf_a, sizeof(d->buf_a));
  name = intern(&d->names, d->buf_a);
  if (name)
    map_put_capped(d, &d->pid_name, p->pid, (uint64_t)(uintptr_t)name);
}

static void learn_image(struct etl_decoder *d, const struct etl_event_in *e, const struct etl_image *im) {
  struct module m;
  int unload = e->group == ETL_GROUP_IMAGE && e->type == ETL_OP_END;

  if (unload || im->size == 0)
    return; /* unloads are kept: a later frame may still point there, and maps are per pass */
  etl_str_utf8(&im->path, d->buf_a, sizeof(d->buf_a));
  memset(&m, 0, sizeof(m));
  /* kernel modules by address: the System process also maps user-mode ntdll */
  m.pid = is_kernel_addr(d, im->base, e->ptr_size) ? 0 : im->pid;
  m.base = im->base;
  m.size = im->size;
  m.path = intern(&d->names, d->buf_a);
  m.name = m.path ? intern(&d->names, ev_path_basename(m.path)) : NULL;
  if (d->fv_company && d->fv_ts == e->ts)
    m.company = d->fv_company;
  if (m.path)
    mod_add(&d->mods, &m);
}

static void learn_file_version(struct etl_decoder *d, const struct etl_event_in *e) {
  struct etl_file_version fv;

  d->fv_company = d->fv_version = d->fv_description = NULL;
  if (etl_decode_file_version(e->payload, e->size, &fv) != 0)
    return;
  d->fv_ts = e->ts;
  etl_str_utf8(&fv.company, d->buf_a, sizeof(d->buf_a));
  d->fv_company = d->buf_a[0] ? intern(&d->names, d->buf_a) : NULL;
  etl_str_utf8(&fv.file_version, d->buf_a, sizeof(d->buf_a));
  d->fv_version = d->buf_a[0] ? intern(&d->names, d->buf_a) : NULL;
  etl_str_utf8(&fv.description, d->buf_a, sizeof(d->buf_a));
  d->fv_description = d->buf_a[0] ? intern(&d->names, d->buf_a) : NULL;
}

static uint64_t tsid_key(uint64_t ts, uint32_t tid) {
  return mix64(ts) ^ ((uint64_t)tid * 0x9E3779B97F4A7C15ULL);
}

/* Stack class of a record: FileIo opcode, 256 + Kernel-File id, or -1. */
static int class_of(const struct etl_event_in *e) {
  if (e->kind == ETL_IN_KERNEL && e->group == ETL_GROUP_FILE)
    return (int)(e->type & 0xFF);
  if (e->kind == ETL_IN_MANIFEST && guid_eq(e->guid, etl_guid_kernel_file) && e->id < 256)
    return 256 + (int)e->id;
  return -1;
}

/* Pass 1: remember recent events by (time, thread); a stack for one marks its class. */
static void learn_stack_classes(struct etl_decoder *d, const struct etl_event_in *e) {
  int k = class_of(e);

  if (k >= 0) {
    if (d->recent.n >= (1u << 20))
      map_free(&d->recent);
    map_put(&d->recent, tsid_key(e->ts, e->has_ids ? e->tid : 0), (uint64_t)k + 1, NULL);
  } else if (e->kind == ETL_IN_KERNEL && e->group == ETL_GROUP_STACKWALK &&
             (e->type == 32 || e->type == 37 || e->type == 38)) {
    struct etl_kstack s;
    uint64_t *v;
    if (etl_decode_stackwalk(e->type, e->ptr_size, e->payload, e->size, &s) != 0)
      return;
    v = map_get(&d->recent, tsid_key(s.event_ts, s.tid));
    if (v == NULL)
      v = map_get(&d->recent, tsid_key(s.event_ts, 0));
    if (v)
      d->stack_class[(*v - 1) / 8] |= (uint8_t)(1u << ((*v - 1) % 8));
  }
}

static int class_gets_stacks(const struct etl_decoder *d, int k) {
  if (!d->stack_classes_known)
    return 1; /* single pass: any event may get one */
  return k >= 0 && k < 512 && (d->stack_class[k / 8] >> (k % 8)) & 1;
}

/* Everything both passes need; returns nothing, never emits. */
static void learn(struct etl_decoder *d, const struct etl_event_in *e) {
  if (e->has_ids && e->tid != 0 && e->tid != UINT32_MAX && e->pid != UINT32_MAX && e->pid != 0)
    map_put_capped(d, &d->tid_pid, e->tid, e->pid);
  if (e->kind == ETL_IN_KERNEL) {
    if (e->group == ETL_GROUP_PROCESS && e->type == ETL_OP_LOAD) {
      struct etl_image im;
      if (etl_decode_image(e->type, e->version, e->ptr_size, e->payload, e->size, &im) == 0)
        learn_image(d, e, &im);
    } else if (e->group == ETL_GROUP_PROCESS) {
      struct etl_process p;
      if (etl_decode_process(e->type, e->version, e->ptr_size, e->payload, e->size, &p) == 0)
        learn_process(d, e, &p);
    } else if (e->group == ETL_GROUP_IMAGE && e->type >= 2 && e->type <= 4) {
      struct etl_image im;
      if (etl_decode_image(e->type, e->version, e->ptr_size, e->payload, e->size, &im) == 0)
        learn_image(d, e, &im);
    } else if (e->group == ETL_GROUP_THREAD && e->type >= 1 && e->type <= 4) {
      struct etl_thread t;
      if (etl_decode_thread(e->type, e->version, e->ptr_size, e->payload, e->size, &t) == 0 && t.tid)
        map_put_capped(d, &d->tid_pid, t.tid, t.pid);
    } else if (e->group == ETL_GROUP_FILE && etl_file_kind_of(e->type) == ETL_FILE_NAME) {
      struct etl_file f;
      if (etl_decode_fileio(e->type, e->version, e->ptr_size, e->payload, e->size, &f) == 0) {
        if (e->type == 35) { /* FileDelete: the name is gone */
          if (d->emitting)
            strmap_remove(&d->key_path, f.file_key);
        } else {
          etl_str_utf8(&f.path, d->buf_a, sizeof(d->buf_a));
          strmap_set(d, &d->key_path, f.file_key, d->buf_a);
        }
      }
    } else if (e->group == ETL_GROUP_FILE && e->type == 76) {
      d->opend_seen++;
    } else if (e->group == ETL_GROUP_STACKWALK) {
      d->stackwalk_seen++;
    }
  } else if (e->kind == ETL_IN_CLASSIC) {
    if (guid_eq(e->guid, etl_guid_sysconfig) && e->type == 35)
      learn_volume(d, e);
    else if (guid_eq(e->guid, etl_guid_image_id) && e->type == 64)
      learn_file_version(d, e);
  } else if (e->kind == ETL_IN_MANIFEST && guid_eq(e->guid, etl_guid_kernel_file)) {
    unsigned op = etl_kfile_opcode(e->id);
    if (op == 76)
      d->opend_seen++;
    else if (op == 32 || op == 36) {
      struct etl_file f;
      if (etl_decode_kfile(e->id, e->version, e->ptr_size, e->payload, e->size, &f) == 0) {
        etl_str_utf8(&f.path, d->buf_a, sizeof(d->buf_a));
        strmap_set(d, &d->key_path, f.file_key, d->buf_a);
      }
    }
  }
}

void etl_decoder_learn(struct etl_decoder *d, const struct etl_event_in *e) {
  d->emitting = 0;
  d->learned = 1;
  learn(d, e);
  learn_stack_classes(d, e);
}

/* ---- emission ----------------------------------------------------------- */

static void origin_of(const struct etl_decoder *d, struct ev_origin *o, uint64_t index, uint64_t offset) {
  o->file = d->origin;
  o->format = "etl";
  o->index = index;
  o->offset = offset == FB_OFFSET_NONE ? EV_UNKNOWN_U64 : offset;
}

static int sink_result(struct etl_decoder *d, int rc) {
  if (rc != 0)
    d->stop = 1;
  return rc != 0 ? FB_ESTOP : 0;
}

/* Resolve n addresses into d->frames; user frames in process pid. */
static uint32_t resolve_frames(struct etl_decoder *d, const uint64_t *a, uint32_t n, uint32_t pid,
                               unsigned ptr_size, uint32_t at) {
  for (uint32_t i = 0; i < n && at < MAX_FRAMES; i++, at++) {
    struct ev_frame *f = &d->frames[at];
    int k = is_kernel_addr(d, a[i], ptr_size);
    const struct module *m = mod_find(&d->mods, k ? 0 : pid, a[i]);
    f->addr = a[i];
    f->kernel = k;
    f->module = m ? m->name : NULL;
    f->offset = m ? a[i] - m->base : 0;
  }
  return at;
}

static uint32_t held_frames(struct etl_decoder *d, const struct held *h, uint32_t pid) {
  uint32_t n = resolve_frames(d, h->kframes, h->nk, pid, h->ptr_size, 0);
  return resolve_frames(d, h->uframes, h->nu, pid, h->ptr_size, n);
}

static uint32_t effective_pid(const struct etl_decoder *d, uint32_t hdr_pid, uint32_t ttid,
                              uint32_t hdr_tid) {
  uint32_t pid = EV_UNKNOWN_U32;

  if (ttid)
    pid = pid_of_tid(d, ttid);
  if (pid == EV_UNKNOWN_U32 && hdr_pid != UINT32_MAX && hdr_pid != 0)
    pid = hdr_pid;
  if (pid == EV_UNKNOWN_U32 && hdr_tid && hdr_tid != UINT32_MAX)
    pid = pid_of_tid(d, hdr_tid);
  return pid;
}

/* File-information classes that mean delete / rename (FILE_INFORMATION_CLASS). */
static enum ev_file_op_kind refine_kind(enum ev_file_op_kind k, uint32_t info_class) {
  if (k != EV_FOP_SET_INFO)
    return k;
  switch (info_class) {
  case 13: /* FileDispositionInformation */
  case 64: /* FileDispositionInformationEx */ return EV_FOP_DELETE;
  case 10: /* FileRenameInformation */
  case 65: /* FileRenameInformationEx */ return EV_FOP_RENAME;
  default: return k;
  }
}

static int emit_file(struct etl_decoder *d, struct held *h) {
  struct ev_file_op op;
  const struct etl_file *f = &h->f;
  char name[64];

  ev_file_op_init(&op);
  origin_of(d, &op.origin, h->index, h->offset);
  op.time = etl_clock_filetime(&d->clock, h->ts);
  op.duration = h->completed && h->end_ts >= h->ts ? dur100ns(d, h->end_ts - h->ts) : EV_UNKNOWN_U64;
  op.tid = f->ttid ? f->ttid : h->tid;
  op.pid = effective_pid(d, h->pid, f->ttid, h->tid);
  op.process_name = op.pid != EV_UNKNOWN_U32 ? name_of_pid(d, op.pid) : NULL;
  op.kind = refine_kind(etl_file_ev_kind(f->opcode), f->info_class);
  snprintf(name, sizeof(name), "%s/%s", h->kfile ? "Kernel-File" : "FileIo",
           etl_file_opcode_name(f->opcode) ? etl_file_opcode_name(f->opcode) : "?");
  op.op_name = name;
  if (f->kind == ETL_FILE_INFO || f->kind == ETL_FILE_DIRENUM || f->kind == ETL_FILE_PATHOP)
    op.info_class = f->info_class;
  op.device_path = h->path;
  op.path = h->path ? map_volume(d, h->path, d->buf_b, sizeof(d->buf_b)) : NULL;
  if (op.path == NULL)
    op.path = h->path;
  op.file_object = f->file_object;
  op.file_key = f->file_key;
  op.irp = f->irp;
  if (f->kind == ETL_FILE_CREATE) {
    op.share_access = f->share_access;
    op.disposition = f->create_options >> 24;
    op.create_options = f->create_options & 0xFFFFFF;
    op.attributes = f->attributes;
    if (h->completed)
      op.open_result = (uint32_t)h->extra; /* IoStatus.Information: FILE_OPENED ... */
  }
  if (f->kind == ETL_FILE_OPEND) {
    op.status = f->status;
    op.status_known = 1;
  } else if (h->completed) {
    op.status = h->status;
    op.status_known = 1;
  }
  op.stack.frames = d->frames;
  op.stack.count = held_frames(d, h, op.pid);
  d->st.file_ops++;
  if (d->sink.file_op)
    return sink_result(d, d->sink.file_op(d->sink.ctx, &op));
  return 0;
}

/* A driver whose routine FltMgr timed is a loaded minifilter: say so once
 * per module, as a filter inventory entry from a loaded image. */
static int emit_filter_seen(struct etl_decoder *d, const struct module *m, uint64_t time,
                            const struct ev_origin *origin) {
  struct ev_filter_info fi;
  char name[256];
  size_t n;

  if (map_get(&d->filters_seen, (uint64_t)(uintptr_t)m->name))
    return 0;
  map_put(&d->filters_seen, (uint64_t)(uintptr_t)m->name, 1, NULL);
  snprintf(name, sizeof(name), "%s", m->name);
  n = strlen(name);
  if (n > 4 && strcasecmp(name + n - 4, ".sys") == 0)
    name[n - 4] = '\0'; /* fltmc prints "TmPreFlt" */
  memset(&fi, 0, sizeof(fi));
  fi.origin = *origin;
  fi.source = EV_FSRC_IMAGE;
  fi.time = time;
  fi.name = name;
  fi.instances = -1;
  fi.frame = -1;
  fi.loaded = 1;
  d->st.filters_seen++;
  if (d->sink.filter_info)
    return sink_result(d, d->sink.filter_info(d->sink.ctx, &fi));
  return 0;
}

static int emit_callback(struct etl_decoder *d, struct held *h) {
  struct ev_filter_callback cb;
  const struct etl_flt_event *x = &h->cb;
  const struct module *m = mod_find(&d->mods, 0, x->routine);

  memset(&cb, 0, sizeof(cb));
  origin_of(d, &cb.origin, h->index, h->offset);
  cb.time = etl_clock_filetime(&d->clock, h->ts);
  /* UNVERIFIED: InitialTime is taken to be in the event clock (docs/etl-minifilter.md);
   * without it, the start is the matching init event's time */
  if (x->initial_time_known && x->initial_time)
    cb.start_time = etl_clock_filetime(&d->clock, x->initial_time);
  else if (h->start_ts)
    cb.start_time = etl_clock_filetime(&d->clock, h->start_ts);
  cb.tid = h->tid;
  cb.pid = effective_pid(d, h->pid, 0, h->tid);
  cb.phase = x->phase;
  cb.routine = x->routine;
  cb.module = m ? m->name : NULL;
  cb.module_offset = m ? x->routine - m->base : 0;
  cb.file_object = x->file_object;
  cb.fs_context = x->fs_context;
  cb.irp = x->irp;
  cb.callback_data = x->callback_data;
  cb.major_function = x->major_function;
  cb.status = x->status;
  cb.status_known = x->status_known;
  cb.stack.frames = d->frames;
  cb.stack.count = held_frames(d, h, cb.pid);
  if (m)
    d->st.minifilter_resolved++;
  d->st.filter_callbacks++;
  if (m && emit_filter_seen(d, m, cb.time, &cb.origin))
    return FB_ESTOP;
  if (d->sink.filter_callback)
    return sink_result(d, d->sink.filter_callback(d->sink.ctx, &cb));
  return 0;
}

static void held_release(struct etl_decoder *d, uint32_t slot) {
  struct held *h = &d->held[slot];
  uint64_t *v;

  if (h->what == HELD_FILE && h->f.irp && (v = map_get(&d->irp_held, h->f.irp)) && *v == slot)
    map_del(&d->irp_held, h->f.irp, NULL);
  if ((v = map_get(&d->tsid_held, tsid_key(h->ts, h->tid))) && *v == slot)
    map_del(&d->tsid_held, tsid_key(h->ts, h->tid), NULL);
  free(h->path);
  free(h->kframes);
  free(h->uframes);
  {
    uint32_t gen = h->gen;
    memset(h, 0, sizeof(*h));
    h->gen = gen + 1; /* waiters for the old occupant no longer match */
  }
  h->next_free = d->free_head;
  d->free_head = slot + 1;
  d->held_used--;
}

static int held_emit(struct etl_decoder *d, uint32_t slot) {
  struct held *h = &d->held[slot];
  int rc = 0;

  if (!d->stop)
    rc = h->what == HELD_FILE ? emit_file(d, h) : emit_callback(d, h);
  held_release(d, slot);
  return rc;
}

static int held_ready(const struct etl_decoder *d, const struct held *h) {
  uint64_t age = d->now > h->ts ? d->now - h->ts : 0;
  int wants_end = h->what == HELD_FILE && h->f.irp && h->f.kind != ETL_FILE_OPEND &&
                  h->f.kind != ETL_FILE_NAME && d->opend_seen;
  int wants_stack = d->stackwalk_seen && !h->has_stack && class_gets_stacks(d, h->klass);

  if (h->waiting_keys)
    return 0; /* only pool pressure or the end releases these */
  if (wants_end && !h->completed)
    return age > d->hold_max;
  if (wants_stack)
    return age > d->stack_window;
  return 1;
}

static int scan_held(struct etl_decoder *d, int all) {
  for (uint32_t i = 0; i < d->nheld && !d->stop; i++)
    if (d->held[i].what && (all || held_ready(d, &d->held[i])))
      if (held_emit(d, i))
        return FB_ESTOP;
  return 0;
}

static int ring_live(const struct etl_decoder *d, const struct ring_entry *r) {
  return d->held[r->slot].what && d->held[r->slot].gen == r->gen;
}

/* Remember a new held slot; when the ring is full, squeeze out the slots
 * already emitted (at most held_cap are live, the ring holds 4x that). */
static void ring_push(struct etl_decoder *d, uint32_t slot) {
  uint32_t mask = d->ring_cap - 1;

  if (d->ring_n == d->ring_cap) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < d->ring_n; i++) {
      struct ring_entry r = d->ring[(d->ring_head + i) & mask];
      if (ring_live(d, &r))
        d->ring[(d->ring_head + kept++) & mask] = r;
    }
    d->ring_n = kept;
  }
  d->ring[(d->ring_head + d->ring_n++) & mask] = (struct ring_entry){slot, d->held[slot].gen};
}

/* Oldest held event, emitted early when the pool is full: records arrive in
 * time order, so the first live slot of the ring is the oldest. */
static int evict_oldest(struct etl_decoder *d) {
  uint32_t mask = d->ring_cap - 1;

  while (d->ring_n) {
    struct ring_entry r = d->ring[d->ring_head];
    d->ring_head = (d->ring_head + 1) & mask;
    d->ring_n--;
    if (ring_live(d, &r)) {
      d->st.evicted++;
      return held_emit(d, r.slot);
    }
  }
  return 0;
}

static struct held *held_new(struct etl_decoder *d, const struct etl_event_in *e, uint32_t *slot_out) {
  uint32_t slot;
  struct held *h;

  if (d->free_head == 0 && d->nheld == d->held_cap) {
    if (evict_oldest(d)) /* no scan here: that would make a full pool quadratic */
      return NULL;
  }
  if (d->free_head) {
    slot = d->free_head - 1;
    d->free_head = d->held[slot].next_free;
  } else if (d->nheld < d->held_cap) {
    slot = d->nheld++;
  } else {
    return NULL;
  }
  h = &d->held[slot];
  h->ts = e->ts;
  h->index = e->index;
  h->offset = e->offset;
  h->pid = e->has_ids ? e->pid : UINT32_MAX;
  h->tid = e->has_ids ? e->tid : 0;
  h->ptr_size = e->ptr_size;
  d->held_used++;
  ring_push(d, slot);
  *slot_out = slot;
  map_put(&d->tsid_held, tsid_key(e->ts, h->tid), slot, NULL);
  return h;
}

static uint64_t *copy_frames(const struct etl_kstack *s, uint32_t *n) {
  uint32_t count = s->count > MAX_FRAMES ? MAX_FRAMES : s->count;
  uint64_t *v = count ? malloc(count * sizeof(uint64_t)) : NULL;

  *n = v ? count : 0;
  for (uint32_t i = 0; v && i < count; i++)
    v[i] = etl_kstack_frame(s, i);
  return v;
}

/* Attach frames (kernel part or user part) to a held event. */
static void attach_frames(struct etl_decoder *d, struct held *h, const struct etl_kstack *s) {
  int user = s->count > 0 && !is_kernel_addr(d, etl_kstack_frame(s, 0), s->frame_size);

  if (!user && h->kframes == NULL)
    h->kframes = copy_frames(s, &h->nk);
  else if (h->uframes == NULL)
    h->uframes = copy_frames(s, &h->nu);
  h->has_stack = 1;
  d->st.stacks_attached++;
}

/* ---- stack records ------------------------------------------------------ */

static struct held *held_by_tsid(struct etl_decoder *d, uint64_t ts, uint32_t tid, uint32_t *slot) {
  uint64_t *v = map_get(&d->tsid_held, tsid_key(ts, tid));

  if (v == NULL) /* the target had a PERFINFO header (no thread): match by time alone */
    v = map_get(&d->tsid_held, tsid_key(ts, 0));
  if (v == NULL || !d->held[*v].what || d->held[*v].ts != ts)
    return NULL;
  *slot = (uint32_t)*v;
  return &d->held[*v];
}

static void waiter_add(struct etl_decoder *d, uint64_t key, uint32_t slot, int user) {
  uint64_t *head = map_get(&d->key_wait, key);
  struct waiter *w;
  uint32_t idx;

  if (d->waiter_free) {
    idx = d->waiter_free - 1;
    d->waiter_free = d->waiters[idx].next;
  } else {
    if (d->nwaiters == d->waiters_cap) {
      uint32_t cap = d->waiters_cap ? d->waiters_cap * 2 : 1024;
      struct waiter *v = realloc(d->waiters, cap * sizeof(*v));
      if (v == NULL)
        return;
      d->waiters = v;
      d->waiters_cap = cap;
    }
    idx = d->nwaiters++;
  }
  w = &d->waiters[idx];
  w->slot = slot;
  w->gen = d->held[slot].gen;
  w->user = user;
  w->next = head ? (uint32_t)*head : 0;
  map_put(&d->key_wait, key, idx + 1, NULL);
  d->held[slot].waiting_keys++;
}

static int on_stack_def(struct etl_decoder *d, const struct etl_kstack *s) {
  uint64_t head;
  uint32_t i;

  if (!map_del(&d->key_wait, s->key, &head))
    return 0;
  for (i = (uint32_t)head; i;) {
    struct waiter *w = &d->waiters[i - 1];
    uint32_t next = w->next;
    struct held *h = &d->held[w->slot];
    if (h->what && h->gen == w->gen) {
      attach_frames(d, h, s);
      h->waiting_keys--;
      if (h->waiting_keys == 0 && held_ready(d, h) && held_emit(d, w->slot))
        return FB_ESTOP;
    }
    w->next = d->waiter_free;
    d->waiter_free = i;
    i = next;
  }
  return 0;
}

static int on_stackwalk(struct etl_decoder *d, const struct etl_event_in *e) {
  struct etl_kstack s;
  struct held *h;
  uint32_t slot;

  if (etl_decode_stackwalk(e->type, e->ptr_size, e->payload, e->size, &s) != 0) {
    if (e->type == 32 || (e->type >= 34 && e->type <= 38))
      d->st.decode_errors++;
    return 0;
  }
  if (s.kind == ETL_STACK_KEY_DEF)
    return on_stack_def(d, &s);
  h = held_by_tsid(d, s.event_ts, s.tid, &slot);
  if (h == NULL) {
    d->st.stacks_unmatched++;
    return 0;
  }
  if (s.kind == ETL_STACK_KEY_REF) {
    waiter_add(d, s.key, slot, s.user);
    return 0;
  }
  attach_frames(d, h, &s);
  if (held_ready(d, h))
    return held_emit(d, slot);
  return 0;
}

/* ---- file operations ---------------------------------------------------- */

static int on_opend(struct etl_decoder *d, const struct etl_event_in *e, const struct etl_file *f,
                    int kfile) {
  uint64_t *v = map_get(&d->irp_held, f->irp);
  struct held *h;
  uint32_t slot;

  if (v && d->held[*v].what == HELD_FILE && !d->held[*v].completed) {
    slot = (uint32_t)*v;
    h = &d->held[slot];
    h->completed = 1;
    h->end_ts = e->ts;
    h->status = f->status;
    h->extra = f->extra_info;
    map_del(&d->irp_held, f->irp, NULL); /* IRPs are reused: the next OpEnd is another operation's */
    d->st.opend_matched++;
    if (held_ready(d, h))
      return held_emit(d, slot);
    return 0;
  }
  /* an OperationEnd whose operation is not in the trace: emit it alone */
  h = held_new(d, e, &slot);
  if (h == NULL)
    return d->stop ? FB_ESTOP : 0;
  h->what = HELD_FILE;
  h->kfile = kfile;
  h->f = *f;
  h->f.path = (struct etl_str){0};
  return held_emit(d, slot);
}

static int on_file(struct etl_decoder *d, const struct etl_event_in *e, const struct etl_file *f, int kfile) {
  struct held *h;
  uint32_t slot;
  const char *known = NULL;

  d->st.file_events++;
  if (f->kind == ETL_FILE_OPEND)
    return on_opend(d, e, f, kfile);
  if (f->kind == ETL_FILE_CREATE || f->kind == ETL_FILE_DIRENUM || f->kind == ETL_FILE_PATHOP) {
    etl_str_utf8(&f->path, d->buf_c, sizeof(d->buf_c));
    if (f->kind == ETL_FILE_CREATE && f->file_object && d->buf_c[0])
      strmap_set(d, &d->fo_path, f->file_object, d->buf_c);
    if (f->kind == ETL_FILE_CREATE || f->kind == ETL_FILE_PATHOP)
      known = d->buf_c[0] ? d->buf_c : NULL;
  }
  if (known == NULL && f->file_object)
    known = strmap_get(&d->fo_path, f->file_object);
  if (known == NULL && f->file_key)
    known = strmap_get(&d->key_path, f->file_key);
  if (known == NULL && f->kind == ETL_FILE_DIRENUM && d->buf_c[0])
    known = d->buf_c; /* at least the search pattern */
  if (f->file_key && f->file_object && (f->kind != ETL_FILE_CREATE)) {
    const char *byfo = strmap_get(&d->fo_path, f->file_object);
    if (byfo && !strmap_get(&d->key_path, f->file_key))
      strmap_set(d, &d->key_path, f->file_key, byfo);
  }

  h = held_new(d, e, &slot);
  if (h == NULL)
    return d->stop ? FB_ESTOP : 0;
  h->what = HELD_FILE;
  h->kfile = kfile;
  h->klass = class_of(e);
  h->f = *f;
  h->f.path = (struct etl_str){0};
  h->path = known ? strdup(known) : NULL;
  if (f->irp && f->kind != ETL_FILE_NAME)
    map_put(&d->irp_held, f->irp, slot, NULL);
  /* Close frees the file object: drop its state so memory stays bounded */
  if (f->opcode == 66 && f->file_object)
    strmap_remove(&d->fo_path, f->file_object);
  if (e->stack_ext_type) {
    struct etl_kstack s;
    if (etl_decode_ext_stack(e->stack_ext_type, e->stack_ext, e->stack_ext_size, &s) == 0)
      attach_frames(d, h, &s);
  }
  if (held_ready(d, h))
    return held_emit(d, slot);
  return 0;
}

static int on_minifilter(struct etl_decoder *d, const struct etl_event_in *e) {
  struct etl_flt_event x;
  struct held *h;
  uint32_t slot;
  int rc;

  d->st.minifilter_events++;
  rc = etl_flt_decode(e->type, e->version, e->ptr_size, e->payload, e->size, &x, &d->st.census);
  if (rc != 0) {
    d->st.minifilter_refused++;
    return 0;
  }
  h = held_new(d, e, &slot);
  if (h == NULL)
    return d->stop ? FB_ESTOP : 0;
  h->what = HELD_CALLBACK;
  h->klass = class_of(e);
  h->cb = x;
  {
    /* pair init -> completion/failure of one callback invocation */
    uint64_t k = mix64(x.callback_data) ^ x.routine ^ (uint64_t)x.post, v;
    if (x.stage == ETL_FLT_INIT)
      map_put_capped(d, &d->cb_start, k, e->ts);
    else if (map_del(&d->cb_start, k, &v))
      h->start_ts = v;
  }
  if (held_ready(d, h))
    return held_emit(d, slot);
  return 0;
}

/* ---- process / thread / image ------------------------------------------ */

static int on_process(struct etl_decoder *d, const struct etl_event_in *e) {
  struct etl_process p;
  struct ev_process r;
  uint64_t t = etl_clock_filetime(&d->clock, e->ts);

  if (e->type != ETL_OP_START && e->type != ETL_OP_END && e->type != ETL_OP_DCSTART &&
      e->type != ETL_OP_DCEND && e->type != ETL_OP_PROCESS_DEFUNCT)
    return 0;
  if (etl_decode_process(e->type, e->version, e->ptr_size, e->payload, e->size, &p) != 0) {
    d->st.decode_errors++;
    return 0;
  }
  learn_process(d, e, &p);
  memset(&r, 0, sizeof(r));
  origin_of(d, &r.origin, e->index, e->offset);
  r.pid = p.pid;
  r.parent_pid = p.ppid;
  r.start_time = e->type == ETL_OP_START ? t : 0;
  r.end_time = e->type == ETL_OP_END || e->type == ETL_OP_PROCESS_DEFUNCT ? t : 0;
  r.ended = r.end_time != 0;
  etl_str_utf8(&p.image_name, d->buf_a, sizeof(d->buf_a));
  etl_str_utf8(&p.command_line, d->buf_b, sizeof(d->buf_b));
  r.name = d->buf_a;
  r.command_line = d->buf_b[0] ? d->buf_b : NULL;
  r.is_64bit = -1;
  d->st.processes++;
  if (d->sink.process)
    return sink_result(d, d->sink.process(d->sink.ctx, &r));
  return 0;
}

static int on_thread(struct etl_decoder *d, const struct etl_event_in *e) {
  struct etl_thread t;
  struct ev_thread r;

  if (etl_decode_thread(e->type, e->version, e->ptr_size, e->payload, e->size, &t) != 0) {
    d->st.decode_errors++;
    return 0;
  }
  memset(&r, 0, sizeof(r));
  origin_of(d, &r.origin, e->index, e->offset);
  r.tid = t.tid;
  r.pid = t.pid;
  r.time = etl_clock_filetime(&d->clock, e->ts);
  r.ended = e->type == ETL_OP_END;
  d->st.threads++;
  if (d->sink.thread)
    return sink_result(d, d->sink.thread(d->sink.ctx, &r));
  return 0;
}

static int on_image(struct etl_decoder *d, const struct etl_event_in *e) {
  struct etl_image im;
  struct ev_image r;

  if (etl_decode_image(e->type, e->version, e->ptr_size, e->payload, e->size, &im) != 0) {
    d->st.decode_errors++;
    return 0;
  }
  learn_image(d, e, &im);
  memset(&r, 0, sizeof(r));
  origin_of(d, &r.origin, e->index, e->offset);
  r.time = etl_clock_filetime(&d->clock, e->ts);
  r.pid = im.pid;
  r.base = im.base;
  r.size = im.size;
  etl_str_utf8(&im.path, d->buf_a, sizeof(d->buf_a));
  r.path = d->buf_a;
  r.name = ev_path_basename(d->buf_a);
  if (d->fv_ts == e->ts) {
    r.company = d->fv_company;
    r.version = d->fv_version;
    r.description = d->fv_description;
  }
  r.kernel = is_kernel_addr(d, im.base, e->ptr_size);
  r.unloaded = e->group == ETL_GROUP_IMAGE && e->type == ETL_OP_END;
  d->st.images++;
  if (d->sink.image)
    return sink_result(d, d->sink.image(d->sink.ctx, &r));
  return 0;
}

/* ---- the record switch -------------------------------------------------- */

static int feed_kernel(struct etl_decoder *d, const struct etl_event_in *e) {
  switch (e->group) {
  case ETL_GROUP_PROCESS:
    if (e->type == ETL_OP_LOAD)
      return on_image(d, e);
    return on_process(d, e);
  case ETL_GROUP_THREAD:
    if (e->type >= 1 && e->type <= 4)
      return on_thread(d, e);
    return 0;
  case ETL_GROUP_IMAGE:
    if (e->type >= 2 && e->type <= 4)
      return on_image(d, e);
    return 0;
  case ETL_GROUP_STACKWALK: return on_stackwalk(d, e);
  case ETL_GROUP_FILE: {
    struct etl_file f;
    enum etl_file_kind k = etl_file_kind_of(e->type);
    if (k == ETL_FILE_MINIFILTER)
      return on_minifilter(d, e);
    if (k == ETL_FILE_UNKNOWN || k == ETL_FILE_NAME)
      return 0; /* names are learnt in learn() */
    if (etl_decode_fileio(e->type, e->version, e->ptr_size, e->payload, e->size, &f) != 0) {
      d->st.decode_errors++;
      return 0;
    }
    return on_file(d, e, &f, 0);
  }
  default: return 0;
  }
}

static int feed_manifest(struct etl_decoder *d, const struct etl_event_in *e) {
  struct etl_file f;
  unsigned op;

  if (!guid_eq(e->guid, etl_guid_kernel_file))
    return 0;
  op = etl_kfile_opcode(e->id);
  if (op == 0 || etl_file_kind_of(op) == ETL_FILE_NAME)
    return 0;
  if (etl_decode_kfile(e->id, e->version, e->ptr_size, e->payload, e->size, &f) != 0) {
    d->st.decode_errors++;
    return 0;
  }
  return on_file(d, e, &f, 1);
}

int etl_decoder_feed(struct etl_decoder *d, const struct etl_event_in *e) {
  int rc = 0;

  if (d->stop)
    return FB_ESTOP;
  if (!d->emitting) { /* first record of pass 2 */
    d->emitting = 1;
    d->stack_classes_known = d->learned;
    map_free(&d->recent);
  }
  d->st.records++;
  if (e->ts > d->now)
    d->now = e->ts;
  learn(d, e);
  if (e->kind == ETL_IN_KERNEL)
    rc = feed_kernel(d, e);
  else if (e->kind == ETL_IN_MANIFEST)
    rc = feed_manifest(d, e);
  if (rc == 0 && d->held_used && d->now - d->last_scan_ts > d->scan_every) {
    d->last_scan_ts = d->now;
    rc = scan_held(d, 0);
  }
  return d->stop ? FB_ESTOP : rc;
}

static const struct held *sort_base;
static int by_ts(const void *a, const void *b) {
  uint64_t x = sort_base[*(const uint32_t *)a].ts, y = sort_base[*(const uint32_t *)b].ts;
  return x < y ? -1 : x > y;
}

static int flush_all(struct etl_decoder *d) {
  uint32_t *order = malloc((d->nheld + 1) * sizeof(uint32_t)), n = 0;

  if (order == NULL)
    return scan_held(d, 1);
  for (uint32_t i = 0; i < d->nheld; i++)
    if (d->held[i].what)
      order[n++] = i;
  sort_base = d->held;
  qsort(order, n, sizeof(uint32_t), by_ts);
  for (uint32_t i = 0; i < n && !d->stop; i++)
    if (d->held[order[i]].what && held_emit(d, order[i])) {
      free(order);
      return FB_ESTOP;
    }
  free(order);
  return 0;
}

int etl_decoder_finish(struct etl_decoder *d) {
  if (d->stop)
    return FB_ESTOP;
  /* whatever still waits (stack keys never defined, operations never ended), oldest first */
  if (flush_all(d))
    return FB_ESTOP;
  if (d->st.minifilter_events == 0) {
    struct ev_fact f;
    memset(&f, 0, sizeof(f));
    origin_of(d, &f.origin, 0, FB_OFFSET_NONE);
    f.kind = EV_FACT_OTHER;
    f.subject = "etl.no_minifilter_events";
    f.text = ETL_FACT_NO_MINIFILTER;
    d->st.facts++;
    if (d->sink.fact)
      return sink_result(d, d->sink.fact(d->sink.ctx, &f));
  }
  return 0;
}
