/* engine.c - correlate evidence and decide who denied or held a file.
 * The rules are summarised in engine.h and explained in docs/verdict.md. */
#include "rules/engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parsers/strbuf.h"

#define NIL UINT32_MAX
#define PROCMON_ALTITUDE "385200"

/* NTSTATUS values the rules look at. */
enum {
  ST_ACCESS_DENIED = 0xC0000022u,
  ST_SHARING_VIOLATION = 0xC0000043u,
  ST_DELETE_PENDING = 0xC0000056u,
  ST_NOT_SUPPORTED = 0xC00000BBu,
  ST_CANNOT_DELETE = 0xC0000121u,
  ST_POLICY_DEFAULT = 0xC0000361u, /* .. 0xC0000364 ACCESS_DISABLED_BY_POLICY_* */
  ST_POLICY_OTHER = 0xC0000364u,
  ST_VIRUS_INFECTED = 0xC0000906u,
  ST_VIRUS_DELETED = 0xC0000907u,
  ST_MEDIA_WRITE_PROTECTED = 0xC00000A2u,
  ST_ACCESS_DISABLED_NO_SAFER = 0xC0000372u,
  ST_ACCESS_DISABLED_BY_POLICY_DEFAULT = 0xC0000361u,
};

/* ---------------------------------------------------------------- helpers */

/* The eight bytes of w with ASCII A-Z turned to a-z, all at once: what
 * tolower() does byte by byte in the C locale, the only one fltblame runs
 * in, and what strcasecmp() compares. Bytes >= 0x80 are left alone. */
static uint64_t fold_ascii8(uint64_t w) {
  const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
  uint64_t low7 = w & ~high;
  uint64_t ge_a = low7 + ones * (0x80 - 'A');     /* high bit set where the byte is >= 'A' */
  uint64_t gt_z = low7 + ones * (0x80 - 'Z' - 1); /* ... and where it is > 'Z' */
  return w | ((ge_a & ~gt_z & ~w & high) >> 2);   /* 0x80 >> 2 = 0x20, the case bit */
}

static uint64_t hash_step(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 32);
}

/* A 64-bit hash of n bytes, case-folded when fold is set, taken a word at a
 * time: paths are hashed at least once per open and per close. Every step is
 * a bijection of the running state, so strings differing in one word never
 * collide. Never 0 (tables use 0 for empty). */
static uint64_t hash_mem(const char *s, size_t n, int fold) {
  uint64_t h = 0x243F6A8885A308D3ull ^ (uint64_t)n, w;
  for (; n >= 8; s += 8, n -= 8) {
    memcpy(&w, s, 8);
    h = hash_step(h, fold ? fold_ascii8(w) : w);
  }
  if (n) { /* the last 1-7 bytes, in fixed-size pieces (no memcpy call) */
    uint32_t w4 = 0;
    uint16_t w2 = 0;
    uint8_t w1 = 0;
    if (n & 4)
      memcpy(&w4, s, 4);
    if (n & 2)
      memcpy(&w2, s + (n & 4), 2);
    if (n & 1)
      w1 = (uint8_t)s[n - 1];
    w = (uint64_t)w4 | (uint64_t)w2 << 32 | (uint64_t)w1 << 48;
    h = hash_step(h, fold ? fold_ascii8(w) : w);
  }
  return h ? h : 1;
}

static uint64_t hash_bytes(const char *s, int fold) {
  return hash_mem(s, strlen(s), fold);
}

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

static char *xstrdup(const char *s) {
  return s ? strdup(s) : NULL;
}

/* ------------------------------------------------------- string interning */

struct intern {
  const char **slots; /* open addressing, NULL = empty */
  uint64_t *hashes;
  size_t cap, count;
  char *chunk; /* current arena chunk */
  size_t chunk_used, chunk_size;
  char **chunks;
  size_t nchunks, chunks_cap;
  size_t bytes, limit;
  int full; /* the limit was reached: new strings are not kept */
};

static void intern_free(struct intern *in) {
  for (size_t i = 0; i < in->nchunks; i++)
    free(in->chunks[i]);
  free(in->chunks);
  free(in->slots);
  free(in->hashes);
}

static int intern_grow(struct intern *in) {
  size_t cap = in->cap ? in->cap * 2 : 256; /* small captures intern a few hundred strings */
  const char **slots = calloc(cap, sizeof(*slots));
  uint64_t *hashes = calloc(cap, sizeof(*hashes));
  if (slots == NULL || hashes == NULL) {
    free(slots);
    free(hashes);
    return -1;
  }
  for (size_t i = 0; i < in->cap; i++) {
    if (in->slots[i] == NULL)
      continue;
    size_t j = mix64(in->hashes[i]) & (cap - 1);
    while (slots[j])
      j = (j + 1) & (cap - 1);
    slots[j] = in->slots[i];
    hashes[j] = in->hashes[i];
  }
  free(in->slots);
  free(in->hashes);
  in->slots = slots;
  in->hashes = hashes;
  in->cap = cap;
  return 0;
}

/* A stable copy of s (len bytes, h = hash_mem(s, len, 1): the case-folded
 * hash, so a caller that hashed a path for a case-insensitive table does not
 * hash it again; strings differing in case are still told apart by strcmp)
 * for the engine's lifetime; NULL when memory runs out or when the byte limit
 * was reached (callers cope). */
static const char *intern_hashed(struct intern *in, const char *s, size_t len, uint64_t h) {
  size_t j, n;
  char *p;

  if ((in->count + 1) * 2 > in->cap && intern_grow(in) < 0)
    return NULL;
  for (j = mix64(h) & (in->cap - 1); in->slots[j]; j = (j + 1) & (in->cap - 1))
    if (in->hashes[j] == h && !strcmp(in->slots[j], s))
      return in->slots[j];
  n = len + 1;
  if (in->bytes + n > in->limit) {
    in->full = 1;
    return NULL;
  }
  if (in->chunk == NULL || in->chunk_used + n > in->chunk_size) {
    size_t size = n > 65536 ? n : 65536;
    if (in->nchunks == in->chunks_cap) {
      size_t cap = in->chunks_cap ? in->chunks_cap * 2 : 16;
      char **c = realloc(in->chunks, cap * sizeof(*c));
      if (c == NULL)
        return NULL;
      in->chunks = c;
      in->chunks_cap = cap;
    }
    if ((in->chunk = malloc(size)) == NULL)
      return NULL;
    in->chunks[in->nchunks++] = in->chunk;
    in->chunk_size = size;
    in->chunk_used = 0;
    in->bytes += size;
  }
  p = in->chunk + in->chunk_used;
  memcpy(p, s, n);
  in->chunk_used += n;
  in->slots[j] = p;
  in->hashes[j] = h;
  in->count++;
  return p;
}

/* intern_hashed for a string not hashed yet; NULL for NULL. */
static const char *intern(struct intern *in, const char *s) {
  size_t len;
  if (s == NULL)
    return NULL;
  len = strlen(s);
  return intern_hashed(in, s, len, hash_mem(s, len, 1));
}

/* Strings the parsers pass again and again by the same pointer (the process
 * name of every open, the company of every module: the reader's tables),
 * remembered by pointer. A pointer can later hold another string, so a hit is
 * checked with strcmp, which costs less than hashing and probing. */
#define RECENT_SLOTS 32

struct recent {
  const char *raw, *interned;
};

static const char *intern_recent(struct intern *in, struct recent *cache, const char *s) {
  struct recent *r;
  const char *n;
  if (s == NULL)
    return NULL;
  r = &cache[((uintptr_t)s >> 3) % RECENT_SLOTS];
  if (r->raw == s && !strcmp(r->interned, s))
    return r->interned;
  if ((n = intern(in, s)) != NULL) {
    r->raw = s;
    r->interned = n;
  }
  return n;
}

/* ------------------------------------------ u64 -> u32 map (no deletes) */

struct umap {
  uint64_t *keys; /* 0 = empty; callers never use key 0 */
  uint32_t *vals;
  size_t cap, count;
};

static void umap_free(struct umap *m) {
  free(m->keys);
  free(m->vals);
}

static int umap_grow(struct umap *m) {
  size_t cap = m->cap ? m->cap * 2 : 256;
  uint64_t *keys = calloc(cap, sizeof(*keys));
  uint32_t *vals = calloc(cap, sizeof(*vals));
  if (keys == NULL || vals == NULL) {
    free(keys);
    free(vals);
    return -1;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i])
      continue;
    size_t j = mix64(m->keys[i]) & (cap - 1);
    while (keys[j])
      j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  umap_free(m);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return 0;
}

static void umap_clear(struct umap *m) {
  if (m->cap)
    memset(m->keys, 0, m->cap * sizeof(*m->keys));
  m->count = 0;
}

static uint32_t umap_get(const struct umap *m, uint64_t key) {
  if (m->cap == 0 || key == 0)
    return NIL;
  for (size_t j = mix64(key) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1))
    if (m->keys[j] == key)
      return m->vals[j];
  return NIL;
}

