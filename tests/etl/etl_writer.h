/* etl_writer.h - builds synthetic ETL files in the format real ones have.
 *
 * The project's own trace writer, for tests, scenarios and the bundled
 * example: WMI buffers per CPU with proper 72-byte headers, the header buffer
 * with the logfile-header record, SYSTEM/PERFINFO/FULL-header kernel events
 * (layouts of docs/etl-format.md §§3-11), optionally XPRESS (plain LZ77)
 * compressed data buffers as `xperf -merge -compress` writes them.
 *
 *   struct etlw *w;
 *   etlw_open(&w, "x.etl", NULL);                    // defaults: x64, 2 CPUs, 64 KB
 *   struct etlw_ev e = {.cpu = 0, .ts = etlw_ticks(w, 1000), .pid = 4, .tid = 8};
 *   etlw_process(w, &e, ETLW_DCSTART, 4, 0, "System", "");
 *   etlw_image(w, &e, ETLW_DCSTART, 0, 0xfffff80212340000, 0x30000,
 *              "\\SystemRoot\\System32\\drivers\\TmPreFlt.sys");
 *   etlw_close(w);
 *
 * Times are raw clock ticks (the trace's QPC): etlw_ticks(w, us) converts
 * microseconds since the trace start. Within one CPU, timestamps must not
 * decrease (real buffers never do); the writer refuses events that would.
 * Every function returns 0, or -1 with a message in etlw_error(w).
 */
#ifndef FB_ETL_WRITER_H
#define FB_ETL_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct etlw;

struct etlw_options {
  unsigned ptr_size;    /* 8 (default) or 4: pointer size of the trace and its kernel records */
  unsigned cpus;        /* 1..64, default 2 */
  uint32_t buffer_size; /* 4096..1 MB, multiple of 8; default 65536 */
  int compress;         /* 1: XPRESS LZ77 data buffers, short header buffer, layout 2.0 */
  int literal_only;     /* with compress: encode literals only (simplest valid stream) */
  uint64_t perf_freq;   /* default 10 000 000 */
  uint64_t start_time;  /* FILETIME of the trace start; default 2026-01-05T02:00:00Z */
  uint64_t start_ticks; /* clock value of the logfile-header record; default 0x100000000 */
  uint32_t build;       /* OS build; default 19045 */
  const char *logger;   /* logger name; default "fltblame-etlw" */
};

/* Where and when an event is logged: the record header fields. */
struct etlw_ev {
  unsigned cpu; /* buffer (processor) it goes to */
  uint64_t ts;  /* raw clock ticks */
  uint32_t pid; /* header ProcessId (may be 0xFFFFFFFF as in real kernel events) */
  uint32_t tid; /* header ThreadId */
  int perfinfo; /* 1: PERFINFO header (no pid/tid), as some traces write kernel events */
};

/* Generic event types (EVENT_TRACE_TYPE_*). */
enum { ETLW_START = 1, ETLW_END = 2, ETLW_DCSTART = 3, ETLW_DCEND = 4, ETLW_LOAD = 10 };

/* FileIo opcodes. */
enum {
  ETLW_FILE_NAME = 0,
  ETLW_FILE_CREATE_NAME = 32,
  ETLW_FILE_DELETE_NAME = 35,
  ETLW_FILE_RUNDOWN = 36,
  ETLW_FILE_CREATE = 64,
  ETLW_FILE_CLEANUP = 65,
  ETLW_FILE_CLOSE = 66,
  ETLW_FILE_READ = 67,
  ETLW_FILE_WRITE = 68,
  ETLW_FILE_SETINFO = 69,
  ETLW_FILE_DELETE = 70,
  ETLW_FILE_RENAME = 71,
  ETLW_FILE_DIRENUM = 72,
  ETLW_FILE_FLUSH = 73,
  ETLW_FILE_QUERYINFO = 74,
  ETLW_FILE_FSCTL = 75,
  ETLW_FILE_OPEND = 76,
  ETLW_FLT_PREOP_INIT = 96,
  ETLW_FLT_POSTOP_INIT = 97,
  ETLW_FLT_PREOP_COMPLETION = 98,
  ETLW_FLT_POSTOP_COMPLETION = 99,
  ETLW_FLT_PREOP_FAILURE = 100,
  ETLW_FLT_POSTOP_FAILURE = 101,
};

