/* known_filters.h - the known-filter database: driver name -> vendor,
 * product, altitude, load-order group, Microsoft inbox flag, observer flag.
 *
 * Loaded from etc/known-filters.tsv (built by rules/gen-known-filters.sh from
 * Microsoft's allocated-altitudes table). A driver can hold several altitudes
 * (cldflt 409500 and 180451), so a lookup keys on (name, altitude) first and
 * falls back to the name alone. Names compare case-insensitively without
 * ".sys": "TmPreFlt", "tmpreflt.sys" and "TMPREFLT.SYS" are one driver.
 */
#ifndef FB_KNOWN_FILTERS_H
#define FB_KNOWN_FILTERS_H

#include <stddef.h>

#include "parsers/error.h"

struct kf_entry {
  const char *name; /* lower case, no .sys */
  const char *altitude;
  const char *vendor;
  const char *product; /* "" when the table has none */
  const char *group;   /* "FSFilter Anti-Virus" */
  double altitude_value;
  int inbox;    /* altitude allocated to Microsoft */
  int observer; /* only watches I/O (Procmon, FileInfo, ...): never a culprit */
};

struct kf_db;

/* Load a database file. Bad lines are skipped and counted, not fatal. */
int kf_db_load(struct kf_db **out, const char *path, struct fb_error *err);
/* An empty database (the engine still knows its built-in observers). */
struct kf_db *kf_db_new_empty(void);
void kf_db_free(struct kf_db *db);
size_t kf_db_count(const struct kf_db *db);
size_t kf_db_bad_lines(const struct kf_db *db);

/* Look a driver up by name (any case, with or without .sys) and, when known,
 * its altitude text; NULL when the name is unknown. */
const struct kf_entry *kf_lookup(const struct kf_db *db, const char *name, const char *altitude);
/* The same for a key kf_name_key() made (callers that need the key anyway). */
const struct kf_entry *kf_lookup_key(const struct kf_db *db, const char *key, const char *altitude);

/* How many altitudes the database allocates to a driver, and their list
 * ("409500, 180451") into buf. */
size_t kf_altitude_count(const struct kf_db *db, const char *name);
const char *kf_altitudes(const struct kf_db *db, const char *name, char *buf, size_t size);

/* Built-in knowledge that holds even without the data file. */
int kf_name_is_observer(const char *name);       /* PROCMONnn, FileInfo, SysmonDrv, Npsvctrig */
int kf_name_is_filter_manager(const char *name); /* FLTMGR.SYS */
int kf_name_is_core_kernel(const char *name);    /* ntoskrnl, hal, file systems: never filters */
/* The same two for a key kf_name_key() made. */
int kf_key_is_observer(const char *key);
int kf_key_is_core_kernel(const char *key);

/* Load-order group of an altitude from the allocation ranges, "" if none. */
const char *kf_group_for_altitude(double altitude);

/* "tmpreflt" from "\SystemRoot\...\TmPreFlt.sys" into buf (lower case, no .sys). */
const char *kf_name_key(const char *name, char *buf, size_t size);

#endif