static int umap_put(struct umap *m, uint64_t key, uint32_t val) {
  size_t j;
  if (key == 0)
    return 0;
  if ((m->count + 1) * 2 > m->cap && umap_grow(m) < 0)
    return -1;
  for (j = mix64(key) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1))
    if (m->keys[j] == key) {
      m->vals[j] = val;
      return 0;
    }
  m->keys[j] = key;
  m->vals[j] = val;
  m->count++;
  return 0;
}

/* ---------------------------- bounded pool of slots with two hash chains */

/* Slots with a payload, indexed twice (k1, k2; 0 = not indexed). The pool
 * starts small and doubles up to max; when full at max the slot under the
 * clock hand is evicted, so memory stays bounded whatever the input. */
struct pool {
  uint32_t cap, max, used, hand, nbuckets;
  size_t psize;
  void *payload;
  uint32_t *head1, *head2;
  uint32_t *next1, *next2;
  uint64_t *k1, *k2;
  uint8_t *live;
  uint32_t free_head;
  uint32_t *free_next;
};

static void pool_free(struct pool *p) {
  free(p->payload);
  free(p->head1);
  free(p->head2);
  free(p->next1);
  free(p->next2);
  free(p->k1);
  free(p->k2);
  free(p->live);
  free(p->free_next);
}

static uint32_t bucket(const struct pool *p, uint64_t k) {
  return (uint32_t)(mix64(k) & (p->nbuckets - 1));
}

/* Only arrays read before a slot is taken need zeroing (live): a slot's
 * payload, keys and links are written when it is taken. */
static int grow_array(void *pp, size_t elem, uint32_t oldn, uint32_t newn, int zero) {
  void **a = pp;
  char *n = realloc(*a, (size_t)newn * elem);
  if (n == NULL)
    return -1;
  if (zero)
    memset(n + (size_t)oldn * elem, 0, (size_t)(newn - oldn) * elem);
  *a = n;
  return 0;
}

static int pool_grow(struct pool *p) {
  uint32_t old = p->cap, cap = old ? old * 2 : 256;
  if (cap > p->max)
    cap = p->max;
  if (cap <= old)
    return -1;
  if (grow_array(&p->payload, p->psize, old, cap, 0) || grow_array(&p->next1, 4, old, cap, 0) ||
      grow_array(&p->next2, 4, old, cap, 0) || grow_array(&p->k1, 8, old, cap, 0) ||
      grow_array(&p->k2, 8, old, cap, 0) || grow_array(&p->live, 1, old, cap, 1) ||
      grow_array(&p->free_next, 4, old, cap, 0))
    return -1;
  free(p->head1);
  free(p->head2);
  p->nbuckets = 1;
  while (p->nbuckets < cap)
    p->nbuckets <<= 1;
  p->head1 = malloc(p->nbuckets * sizeof(uint32_t));
  p->head2 = malloc(p->nbuckets * sizeof(uint32_t));
  if (p->head1 == NULL || p->head2 == NULL)
    return -1;
  memset(p->head1, 0xff, p->nbuckets * sizeof(uint32_t));
  memset(p->head2, 0xff, p->nbuckets * sizeof(uint32_t));
  for (uint32_t i = 0; i < old; i++) { /* re-chain the live slots */
    if (!p->live[i])
      continue;
    if (p->k1[i]) {
      uint32_t b = bucket(p, p->k1[i]);
      p->next1[i] = p->head1[b];
      p->head1[b] = i;
    }
    if (p->k2[i]) {
      uint32_t b = bucket(p, p->k2[i]);
      p->next2[i] = p->head2[b];
      p->head2[b] = i;
    }
  }
  for (uint32_t i = cap; i-- > old;) {
    p->free_next[i] = p->free_head;
    p->free_head = i;
  }
  p->cap = cap;
  return 0;
}

static int pool_init(struct pool *p, uint32_t max, size_t psize) {
  memset(p, 0, sizeof(*p));
  p->max = max;
  p->psize = psize;
  p->free_head = NIL;
  return pool_grow(p);
}

static void chain_unlink(uint32_t *head, uint32_t *next, uint32_t idx) {
  for (uint32_t *pp = head; *pp != NIL; pp = &next[*pp])
    if (*pp == idx) {
      *pp = next[idx];
      return;
    }
}

static void pool_release(struct pool *p, uint32_t idx) {
  if (!p->live[idx])
    return;
  if (p->k1[idx])
    chain_unlink(&p->head1[bucket(p, p->k1[idx])], p->next1, idx);
  if (p->k2[idx])
    chain_unlink(&p->head2[bucket(p, p->k2[idx])], p->next2, idx);
  p->live[idx] = 0;
  p->free_next[idx] = p->free_head;
  p->free_head = idx;
  p->used--;
}

/* A free slot linked under k1/k2. When the pool is full at its maximum, the
 * slot under the clock hand is the victim: *victim gets its index and NIL is
 * returned, so the caller can look at the payload, then call
 * pool_evict_and_take. */
static uint32_t pool_take(struct pool *p, uint64_t k1, uint64_t k2, uint32_t *victim) {
  uint32_t idx;
  *victim = NIL;
  if (p->free_head == NIL && pool_grow(p) < 0) {
    if (p->cap == 0)
      return NIL;
    while (!p->live[p->hand])
      p->hand = (p->hand + 1) % p->cap;
    *victim = p->hand;
    return NIL;
  }
  idx = p->free_head;
  p->free_head = p->free_next[idx];
  p->live[idx] = 1;
  p->used++;
  p->k1[idx] = k1;
  p->k2[idx] = k2;
  if (k1) {
    uint32_t b = bucket(p, k1);
    p->next1[idx] = p->head1[b];
    p->head1[b] = idx;
  }
  if (k2) {
    uint32_t b = bucket(p, k2);
    p->next2[idx] = p->head2[b];
    p->head2[b] = idx;
  }
  return idx;
}

static uint32_t pool_evict_and_take(struct pool *p, uint32_t victim, uint64_t k1, uint64_t k2) {
  uint32_t dummy;
  pool_release(p, victim);
  p->hand = (victim + 1) % p->cap;
  return pool_take(p, k1, k2, &dummy);
}

#define POOL_EACH1(p, key, i)                                                                                \
  for (uint32_t i = (p)->head1[bucket((p), (key))]; i != NIL; i = (p)->next1[i])                             \
    if ((p)->k1[i] == (key))
#define POOL_EACH2(p, key, i)                                                                                \
  for (uint32_t i = (p)->head2[bucket((p), (key))]; i != NIL; i = (p)->next2[i])                             \
    if ((p)->k2[i] == (key))

/* ------------------------------------------------------------- the state */

struct handle {
  uint64_t fo;
  uint32_t pid;
  const char *process, *path, *file, *format;
  uint64_t index, time;
  uint32_t access, share;
  const char *nested; /* a filter whose frames issued this open, or NULL */
};

struct irp_state {
  uint64_t irp, fo;
  const char *last_pre; /* last third-party pre-callback module */
  uint64_t last_pre_time, last_pre_index;
  const char *failed; /* module whose callback failed, NULL if none */
  uint32_t failed_status;
  int failed_post;
  uint64_t failed_time, failed_index, failed_offset, failed_routine_off;
  const char *file;
  uint32_t pid, tid;
  int major;
};

#define NESTED_RING 4096
#define OPENED_SLOTS 64

/* The hash of a path recently opened, so that its close (Procmon: no file
 * object, the handle is found by path and process) compares the path with
 * the interned copy instead of hashing it again. */
struct opened {
  const char *path; /* interned */
  size_t len;
  uint64_t hash;
};

struct nested_open {
  uint64_t path_hash;
  const char *module, *file, *format;
  uint64_t index, time;
  uint32_t pid;
};

struct inv {
  const char *key;      /* lower, no .sys */
  const char *display;  /* first name seen */
  const char *altitude; /* what the machine said (fltmc / eventlog) */
  unsigned sources;
  const char *company, *version;
  int instances, loaded;
  uint32_t stack_events;
};

struct group {
  uint64_t key;
  struct vd_finding f;
  int from_procmon;
  int reasons_seen; /* bit per vd_reason: evidence link already added */
};

struct fact_rec {
  struct vd_fact f;
};