int etlw_open(struct etlw **out, const char *path, const struct etlw_options *opt);
/* Flush every buffer, write the header buffer (buffer count, end time) and
 * free w. Returns 0 or -1 (the file is then incomplete). */
int etlw_close(struct etlw *w);
/* Free without finishing (after an error). */
void etlw_abort(struct etlw *w);
const char *etlw_error(const struct etlw *w);

uint64_t etlw_ticks(const struct etlw *w, uint64_t us_since_start);
/* Counters: records written (logfile header included) and buffers so far. */
uint64_t etlw_records(const struct etlw *w);
uint64_t etlw_buffers(const struct etlw *w);

/* Process v4 (group 3): opcode ETLW_START/END/DCSTART/DCEND. name is ANSI
 * (the image file name, e.g. "TiWorker.exe"), cmdline UTF-8 (stored UTF-16). */
int etlw_process(struct etlw *w, const struct etlw_ev *e, int opcode, uint32_t pid, uint32_t ppid,
                 const char *name, const char *cmdline);
/* Thread v3 (group 5): opcode ETLW_START/END/DCSTART/DCEND. */
int etlw_thread(struct etlw *w, const struct etlw_ev *e, int opcode, uint32_t pid, uint32_t tid);
/* Image v3: ETLW_LOAD (group 3 type 10), ETLW_END (unload), ETLW_DCSTART,
 * ETLW_DCEND (group 20). Kernel drivers: pid 0, kernel base. */
int etlw_image(struct etlw *w, const struct etlw_ev *e, int opcode, uint32_t pid, uint64_t base,
               uint64_t size, const char *path);

/* FileIo v3 (group 4). Paths UTF-8, stored UTF-16. */
int etlw_file_create(struct etlw *w, const struct etlw_ev *e, uint64_t irp, uint64_t file_object,
                     uint32_t ttid, uint32_t create_options, uint32_t attributes, uint32_t share_access,
                     const char *path);
/* ETLW_FILE_CLEANUP / CLOSE / FLUSH */
int etlw_file_simple(struct etlw *w, const struct etlw_ev *e, int opcode, uint64_t irp, uint64_t file_object,
                     uint64_t file_key, uint32_t ttid);
/* ETLW_FILE_SETINFO / DELETE / RENAME / QUERYINFO / FSCTL */
int etlw_file_info(struct etlw *w, const struct etlw_ev *e, int opcode, uint64_t irp, uint64_t file_object,
                   uint64_t file_key, uint64_t extra_info, uint32_t ttid, uint32_t info_class);
/* ETLW_FILE_READ / WRITE */
int etlw_file_rw(struct etlw *w, const struct etlw_ev *e, int opcode, uint64_t offset, uint64_t irp,
                 uint64_t file_object, uint64_t file_key, uint32_t ttid, uint32_t io_size, uint32_t io_flags);
/* ETLW_FILE_DIRENUM */
int etlw_file_direnum(struct etlw *w, const struct etlw_ev *e, uint64_t irp, uint64_t file_object,
                      uint64_t file_key, uint32_t ttid, uint32_t length, uint32_t info_class,
                      const char *pattern);
int etlw_file_opend(struct etlw *w, const struct etlw_ev *e, uint64_t irp, uint64_t extra_info,
                    uint32_t status);
/* ETLW_FILE_NAME / CREATE_NAME / DELETE_NAME / RUNDOWN: file key -> path (FileIo v2 layout). */
int etlw_file_name(struct etlw *w, const struct etlw_ev *e, int opcode, uint64_t file_key, const char *path);

