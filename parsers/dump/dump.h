/* dump.h - Windows kernel crash dumps (MEMORY.DMP, Minidump\*.dmp, setupmem.dmp).
 *
 * Reads the 64-bit dump header (PAGEDU64: build, machine, bugcheck code and
 * its four parameters, dump type, the saved context) and, for triage dumps
 * (DumpType 4, the "small memory dump" that Setup keeps as setupmem.dmp), the
 * triage area: the driver list (base, size, name), the unloaded drivers, the
 * copy of the crashing thread's kernel stack and its context.
 *
 * Other dump types (full, kernel, bitmap) and 32-bit dumps are recognised and
 * their header facts reported; their memory is not analysed and the dump says
 * so in dump.not_analysed. Layout facts: docs/upgrade-failures.md §5-§6.
 *
 * Every offset and count taken from the file is checked before use; a bad one
 * gives an error naming the file and the offset.
 */
#ifndef FB_DUMP_H
#define FB_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"
#include "parsers/evidence.h"
#include "parsers/view.h"

enum {
  DUMP_TYPE_FULL = 1,
  DUMP_TYPE_KERNEL = 2, /* "summary" */
  DUMP_TYPE_HEADER = 3,
  DUMP_TYPE_TRIAGE = 4, /* small memory dump / kernel minidump */
  DUMP_TYPE_BITMAP_FULL = 5,
  DUMP_TYPE_BITMAP_KERNEL = 6,
  DUMP_TYPE_AUTOMATIC = 7,
};

#define DUMP_HEADER64_SIZE 0x2000u
#define DUMP_TRIAGE64_SIZE 0x80u
#define DUMP_DRIVER64_SIZE 0x90u
#define DUMP_UNLOADED64_SIZE 0x38u
#define DUMP_MAX_DRIVERS 16384u /* more than any real system loads */
#define DUMP_MAX_UNLOADED 4096u
#define DUMP_MAX_STACK_SLOTS 8192u /* 64 KB of stack; Windows copies <= 16 KB */
#define DUMP_UNSET32 0x45474150u   /* "PAGE": the filler of unused header fields */

struct dump_driver {
  uint64_t base;
  uint32_t size;
  uint32_t checksum;
  uint32_t stamp;        /* entry +0x88: TimeDateStamp or build hash (sources disagree) */
  uint64_t entry_offset; /* file offset of the 0x90-byte entry */
  const char *path;      /* UTF-8 as recorded: \SystemRoot\System32\drivers\ndis.sys */
  const char *name;      /* file name part of path */
};

struct dump_unloaded {
  uint64_t start;
  uint64_t end;
  uint64_t entry_offset;
  const char *name; /* cut at 12 characters by Windows */
};

struct dump_context {
  int valid;       /* the machine is one we decode and the record is in the file */
  uint32_t flags;  /* ContextFlags */
  uint64_t ip;     /* Rip / Pc */
  uint64_t sp;     /* Rsp / Sp */
  uint64_t fp;     /* Rbp / Fp */
  uint64_t lr;     /* ARM64 only */
  uint64_t offset; /* file offset of the record */
};

struct dump_triage {
  uint32_t size_of_dump;
  uint32_t valid_offset;
  uint32_t context_offset;
  uint32_t exception_offset;
  uint32_t unloaded_offset;
  uint32_t callstack_offset;
  uint32_t callstack_size;
  uint32_t driver_list_offset;
  uint32_t driver_count;
  uint32_t string_pool_offset;
  uint32_t string_pool_size;
  uint32_t broken_driver_offset;
  uint32_t triage_options;
  uint64_t top_of_stack;
  uint32_t debugger_data_offset;
  uint32_t debugger_data_size;
  uint32_t data_blocks_offset;
  uint32_t data_blocks_count;
};

struct dump {
  const char *file; /* as given to dump_open/dump_read; not copied */
  uint64_t file_size;
  int bits; /* 64 (PAGEDU64) or 32 (PAGEDUMP) */
  uint32_t major_version;
  uint32_t build; /* MinorVersion */
  uint32_t machine;
  uint32_t processors;
  uint32_t bugcheck;
  uint64_t params[4];
  uint32_t dump_type; /* 0 when not read (32-bit) */
  uint64_t required_space;
  uint64_t system_time; /* FILETIME UTC, 0 if unset */
  uint64_t uptime;      /* 100 ns */
  uint32_t minidump_fields;
  uint32_t product_type;
  uint32_t suite_mask;
  uint32_t exception_code; /* header EXCEPTION_RECORD64 (a marker in triage dumps) */
  uint64_t exception_address;
  struct dump_context ctx;
  char second_signature[9]; /* "SDMPDUMP"/"FDMPDUMP" at 0x2000 for bitmap dumps, else "" */
  uint64_t bitmap_present_pages;

  int has_triage; /* the triage area was read and is consistent */
  struct dump_triage triage;
  struct dump_driver *drivers;
  uint32_t ndrivers;
  struct dump_unloaded *unloaded;
  uint32_t nunloaded;
  const uint8_t *stack; /* points into the mapped file */
  uint32_t stack_size;
  uint64_t stack_va; /* TopOfStack: address of stack[0] */

  /* NULL when everything this reader knows was read; otherwise a sentence
   * saying what was not analysed ("full dump: memory pages not analysed"). */
  const char *not_analysed;

  /* private */
  struct fb_view view;
  int owns_view;
  char *strings;
  size_t strings_len;
  size_t strings_cap;
};

/* Map and read the dump at path. On error *d is still safe to dump_close. */
int dump_open(struct dump *d, const char *path, struct fb_error *err);

/* Read a dump held in memory (tests, fuzzers, unpacked archives); data must
 * outlive d. file names the input in errors and evidence. */
int dump_read(struct dump *d, const void *data, size_t size, const char *file, struct fb_error *err);

void dump_close(struct dump *d);

/* Does the buffer start like a kernel dump (PAGEDU64 / PAGEDUMP)? */
int dump_sniff(const void *data, size_t size);

const char *dump_type_name(uint32_t dump_type);
const char *dump_machine_name(uint32_t machine);

/* The listed driver whose image holds va, NULL if none. */
const struct dump_driver *dump_driver_at(const struct dump *d, uint64_t va);
const struct dump_unloaded *dump_unloaded_at(const struct dump *d, uint64_t va);

/* Where the stack scan starts: the context's stack pointer when it lies in
 * the stack copy, else the top of the copy. *from_sp says which. Returns the
 * byte index into d->stack (8-aligned). */
uint32_t dump_stack_scan_start(const struct dump *d, int *from_sp);

/* Emit the dump as evidence: each driver as a kernel ev_image (pid 4), each
 * unloaded driver as an ev_image with unloaded = 1, then one ev_fact
 * EV_FACT_BUGCHECK with code, params, address = saved instruction pointer and
 * stack = every 8-byte slot from the scan start to the end of the copy
 * (frames[i] is the value at scan start + 8*i; module NULL when it falls in no
 * listed driver). fact.subject says how the stack was read ("triage: stack
 * from context sp", "triage: stack from top of copy", "not analysed"),
 * fact.text summarises the header. */
int dump_emit(const struct dump *d, const struct ev_sink *sink, struct fb_error *err);

#endif