struct rules_engine {
  const struct kf_db *db;
  struct rules_limits lim;
  struct ev_sink sink;
  struct intern in;
  struct recent recent[RECENT_SLOTS]; /* see intern_recent */
  struct umap procs;                  /* pid+1 -> index into proc_names */
  const char **proc_names;
  size_t nprocs, procs_cap;
  struct umap kmods; /* name hash -> index into kmod_company */
  const char **kmod_company;
  size_t nkmods, kmods_cap;
  struct umap invmap; /* key hash -> inv index */
  struct inv *inv;
  size_t ninv, inv_cap;
  struct pool hpool;               /* open handles (struct handle): k1 = path hash, k2 = file object */
  struct pool ipool;               /* callback state (struct irp_state): k1 = irp, k2 = file object */
  struct umap groupmap;            /* group key -> index in groups */
  struct nested_open *nested_ring; /* recent opens a filter issued from its callback, by path */
  uint32_t nested_next;
  struct opened opened[OPENED_SLOTS]; /* by process and path length */
  struct umap nestmap;                /* path hash -> ring index (checked: the slot may have been reused) */
  struct umap modcache;               /* module name hash -> MOD_* bits; cleared when the inventory changes */
  struct group *groups;
  size_t ngroups, groups_cap;
  uint32_t groups_dropped;
  struct vd_fact *facts;
  size_t nfacts, facts_cap;
  uint32_t facts_dropped;
  char *notes[16]; /* parser remarks (ETL "no minifilter events"): they go to not_decided */
  size_t nnotes;
  uint64_t time_first, time_last;
  uint64_t n_fileops, n_callbacks, n_images, n_procs, n_infos, n_facts, n_failures, n_evicted;
  int oom;
  struct fb_strbuf tmp;
};

#define HANDLE(e, i) (&((struct handle *)(e)->hpool.payload)[i])
#define IRPST(e, i) (&((struct irp_state *)(e)->ipool.payload)[i])

/* --------------------------------------------------------- small lookups */

static const char *proc_name(struct rules_engine *e, uint32_t pid) {
  uint32_t i = umap_get(&e->procs, (uint64_t)pid + 1);
  return i == NIL ? NULL : e->proc_names[i];
}

static void proc_set(struct rules_engine *e, uint32_t pid, const char *name) {
  const char *n = intern(&e->in, name);
  uint32_t i = umap_get(&e->procs, (uint64_t)pid + 1);
  if (n == NULL)
    return;
  if (i != NIL) {
    e->proc_names[i] = n;
    return;
  }
  if (e->nprocs == e->procs_cap) {
    size_t cap = e->procs_cap ? e->procs_cap * 2 : 256;
    const char **p = realloc(e->proc_names, cap * sizeof(*p));
    if (p == NULL) {
      e->oom = 1;
      return;
    }
    e->proc_names = p;
    e->procs_cap = cap;
  }
  e->proc_names[e->nprocs] = n;
  if (umap_put(&e->procs, (uint64_t)pid + 1, (uint32_t)e->nprocs) < 0)
    e->oom = 1;
  else
    e->nprocs++;
}

static uint64_t key_hash(const char *name) {
  char k[128];
  return hash_bytes(kf_name_key(name, k, sizeof(k)), 0);
}

static const char *kmod_company(struct rules_engine *e, const char *name) {
  uint32_t i = umap_get(&e->kmods, key_hash(name));
  return i == NIL ? NULL : e->kmod_company[i];
}

static struct inv *inv_find(struct rules_engine *e, const char *name) {
  uint32_t i = umap_get(&e->invmap, key_hash(name));
  return i == NIL ? NULL : &e->inv[i];
}

static struct inv *inv_get(struct rules_engine *e, const char *name) {
  char k[128];
  uint64_t kh;
  uint32_t i;
  struct inv *v;
  kh = hash_bytes(kf_name_key(name, k, sizeof(k)), 0); /* key_hash(name): the key is made once */
  if ((i = umap_get(&e->invmap, kh)) != NIL)
    return &e->inv[i];
  if (name == NULL || !name[0])
    return NULL;
  if (e->ninv == e->inv_cap) {
    size_t cap = e->inv_cap ? e->inv_cap * 2 : 64;
    struct inv *p = realloc(e->inv, cap * sizeof(*p));
    if (p == NULL) {
      e->oom = 1;
      return NULL;
    }
    e->inv = p;
    e->inv_cap = cap;
  }
  v = &e->inv[e->ninv];
  memset(v, 0, sizeof(*v));
  v->key = intern(&e->in, k);
  v->display = intern(&e->in, ev_path_basename(name));
  v->instances = -1;
  v->loaded = -1;
  if (v->key == NULL || v->display == NULL || umap_put(&e->invmap, kh, (uint32_t)e->ninv) < 0) {
    e->oom = 1;
    return NULL;
  }
  e->ninv++;
  umap_clear(&e->modcache); /* a new inventory entry can change what is blamable */
  return v;
}

/* Is this module a filter the rules may name? Observers, FltMgr and core
 * kernel modules are not. Known filters (database or the upload's own
 * inventory) are; an unknown kernel module that is not Microsoft's is too. */
static int module_is_blamable_slow(struct rules_engine *e, const char *module) {
  const char *company;
  if (module == NULL || kf_name_is_observer(module) || kf_name_is_core_kernel(module))
    return 0;
  if (kf_lookup(e->db, module, NULL) || inv_find(e, module))
    return 1;
  company = kmod_company(e, module);
  return company == NULL || strncasecmp(company, "Microsoft", 9) != 0;
}

static int module_is_inbox_slow(struct rules_engine *e, const char *module) {
  const struct kf_entry *k = kf_lookup(e->db, module, NULL);
  const char *company;
  if (k)
    return k->inbox;
  company = kmod_company(e, module);
  return company && !strncasecmp(company, "Microsoft", 9);
}

enum { MOD_KNOWN = 4, MOD_BLAMABLE = 1, MOD_INBOX = 2 };

/* Both answers for a module name, cached by the name's hash: stacks repeat
 * the same few modules millions of times. */
static unsigned module_bits(struct rules_engine *e, const char *module) {
  uint64_t h = hash_bytes(module, 1);
  uint32_t b = umap_get(&e->modcache, h);
  if (b != NIL)
    return b;
  b = MOD_KNOWN | (module_is_blamable_slow(e, module) ? MOD_BLAMABLE : 0) |
      (module_is_inbox_slow(e, module) ? MOD_INBOX : 0);
  if (umap_put(&e->modcache, h, b) < 0)
    e->oom = 1;
  return b;
}

static int module_is_blamable(struct rules_engine *e, const char *module) {
  return module != NULL && (module_bits(e, module) & MOD_BLAMABLE) != 0;
}

static int module_is_inbox(struct rules_engine *e, const char *module) {
  return module != NULL && (module_bits(e, module) & MOD_INBOX) != 0;
}

/* strcasecmp(m, "fltmgr.sys") == 0 || strcasecmp(m, "fltmgr") == 0, inline:
 * it is asked of every frame of every stack. For a letter, c | 0x20 is its
 * lower case, and only the two cases of that letter give it (0x20 is one
 * bit); a NUL never matches, so no byte past the end is read. */
static int name_is_fltmgr(const char *m) {
  static const char want[] = "fltmgr";
  for (size_t i = 0; i < 6; i++)
    if ((m[i] | 0x20) != want[i])
      return 0;
  if (m[6] == '\0')
    return 1;
  return m[6] == '.' && (m[7] | 0x20) == 's' && (m[8] | 0x20) == 'y' && (m[9] | 0x20) == 's' && m[10] == '\0';
}

/* The innermost blamable module whose frames sit between two FltMgr runs
 * (it issued I/O from its own callback); third-party before inbox. Frames
 * of one module come in runs and a stack's frames share its module names, so
 * a name is asked about once per run (same pointer, same answer). */
static const char *stack_nested_filter(struct rules_engine *e, const struct ev_stack *st,
                                       uint32_t *frame_at) {
  uint32_t first = NIL, last = NIL;
  const char *inbox_pick = NULL, *prev = NULL, *flt;
  uint32_t inbox_at = NIL;
  unsigned bits = 0;
  int prev_fltmgr = 0;
  for (uint32_t i = 0; i < st->count; i++) {
    const char *m = st->frames[i].module;
    if (m != prev) {
      prev = m;
      prev_fltmgr = m != NULL && name_is_fltmgr(m);
    }
    if (prev_fltmgr) {
      if (first == NIL)
        first = i;
      last = i;
    }
  }
  if (first == NIL || last == first)
    return NULL;
  flt = st->frames[last].module;
  prev = NULL;
  for (uint32_t i = first + 1; i < last; i++) {
    const char *m = st->frames[i].module;
    if (m == NULL || !st->frames[i].kernel)
      continue;
    if (m != prev) {
      prev = m;
      bits = (m == flt || name_is_fltmgr(m)) ? 0 : module_bits(e, m);
    }
    if (!(bits & MOD_BLAMABLE))
      continue;
    if (!(bits & MOD_INBOX)) {
      *frame_at = i;
      return m;
    }
    if (inbox_pick == NULL) {
      inbox_pick = m;
      inbox_at = i;
    }
  }
  *frame_at = inbox_at;
  return inbox_pick;
}

/* The driver a status code belongs to, NULL for generic statuses. */
static const char *status_owner(uint32_t status) {
  if ((status & 0xFFFFFF00u) == 0xC000CF00u) /* STATUS_CLOUD_FILE_* */
    return "cldflt.sys";
  return NULL;
}

