/* known_filters.c - the known-filter database (see known_filters.h). */
#include "rules/known_filters.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/evidence.h"

struct kf_db {
  struct kf_entry *entries; /* sorted by name, then altitude descending */
  size_t count, cap;
  uint32_t *by_name; /* open addressing: index of each name's first entry, UINT32_MAX = empty */
  size_t by_name_cap;
  char **lines; /* owned storage the entries point into */
  size_t nlines, lines_cap;
  size_t bad;
};

/* tolower() as the C locale has it, the locale fltblame runs in, inline. */
static char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* The last four bytes of a name are lower4 in any case (".sys"). */
static int suffix_is(const char *s, const char *lower4) {
  for (int i = 0; i < 4; i++)
    if (ascii_lower(s[i]) != lower4[i])
      return 0;
  return 1;
}

const char *kf_name_key(const char *name, char *buf, size_t size) {
  const char *base = name ? name : "", *p;
  size_t n, i;

  if (size == 0)
    return buf;
  for (p = base; *p; p++) /* ev_path_basename and strlen in one pass */
    if (*p == '\\' || *p == '/')
      base = p + 1;
  n = (size_t)(p - base);
  if (n >= 4 && (suffix_is(base + n - 4, ".sys") || suffix_is(base + n - 4, ".exe")))
    n -= 4;
  if (n >= size)
    n = size - 1;
  for (i = 0; i < n; i++)
    buf[i] = ascii_lower(base[i]);
  buf[n] = '\0';
  return buf;
}

int kf_key_is_observer(const char *k) {
  switch (k[0]) {                             /* asked of every kernel module a capture lists */
  case 'p': return !strncmp(k, "procmon", 7); /* PROCMON23, PROCMON24, Procmon11 ... */
  case 'f': return !strcmp(k, "fileinfo");
  case 's': return !strcmp(k, "sysmondrv");
  case 'n': return !strcmp(k, "npsvctrig");
  default: return 0;
  }
}

int kf_name_is_observer(const char *name) {
  char k[64];
  return kf_key_is_observer(kf_name_key(name, k, sizeof(k)));
}

int kf_name_is_filter_manager(const char *name) {
  char k[64];
  return !strcmp(kf_name_key(name, k, sizeof(k)), "fltmgr");
}

int kf_key_is_core_kernel(const char *k) {
  static const char *const core[] = {
      "ntoskrnl",   "ntkrnlmp", "ntkrnlpa", "ntkrpamp", "ntkrla57", "hal",      "ntfs",   "refs",
      "fastfat",    "exfat",    "udfs",     "cdfs",     "fltmgr",   "ci",       "clfs",   "ksecdd",
      "cng",        "tcpip",    "ndis",     "afd",      "netio",    "mup",      "rdbss",  "mrxsmb",
      "volmgr",     "partmgr",  "disk",     "classpnp", "storport", "stornvme", "win32k", "win32kfull",
      "win32kbase", "volsnap",  "fvevol",   "iorate"};
  for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++)
    if (k[0] == core[i][0] && !strcmp(k, core[i])) /* the first letter settles most */
      return 1;
  return 0;
}

int kf_name_is_core_kernel(const char *name) {
  char k[64];
  return kf_key_is_core_kernel(kf_name_key(name, k, sizeof(k)));
}

const char *kf_group_for_altitude(double a) {
  static const struct {
    double lo, hi;
    const char *name;
  } groups[] = {
      {420000, 429999, "Filter"},
      {400000, 409999, "FSFilter Top"},
      {392000, 394999, "FSFilter Security Monitor"},
      {360000, 389999, "FSFilter Activity Monitor"},
      {340000, 349999, "FSFilter Undelete"},
      {320000, 329998, "FSFilter Anti-Virus"},
      {300000, 309998, "FSFilter Replication"},
      {280000, 289998, "FSFilter Continuous Backup"},
      {272000, 274999, "FSFilter Security Content Screener"},
      {260000, 269998, "FSFilter Content Screener"},
      {240000, 249999, "FSFilter Quota Management"},
      {220000, 229999, "FSFilter System Recovery"},
      {200000, 209999, "FSFilter Cluster File System"},
      {180000, 189999, "FSFilter HSM"},
      {170000, 174999, "FSFilter Imaging"},
      {160000, 169999, "FSFilter Compression"},
      {140000, 149999, "FSFilter Encryption"},
      {130000, 139999, "FSFilter Virtualization"},
      {120000, 129999, "FSFilter Physical Quota management"},
      {100000, 109999, "FSFilter Open File"},
      {80000, 89999, "FSFilter Security Enhancer"},
      {60000, 69999, "FSFilter Copy Protection"},
      {52000, 54999, "FSFilter Security Bottom"},
      {40000, 49999, "FSFilter Bottom"},
      {20000, 29999, "FSFilter System"},
  };
  for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
    if (a >= groups[i].lo && a < groups[i].hi + 1)
      return groups[i].name;
  return "";
}

