/* pml.h - Process Monitor capture (.pml, .pml.gz) reader.
 *
 * Facts: ../shared/docs/pml-format.md. The file is mapped (fb_view), the
 * tables (strings, processes with modules, hosts, ports) are read once at
 * open; events are read one at a time by index through the offsets array, so
 * memory does not grow with the number of events.
 *
 * Two halves:
 *   pml_reader.c  - header, tables, event framing, stacks, evidence  (this API)
 *   pml_render.c  - Procmon's names and text: operation names, result names,
 *                   Detail and Category exactly as Procmon's CSV prints them
 */
#ifndef FB_PML_H
#define FB_PML_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"
#include "parsers/evidence.h"
#include "parsers/strbuf.h"

enum pml_class {
  PML_CLASS_UNKNOWN = 0,
  PML_CLASS_PROCESS = 1,
  PML_CLASS_REGISTRY = 2,
  PML_CLASS_FILE_SYSTEM = 3,
  PML_CLASS_PROFILING = 4,
  PML_CLASS_NETWORK = 5,
};

struct pml_header {
  uint32_t version;       /* 9 in every known file */
  unsigned ptr_size;      /* 4 or 8 */
  char computer[64];      /* UTF-8 */
  char system_root[1024]; /* UTF-8, e.g. C:\Windows */
  uint32_t event_count;
  uint64_t events_offset;
  uint64_t offsets_array_offset;
  uint64_t process_table_offset;
  uint64_t string_table_offset;
  uint64_t icon_table_offset;
  uint64_t hosts_offset;
  uint64_t max_user_address; /* addresses above it are kernel addresses */
  uint32_t os_major, os_minor, os_build, platform_id;
  char service_pack[512]; /* UTF-8 */
  uint32_t cpus;
  uint64_t memory;
};

struct pml_module {
  uint64_t base;
  uint32_t size;
  const char *path; /* UTF-8, owned by the pml_file */
  const char *name; /* points into path: file name part */
  const char *version;
  const char *company;
  const char *description;
};

struct pml_process {
  uint32_t index;
  uint32_t pid;
  uint32_t parent_pid;
  uint32_t parent_index;
  uint64_t auth_id; /* LUID: high 32 bits, low 32 bits */
  uint32_t session;
  uint64_t start_time; /* FILETIME */
  uint64_t end_time;
  int virtualized;
  int is_64bit;
  const char *integrity, *user, *name, *image_path, *command_line, *company, *version, *description;
  const struct pml_module *modules; /* sorted by base */
  uint32_t module_count;
};

/* One event, pointing into the mapped file (valid until pml_close). */
struct pml_event {
  uint64_t index;                    /* 0-based position in the offsets array */
  uint64_t offset;                   /* file offset of the event header */
  const struct pml_process *process; /* NULL if the process index is unknown */
  uint32_t process_index;
  uint32_t tid;
  uint32_t event_class; /* enum pml_class */
  uint16_t operation;
  uint64_t duration; /* 100 ns; meaningless when result == 0x103 */
  uint64_t time;     /* FILETIME UTC */
  uint32_t result;   /* NTSTATUS */
  uint16_t stack_depth;
  const uint8_t *stack; /* stack_depth entries of ptr_size bytes, innermost first */
  uint32_t detail_size;
  const uint8_t *detail;
  uint16_t extra_size;
  const uint8_t *extra; /* extra detail, NULL if none */
};

struct pml_file;

/* Open a capture from a path (gzip inflated transparently) or from memory
 * the caller owns. On failure returns a negative FB_E* and fills err with the
 * file, offset and what was wrong. */
int pml_open(struct pml_file **out, const char *path, struct fb_error *err);
int pml_open_memory(struct pml_file **out, const void *data, size_t size, const char *name,
                    struct fb_error *err);
void pml_close(struct pml_file *f);

const struct pml_header *pml_header(const struct pml_file *f);
uint32_t pml_process_count(const struct pml_file *f);
const struct pml_process *pml_process_at(const struct pml_file *f, uint32_t i);
/* The System process (PID 4): its modules are the kernel drivers. NULL if absent. */
const struct pml_process *pml_system_process(const struct pml_file *f);
/* A string-table entry as UTF-8 ("" for index 0 or out of range). */
const char *pml_string(const struct pml_file *f, uint32_t index);
/* Host / port name from the capture's tables, NULL if not named. */
const char *pml_host_name(const struct pml_file *f, const uint8_t addr[16], int is_ipv4);
const char *pml_port_name(const struct pml_file *f, uint16_t port, int is_tcp);

/* Read event number index (0 .. event_count-1). ev's stack, detail and
 * extra point into the reader's window: they stay valid until the next
 * pml_event_read on the same file. */
int pml_event_read(struct pml_file *f, uint64_t index, struct pml_event *ev, struct fb_error *err);

/* Frame i of an event's stack, resolved to module+offset: kernel addresses
 * against the System process's modules, others against the event's process. */
void pml_frame_resolve(const struct pml_file *f, const struct pml_event *ev, uint32_t i,
                       struct ev_frame *out);

/* The raw return address of frame i (0 if i is past the stack). */
uint64_t pml_frame_address(const struct pml_file *f, const struct pml_event *ev, uint32_t i);

/* The name the capture was opened under (path, or the name given to
 * pml_open_memory), for messages. */
const char *pml_file_name(const struct pml_file *f);

/* Feed every event (and the processes and images) to an evidence sink. */
int pml_emit_evidence(struct pml_file *f, const struct ev_sink *sink, struct fb_error *err);

/* ---- pml_render.c: Procmon's own words ---- */

/* "File System", "Registry", ... */
const char *pml_class_name(uint32_t event_class);
/* Operation as Procmon prints it ("CreateFile", "QueryBasicInformationFile",
 * "TCP Send", "<Unknown>"), written into out. */
void pml_render_operation(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out);
/* The Path column. */
void pml_render_path(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out);
/* Result column: "SUCCESS", "ACCESS DENIED", "0xC000046F", "" for 0x103. */
void pml_render_result(uint32_t status, struct fb_strbuf *out);
/* Detail column, en-US number formats, dates in UTC, as Procmon before 3.60. */
void pml_render_detail(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out);

/* How the machine that exported a CSV wrote the words (NULL = the defaults
 * of pml_render_detail). Procmon converts the dates inside a Detail with the
 * UTC offset in force when it writes them, not the offset of each date. */
enum pml_render_locale {
  PML_RENDER_EN_US = 0, /* 16,384  7/12/2020 1:17:45 AM */
  PML_RENDER_ES_ES = 1, /* 16.384  12/07/2020 1:17:45 */
};
struct pml_render_opts {
  int locale;         /* enum pml_render_locale */
  int32_t utc_offset; /* seconds east of UTC for dates inside Detail */
  unsigned procmon;   /* Procmon version x100 to imitate (361 = 3.61); 0 = 3.5x; below 350: 3.4 */
};
void pml_render_detail_opts(const struct pml_file *f, const struct pml_event *ev,
                            const struct pml_render_opts *o, struct fb_strbuf *out);
/* Operation as that Procmon version names it (3.60 and later name the
 * sub-operations older versions print as "<Unknown>"). */
void pml_render_operation_opts(const struct pml_file *f, const struct pml_event *ev,
                               const struct pml_render_opts *o, struct fb_strbuf *out);
/* Category column: "Read", "Write", "Read Metadata", "Write Metadata" or "". */
void pml_render_category(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out);

#endif
