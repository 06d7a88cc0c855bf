/* etl_stats.c - record counts by kind and identity (see etl_stats.h). */
#include "parsers/etl/etl_stats.h"

#include <stdlib.h>
#include <string.h>

void etl_stats_init(struct etl_stats *st) {
  memset(st, 0, sizeof(*st));
}

void etl_stats_free(struct etl_stats *st) {
  free(st->table);
  memset(st, 0, sizeof(*st));
}

static uint64_t entry_hash(const struct etl_stats_entry *e) {
  uint64_t h = 1469598103934665603ull;
  const uint8_t *g = (const uint8_t *)&e->guid;

  h = (h ^ e->family) * 1099511628211ull;
  h = (h ^ e->group) * 1099511628211ull;
  h = (h ^ e->code) * 1099511628211ull;
  for (size_t i = 0; i < sizeof(e->guid); i++)
    h = (h ^ g[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

static int entry_same(const struct etl_stats_entry *a, const struct etl_stats_entry *b) {
  return a->family == b->family && a->group == b->group && a->code == b->code &&
         etl_guid_equal(&a->guid, &b->guid);
}

static struct etl_stats_entry *slot_find(struct etl_stats_entry *table, size_t cap,
                                         const struct etl_stats_entry *key) {
  size_t i = (size_t)entry_hash(key) & (cap - 1);
  while (table[i].used && !entry_same(&table[i], key))
    i = (i + 1) & (cap - 1);
  return &table[i];
}

static int grow(struct etl_stats *st) {
  size_t ncap = st->cap ? st->cap * 2 : 256;
  struct etl_stats_entry *n = calloc(ncap, sizeof(*n));

  if (n == NULL)
    return -1;
  for (size_t i = 0; i < st->cap; i++)
    if (st->table[i].used)
      *slot_find(n, ncap, &st->table[i]) = st->table[i];
  free(st->table);
  st->table = n;
  st->cap = ncap;
  return 0;
}

static void count_key(struct etl_stats *st, const struct etl_stats_entry *key) {
  struct etl_stats_entry *e;

  if ((st->used + 1) * 2 > st->cap && grow(st) < 0) {
    st->oom = 1;
    return;
  }
  e = slot_find(st->table, st->cap, key);
  if (!e->used) {
    *e = *key;
    e->used = 1;
    st->used++;
  }
  e->count++;
}

static void make_key(struct etl_stats_entry *k, int family, uint8_t group, uint16_t code,
                     const struct etl_guid *g) {
  memset(k, 0, sizeof(*k));
  k->family = (uint8_t)family;
  k->group = group;
  k->code = code;
  if (g)
    k->guid = *g;
}

void etl_stats_add(struct etl_stats *st, const struct etl_record *rec) {
  struct etl_stats_entry key;

  if (st->total > 0 && rec->timestamp < st->last_ts)
    st->out_of_order++;
  if (st->total == 0)
    st->first_ts = rec->timestamp;
  st->last_ts = rec->timestamp;
  st->total++;
  st->bytes += rec->size;
  st->by_kind[(unsigned)rec->kind < ETL_KIND_COUNT ? rec->kind : ETL_KIND_OTHER]++;
  if (etl_kind_is_kernel(rec->kind))
    make_key(&key, ETL_STATS_KERNEL, rec->group, rec->opcode, NULL);
  else if (etl_kind_is_classic(rec->kind))
    make_key(&key, ETL_STATS_CLASSIC, 0, rec->opcode, &rec->guid);
  else if (etl_kind_is_event(rec->kind))
    make_key(&key, ETL_STATS_EVENT, 0, rec->id, &rec->guid);
  else
    make_key(&key, ETL_STATS_WPP, 0, rec->message_number, rec->has_guid ? &rec->guid : NULL);
  count_key(st, &key);
  if (rec->ext_count) {
    struct etl_ext_iter it;
    struct etl_ext_item item;
    etl_ext_iter_init(&it, rec);
    while (etl_ext_next(&it, &item) == 1)
      st->ext_by_type[item.type < 15 ? item.type : 15]++;
  }
}

static uint64_t lookup(const struct etl_stats *st, const struct etl_stats_entry *key) {
  if (st->cap == 0)
    return 0;
  const struct etl_stats_entry *e = slot_find(st->table, st->cap, key);
  return e->used ? e->count : 0;
}

uint64_t etl_stats_kernel(const struct etl_stats *st, uint8_t group, uint8_t opcode) {
  struct etl_stats_entry k;
  make_key(&k, ETL_STATS_KERNEL, group, opcode, NULL);
  return lookup(st, &k);
}

uint64_t etl_stats_classic(const struct etl_stats *st, const char *guid, uint8_t opcode) {
  struct etl_stats_entry k;
  struct etl_guid g;
  if (etl_guid_parse(guid, &g) < 0)
    return 0;
  make_key(&k, ETL_STATS_CLASSIC, 0, opcode, &g);
  return lookup(st, &k);
}

uint64_t etl_stats_event(const struct etl_stats *st, const char *guid, uint16_t id) {
  struct etl_stats_entry k;
  struct etl_guid g;
  if (etl_guid_parse(guid, &g) < 0)
    return 0;
  make_key(&k, ETL_STATS_EVENT, 0, id, &g);
  return lookup(st, &k);
}

uint64_t etl_stats_guid_total(const struct etl_stats *st, const char *guid) {
  struct etl_guid g;
  uint64_t n = 0;
  if (etl_guid_parse(guid, &g) < 0)
    return 0;
  for (size_t i = 0; i < st->cap; i++)
    if (st->table[i].used &&
        (st->table[i].family == ETL_STATS_CLASSIC || st->table[i].family == ETL_STATS_EVENT) &&
        etl_guid_equal(&st->table[i].guid, &g))
      n += st->table[i].count;
  return n;
}

static int cmp_entry(const void *pa, const void *pb) {
  const struct etl_stats_entry *a = pa, *b = pb;
  if (a->family != b->family)
    return a->family < b->family ? -1 : 1;
  if (a->group != b->group)
    return a->group < b->group ? -1 : 1;
  int c = memcmp(&a->guid, &b->guid, sizeof(a->guid));
  if (c)
    return c;
  return a->code < b->code ? -1 : a->code > b->code;
}

struct etl_stats_entry *etl_stats_sorted(const struct etl_stats *st, size_t *n) {
  struct etl_stats_entry *out = malloc((st->used ? st->used : 1) * sizeof(*out));
  size_t k = 0;

  *n = 0;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < st->cap; i++)
    if (st->table[i].used)
      out[k++] = st->table[i];
  qsort(out, k, sizeof(*out), cmp_entry);
  *n = k;
  return out;
}
