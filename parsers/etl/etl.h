/* etl.h - ETW trace file (.etl) reader: bytes -> records.
 *
 * Facts: ../shared/docs/etl-format.md. An .etl file is a sequence of buffers
 * (WMI_BUFFER_HEADER, 72 bytes), each holding the records of one processor;
 * buffer 0 starts with the logfile header record. The reader:
 *   - indexes the buffer headers once at open (72 bytes per buffer read),
 *   - keeps one stream per processor (its buffers in sequence order) and
 *     merges the streams by record timestamp with a heap (a streaming k-way
 *     merge: no sort of the records, memory bounded by the number of CPUs),
 *   - decompresses compressed buffers (xca.h) into a per-processor buffer,
 *   - frames every record kind by its size, decodes only the header.
 * Decoding payloads into the evidence model is etl-decode's part (etl_decode.h).
 *
 * Damage never stops the reader: a buffer it cannot read is skipped, a record
 * with a bad size ends its buffer, and each of these is noted as a problem
 * (etl_reader_problem) with the file offset; every readable record is still
 * returned. Only a file without a readable logfile header fails to open.
 */
#ifndef FB_ETL_H
#define FB_ETL_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"
#include "parsers/view.h"

/* Header kinds, from the TRACE_HEADER_TYPE_* byte of the record marker. */
enum etl_kind {
  ETL_KIND_OTHER = 0, /* marker flag set but a type we do not know: counted, size unknown */
  ETL_KIND_SYSTEM32,
  ETL_KIND_SYSTEM64,
  ETL_KIND_COMPACT32,
  ETL_KIND_COMPACT64,
  ETL_KIND_PERFINFO32,
  ETL_KIND_PERFINFO64,
  ETL_KIND_FULL32, /* EVENT_TRACE_HEADER (classic/MOF, class GUID) */
  ETL_KIND_FULL64,
  ETL_KIND_INSTANCE32, /* EVENT_INSTANCE_GUID_HEADER */
  ETL_KIND_INSTANCE64,
  ETL_KIND_EVENT32, /* EVENT_HEADER (manifest / TraceLogging) */
  ETL_KIND_EVENT64,
  ETL_KIND_WPP,   /* MESSAGE_TRACE_HEADER */
  ETL_KIND_ERROR, /* TIMED/ERROR/WNODE types: documented as unused */
  ETL_KIND_COUNT
};

/* "SYSTEM64", "EVENT_HEADER32", ... (as the MANIFEST names them). */
const char *etl_kind_name(enum etl_kind kind);

/* Families of kinds, for dispatch. */
static inline int etl_kind_is_kernel(enum etl_kind k) { /* group/type identity */
  return k >= ETL_KIND_SYSTEM32 && k <= ETL_KIND_PERFINFO64;
}
static inline int etl_kind_is_classic(enum etl_kind k) { /* class GUID identity */
  return k >= ETL_KIND_FULL32 && k <= ETL_KIND_INSTANCE64;
}
static inline int etl_kind_is_event(enum etl_kind k) { /* provider GUID + id identity */
  return k == ETL_KIND_EVENT32 || k == ETL_KIND_EVENT64;
}

/* A GUID as Windows stores it (Data1..3 little-endian in the file, here native). */
struct etl_guid {
  uint32_t data1;
  uint16_t data2, data3;
  uint8_t data4[8];
};

/* "e13c0d23-ccbc-4e12-931b-d9cc2eee27e4" (36 chars + NUL) into out[37]. */
void etl_guid_format(const struct etl_guid *g, char out[37]);
int etl_guid_equal(const struct etl_guid *a, const struct etl_guid *b);
/* Parse the 36-char form; 0 on success, -1 if malformed. */
int etl_guid_parse(const char *s, struct etl_guid *g);
/* Read 16 bytes of a GUID from a file. */
void etl_guid_read(const uint8_t *p, struct etl_guid *g);

/* Facts from the logfile header record (TRACE_LOGFILE_HEADER) and buffer 0. */
struct etl_logfile {
  uint32_t buffer_size; /* nominal; each buffer's own BufferSize is what counts */
  uint32_t version;     /* raw: OS major, OS minor, layout major, layout minor (low to high byte) */
  uint8_t os_major, os_minor, layout_major, layout_minor;
  uint32_t build;    /* ProviderVersion: OS build, e.g. 19041 */
  uint32_t cpus;     /* NumberOfProcessors */
  uint64_t end_time; /* FILETIME */
  uint32_t timer_resolution;
  uint32_t max_file_size; /* MB */
  uint32_t log_file_mode; /* EVENT_TRACE_* flags */
  uint32_t buffers_written;
  uint32_t pointer_size; /* 4 or 8: of the tracing kernel (records carry their own) */
  uint32_t events_lost;
  uint32_t cpu_mhz;
  int32_t tz_bias;           /* minutes, UTC = local + bias */
  char tz_standard_name[96]; /* UTF-8 */
  uint64_t boot_time;        /* FILETIME */
  uint64_t perf_freq;        /* ticks per second of the event clock */
  uint64_t start_time;       /* FILETIME */
  uint32_t clock_type;       /* ReservedFlags: 1 QPC, 2 system time, 3 CPU cycles */
  uint32_t buffers_lost;
  char logger_name[256];     /* UTF-8 */
  char log_file_name[512];   /* UTF-8 */
  uint64_t header_timestamp; /* raw timestamp of the header record: the clock anchor */
  uint16_t compression;      /* ETL_COMPRESSION_*; 0 when LogFileMode has no COMPRESSED bit */
  /* Counted by the reader at open, not read from the header: */
  uint64_t file_size;
  uint32_t buffers_in_file;
  uint32_t buffers_compressed;
};

