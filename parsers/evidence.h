/* evidence.h - the evidence model: the one language between parsers and rules.
 *
 * Every parser (ETL, PML, EVTX, text, dump) turns its bytes into the few
 * record kinds below and hands them to a struct ev_sink, one call per record.
 * The rules never see a format-specific struct.
 *
 * Lifetime: every pointer inside a record (strings, frames) is valid only for
 * the duration of the callback. A consumer that keeps something copies it.
 * Times are FILETIME: 100 ns ticks since 1601-01-01 UTC; 0 = unknown.
 * Strings are UTF-8; NULL = not known.
 */
#ifndef FB_EVIDENCE_H
#define FB_EVIDENCE_H

#include <stdint.h>

#define EV_SCHEMA_VERSION 1
#define EV_UNKNOWN_U32 UINT32_MAX
#define EV_UNKNOWN_U64 UINT64_MAX

/* Where a record came from, so a verdict can cite it exactly. */
struct ev_origin {
  const char *file;   /* input file path as the job names it */
  const char *format; /* "pml", "etl", "evtx", "cbs", "fltmc", "setupapi", "setupact", "dump" */
  uint64_t index;     /* event index / record number / line number in that file */
  uint64_t offset;    /* byte offset in that file, EV_UNKNOWN_U64 if none */
};

/* One resolved stack frame: module+offset, or a bare address. */
struct ev_frame {
  uint64_t addr;
  const char *module; /* file name only ("FLTMGR.SYS"), NULL if unresolved */
  uint64_t offset;    /* addr - module base */
  int kernel;         /* 1 if a kernel-mode address */
};

struct ev_stack {
  const struct ev_frame *frames; /* frames[0] is the innermost (most recent) call */
  uint32_t count;
};

/* A loaded image. Kernel drivers are images of the System process (pid 4, or
 * 0 in ETL rundowns) and have kernel = 1. */
struct ev_image {
  struct ev_origin origin;
  uint64_t time;
  uint32_t pid;
  uint64_t base;
  uint64_t size;
  const char *path;    /* as recorded, e.g. \SystemRoot\System32\drivers\TmPreFlt.sys */
  const char *name;    /* file name part, e.g. TmPreFlt.sys */
  const char *company; /* version resource, when the capture carries it */
  const char *version;
  const char *description;
  int kernel;
  int unloaded; /* 1 for an unload event */
};

struct ev_process {
  struct ev_origin origin;
  uint32_t pid;
  uint32_t parent_pid;
  uint64_t start_time;
  uint64_t end_time; /* 0 while running */
  const char *name;  /* image file name, e.g. TiWorker.exe */
  const char *image_path;
  const char *command_line;
  const char *user;
  const char *company;
  int is_64bit; /* -1 unknown */
  int ended;    /* 1 for a process-exit record */
};

struct ev_thread {
  struct ev_origin origin;
  uint32_t tid;
  uint32_t pid;
  uint64_t time;
  int ended;
};

/* What a file operation did, normalized across formats. op_name keeps the
 * source's own word (Procmon's "CreateFile", ETL's "FileIo/Create"). */
enum ev_file_op_kind {
  EV_FOP_OTHER = 0,
  EV_FOP_CREATE,  /* IRP_MJ_CREATE: open or create */
  EV_FOP_CLEANUP, /* last handle closed (Procmon "CloseFile") */
  EV_FOP_CLOSE,   /* IRP_MJ_CLOSE: file object freed */
  EV_FOP_READ,
  EV_FOP_WRITE,
  EV_FOP_QUERY_INFO,
  EV_FOP_SET_INFO, /* other than rename / delete */
  EV_FOP_RENAME,
  EV_FOP_DELETE, /* set disposition, or delete-on-close */
  EV_FOP_DIRECTORY,
  EV_FOP_FSCTL,
  EV_FOP_SECTION,    /* CreateFileMapping / acquire for section sync */
  EV_FOP_QUERY_OPEN, /* fast I/O network query open */
  EV_FOP_LOCK,
  EV_FOP_SECURITY,
  EV_FOP_FLUSH,
  EV_FOP_OP_END, /* ETL "operation end": status for an earlier IRP */
};

struct ev_file_op {
  struct ev_origin origin;
  uint64_t time;
  uint64_t duration; /* 100 ns; EV_UNKNOWN_U64 if unknown (e.g. pending) */
  uint32_t pid;
  uint32_t tid;
  const char *process_name;
  enum ev_file_op_kind kind;
  const char *op_name;
  uint32_t info_class;     /* FILE_INFORMATION_CLASS etc., EV_UNKNOWN_U32 if none */
  const char *path;        /* drive-letter path when known (C:\...), else as recorded */
  const char *device_path; /* \Device\HarddiskVolumeN\... when the source had it */
  uint64_t file_object;    /* 0 = unknown (PML has none) */
  uint64_t file_key;
  uint64_t irp;
  uint32_t desired_access; /* EV_UNKNOWN_U32 if not a create */
  uint32_t share_access;
  uint32_t disposition;
  uint32_t create_options;
  uint32_t attributes;
  uint32_t open_result; /* FILE_SUPERSEDED..; EV_UNKNOWN_U32 */
  uint32_t status;      /* NTSTATUS */
  int status_known;     /* 0 when the operation never completed in the capture */
  struct ev_stack stack;
};