/* A status a filter returns when it blocks an operation. */
static int status_is_block(uint32_t s) {
  return s == ST_ACCESS_DENIED || s == ST_VIRUS_INFECTED || s == ST_VIRUS_DELETED ||
         (s >= ST_POLICY_DEFAULT && s <= ST_POLICY_OTHER) || s == ST_ACCESS_DISABLED_NO_SAFER ||
         s == ST_NOT_SUPPORTED || s == ST_MEDIA_WRITE_PROTECTED || s == ST_CANNOT_DELETE;
}

static int kind_is_modifying(enum ev_file_op_kind k) {
  return k == EV_FOP_CREATE || k == EV_FOP_SET_INFO || k == EV_FOP_WRITE || k == EV_FOP_RENAME ||
         k == EV_FOP_DELETE || k == EV_FOP_OP_END;
}

/* ---------------------------------------------------------------- groups */

static void filter_fill(struct rules_engine *e, struct vd_filter *f, const char *name,
                        const char *altitude_hint) {
  struct inv *v = inv_find(e, name);
  const char *alt = altitude_hint ? altitude_hint : v ? v->altitude : NULL;
  const struct kf_entry *k = kf_lookup(e->db, name, alt);
  vd_filter_free(f);
  f->name = xstrdup(v && v->display && strchr(name, '.') == NULL ? v->display : name);
  if (alt == NULL && k && kf_altitude_count(e->db, name) == 1)
    alt = k->altitude; /* a single allocation: that is its altitude */
  f->altitude = xstrdup(alt);
  if (k) {
    char buf[256];
    f->allocated = xstrdup(kf_altitudes(e->db, name, buf, sizeof(buf)));
  }
  if (k) {
    f->vendor = xstrdup(k->vendor);
    f->product = k->product[0] ? xstrdup(k->product) : NULL;
    f->group = xstrdup(k->group);
    f->inbox = k->inbox;
    f->known = 1;
  } else {
    const char *company = v && v->company ? v->company : kmod_company(e, name);
    f->vendor = xstrdup(company);
    f->inbox = company && !strncasecmp(company, "Microsoft", 9);
    if (alt) {
      const char *g = kf_group_for_altitude(strtod(alt, NULL));
      f->group = g[0] ? xstrdup(g) : NULL;
    }
  }
  f->observer = kf_name_is_observer(name) || (k && k->observer);
}

static void add_link(struct rules_engine *e, struct vd_finding *f, const char *kind,
                     const struct ev_origin *o, uint64_t time, uint32_t pid, uint32_t tid, uint64_t fo,
                     uint64_t irp, uint32_t status, int status_known, const char *op, const char *module,
                     const char *text) {
  struct vd_evidence *l;
  if (f->nevidence >= e->lim.evidence) {
    f->evidence_dropped++;
    return;
  }
  if (f->nevidence == f->evidence_cap) {
    size_t cap = f->evidence_cap ? f->evidence_cap * 2 : 4;
    struct vd_evidence *p = realloc(f->evidence, cap * sizeof(*p));
    if (p == NULL) {
      e->oom = 1;
      return;
    }
    f->evidence = p;
    f->evidence_cap = cap;
  }
  l = &f->evidence[f->nevidence++];
  memset(l, 0, sizeof(*l));
  l->kind = xstrdup(kind);
  l->file = xstrdup(o ? o->file : NULL);
  l->format = xstrdup(o ? o->format : NULL);
  l->index = o ? o->index : 0;
  l->offset = o ? o->offset : UINT64_MAX;
  l->time = time;
  l->pid = pid;
  l->tid = tid;
  l->file_object = fo;
  l->irp = irp;
  l->status = status;
  l->status_known = status_known;
  l->operation = xstrdup(op);
  l->module = xstrdup(module);
  l->text = xstrdup(text);
}

/* The case-folded hash of a path, NULL hashed as "". The rules hash a
 * failing operation's path once and key the group, the handle and the
 * nested-open tables with it. */
static uint64_t path_hash(const char *path) {
  return hash_bytes(path ? path : "", 1);
}

/* ph: path_hash(path) */
static uint64_t group_key(enum vd_kind kind, uint32_t status, uint32_t pid, uint64_t ph, const char *op) {
  uint64_t h = ph;
  h = mix64(h ^ ((uint64_t)kind << 40) ^ ((uint64_t)status << 8) ^ ((uint64_t)pid << 33));
  return h ^ hash_bytes(op ? op : "", 0);
}

static struct group *group_get(struct rules_engine *e, enum vd_kind kind, const struct ev_file_op *op,
                               const char *path, uint64_t ph, const char *process) {
  uint64_t key = group_key(kind, op->status, op->pid, ph, op->op_name);
  uint32_t at = umap_get(&e->groupmap, key);
  struct group *g;
  if (at != NIL)
    return &e->groups[at];
  if (e->ngroups >= e->lim.findings) {
    e->groups_dropped++;
    return NULL;
  }
  if (e->ngroups == e->groups_cap) {
    size_t cap = e->groups_cap ? e->groups_cap * 2 : 16;
    struct group *p = realloc(e->groups, cap * sizeof(*p));
    if (p == NULL) {
      e->oom = 1;
      return NULL;
    }
    e->groups = p;
    e->groups_cap = cap;
  }
  if (umap_put(&e->groupmap, key, (uint32_t)e->ngroups) < 0) {
    e->oom = 1;
    return NULL;
  }
  g = &e->groups[e->ngroups++];
  memset(g, 0, sizeof(*g));
  g->key = key;
  g->f.kind = kind;
  g->f.path = xstrdup(path);
  g->f.process = xstrdup(process);
  g->f.pid = op->pid;
  g->f.operation = xstrdup(op->op_name ? op->op_name : ev_file_op_kind_name(op->kind));
  g->f.op_kind = xstrdup(ev_file_op_kind_name(op->kind));
  g->f.status = op->status;
  g->f.first_time = op->time;
  g->f.confidence = VD_UNDETERMINED;
  g->from_procmon = op->origin.format && !strcmp(op->origin.format, "pml");
  if (g->from_procmon) {
    g->f.observed_by = xstrdup("procmon");
    g->f.fs_possible = kind == VD_DENIED; /* Procmon sees what came from below it: the file system too */
  } else {
    g->f.observed_by = xstrdup(op->origin.format && !strcmp(op->origin.format, "etl") ? "fileio" : "log");
  }
  return g;
}

static void group_name(struct rules_engine *e, struct group *g, enum vd_confidence c, enum vd_reason r,
                       const char *module, const char *altitude) {
  if (c <= g->f.confidence && g->f.has_filter)
    return;
  if (c < g->f.confidence)
    return;
  filter_fill(e, &g->f.filter, module, altitude);
  g->f.has_filter = 1;
  g->f.confidence = c;
  g->f.reason = r;
  if (c >= VD_STRONG)
    g->f.fs_possible = 0;
}

/* "FLTMGR.SYS+0x2067 > ntoskrnl.exe+0x4e83e2 > ..." (kernel frames, at most 24). */
static const char *stack_text(struct rules_engine *e, const struct ev_stack *st) {
  struct fb_strbuf *b = &e->tmp;
  uint32_t shown = 0;
  fb_strbuf_reset(b);
  for (uint32_t i = 0; i < st->count && shown < 24; i++) {
    const struct ev_frame *f = &st->frames[i];
    if (!f->kernel)
      continue;
    if (shown++)
      fb_strbuf_puts(b, " > ");
    if (f->module)
      fb_strbuf_printf(b, "%s+0x%llx", f->module, (unsigned long long)f->offset);
    else
      fb_strbuf_printf(b, "0x%llx", (unsigned long long)f->addr);
  }
  return b->s ? b->s : "";
}

static void link_op(struct rules_engine *e, struct group *g, const struct ev_file_op *op, const char *path) {
  char text[512];
  if (g->f.nevidence >= e->lim.evidence) {
    g->f.evidence_dropped++;
    return;
  }
  snprintf(text, sizeof(text), "%s %s", op->op_name ? op->op_name : ev_file_op_kind_name(op->kind),
           path ? path : "");
  add_link(e, &g->f, "file_op", &op->origin, op->time, op->pid, op->tid, op->file_object, op->irp, op->status,
           op->status_known, op->op_name, NULL, text);
}

/* ------------------------------------------------------------- callbacks */

static int on_process(void *ctx, const struct ev_process *r) {
  struct rules_engine *e = ctx;
  e->n_procs++;
  if (r->name && !r->ended)
    proc_set(e, r->pid, r->name);
  return e->oom;
}

static int on_thread(void *ctx, const struct ev_thread *r) {
  (void)ctx;
  (void)r;
  return 0;
}

