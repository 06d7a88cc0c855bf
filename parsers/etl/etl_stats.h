/* etl_stats.h - record counts of an ETL file, the way the corpus MANIFEST
 * counts them: every record (the logfile header record included), by header
 * kind and by identity: kernel group/opcode, classic class GUID/opcode,
 * provider GUID/event id; plus extended data items by type. No allocation per
 * record (an open-addressing table that grows with distinct identities). */
#ifndef FB_ETL_STATS_H
#define FB_ETL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/etl/etl.h"

enum etl_stats_family {
  ETL_STATS_KERNEL = 1,  /* SYSTEM/COMPACT/PERFINFO: group + opcode */
  ETL_STATS_CLASSIC = 2, /* FULL/INSTANCE: class GUID + opcode */
  ETL_STATS_EVENT = 3,   /* EVENT_HEADER: provider GUID + event id */
  ETL_STATS_WPP = 4,     /* WPP: message GUID (if any) + message number */
};

struct etl_stats_entry {
  uint8_t family;
  uint8_t group; /* KERNEL */
  uint16_t code; /* opcode (KERNEL, CLASSIC) or event id (EVENT) or message number (WPP) */
  struct etl_guid guid;
  uint64_t count;
  uint64_t used; /* table slot in use */
};

struct etl_stats {
  uint64_t total;
  uint64_t by_kind[ETL_KIND_COUNT];
  uint64_t ext_by_type[16]; /* index 15 = any type >= 15 */
  uint64_t bytes;           /* sum of record sizes */
  uint64_t out_of_order;    /* records earlier than the record before them */
  uint64_t first_ts, last_ts;
  struct etl_stats_entry *table;
  size_t cap, used;
  int oom;
};

void etl_stats_init(struct etl_stats *st);
void etl_stats_free(struct etl_stats *st);
void etl_stats_add(struct etl_stats *st, const struct etl_record *rec);
/* Count of one identity (0 if never seen). */
uint64_t etl_stats_kernel(const struct etl_stats *st, uint8_t group, uint8_t opcode);
uint64_t etl_stats_classic(const struct etl_stats *st, const char *guid, uint8_t opcode);
uint64_t etl_stats_event(const struct etl_stats *st, const char *guid, uint16_t id);
/* Sum over all ids/opcodes of one provider / class GUID. */
uint64_t etl_stats_guid_total(const struct etl_stats *st, const char *guid);
/* The used entries, sorted (family, group, guid, code) into a new array the
 * caller frees; *n set. NULL on allocation failure. */
struct etl_stats_entry *etl_stats_sorted(const struct etl_stats *st, size_t *n);

#endif