/* One minifilter callback event (ETL "Minifilter I/O activity"). */
enum ev_cb_phase {
  EV_CB_PRE_START = 0, /* pre-operation callback about to run */
  EV_CB_POST_START,
  EV_CB_PRE_END, /* pre-operation callback returned */
  EV_CB_POST_END,
  EV_CB_PRE_FAILED, /* pre-operation callback failed the operation */
  EV_CB_POST_FAILED,
};

struct ev_filter_callback {
  struct ev_origin origin;
  uint64_t time;
  uint64_t start_time; /* for *_END: when the callback started, 0 unknown */
  uint32_t pid;
  uint32_t tid;
  enum ev_cb_phase phase;
  uint64_t routine;   /* callback address */
  const char *module; /* driver holding routine, NULL if unresolved */
  uint64_t module_offset;
  uint64_t file_object;
  uint64_t fs_context;
  uint64_t irp;
  uint64_t callback_data;
  int major_function; /* IRP_MJ_*, negative for FltMgr pseudo-operations */
  uint32_t status;
  int status_known;
  struct ev_stack stack;
};

/* A filter driver as the upload describes it. */
enum ev_filter_source {
  EV_FSRC_FLTMC_FILTERS = 0,
  EV_FSRC_FLTMC_INSTANCES,
  EV_FSRC_EVENTLOG, /* Microsoft-Windows-FilterManager events */
  EV_FSRC_IMAGE,    /* a kernel image load in a trace */
};

struct ev_filter_info {
  struct ev_origin origin;
  enum ev_filter_source source;
  uint64_t time;
  const char *name;     /* "TmPreFlt" (no .sys) as fltmc prints it */
  const char *altitude; /* text: altitudes can be fractional ("360500.5") */
  const char *volume;   /* for instances */
  const char *instance;
  int instances;   /* -1 unknown */
  int frame;       /* -1 unknown */
  int loaded;      /* 1 loaded, 0 failed/unloaded, -1 unknown */
  uint32_t status; /* load failure status when known */
};

/* Side facts from logs: the customer's question and crash context. */
enum ev_fact_kind {
  EV_FACT_CBS_FAILURE = 0, /* CBS.log error with HRESULT and path */
  EV_FACT_WU_FAILURE,      /* Windows Update client failure (event 20, ...) */
  EV_FACT_SETUP_RESULT,    /* setup phase/operation result, 0xC1900101-0x40017 */
  EV_FACT_SETUP_CRASH,     /* rollback log's crash block */
  EV_FACT_DRIVER_INSTALL,  /* setupapi.dev.log section */
  EV_FACT_BUGCHECK,        /* BugCheck 1001, Kernel-Power 41, dump header */
  EV_FACT_OTHER,
};

struct ev_fact {
  struct ev_origin origin;
  enum ev_fact_kind kind;
  uint64_t time;
  uint32_t code;         /* HRESULT / NTSTATUS / bugcheck code */
  uint32_t extra_code;   /* extend code, ... */
  uint64_t params[4];    /* bugcheck parameters */
  const char *path;      /* file the failure names */
  const char *subject;   /* update title, KB, driver, phase */
  const char *text;      /* the line itself, trimmed */
  uint64_t address;      /* bugcheck: faulting instruction pointer, 0 unknown */
  struct ev_stack stack; /* bugcheck: resolved stack slots, innermost first */
};

/* The visitor. Any callback may be NULL. A callback returns 0 to go on, or
 * non-zero to stop the parser (which then returns FB_ESTOP). */
struct ev_sink {
  void *ctx;
  int (*image)(void *ctx, const struct ev_image *r);
  int (*process)(void *ctx, const struct ev_process *r);
  int (*thread)(void *ctx, const struct ev_thread *r);
  int (*file_op)(void *ctx, const struct ev_file_op *r);
  int (*filter_callback)(void *ctx, const struct ev_filter_callback *r);
  int (*filter_info)(void *ctx, const struct ev_filter_info *r);
  int (*fact)(void *ctx, const struct ev_fact *r);
};

const char *ev_file_op_kind_name(enum ev_file_op_kind kind);
const char *ev_cb_phase_name(enum ev_cb_phase phase);
const char *ev_fact_kind_name(enum ev_fact_kind kind);
const char *ev_filter_source_name(enum ev_filter_source source);

/* "TmPreFlt.sys" from "\SystemRoot\System32\drivers\TmPreFlt.sys" (either slash). */
const char *ev_path_basename(const char *path);

/* Initialize a file_op with all "unknown" markers set. */
void ev_file_op_init(struct ev_file_op *op);

#endif