static int on_image(void *ctx, const struct ev_image *r) {
  struct rules_engine *e = ctx;
  const char *name = r->name ? r->name : ev_path_basename(r->path);
  char k[128];
  uint64_t kh;
  e->n_images++;
  if (!r->kernel || name == NULL || !name[0])
    return 0;
  umap_clear(&e->modcache);
  /* the name's key once: captures list hundreds of kernel modules */
  kh = hash_bytes(kf_name_key(name, k, sizeof(k)), 0); /* key_hash(name) */
  if (umap_get(&e->kmods, kh) == NIL) {
    if (e->nkmods == e->kmods_cap) {
      size_t cap = e->kmods_cap ? e->kmods_cap * 2 : 256;
      const char **p = realloc(e->kmod_company, cap * sizeof(*p));
      if (p == NULL)
        return e->oom = 1;
      e->kmod_company = p;
      e->kmods_cap = cap;
    }
    e->kmod_company[e->nkmods] = intern_recent(&e->in, e->recent, r->company);
    if (umap_put(&e->kmods, kh, (uint32_t)e->nkmods) < 0)
      return e->oom = 1;
    e->nkmods++;
  }
  if ((kf_lookup_key(e->db, k, NULL) && !kf_key_is_core_kernel(k)) || kf_key_is_observer(k)) {
    struct inv *v = inv_get(e, name);
    if (v == NULL)
      return e->oom;
    v->sources |= VD_SRC_IMAGE;
    if (r->company && !v->company)
      v->company = intern(&e->in, r->company);
    if (r->version && !v->version)
      v->version = intern(&e->in, r->version);
    if (r->unloaded)
      v->loaded = v->loaded == 1 ? 1 : 0;
    else
      v->loaded = 1;
  }
  return e->oom;
}

static int on_filter_info(void *ctx, const struct ev_filter_info *r) {
  struct rules_engine *e = ctx;
  struct inv *v;
  e->n_infos++;
  if (r->name == NULL || !r->name[0])
    return 0;
  umap_clear(&e->modcache);
  if ((v = inv_get(e, r->name)) == NULL)
    return e->oom;
  /* fltmc and FilterManager events print the service name ("TmPreFlt"):
   * prefer it for display; a trace's image-derived name keeps the file name */
  if (r->source != EV_FSRC_IMAGE)
    v->display = intern(&e->in, r->name);
  v->sources |= r->source == EV_FSRC_EVENTLOG ? VD_SRC_EVENTLOG
                : r->source == EV_FSRC_IMAGE  ? VD_SRC_IMAGE
                                              : VD_SRC_FLTMC;
  if (r->altitude && r->altitude[0] && (v->altitude == NULL || r->source != EV_FSRC_EVENTLOG))
    v->altitude = intern(&e->in, r->altitude);
  if (r->instances >= 0)
    v->instances = r->instances;
  if (r->loaded >= 0)
    v->loaded = r->loaded;
  return e->oom;
}

static int on_fact(void *ctx, const struct ev_fact *r) {
  struct rules_engine *e = ctx;
  struct vd_fact *f;
  e->n_facts++;
  if (r->kind == EV_FACT_OTHER && r->code == 0 && r->text && !r->path) {
    for (size_t i = 0; i < e->nnotes; i++)
      if (!strcmp(e->notes[i], r->text))
        return 0;
    if (e->nnotes < sizeof(e->notes) / sizeof(e->notes[0]) && (e->notes[e->nnotes] = strdup(r->text)) != NULL)
      e->nnotes++;
    return 0;
  }
  if (r->kind != EV_FACT_CBS_FAILURE && r->kind != EV_FACT_WU_FAILURE)
    return 0; /* bugchecks and setup results belong to the crash rules (rules/crash.h) */
  if (e->nfacts >= 256) {
    e->facts_dropped++;
    return 0;
  }
  if (e->nfacts == e->facts_cap) {
    size_t cap = e->facts_cap ? e->facts_cap * 2 : 16;
    struct vd_fact *p = realloc(e->facts, cap * sizeof(*p));
    if (p == NULL)
      return e->oom = 1;
    e->facts = p;
    e->facts_cap = cap;
  }
  f = &e->facts[e->nfacts++];
  memset(f, 0, sizeof(*f));
  f->kind = xstrdup(ev_fact_kind_name(r->kind));
  f->file = xstrdup(r->origin.file);
  f->index = r->origin.index;
  f->time = r->time;
  f->code = r->code;
  f->path = xstrdup(r->path);
  f->subject = xstrdup(r->subject);
  f->text = xstrdup(r->text);
  f->finding = -1;
  return 0;
}

static struct irp_state *irp_lookup(struct rules_engine *e, uint64_t irp, uint64_t fo, uint32_t *at) {
  if (irp) {
    POOL_EACH1(&e->ipool, irp, i) {
      *at = i;
      return IRPST(e, i);
    }
  }
  if (fo) {
    POOL_EACH2(&e->ipool, fo, i) {
      *at = i;
      return IRPST(e, i);
    }
  }
  *at = NIL;
  return NULL;
}

static void finding_from_callback(struct rules_engine *e, const struct irp_state *s);

static int on_filter_callback(void *ctx, const struct ev_filter_callback *r) {
  struct rules_engine *e = ctx;
  struct irp_state *s;
  uint32_t at, victim;
  int failed = r->phase == EV_CB_PRE_FAILED || r->phase == EV_CB_POST_FAILED;
  e->n_callbacks++;
  if (r->module) {
    struct inv *v = inv_get(e, r->module);
    if (v)
      v->sources |= VD_SRC_CALLBACK;
  }
  if (r->phase != EV_CB_PRE_START && !failed)
    return e->oom;
  if (failed && (!r->status_known || (r->status & 0xC0000000u) != 0xC0000000u))
    return e->oom; /* a "failure" event without an error status decides nothing */
  if (r->module == NULL || kf_name_is_observer(r->module) || kf_name_is_filter_manager(r->module))
    return e->oom;
  if (!failed && !module_is_blamable(e, r->module))
    return e->oom;
  s = irp_lookup(e, r->irp, r->file_object, &at);
  if (s == NULL) {
    at = pool_take(&e->ipool, r->irp, r->file_object, &victim);
    if (at == NIL && victim != NIL) {
      e->n_evicted++;
      if (IRPST(e, victim)->failed)
        finding_from_callback(e, IRPST(e, victim));
      at = pool_evict_and_take(&e->ipool, victim, r->irp, r->file_object);
    }
    if (at == NIL)
      return e->oom;
    s = IRPST(e, at);
    memset(s, 0, sizeof(*s));
    s->irp = r->irp;
    s->fo = r->file_object;
  }
  s->pid = r->pid;
  s->tid = r->tid;
  s->major = r->major_function;
  s->file = intern(&e->in, r->origin.file);
  if (failed) {
    if (s->failed == NULL) {
      s->failed = intern(&e->in, r->module);
      s->failed_status = r->status;
      s->failed_post = r->phase == EV_CB_POST_FAILED;
      s->failed_time = r->time;
      s->failed_index = r->origin.index;
      s->failed_offset = r->origin.offset;
      s->failed_routine_off = r->module_offset;
    }
  } else if (!module_is_inbox(e, r->module)) {
    s->last_pre = intern(&e->in, r->module);
    s->last_pre_time = r->time;
    s->last_pre_index = r->origin.index;
  }
  return e->oom;
}

/* The path an open file object was opened with (ETL), NULL if not seen. */
static const char *fo_path(struct rules_engine *e, uint64_t fo) {
  if (fo == 0)
    return NULL;
  POOL_EACH2(&e->hpool, fo, i) {
    return (*HANDLE(e, i)).path;
  }
  return NULL;
}

static void callback_link(struct rules_engine *e, struct group *g, const struct irp_state *s) {
  struct ev_origin o = {s->file, "etl", s->failed_index, s->failed_offset};
  char text[256];
  snprintf(text, sizeof(text), "%s %s-operation callback (%s+0x%llx) failed major function %d with 0x%08X",
           s->failed, s->failed_post ? "post" : "pre", s->failed, (unsigned long long)s->failed_routine_off,
           s->major, s->failed_status);
  add_link(e, &g->f, "filter_callback", &o, s->failed_time, s->pid, s->tid, s->fo, s->irp, s->failed_status,
           1, NULL, s->failed, text);
}

static void finding_from_callback(struct rules_engine *e, const struct irp_state *s) {
  struct ev_file_op op;
  struct group *g;
  const char *path;
  ev_file_op_init(&op);
  op.origin.file = s->file;
  op.origin.format = "etl";
  op.origin.index = s->failed_index;
  op.time = s->failed_time;
  op.pid = s->pid;
  op.tid = s->tid;
  op.status = s->failed_status;
  op.status_known = 1;
  op.kind = s->major == 0 ? EV_FOP_CREATE : EV_FOP_OTHER;
  op.op_name = "minifilter callback";
  op.file_object = s->fo;
  op.irp = s->irp;
  path = fo_path(e, s->fo);
  g = group_get(e, VD_DENIED, &op, path, path_hash(path), proc_name(e, s->pid));
  if (g == NULL)
    return;
  if (g->f.occurrences == 0 || op.time < g->f.first_time)
    g->f.first_time = op.time;
  if (op.time > g->f.last_time)
    g->f.last_time = op.time;
  g->f.occurrences++;
  callback_link(e, g, s);
  group_name(e, g, VD_CONFIRMED, VD_R_CALLBACK_FAILED, s->failed, NULL);
  free(g->f.observed_by);
  g->f.observed_by = xstrdup("minifilter");
}