enum {
  ETL_COMPRESSION_NONE = 0,
  ETL_COMPRESSION_LZNT1 = 2,
  ETL_COMPRESSION_XPRESS = 3,      /* plain LZ77 (MS-XCA 2.3/2.4) */
  ETL_COMPRESSION_XPRESS_HUFF = 4, /* MS-XCA 2.1/2.2 */
};

enum {
  ETL_LOGFILE_MODE_CIRCULAR = 0x2,
  ETL_LOGFILE_MODE_RELOG = 0x10000,
  ETL_LOGFILE_MODE_COMPRESSED = 0x04000000,
};

#define ETL_ID_NONE UINT32_MAX /* pid/tid when the header kind has none */

/* One record. All pointers point into the reader's memory (the mapped file or
 * a decompressed buffer) and stay valid until the next etl_reader_next(). */
struct etl_record {
  enum etl_kind kind;
  uint8_t header_type; /* the raw TRACE_HEADER_TYPE_* byte */
  uint8_t ptr_size;    /* 4 or 8: pointer size of this record's payload (from its header kind) */
  uint16_t size;       /* whole record as stored, header included (before 8-byte alignment) */
  uint16_t header_size;
  uint64_t timestamp; /* raw clock ticks */
  uint64_t time;      /* FILETIME (100 ns since 1601), converted with the logfile clock */
  uint32_t pid, tid;  /* ETL_ID_NONE for PERFINFO/WPP; kernel headers may also say 0xFFFFFFFF */
  uint32_t cpu;       /* processor of the buffer */

  /* Classic identity: kernel kinds (SYSTEM/COMPACT/PERFINFO) use group+opcode+version;
   * FULL/INSTANCE use guid (class GUID) + opcode (Class.Type) + version + level. */
  uint8_t group;    /* kernel kinds: EVENT_TRACE_GROUP_* */
  uint16_t hook_id; /* kernel kinds: group << 8 | opcode */

  /* EVENT_HEADER identity (kind EVENT32/64): guid is the provider. */
  uint16_t id;
  uint8_t channel;
  uint16_t task;
  uint64_t keyword;
  uint16_t event_flags;    /* EVENT_HEADER.Flags as stored (0x0001 = extended data present) */
  uint16_t event_property; /* EVENT_HEADER.EventProperty */
  struct etl_guid activity_id;

  /* Shared by both identities. */
  uint8_t opcode;       /* kernel Type / Class.Type / EVENT_DESCRIPTOR.Opcode */
  uint16_t version;     /* kernel Version (flags masked) / Class.Version / Descriptor.Version */
  uint8_t level;        /* Class.Level / Descriptor.Level */
  struct etl_guid guid; /* class GUID (FULL/INSTANCE) or provider GUID (EVENT); zero otherwise */
  int has_guid;

  /* INSTANCE kinds only. */
  uint32_t instance_id, parent_instance_id;
  struct etl_guid parent_guid;

  /* WPP kind only. */
  uint16_t message_number;

  /* The bytes. payload excludes the header, PERFINFO PEBS/PMC extensions and
   * EVENT_HEADER extended data items. */
  const uint8_t *raw; /* the whole record, raw_size = size */
  const uint8_t *payload;
  uint32_t payload_size;
  const uint8_t *ext; /* extended data items (EVENT kinds), NULL if none */
  uint32_t ext_size;
  uint32_t ext_count;

  /* Where it came from (for messages). */
  uint64_t buffer_offset; /* file offset of its buffer */
  uint32_t buffer_index;  /* physical position of the buffer in the file, 0-based */
  uint32_t record_offset; /* offset of the record in the buffer's (decompressed) data, header included */
  int compressed;         /* its buffer was compressed */
};

/* Extended data item types (evntcons.h EVENT_HEADER_EXT_TYPE_*). */
enum {
  ETL_EXT_RELATED_ACTIVITYID = 1,
  ETL_EXT_SID = 2,
  ETL_EXT_TS_ID = 3,
  ETL_EXT_INSTANCE_INFO = 4,
  ETL_EXT_STACK_TRACE32 = 5,
  ETL_EXT_STACK_TRACE64 = 6,
  ETL_EXT_PEBS_INDEX = 7,
  ETL_EXT_PMC_COUNTERS = 8,
  ETL_EXT_PSM_KEY = 9,
  ETL_EXT_EVENT_KEY = 10,
  ETL_EXT_EVENT_SCHEMA_TL = 11,
  ETL_EXT_PROV_TRAITS = 12,
  ETL_EXT_PROCESS_START_KEY = 13,
};