struct kf_db *kf_db_new_empty(void) {
  return calloc(1, sizeof(struct kf_db));
}

void kf_db_free(struct kf_db *db) {
  if (db == NULL)
    return;
  for (size_t i = 0; i < db->nlines; i++)
    free(db->lines[i]);
  free(db->lines);
  free(db->entries);
  free(db->by_name);
  free(db);
}

size_t kf_db_count(const struct kf_db *db) {
  return db ? db->count : 0;
}
size_t kf_db_bad_lines(const struct kf_db *db) {
  return db ? db->bad : 0;
}

static int entry_cmp(const void *a, const void *b) {
  const struct kf_entry *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c)
    return c;
  return (x->altitude_value < y->altitude_value) - (x->altitude_value > y->altitude_value);
}

/* Split a line in place on tabs into at most max fields. */
static size_t split_tabs(char *s, char **f, size_t max) {
  size_t n = 0;
  while (n < max) {
    f[n++] = s;
    s = strchr(s, '\t');
    if (s == NULL)
      break;
    *s++ = '\0';
  }
  return n;
}

static int add_line(struct kf_db *db, char *line) {
  char *f[9], *end;
  struct kf_entry e;
  size_t n;

  if (db->nlines == db->lines_cap) {
    size_t cap = db->lines_cap ? db->lines_cap * 2 : 1024;
    char **p = realloc(db->lines, cap * sizeof(*p));
    if (p == NULL)
      return FB_ENOMEM;
    db->lines = p;
    db->lines_cap = cap;
  }
  db->lines[db->nlines++] = line;
  n = split_tabs(line, f, 9);
  if (n < 9 || f[0][0] == '\0') {
    db->bad++;
    return 0;
  }
  errno = 0;
  e.altitude_value = strtod(f[1], &end);
  if (errno || end == f[1] || *end != '\0') {
    db->bad++;
    return 0;
  }
  for (char *p = f[0]; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  e.name = f[0];
  e.altitude = f[1];
  e.vendor = f[2];
  e.product = f[3];
  e.group = f[4];
  e.inbox = f[7][0] == '1';
  e.observer = f[8][0] == '1' || kf_name_is_observer(f[0]);
  if (db->count == db->cap) {
    size_t cap = db->cap ? db->cap * 2 : 2048;
    struct kf_entry *p = realloc(db->entries, cap * sizeof(*p));
    if (p == NULL)
      return FB_ENOMEM;
    db->entries = p;
    db->cap = cap;
  }
  db->entries[db->count++] = e;
  return 0;
}

static uint64_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h ^ (h >> 29);
}

/* Index the first entry of every name (entries sorted); at most half full. */
static int index_names(struct kf_db *db) {
  size_t cap = 16;
  if (db->count >= UINT32_MAX)
    return FB_ENOMEM;
  while (cap < 2 * db->count)
    cap *= 2;
  if ((db->by_name = malloc(cap * sizeof(*db->by_name))) == NULL)
    return FB_ENOMEM;
  memset(db->by_name, 0xff, cap * sizeof(*db->by_name));
  db->by_name_cap = cap;
  for (size_t i = 0; i < db->count; i++) {
    size_t j;
    if (i > 0 && !strcmp(db->entries[i - 1].name, db->entries[i].name))
      continue;
    for (j = name_hash(db->entries[i].name) & (cap - 1); db->by_name[j] != UINT32_MAX;
         j = (j + 1) & (cap - 1))
      ;
    db->by_name[j] = (uint32_t)i;
  }
  return 0;
}