/* ----------------------------------------------------------- file ops */

static int access_reads(uint32_t a) {
  return (a & (0x0001u | 0x0020u | 0x80000000u | 0x20000000u | 0x10000000u)) != 0;
}
static int access_writes(uint32_t a) {
  return (a & (0x0002u | 0x0004u | 0x40000000u | 0x10000000u)) != 0;
}
static int access_deletes(uint32_t a) {
  return (a & (0x00010000u | 0x10000000u)) != 0;
}

/* Do two opens' access and share modes conflict (the second fails)? */
static int share_conflict(uint32_t acc_new, uint32_t share_new, uint32_t acc_old, uint32_t share_old) {
  if ((access_reads(acc_new) && !(share_old & 1)) || (access_writes(acc_new) && !(share_old & 2)) ||
      (access_deletes(acc_new) && !(share_old & 4)))
    return 1;
  if ((access_reads(acc_old) && !(share_new & 1)) || (access_writes(acc_old) && !(share_new & 2)) ||
      (access_deletes(acc_old) && !(share_new & 4)))
    return 1;
  return 0;
}

/* The product behind a few AV / EDR service processes that hold files. */
static const char *service_driver(const char *process) {
  static const char *const map[][2] = {
      {"msmpeng.exe", "WdFilter.sys"},
      {"nissrv.exe", "WdFilter.sys"},
      {"ntrtscan.exe", "TmPreFlt.sys"},
      {"tmccsf.exe", "TmPreFlt.sys"},
      {"csfalconservice.exe", "csagent.sys"},
      {"avp.exe", "klif.sys"},
      {"ekrn.exe", "eamonm.sys"},
      {"mcshield.exe", "mfehidk.sys"},
  };
  if (process == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (!strcasecmp(process, map[i][0]))
      return map[i][1];
  return NULL;
}

/* Remember that a filter opened this path itself (kept after the handle
 * closes, so a later failure with a status that filter owns can cite it). */
static void remember_nested(struct rules_engine *e, uint64_t ph, const struct handle *h) {
  struct nested_open *n;
  if (e->nested_ring == NULL && (e->nested_ring = calloc(NESTED_RING, sizeof(*e->nested_ring))) == NULL)
    return;
  if (e->nestmap.count > 4 * NESTED_RING)
    umap_clear(&e->nestmap);
  n = &e->nested_ring[e->nested_next];
  n->path_hash = ph;
  n->module = h->nested;
  n->file = h->file;
  n->format = h->format;
  n->index = h->index;
  n->time = h->time;
  n->pid = h->pid;
  if (umap_put(&e->nestmap, ph, e->nested_next) < 0)
    e->oom = 1;
  e->nested_next = (e->nested_next + 1) % NESTED_RING;
}

static unsigned opened_slot(uint32_t pid, size_t len) {
  return (unsigned)((pid * 31u + len) % OPENED_SLOTS);
}

static void track_open(struct rules_engine *e, const struct ev_file_op *op, const char *path,
                       const char *process) {
  uint32_t at, victim, fi;
  struct handle *h;
  const char *nested;
  size_t len = strlen(path);
  uint64_t ph = hash_mem(path, len, 1);
  at = pool_take(&e->hpool, ph, op->file_object, &victim);
  if (at == NIL && victim != NIL) {
    e->n_evicted++;
    at = pool_evict_and_take(&e->hpool, victim, ph, op->file_object);
  }
  if (at == NIL)
    return;
  h = HANDLE(e, at);
  h->fo = op->file_object;
  h->pid = op->pid;
  h->process = intern_recent(&e->in, e->recent, process);
  h->path = intern_hashed(&e->in, path, len, ph);
  if (h->path) {
    struct opened *o = &e->opened[opened_slot(op->pid, len)];
    o->path = h->path;
    o->len = len;
    o->hash = ph;
  }
  /* by content, not by pointer: a closed capture's name may be freed and
   * the next capture's name allocated at the same address */
  h->file = intern_recent(&e->in, e->recent, op->origin.file);
  h->format = intern_recent(&e->in, e->recent, op->origin.format);
  h->index = op->origin.index;
  h->time = op->time;
  h->access = op->desired_access;
  h->share = op->share_access;
  nested = op->stack.count ? stack_nested_filter(e, &op->stack, &fi) : NULL;
  h->nested = intern_recent(&e->in, e->recent, nested);
  if (nested) {
    struct inv *v = inv_get(e, nested);
    if (v) {
      v->sources |= VD_SRC_STACK;
      v->stack_events++;
    }
    remember_nested(e, ph, h);
  }
}

static void track_close(struct rules_engine *e, const struct ev_file_op *op, const char *path) {
  if (op->file_object) {
    POOL_EACH2(&e->hpool, op->file_object, i) {
      pool_release(&e->hpool, i);
      return;
    }
    return;
  }
  if (path == NULL)
    return;
  {
    size_t len = strlen(path);
    const struct opened *o = &e->opened[opened_slot(op->pid, len)];
    uint64_t ph = o->path && o->len == len && !memcmp(o->path, path, len) ? o->hash : hash_mem(path, len, 1);
    POOL_EACH1(&e->hpool, ph, i) {
      if ((*HANDLE(e, i)).pid == op->pid && (*HANDLE(e, i)).fo == 0) {
        pool_release(&e->hpool, i);
        return;
      }
    }
  }
}

static struct group *decide_held(struct rules_engine *e, const struct ev_file_op *op, const char *path,
                                 const char *process) {
  uint64_t ph = path_hash(path);
  struct group *g = group_get(e, VD_HELD, op, path, ph, process);
  const struct handle *best = NULL;
  int best_conflict = 0;
  if (g == NULL)
    return NULL;
  link_op(e, g, op, path);
  POOL_EACH1(&e->hpool, ph, i) {
    const struct handle *h = &(*HANDLE(e, i));
    int known, conflict;
    if (h->path && strcasecmp(h->path, path))
      continue;
    known = op->desired_access != EV_UNKNOWN_U32 && op->share_access != EV_UNKNOWN_U32 &&
            h->access != EV_UNKNOWN_U32 && h->share != EV_UNKNOWN_U32;
    conflict = known && share_conflict(op->desired_access, op->share_access, h->access, h->share);
    if (known && !conflict)
      continue;
    if (best == NULL || (conflict && !best_conflict) || (conflict == best_conflict && h->time > best->time)) {
      best = h;
      best_conflict = conflict;
    }
  }
  if (best == NULL || (g->f.has_holder && !best_conflict))
    return g;
  {
    enum vd_confidence c = best_conflict ? VD_CONFIRMED : VD_STRONG;
    char text[512];
    struct ev_origin o = {best->file, best->format, best->index, EV_UNKNOWN_U64};
    const char *drv = best->nested ? best->nested : service_driver(best->process);
    if (g->f.has_holder && g->f.confidence >= c)
      return g;
    g->f.has_holder = 1;
    g->f.holder_pid = best->pid;
    free(g->f.holder_process);
    g->f.holder_process = xstrdup(best->process);
    g->f.holder_time = best->time;
    g->f.holder_access = best->access;
    g->f.holder_share = best->share;
    snprintf(text, sizeof(text),
             "open by %s (PID %u), access 0x%08X, share 0x%X, not closed before the failure",
             best->process ? best->process : "?", best->pid, best->access, best->share);
    add_link(e, &g->f, "open_handle", &o, best->time, best->pid, 0, best->fo, 0, 0, 1, NULL, best->nested,
             text);
    g->f.confidence = c;
    g->f.reason = best_conflict ? VD_R_HOLDER_OPEN : VD_R_HOLDER_MAYBE;
    g->f.fs_possible = 0;
    if (drv && !kf_name_is_observer(drv)) {
      filter_fill(e, &g->f.filter, drv, NULL);
      g->f.has_filter = 1;
      if (!best->nested)
        g->f.reason = VD_R_HOLDER_PROCESS;
    }
  }
  return g;
}

static struct group *decide_denied(struct rules_engine *e, const struct ev_file_op *op, const char *path,
                                   const char *process) {
  uint64_t ph = path_hash(path);
  struct group *g = group_get(e, VD_DENIED, op, path, ph, process);
  struct irp_state *s;
  uint32_t at, frame_at;
  const char *nested, *owner;
  if (g == NULL)
    return NULL;
  link_op(e, g, op, path);
  /* 1. a callback failed this very operation; 2. the last third-party pre-callback */
  s = (op->irp || op->file_object) ? irp_lookup(e, op->irp, op->file_object, &at) : NULL;
  if (s && s->failed) {
    callback_link(e, g, s);
    group_name(e, g, VD_CONFIRMED, VD_R_CALLBACK_FAILED, s->failed, NULL);
  } else if (s && s->last_pre) {
    char text[256];
    struct ev_origin o = {s->file, "etl", s->last_pre_index, EV_UNKNOWN_U64};
    snprintf(text, sizeof(text), "%s pre-operation callback ran last before the failure", s->last_pre);
    if (!(g->reasons_seen & (1 << VD_R_LAST_PRE_CALLBACK)))
      add_link(e, &g->f, "filter_callback", &o, s->last_pre_time, s->pid, s->tid, s->fo, s->irp, 0, 0, NULL,
               s->last_pre, text);
    g->reasons_seen |= 1 << VD_R_LAST_PRE_CALLBACK;
    group_name(e, g, VD_STRONG, VD_R_LAST_PRE_CALLBACK, s->last_pre, NULL);
  }
  if (s)
    pool_release(&e->ipool, at);
  /* 3. the filter's own frames on the failing stack */
  /* repeats of a failure already named by its stack add nothing but time */
  nested = op->stack.count && !(g->reasons_seen & (1 << VD_R_NESTED_FRAMES))
               ? stack_nested_filter(e, &op->stack, &frame_at)
               : NULL;
  if (nested) {
    struct inv *v = inv_get(e, nested);
    if (v) {
      v->sources |= VD_SRC_STACK;
      v->stack_events++;
    }
    if (!(g->reasons_seen & (1 << VD_R_NESTED_FRAMES)))
      add_link(e, &g->f, "stack", &op->origin, op->time, op->pid, op->tid, op->file_object, op->irp,
               op->status, op->status_known, op->op_name, nested, stack_text(e, &op->stack));
    g->reasons_seen |= 1 << VD_R_NESTED_FRAMES;
    group_name(e, g, VD_STRONG, VD_R_NESTED_FRAMES, nested, NULL);
  } else if (op->stack.count && !(g->reasons_seen & ((1 << VD_R_NONE) | (1 << VD_R_NESTED_FRAMES)))) {
    /* keep the failing stack as evidence even when it names no filter */
    add_link(e, &g->f, "stack", &op->origin, op->time, op->pid, op->tid, op->file_object, op->irp, op->status,
             op->status_known, op->op_name, NULL, stack_text(e, &op->stack));
    g->reasons_seen |= 1 << VD_R_NONE;
  }
  /* 4. the status belongs to a filter */
  if ((owner = status_owner(op->status)) != NULL) {
    char text[160];
    if (!(g->reasons_seen & (1 << VD_R_STATUS_OWNER))) {
      snprintf(text, sizeof(text), "status 0x%08X is in the range owned by %s", op->status, owner);
      add_link(e, &g->f, "status_owner", &op->origin, op->time, op->pid, op->tid, 0, 0, op->status, 1,
               op->op_name, owner, text);
    }
    if (!(g->reasons_seen & (1 << VD_R_STATUS_OWNER)) && path) {
      /* the owner's own nested I/O on this very file, seen when it was opened */
      uint32_t slot = umap_get(&e->nestmap, ph);
      const struct nested_open *n = slot != NIL && e->nested_ring ? &e->nested_ring[slot] : NULL;
      if (n && n->path_hash == ph && n->module && !strcasecmp(n->module, owner)) {
        struct ev_origin o = {n->file, n->format, n->index, EV_UNKNOWN_U64};
        snprintf(text, sizeof(text), "%s issued I/O from its own callback when this file was opened", owner);
        add_link(e, &g->f, "stack", &o, n->time, n->pid, 0, 0, 0, 0, 1, NULL, owner, text);
      }
    }
    g->reasons_seen |= 1 << VD_R_STATUS_OWNER;
    group_name(e, g, VD_STRONG, VD_R_STATUS_OWNER, owner, NULL);
  }
  return g;
}

static int on_file_op(void *ctx, const struct ev_file_op *op) {
  struct rules_engine *e = ctx;
  const char *path = op->path && op->path[0] ? op->path : op->device_path;
  const char *process = op->process_name ? op->process_name : proc_name(e, op->pid);
  struct group *g = NULL;
  int failed;

  e->n_fileops++;
  if (op->time) {
    if (e->time_first == 0 || op->time < e->time_first)
      e->time_first = op->time;
    if (op->time > e->time_last)
      e->time_last = op->time;
  }
  if (!op->status_known)
    return 0;
  failed = (op->status & 0xC0000000u) == 0xC0000000u;
  if (!failed) {
    if (op->kind == EV_FOP_CREATE && path && path[0])
      track_open(e, op, path, process);
    else if (op->kind == EV_FOP_CLEANUP || (op->kind == EV_FOP_CLOSE && op->file_object))
      track_close(e, op, path); /* without a file object only the cleanup (CloseFile) ends a handle */
    if (op->irp || op->file_object) {
      uint32_t at;
      if (irp_lookup(e, op->irp, op->file_object, &at))
        pool_release(&e->ipool, at);
    }
    return e->oom;
  }
  if (op->status == ST_SHARING_VIOLATION || (op->status == ST_DELETE_PENDING && op->kind == EV_FOP_CREATE)) {
    e->n_failures++;
    if (path)
      g = decide_held(e, op, path, process);
  } else if ((status_is_block(op->status) && kind_is_modifying(op->kind)) || status_owner(op->status)) {
    e->n_failures++;
    g = decide_denied(e, op, path, process);
  } else {
    return e->oom;
  }
  if (g) {
    if (g->f.occurrences == 0 || op->time < g->f.first_time)
      g->f.first_time = op->time;
    if (op->time > g->f.last_time)
      g->f.last_time = op->time;
    g->f.occurrences++;
  }
  return e->oom;
}

/* ------------------------------------------------------------ lifecycle */

struct rules_engine *rules_engine_new(const struct kf_db *db, const struct rules_limits *limits) {
  struct rules_engine *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  e->db = db;
  e->lim.open_handles = 65536;
  e->lim.irp_states = 16384;
  e->lim.findings = 256;
  e->lim.evidence = 12;
  e->lim.intern_bytes = (size_t)64 << 20;
  if (limits) {
    if (limits->open_handles)
      e->lim.open_handles = limits->open_handles;
    if (limits->irp_states)
      e->lim.irp_states = limits->irp_states;
    if (limits->findings)
      e->lim.findings = limits->findings;
    if (limits->evidence)
      e->lim.evidence = limits->evidence;
    if (limits->intern_bytes)
      e->lim.intern_bytes = limits->intern_bytes;
  }
  e->in.limit = e->lim.intern_bytes;
  fb_strbuf_init(&e->tmp);
  if (pool_init(&e->hpool, e->lim.open_handles, sizeof(struct handle)) < 0 ||
      pool_init(&e->ipool, e->lim.irp_states, sizeof(struct irp_state)) < 0) {
    rules_engine_free(e);
    return NULL;
  }
  e->sink.ctx = e;
  e->sink.image = on_image;
  e->sink.process = on_process;
  e->sink.thread = on_thread;
  e->sink.file_op = on_file_op;
  e->sink.filter_callback = on_filter_callback;
  e->sink.filter_info = on_filter_info;
  e->sink.fact = on_fact;
  return e;
}

void rules_engine_free(struct rules_engine *e) {
  if (e == NULL)
    return;
  for (size_t i = 0; i < e->ngroups; i++)
    vd_finding_free(&e->groups[i].f);
  free(e->groups);
  for (size_t i = 0; i < e->nfacts; i++) {
    free(e->facts[i].kind);
    free(e->facts[i].file);
    free(e->facts[i].path);
    free(e->facts[i].subject);
    free(e->facts[i].text);
  }
  free(e->facts);
  for (size_t i = 0; i < e->nnotes; i++)
    free(e->notes[i]);
  intern_free(&e->in);
  umap_free(&e->procs);
  umap_free(&e->kmods);
  umap_free(&e->invmap);
  free(e->proc_names);
  free(e->kmod_company);
  free(e->inv);
  pool_free(&e->hpool);
  pool_free(&e->ipool);
  umap_free(&e->groupmap);
  umap_free(&e->modcache);
  umap_free(&e->nestmap);
  free(e->nested_ring);
  fb_strbuf_free(&e->tmp);
  free(e);
}

const struct ev_sink *rules_engine_sink(struct rules_engine *e) {
  return &e->sink;
}

size_t rules_engine_state_bytes(const struct rules_engine *e) {
  return e->in.bytes + e->in.cap * (sizeof(char *) + 8) +
         (size_t)e->hpool.cap * (sizeof(struct handle) + 2 * 8 + 5 * 4 + 1) +
         (size_t)e->ipool.cap * (sizeof(struct irp_state) + 2 * 8 + 5 * 4 + 1) +
         (e->procs.cap + e->kmods.cap + e->invmap.cap) * 12 + e->ninv * sizeof(struct inv) +
         e->ngroups * sizeof(struct group);
}

/* --------------------------------------------------------------- finish */

static double inv_altitude(struct rules_engine *e, const struct inv *v) {
  const struct kf_entry *k;
  if (v->altitude)
    return strtod(v->altitude, NULL);
  k = kf_lookup(e->db, v->key, NULL);
  return k ? k->altitude_value : -1;
}

/* How likely a filter of this group blocks an open: security products first. */
static int group_weight(const char *group) {
  if (group == NULL)
    return 5;
  if (strstr(group, "Anti-Virus"))
    return 0;
  if (strstr(group, "Security") || strstr(group, "Content Screener") || strstr(group, "Copy Protection"))
    return 1;
  if (strstr(group, "Activity Monitor") || strstr(group, "Encryption"))
    return 2;
  if (strstr(group, "HSM") || strstr(group, "Virtualization") || strstr(group, "Open File") ||
      strstr(group, "Replication") || strstr(group, "Continuous Backup"))
    return 3;
  return 4;
}

struct cand_sort {
  size_t inv;
  int third_party, weight;
  double altitude;
};

static int cand_cmp(const void *a, const void *b) {
  const struct cand_sort *x = a, *y = b;
  if (x->third_party != y->third_party)
    return y->third_party - x->third_party;
  if (x->weight != y->weight)
    return x->weight - y->weight;
  return (x->altitude < y->altitude) - (x->altitude > y->altitude);
}

static const char *observer_altitude(struct rules_engine *e) {
  for (size_t i = 0; i < e->ninv; i++)
    if (!strncmp(e->inv[i].key, "procmon", 7) && e->inv[i].altitude)
      return e->inv[i].altitude;
  return PROCMON_ALTITUDE;
}

static void rank_candidates(struct rules_engine *e, struct group *g) {
  struct cand_sort *c;
  size_t n = 0;
  double limit = g->from_procmon ? strtod(observer_altitude(e), NULL) : 1e9;
  if (g->f.kind != VD_DENIED || g->f.confidence >= VD_STRONG || e->ninv == 0)
    return;
  if ((c = calloc(e->ninv, sizeof(*c))) == NULL) {
    e->oom = 1;
    return;
  }
  for (size_t i = 0; i < e->ninv; i++) {
    const struct inv *v = &e->inv[i];
    double alt = inv_altitude(e, v);
    const struct kf_entry *k = kf_lookup(e->db, v->key, v->altitude);
    if (kf_name_is_observer(v->key) || (k && k->observer) || kf_name_is_filter_manager(v->key))
      continue;
    if (!(v->sources & (VD_SRC_FLTMC | VD_SRC_EVENTLOG | VD_SRC_IMAGE | VD_SRC_CALLBACK)))
      continue;
    if (v->loaded == 0 || alt < 0 || alt >= limit)
      continue;
    c[n].inv = i;
    c[n].third_party = !module_is_inbox(e, v->key);
    c[n].weight = group_weight(k ? k->group : kf_group_for_altitude(alt));
    c[n].altitude = alt;
    n++;
  }
  qsort(c, n, sizeof(*c), cand_cmp);
  if (n > 8)
    n = 8;
  if (n) {
    g->f.candidates = calloc(n, sizeof(*g->f.candidates));
    if (g->f.candidates == NULL) {
      free(c);
      e->oom = 1;
      return;
    }
  }
  for (size_t i = 0; i < n; i++) {
    struct vd_candidate *cd = &g->f.candidates[i];
    const struct inv *v = &e->inv[c[i].inv];
    filter_fill(e, &cd->filter, v->display, v->altitude);
    cd->reason = g->from_procmon ? VD_R_BELOW_OBSERVER : VD_R_PRESENT;
    cd->rank = (int)i + 1;
  }
  g->f.ncandidates = n;
  /* a third-party filter at the top is a suspect; inbox-only lists name no one */
  if (n && c[0].third_party && g->f.confidence < VD_SUSPECT) {
    const struct inv *v = &e->inv[c[0].inv];
    filter_fill(e, &g->f.filter, v->display, v->altitude);
    g->f.has_filter = 1;
    g->f.confidence = VD_SUSPECT;
    g->f.reason = g->from_procmon ? VD_R_BELOW_OBSERVER : VD_R_PRESENT;
  }
  free(c);
}

static int path_matches(const char *a, const char *b) {
  size_t na, nb;
  if (a == NULL || b == NULL)
    return 0;
  na = strlen(a);
  nb = strlen(b);
  /* "\Device\HarddiskVolume3\x" vs "C:\x": compare the longest common tail after a separator */
  if (na > nb)
    return !strcasecmp(a + na - nb, b) && (a[na - nb - 1] == '\\' || b[0] == '\\');
  if (nb > na)
    return !strcasecmp(b + nb - na, a) && (b[nb - na - 1] == '\\' || a[0] == '\\');
  return !strcasecmp(a, b);
}

static void link_facts(struct rules_engine *e) {
  for (size_t i = 0; i < e->nfacts; i++) {
    struct vd_fact *f = &e->facts[i];
    for (size_t j = 0; j < e->ngroups && f->finding < 0; j++) {
      const struct vd_finding *g = &e->groups[j].f;
      uint64_t dt = f->time > g->first_time ? f->time - g->first_time : g->first_time - f->time;
      int same_code = (f->code == 0x80070005u && g->status == ST_ACCESS_DENIED) ||
                      (f->code == 0x80070020u && g->status == ST_SHARING_VIOLATION) || f->code == g->status;
      if (path_matches(f->path, g->path) ||
          (same_code && f->time && g->first_time && dt <= 36000000000ull /* 1 hour */))
        f->finding = (int)j;
    }
  }
}

int rules_engine_finish(struct rules_engine *e, struct verdict *v) {
  const char *obs_alt = observer_altitude(e);
  for (size_t i = 0; i < e->ipool.cap; i++) /* failures no file operation claimed */
    if (e->ipool.live[i] && IRPST(e, i)->failed)
      finding_from_callback(e, IRPST(e, i));
  for (size_t i = 0; i < e->ngroups; i++) {
    struct group *g = &e->groups[i];
    if (g->from_procmon) {
      free(g->f.observer_altitude);
      g->f.observer_altitude = xstrdup(obs_alt);
    }
    /* the rule of the house: a Procmon capture alone never confirms a filter */
    if (g->from_procmon && g->f.kind == VD_DENIED && g->f.confidence == VD_CONFIRMED)
      g->f.confidence = VD_STRONG;
    if (g->f.has_filter && g->f.filter.observer) { /* observers are never culprits */
      vd_filter_free(&g->f.filter);
      g->f.has_filter = 0;
      if (g->f.kind == VD_DENIED)
        g->f.confidence = VD_UNDETERMINED;
    }
    rank_candidates(e, g);
  }
  link_facts(e);
  if (e->oom)
    return FB_ENOMEM;
  /* move findings, facts and inventory into the verdict */
  if (e->ngroups) {
    v->findings = calloc(e->ngroups, sizeof(*v->findings));
    if (v->findings == NULL)
      return FB_ENOMEM;
    for (size_t i = 0; i < e->ngroups; i++) {
      v->findings[i] = e->groups[i].f;
      memset(&e->groups[i].f, 0, sizeof(e->groups[i].f));
    }
    v->nfindings = e->ngroups;
    e->ngroups = 0;
  }
  if (e->nfacts) {
    v->facts = e->facts;
    v->nfacts = e->nfacts;
    e->facts = NULL;
    e->nfacts = 0;
  }
  if (e->ninv) {
    v->inventory = calloc(e->ninv, sizeof(*v->inventory));
    if (v->inventory == NULL)
      return FB_ENOMEM;
    for (size_t i = 0; i < e->ninv; i++) {
      const struct inv *s = &e->inv[i];
      struct vd_inventory_entry *d = &v->inventory[v->ninventory++];
      filter_fill(e, &d->filter, s->display, s->altitude);
      d->sources = s->sources;
      d->image_company = xstrdup(s->company);
      d->image_version = xstrdup(s->version);
      d->instances = s->instances;
      d->loaded = s->loaded;
      d->stack_events = s->stack_events;
    }
  }
  if (e->time_first && (v->time_first == 0 || e->time_first < v->time_first))
    v->time_first = e->time_first;
  if (e->time_last > v->time_last)
    v->time_last = e->time_last;
  v->stats.file_ops += e->n_fileops;
  v->stats.filter_callbacks += e->n_callbacks;
  v->stats.images += e->n_images;
  v->stats.processes += e->n_procs;
  v->stats.filter_infos += e->n_infos;
  v->stats.facts += e->n_facts;
  v->stats.failures_seen += e->n_failures;
  v->stats.state_evicted += e->n_evicted;
  for (size_t i = 0; i < e->nnotes; i++)
    verdict_add_limit(v, "%s", e->notes[i]);
  if (e->groups_dropped)
    verdict_add_limit(v, "%u further failures were not kept (finding limit %u)", e->groups_dropped,
                      e->lim.findings);
  if (e->facts_dropped)
    verdict_add_limit(v, "%u further log facts were not kept", e->facts_dropped);
  if (e->n_evicted)
    verdict_add_limit(v, "%llu open handles / in-flight operations were dropped from the bounded state",
                      (unsigned long long)e->n_evicted);
  if (e->in.full)
    verdict_add_limit(v, "the string memory limit was reached: some paths were not tracked");
  return 0;
}