/* One minifilter event (FileIo 96..101, version 3). The payload layout is
 * the one docs/etl-minifilter.md assumes (MOF classes): init 5P+4,
 * completion = u64 InitialTime + init (5P+12), failure = init + NTSTATUS
 * (5P+8). layout overrides it (0 init, 1 init+status, 2 timed) to build
 * traces for the alternative readings; -1 = by opcode. */
struct etlw_flt {
  uint64_t routine;
  uint64_t file_object;
  uint64_t fs_context;
  uint64_t irp;
  uint64_t callback_data;
  int32_t major_function; /* IRP_MJ_*, or -n for FltMgr pseudo-operations (stored sign-extended) */
  uint32_t status;        /* failure events */
  uint64_t initial_time;  /* completion events: raw ticks when the callback started */
  int layout;             /* -1 by opcode */
};
int etlw_filter_callback(struct etlw *w, const struct etlw_ev *e, int opcode, const struct etlw_flt *f);

/* StackWalk Stack (group 24 type 32, PERFINFO header): the stack of the
 * event logged at event_ts on thread tid; frames innermost first. Log it
 * after its event (real traces do), usually with e->ts a little later. */
int etlw_stack(struct etlw *w, const struct etlw_ev *e, uint64_t event_ts, uint32_t pid, uint32_t tid,
               const uint64_t *frames, unsigned count);

/* KernelTraceControl SysConfig VolumeMapping (FULL header, type 35):
 * "\\Device\\HarddiskVolume2\\" -> "C:\\". */
int etlw_volume_mapping(struct etlw *w, const struct etlw_ev *e, const char *nt_path, const char *dos_path);

/* KernelTraceControl ImageID/FileVersion (FULL header, type 64): the version
 * resource of the image event that follows with the same timestamp (how
 * xperf/WPR attach vendor strings to modules). */
int etlw_file_version(struct etlw *w, const struct etlw_ev *e, uint32_t image_size, const char *orig_name,
                      const char *description, const char *version, const char *product, const char *company);

/* A standard kernel module set at realistic x64 bases (x86: the low 32 bits
 * of ETLW_X86_KERNEL_BASE + offset), for scenarios. */
struct etlw_driver {
  const char *path; /* \SystemRoot\System32\drivers\TmPreFlt.sys */
  uint64_t base;    /* x64 base */
  uint32_t size;
  const char *company; /* version resource CompanyName */
  const char *description;
};
extern const struct etlw_driver etlw_std_drivers[];
extern const unsigned etlw_std_driver_count;
/* Base of driver i in a trace of this writer's pointer size. */
uint64_t etlw_driver_base(const struct etlw *w, unsigned i);
/* Index of the driver whose path ends with name (case-insensitive), or -1. */
int etlw_driver_find(const char *name);
/* FileVersion + Image record (opcode ETLW_DCSTART or ETLW_DCEND, pid 0) for
 * every standard driver, all at e->ts. */
int etlw_kernel_rundown(struct etlw *w, const struct etlw_ev *e, int opcode);

/* Any SYSTEM (or PERFINFO when e->perfinfo) header record: group, type,
 * version and a raw payload. For events this API does not model. */
int etlw_kernel_event(struct etlw *w, const struct etlw_ev *e, unsigned group, unsigned type,
                      unsigned version, const void *payload, size_t size);

/* Microsoft-Windows-Kernel-File Create (id 12, v1; EVENT_HEADER record with
 * an optional STACK_TRACE64/32 extended item), as WPR/PerfView record it. */
int etlw_kfile_create(struct etlw *w, const struct etlw_ev *e, uint64_t irp, uint64_t file_object,
                      uint32_t ttid, uint32_t create_options, uint32_t attributes, uint32_t share_access,
                      const char *path, const uint64_t *frames, unsigned count);

/* Compress src with plain LZ77 XPRESS (MS-XCA 2.3) into dst (capacity
 * dst_cap, at least src_size + src_size/8 + 8). Returns the compressed size,
 * or 0 if dst is too small. literal_only: never emit matches. Exposed for
 * tests of the core's decompressor. */
size_t etlw_xpress_compress(const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_cap,
                            int literal_only);

#endif
