/* dump_writer.h - builds synthetic Windows kernel dumps for tests and fuzz
 * seeds: a PAGEDU64 header (unused fields filled with "PAGE" as Windows
 * does), and for triage dumps the TRIAGE_DUMP64 area with a driver list,
 * string pool, unloaded drivers, a stack copy and the "TRGD" marker.
 * Layout facts: docs/upgrade-failures.md §5-§6. */
#ifndef FB_TESTS_DUMP_WRITER_H
#define FB_TESTS_DUMP_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct dw_driver {
  const char *path; /* ASCII: \SystemRoot\System32\drivers\ndis.sys */
  uint64_t base;
  uint32_t size;
  uint32_t checksum;
};

struct dw_unloaded {
  const char *name; /* cut to 12 characters like Windows does */
  uint64_t start;
  uint64_t end;
};

struct dw_spec {
  uint32_t machine; /* 0x8664 or 0xAA64; 0 = x64 */
  uint32_t build;
  uint32_t processors;
  uint32_t bugcheck;
  uint64_t params[4];
  uint32_t dump_type; /* 0 = 4 (triage) */
  int bits32;         /* write a PAGEDUMP (32-bit) header only */
  uint64_t system_time;
  uint64_t ip, sp, fp;
  const struct dw_driver *drivers;
  uint32_t ndrivers;
  const struct dw_unloaded *unloaded;
  uint32_t nunloaded;
  uint64_t top_of_stack;
  const uint64_t *stack; /* slot values, stack[0] at top_of_stack */
  uint32_t nstack;
  const uint8_t *stack_bytes; /* alternative to stack: raw bytes */
  uint32_t stack_size;
};

/* Build the dump into a malloc'd buffer; NULL on allocation failure. */
uint8_t *dw_build(const struct dw_spec *spec, size_t *size);

/* Field offsets the damaged-dump tests patch. */
#define DW_TRIAGE 0x2000u
#define DW_OFF_DRIVER_COUNT (DW_TRIAGE + 0x34)
#define DW_OFF_DRIVER_LIST (DW_TRIAGE + 0x30)

/* The seed case of issue 8: an upgrade's second boot bugchecks 0x1000007E
 * with the fault inside ndis.sys (NdisFDeregisterFilterDriver on a NULL
 * handle) called by lwfmgr.sys, an NDIS lightweight filter. */
uint8_t *dw_build_seed_case(size_t *size);
extern const uint64_t dw_seed_params[4];

/* The matching rollback setupact.log (NUL-terminated, static). */
const char *dw_seed_rollback_log(void);

#endif