struct etl_ext_item {
  uint16_t type;
  uint16_t size; /* of data */
  const uint8_t *data;
};

struct etl_ext_iter {
  const uint8_t *p;
  size_t left;
  int done;
};

/* Iterate the extended data items of an EVENT record:
 *   struct etl_ext_iter it; struct etl_ext_item item;
 *   etl_ext_iter_init(&it, rec);
 *   while (etl_ext_next(&it, &item) == 1) ...
 * etl_ext_next returns 1 for an item, 0 at the end, -1 if the items are
 * malformed (the reader has already validated them for records it returns). */
void etl_ext_iter_init(struct etl_ext_iter *it, const struct etl_record *rec);
int etl_ext_next(struct etl_ext_iter *it, struct etl_ext_item *item);
const char *etl_ext_type_name(uint16_t type); /* "STACK_TRACE64", ... or "EXT_<n>" -> static "OTHER" */

/* A stack: return addresses, innermost first. */
struct etl_stack {
  uint64_t match_id;
  unsigned ptr_size; /* 4 or 8 */
  size_t count;
  const uint8_t *frames;
};
/* Fill s from a STACK_TRACE32/64 item; returns 1 if it was one, 0 otherwise. */
int etl_ext_stack(const struct etl_ext_item *item, struct etl_stack *s);
static inline uint64_t etl_stack_frame(const struct etl_stack *s, size_t i) {
  const uint8_t *p = s->frames + i * s->ptr_size;
  uint64_t v = (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24);
  if (s->ptr_size == 8)
    v |= ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
  return v;
}

/* Non-fatal problems met while reading. */
enum etl_problem_kind {
  ETL_PROBLEM_BUFFER_HEADER = 1, /* buffer header unreadable: buffer skipped */
  ETL_PROBLEM_TRUNCATED,         /* the file ends inside this buffer: its complete records are read */
  ETL_PROBLEM_DECOMPRESS,        /* compressed data damaged or of an unsupported format: buffer skipped */
  ETL_PROBLEM_RECORD,            /* bad record marker/size: rest of the buffer skipped */
  ETL_PROBLEM_EXT_DATA,          /* bad extended data items: record returned without them */
  ETL_PROBLEM_LOST,              /* the buffer says events or buffers were lost */
  ETL_PROBLEM_TRAILING,          /* bytes after the last buffer that are not a buffer */
};

struct etl_problem {
  enum etl_problem_kind kind;
  uint64_t offset;        /* file offset: of the buffer, or of the record when known */
  uint64_t buffer_offset; /* file offset of the buffer concerned */
  uint32_t record_offset; /* offset in the buffer's data, or UINT32_MAX */
  char msg[200];          /* "damaged compressed buffer at offset 0x1234 (...): skipped" */
};

struct etl_reader;

enum etl_order {
  ETL_ORDER_TIME = 0, /* one stream merged across processors by timestamp (default) */
  ETL_ORDER_FILE = 1, /* buffers in file order, records in buffer order */
};

struct etl_reader_options {
  enum etl_order order;
  unsigned max_problems_kept; /* 0 = 256; further problems are only counted */
};

/* Open a reader over a view (the caller keeps the view alive and closes it
 * after etl_reader_close). name is used in error messages (may be NULL).
 * opts may be NULL. Fails only when buffer 0 or the logfile header is unreadable. */
int etl_reader_open(struct etl_reader **out, const struct fb_view *view, const char *name,
                    const struct etl_reader_options *opts, struct fb_error *err);

/* Map path and open a reader over it; the reader owns the view. */
int etl_reader_open_file(struct etl_reader **out, const char *path, const struct etl_reader_options *opts,
                         struct fb_error *err);

void etl_reader_close(struct etl_reader *r);

const struct etl_logfile *etl_reader_logfile(const struct etl_reader *r);

/* The next record: returns 1 and fills rec, 0 at the end, or a negative FB_E*
 * (only FB_ENOMEM: damage is reported through problems, not here). The first
 * record returned is the logfile header record itself. */
int etl_reader_next(struct etl_reader *r, struct etl_record *rec, struct fb_error *err);

/* Problems met so far (those kept: at most max_problems_kept), and how many in all. */
size_t etl_reader_problem_count(const struct etl_reader *r);
size_t etl_reader_problems_total(const struct etl_reader *r);
const struct etl_problem *etl_reader_problem(const struct etl_reader *r, size_t i);

/* Raw clock ticks -> FILETIME, using the header's clock type, frequency and anchors. */
uint64_t etl_time_from_raw(const struct etl_logfile *lf, uint64_t raw);

/* Kernel group names for the groups of etl-format.md §5 ("Process", "FileIo", ...); NULL if unknown. */
const char *etl_group_name(uint8_t group);

#endif
