/* etl_decode.h - ETL records -> the evidence model (parsers/evidence.h).
 *
 * etl_emit_evidence() reads a trace with the core reader (etl.h) and calls
 * the sink once per image, process, thread, file operation and minifilter
 * callback, with stacks resolved to module+offset; each driver that minifilter
 * callbacks name is also reported once as an ev_filter_info (source IMAGE).
 *
 * It reads the trace twice: pass 1 only learns the maps that WPR writes at
 * the END of a trace (process names, kernel/user modules from Image DCEnd,
 * thread -> process, volume -> drive letter, file key -> name rundown);
 * pass 2 emits. That way the minifilter callback at second 3 resolves to
 * TmPreFlt.sys even though the driver list is only logged at the end.
 *
 * File operations and minifilter callbacks are held (bounded pool) until
 * their stack (StackWalk records come later, stack keys are defined later
 * still) and their OperationEnd (IRP -> NTSTATUS) arrive, so they reach the
 * sink complete but not strictly in time order: every record carries its own
 * time. State per file object is dropped at Close; maps have hard caps.
 *
 * The lower-level decoder (etl_decoder_*) takes records in a reader-neutral
 * form (struct etl_event_in): tests and fuzzers feed it directly.
 */
#ifndef FB_ETL_DECODE_H
#define FB_ETL_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"
#include "parsers/etl/etl_minifilter.h"
#include "parsers/evidence.h"

/* How a record identifies its event. */
enum etl_in_kind {
  ETL_IN_KERNEL = 0, /* SYSTEM / COMPACT / PERFINFO header: group, type, version */
  ETL_IN_CLASSIC,    /* FULL / INSTANCE header: guid, type (Class.Type), version */
  ETL_IN_MANIFEST,   /* EVENT_HEADER: guid (ProviderId), id, version */
};

struct etl_event_in {
  enum etl_in_kind kind;
  uint64_t ts;     /* raw clock ticks */
  uint64_t index;  /* record number in the file (logfile header = 0) */
  uint64_t offset; /* file offset of the record, FB_OFFSET_NONE if unknown */
  unsigned ptr_size;
  int has_ids; /* header carries pid/tid (not PERFINFO) */
  uint32_t pid;
  uint32_t tid;
  unsigned group; /* kernel */
  unsigned type;  /* kernel / classic opcode */
  unsigned version;
  const uint8_t *guid; /* classic / manifest, 16 bytes little-endian layout */
  unsigned id;         /* manifest event id */
  const uint8_t *payload;
  size_t size;
  /* manifest: the STACK_TRACE32/64 extended item's data, if any */
  unsigned stack_ext_type; /* 5 or 6, 0 = none */
  const uint8_t *stack_ext;
  size_t stack_ext_size;
};

/* Clock facts of the logfile header (docs/etl-format.md §3). */
struct etl_clock {
  uint64_t t0;             /* SystemTime of the logfile-header record */
  uint64_t start_filetime; /* StartTime */
  uint64_t freq;           /* ticks per second (10^7 for clock type 2) */
  unsigned ptr_size;       /* the file's PointerSize */
};

struct etl_decode_options {
  const char *origin_file; /* for ev_origin.file; NULL = the path */
  int single_pass;         /* 1: skip pass 1 (faster, but end-of-trace rundowns resolve nothing) */
  uint32_t max_pending;    /* held operations; default 8192 */
  double stack_window_s;   /* how long an event waits for its stack; default 1.0 s of trace time */
  double hold_max_s;       /* how long an operation waits for its OperationEnd; default 10 s */
};

struct etl_decode_stats {
  uint64_t records; /* records handed to the decoder (pass 2) */
  uint64_t images, processes, threads, file_ops, filter_callbacks, facts; /* emitted */
  uint64_t minifilter_events;                                             /* FileIo 96..101 records seen */
  uint64_t minifilter_refused;  /* ... with a payload size that has no layout */
  uint64_t minifilter_resolved; /* callbacks whose routine fell in a known module */
  uint64_t filters_seen;        /* distinct drivers named by callbacks (one ev_filter_info each) */
  uint64_t file_events;         /* classic FileIo + Kernel-File operation records */
  uint64_t opend_matched;       /* OperationEnd records joined to their operation */
  uint64_t stacks_attached;     /* stack records (or key definitions) attached to a held event */
  uint64_t stacks_unmatched;    /* stack records with no held event */
  uint64_t decode_errors;       /* payloads a decoder refused (counted, skipped) */
  uint64_t evicted;             /* held operations emitted early because the pool was full */
  uint64_t map_resets;          /* a capped map was cleared */
  uint64_t kernel_modules;      /* distinct kernel modules known at the end */
  uint64_t volume_mappings;
  struct etl_flt_census census; /* every (opcode, version, ptr, size) of minifilter events */
  uint64_t reader_problems;     /* damage the reader met and skipped (truncation, bad sizes, lost buffers) */
  char first_problem[200];      /* the first one's message, with its file offset */
};

/* Read path (pass 1 + pass 2) and emit into sink. Returns 0, FB_ESTOP if a
 * callback asked to stop, or the reader's error (err filled); events decoded
 * before an error in the file have been emitted. stats may be NULL. */
int etl_emit_evidence(const char *path, const struct ev_sink *sink, const struct etl_decode_options *opt,
                      struct etl_decode_stats *stats, struct fb_error *err);

/* ---- lower level -------------------------------------------------------- */
struct etl_decoder;

struct etl_decoder *etl_decoder_new(const struct etl_clock *clock, const struct ev_sink *sink,
                                    const struct etl_decode_options *opt, const char *origin_file);
void etl_decoder_free(struct etl_decoder *d);
/* Pass 1: learn maps only, emit nothing. */
void etl_decoder_learn(struct etl_decoder *d, const struct etl_event_in *e);
/* Pass 2: decode and emit. Returns 0 or FB_ESTOP. */
int etl_decoder_feed(struct etl_decoder *d, const struct etl_event_in *e);
/* Emit what is still held, and the "no minifilter events" fact. 0 or FB_ESTOP. */
int etl_decoder_finish(struct etl_decoder *d);
const struct etl_decode_stats *etl_decoder_stats(const struct etl_decoder *d);

/* Raw clock ticks -> FILETIME with the trace's anchors. */
uint64_t etl_clock_filetime(const struct etl_clock *c, uint64_t ts);

/* Text of the fact emitted when a trace has no minifilter events. */
#define ETL_FACT_NO_MINIFILTER                                                                               \
  "no minifilter events in this trace (FileIo opcodes 96-101): it was recorded without the "                 \
  "Minifilter I/O profile, so callbacks cannot be timed or blamed from it"

#endif