int kf_db_load(struct kf_db **out, const char *path, struct fb_error *err) {
  FILE *fp = fopen(path, "r");
  struct kf_db *db;
  char buf[4096];
  uint64_t lineno = 0;
  int rc = 0;

  *out = NULL;
  if (fp == NULL)
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot open known-filter database %s: %s", path,
                        strerror(errno));
  db = kf_db_new_empty();
  if (db == NULL) {
    fclose(fp);
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory");
  }
  while (fgets(buf, sizeof(buf), fp)) {
    size_t n = strlen(buf);
    char *copy;
    lineno++;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
      buf[--n] = '\0';
    if (n == 0 || buf[0] == '#')
      continue;
    if ((copy = strdup(buf)) == NULL || add_line(db, copy) < 0) {
      if (copy && (db->nlines == 0 || db->lines[db->nlines - 1] != copy))
        free(copy);
      rc = fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory at line %llu of %s",
                        (unsigned long long)lineno, path);
      break;
    }
  }
  fclose(fp);
  if (rc < 0) {
    kf_db_free(db);
    return rc;
  }
  qsort(db->entries, db->count, sizeof(*db->entries), entry_cmp);
  if (index_names(db) < 0) {
    kf_db_free(db);
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory indexing %s", path);
  }
  *out = db;
  return 0;
}

/* Index of the first entry named key, db->count if none: one probe of the
 * name index (built at load) instead of a binary search, as the engine looks
 * up every kernel module a capture lists. */
static size_t first_named(const struct kf_db *db, const char *key) {
  size_t mask = db->by_name_cap - 1;
  if (db->by_name_cap == 0)
    return db->count;
  for (size_t j = name_hash(key) & mask; db->by_name[j] != UINT32_MAX; j = (j + 1) & mask)
    if (!strcmp(db->entries[db->by_name[j]].name, key))
      return db->by_name[j];
  return db->count;
}

size_t kf_altitude_count(const struct kf_db *db, const char *name) {
  char key[128];
  size_t n = 0;
  if (db == NULL || name == NULL)
    return 0;
  kf_name_key(name, key, sizeof(key));
  for (size_t i = first_named(db, key); i < db->count && !strcmp(db->entries[i].name, key); i++)
    if (i == 0 || strcmp(db->entries[i - 1].name, key) ||
        db->entries[i - 1].altitude_value != db->entries[i].altitude_value)
      n++;
  return n;
}

const char *kf_altitudes(const struct kf_db *db, const char *name, char *buf, size_t size) {
  char key[128];
  size_t len = 0;
  if (size == 0)
    return buf;
  buf[0] = '\0';
  if (db == NULL || name == NULL)
    return NULL;
  kf_name_key(name, key, sizeof(key));
  for (size_t i = first_named(db, key); i < db->count && !strcmp(db->entries[i].name, key); i++) {
    if (i > 0 && !strcmp(db->entries[i - 1].name, key) &&
        db->entries[i - 1].altitude_value == db->entries[i].altitude_value)
      continue;
    int w = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", db->entries[i].altitude);
    if (w < 0 || (size_t)w >= size - len)
      break;
    len += (size_t)w;
  }
  return len ? buf : NULL;
}

const struct kf_entry *kf_lookup(const struct kf_db *db, const char *name, const char *altitude) {
  char key[128];
  if (db == NULL || name == NULL || db->count == 0)
    return NULL;
  return kf_lookup_key(db, kf_name_key(name, key, sizeof(key)), altitude);
}

const struct kf_entry *kf_lookup_key(const struct kf_db *db, const char *key, const char *altitude) {
  const struct kf_entry *first = NULL;

  if (db == NULL || db->count == 0)
    return NULL;
  for (size_t i = first_named(db, key); i < db->count && !strcmp(db->entries[i].name, key); i++) {
    if (first == NULL)
      first = &db->entries[i];
    if (altitude && altitude[0] && strtod(altitude, NULL) == db->entries[i].altitude_value)
      return &db->entries[i];
  }
  return first;
}
