/* etl_reader.c - buffers, record framing and the time-ordered merge.
 *
 * Layout facts and their verification status: ../shared/docs/etl-format.md
 * (sections 1-4). Outline:
 *   open:  read buffer 0 and the logfile header record; walk every buffer
 *          header once (index: offset, size, processor, sequence); group the
 *          buffers into one stream per processor, ordered by sequence number.
 *   next:  each stream holds its current buffer and its next record; a binary
 *          heap keyed by that record's timestamp picks the earliest one.
 * Memory is the index (32 bytes per buffer) plus, per processor, the buffer
 * being read and its decompressed copy. Files opened by name are read with
 * pread() one buffer at a time (no mapping: page faults are what a mapped
 * reader pays for most, and the resident set stays small); views given by
 * the caller are read in place and their pages released once done.
 */
#include "parsers/etl/etl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parsers/bytes.h"
#include "parsers/etl/xca.h"
#include "parsers/utf16.h"

enum {
  BUFFER_HEADER_SIZE = 72,
  MAX_BUFFER_DATA = 64 << 20, /* a decompressed buffer larger than this is damage */
  MAX_CPUS = 2048,            /* ProcessorIndex is 11 bits */
  DEFAULT_PROBLEMS_KEPT = 256,
  RELEASE_CHUNK = 8 << 20,
};

/* WMI_BUFFER_HEADER.BufferFlag */
enum {
  BUFFER_FLAG_EVENTS_LOST = 0x0002,
  BUFFER_FLAG_BUFFER_LOST = 0x0004,
  BUFFER_FLAG_PROC_INDEX = 0x0020,
  BUFFER_FLAG_COMPRESSED = 0x0040,
};

struct buf_info {
  uint64_t offset;
  uint64_t seq;
  uint32_t size;  /* BufferSize as used to step (may be a fallback) */
  uint32_t avail; /* bytes of it present in the file */
  uint16_t cpu;
  uint16_t flags;
  uint32_t index; /* physical position */
  uint32_t saved_offset, data_offset;
};

struct stream {
  uint32_t cpu;
  uint32_t *bufs; /* indices into r->bufs, in read order */
  size_t nbufs, cap, next_buf;
  /* the buffer being read */
  const struct buf_info *cur;
  const uint8_t *data; /* buffer start (header included) */
  size_t data_size;    /* end of records */
  size_t pos;
  int compressed;
  uint8_t *scratch; /* decompressed buffer: 72 zero bytes + payload */
  size_t scratch_cap;
  uint8_t *raw; /* the buffer as read from the file (fd mode) */
  size_t raw_cap;
  uint64_t last_ts;
  /* the peeked record */
  struct etl_record rec;
  int has_rec;
};

struct etl_reader {
  struct fb_view own_view;
  int owns_view;
  const struct fb_view *view; /* NULL when reading fd */
  int fd;
  uint64_t size; /* of the file */
  uint8_t *hdr_buf, *scan_buf;
  size_t hdr_cap, scan_cap;
  char name[512];
  struct etl_reader_options opts;
  struct etl_logfile lf;
  int comp_format;
  uint64_t freq;

  struct buf_info *bufs;
  size_t nbufs;
  struct stream *streams;
  size_t nstreams;
  struct stream **heap;
  size_t heap_len;
  struct stream *last; /* delivered the previous record: advance it first */
  int started;

  struct etl_problem *problems;
  size_t nproblems, problems_total;
  uint64_t released_to; /* mapped bytes before this were released during the index walk */
};

/* --- small helpers ------------------------------------------------------- */

const char *etl_kind_name(enum etl_kind kind) {
  static const char *const names[ETL_KIND_COUNT] = {
      [ETL_KIND_OTHER] = "OTHER",
      [ETL_KIND_SYSTEM32] = "SYSTEM32",
      [ETL_KIND_SYSTEM64] = "SYSTEM64",
      [ETL_KIND_COMPACT32] = "COMPACT32",
      [ETL_KIND_COMPACT64] = "COMPACT64",
      [ETL_KIND_PERFINFO32] = "PERFINFO32",
      [ETL_KIND_PERFINFO64] = "PERFINFO64",
      [ETL_KIND_FULL32] = "FULL_HEADER32",
      [ETL_KIND_FULL64] = "FULL_HEADER64",
      [ETL_KIND_INSTANCE32] = "INSTANCE32",
      [ETL_KIND_INSTANCE64] = "INSTANCE64",
      [ETL_KIND_EVENT32] = "EVENT_HEADER32",
      [ETL_KIND_EVENT64] = "EVENT_HEADER64",
      [ETL_KIND_WPP] = "WPP",
      [ETL_KIND_ERROR] = "ERROR",
  };
  return (unsigned)kind < ETL_KIND_COUNT ? names[kind] : "OTHER";
}

const char *etl_group_name(uint8_t group) {
  switch (group) {
  case 0x00: return "EventTrace";
  case 0x01: return "DiskIo";
  case 0x02: return "PageFault";
  case 0x03: return "Process";
  case 0x04: return "FileIo";
  case 0x05: return "Thread";
  case 0x06: return "TcpIp";
  case 0x07: return "Job";
  case 0x08: return "UdpIp";
  case 0x09: return "Registry";
  case 0x0A: return "Dbgprint";
  case 0x0B: return "SystemConfig";
  case 0x0C: return "Spare1";
  case 0x0D: return "WNF";
  case 0x0E: return "Pool";
  case 0x0F: return "PerfInfo";
  case 0x10: return "Heap";
  case 0x11: return "Object";
  case 0x12: return "Power";
  case 0x13: return "Modbound";
  case 0x14: return "Image";
  case 0x15: return "Dpc";
  case 0x16: return "Cc";
  case 0x17: return "Critsec";
  case 0x18: return "StackWalk";
  case 0x19: return "Ums";
  case 0x1A: return "Alpc";
  case 0x1B: return "SplitIo";
  case 0x1C: return "ThreadPool";
  case 0x1D: return "Hypervisor";
  case 0x1E: return "Hypervisorx";
  default: return NULL;
  }
}

void etl_guid_read(const uint8_t *p, struct etl_guid *g) {
  g->data1 = fb_le32(p);
  g->data2 = fb_le16(p + 4);
  g->data3 = fb_le16(p + 6);
  memcpy(g->data4, p + 8, 8);
}

void etl_guid_format(const struct etl_guid *g, char out[37]) {
  snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", g->data1, g->data2, g->data3,
           g->data4[0], g->data4[1], g->data4[2], g->data4[3], g->data4[4], g->data4[5], g->data4[6],
           g->data4[7]);
}

int etl_guid_equal(const struct etl_guid *a, const struct etl_guid *b) {
  return a->data1 == b->data1 && a->data2 == b->data2 && a->data3 == b->data3 &&
         memcmp(a->data4, b->data4, 8) == 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int etl_guid_parse(const char *s, struct etl_guid *g) {
  uint8_t b[16];
  int n = 0;

  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return -1;
      continue;
    }
    int hi = hexval(s[i]), lo = s[i] ? hexval(s[i + 1]) : -1;
    if (hi < 0 || lo < 0)
      return -1;
    b[n++] = (uint8_t)(hi << 4 | lo);
    i++;
  }
  if (s[36] != '\0')
    return -1;
  g->data1 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
  g->data2 = (uint16_t)(b[4] << 8 | b[5]);
  g->data3 = (uint16_t)(b[6] << 8 | b[7]);
  memcpy(g->data4, b + 8, 8);
  return 0;
}

static void problem(struct etl_reader *r, enum etl_problem_kind kind, uint64_t buffer_offset,
                    uint32_t record_offset, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void problem(struct etl_reader *r, enum etl_problem_kind kind, uint64_t buffer_offset,
                    uint32_t record_offset, const char *fmt, ...) {
  r->problems_total++;
  if (r->nproblems >= r->opts.max_problems_kept)
    return;
  if (r->problems == NULL) {
    r->problems = calloc(r->opts.max_problems_kept, sizeof(*r->problems));
    if (r->problems == NULL)
      return;
  }
  struct etl_problem *p = &r->problems[r->nproblems++];
  va_list ap;
  p->kind = kind;
  p->buffer_offset = buffer_offset;
  p->record_offset = record_offset;
  p->offset = buffer_offset + (record_offset == UINT32_MAX ? 0 : record_offset);
  va_start(ap, fmt);
  vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
  va_end(ap);
}

size_t etl_reader_problem_count(const struct etl_reader *r) {
  return r->nproblems;
}
size_t etl_reader_problems_total(const struct etl_reader *r) {
  return r->problems_total;
}
const struct etl_problem *etl_reader_problem(const struct etl_reader *r, size_t i) {
  return i < r->nproblems ? &r->problems[i] : NULL;
}
const struct etl_logfile *etl_reader_logfile(const struct etl_reader *r) {
  return &r->lf;
}

/* Drop mapped pages of [from, to) that we will not read again, so a 2 GB
 * trace does not grow the resident set (only for real mappings). */
static void release_range(const struct etl_reader *r, uint64_t from, uint64_t to) {
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t base, a, b;

  if (r->view == NULL || r->view->map == NULL || page <= 0 || to <= from)
    return;
  base = (uintptr_t)r->view->data;
  a = (base + from + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  b = (base + to) & ~((uintptr_t)page - 1);
  if (b > a)
    madvise((void *)a, b - a, MADV_DONTNEED);
}

/* --- time ------------------------------------------------------------------ */

uint64_t etl_time_from_raw(const struct etl_logfile *lf, uint64_t raw) {
  uint64_t freq = lf->perf_freq;
  uint64_t d, q, rem, ticks;
  int neg = raw < lf->header_timestamp;

  if (lf->clock_type == 2)
    freq = 10000000;
  else if (lf->clock_type == 3)
    freq = (uint64_t)lf->cpu_mhz * 1000000;
  if (freq == 0)
    freq = 10000000;
  d = neg ? lf->header_timestamp - raw : raw - lf->header_timestamp;
  q = d / freq;
  rem = d % freq;
  /* rem < freq, so rem * 10^7 only overflows for clocks above 1.8 THz */
  ticks = q * 10000000 + (freq <= UINT64_MAX / 10000000 ? rem * 10000000 / freq : 0);
  if (neg)
    return ticks > lf->start_time ? 0 : lf->start_time - ticks;
  return lf->start_time + ticks;
}

/* --- records --------------------------------------------------------------- */

static uint32_t align8(uint32_t v) {
  return (v + 7u) & ~7u;
}

/* Walk the extended data items at p[0, n); returns the number of items and
 * their total size in *used, or -1 if malformed. */
static int ext_walk(const uint8_t *p, size_t n, uint32_t *used) {
  size_t pos = 0;
  int count = 0;

  for (;;) {
    if (!fb_span_ok(n, pos, 8))
      return -1;
    uint16_t item_size = fb_le16(p + pos), linkage = fb_le16(p + pos + 4), data_size = fb_le16(p + pos + 6);
    if (item_size < 8 || (uint32_t)data_size + 8 > item_size || !fb_span_ok(n, pos, item_size))
      return -1;
    pos += item_size;
    count++;
    if ((linkage & 1) == 0)
      break;
  }
  *used = (uint32_t)pos;
  return count;
}

void etl_ext_iter_init(struct etl_ext_iter *it, const struct etl_record *rec) {
  it->p = rec->ext;
  it->left = rec->ext ? rec->ext_size : 0;
  it->done = it->left == 0;
}

int etl_ext_next(struct etl_ext_iter *it, struct etl_ext_item *item) {
  if (it->done)
    return 0;
  if (it->left < 8) {
    it->done = 1;
    return -1;
  }
  uint16_t item_size = fb_le16(it->p), type = fb_le16(it->p + 2), linkage = fb_le16(it->p + 4);
  uint16_t data_size = fb_le16(it->p + 6);
  if (item_size < 8 || (size_t)data_size + 8 > item_size || item_size > it->left) {
    it->done = 1;
    return -1;
  }
  item->type = type;
  item->size = data_size;
  item->data = it->p + 8;
  it->p += item_size;
  it->left -= item_size;
  if ((linkage & 1) == 0 || it->left == 0)
    it->done = 1;
  return 1;
}

const char *etl_ext_type_name(uint16_t type) {
  static const char *const names[] = {
      "NONE",          "RELATED_ACTIVITYID", "SID",          "TS_ID",   "INSTANCE_INFO", "STACK_TRACE32",
      "STACK_TRACE64", "PEBS_INDEX",         "PMC_COUNTERS", "PSM_KEY", "EVENT_KEY",     "EVENT_SCHEMA_TL",
      "PROV_TRAITS",   "PROCESS_START_KEY",
  };
  return type < sizeof(names) / sizeof(names[0]) ? names[type] : "OTHER";
}

int etl_ext_stack(const struct etl_ext_item *item, struct etl_stack *s) {
  unsigned ps;

  if (item->type == ETL_EXT_STACK_TRACE32)
    ps = 4;
  else if (item->type == ETL_EXT_STACK_TRACE64)
    ps = 8;
  else
    return 0;
  if (item->size < 8)
    return 0;
  s->match_id = fb_le64(item->data);
  s->ptr_size = ps;
  s->count = (item->size - 8u) / ps;
  s->frames = item->data + 8;
  return 1;
}

struct kind_info {
  enum etl_kind kind;
  uint8_t header_size;
  uint8_t ptr_size; /* 0 = the logfile's */
  uint8_t size_at;  /* offset of the u16 record size */
};

static int kind_of(uint8_t type, struct kind_info *k) {
  switch (type) {
  case 1: *k = (struct kind_info){ETL_KIND_SYSTEM32, 32, 4, 4}; return 0;
  case 2: *k = (struct kind_info){ETL_KIND_SYSTEM64, 32, 8, 4}; return 0;
  case 3: *k = (struct kind_info){ETL_KIND_COMPACT32, 24, 4, 4}; return 0;
  case 4: *k = (struct kind_info){ETL_KIND_COMPACT64, 24, 8, 4}; return 0;
  case 16: *k = (struct kind_info){ETL_KIND_PERFINFO32, 16, 4, 4}; return 0;
  case 17: *k = (struct kind_info){ETL_KIND_PERFINFO64, 16, 8, 4}; return 0;
  case 10: *k = (struct kind_info){ETL_KIND_FULL32, 48, 4, 0}; return 0;
  case 20: *k = (struct kind_info){ETL_KIND_FULL64, 48, 8, 0}; return 0;
  case 11: *k = (struct kind_info){ETL_KIND_INSTANCE32, 72, 4, 0}; return 0;
  case 21: *k = (struct kind_info){ETL_KIND_INSTANCE64, 72, 8, 0}; return 0;
  case 18: *k = (struct kind_info){ETL_KIND_EVENT32, 80, 4, 0}; return 0;
  case 19: *k = (struct kind_info){ETL_KIND_EVENT64, 80, 8, 0}; return 0;
  case 15: *k = (struct kind_info){ETL_KIND_WPP, 8, 0, 0}; return 0;
  default: return -1;
  }
}

/* Decode the header of the record at s->data[s->pos]. Returns 1 with rec
 * filled, 0 at the end of the buffer's records, -1 on damage (problem noted,
 * rest of the buffer skipped). */
static int record_parse(struct etl_reader *r, struct stream *s, struct etl_record *rec) {
  const uint8_t *p = s->data + s->pos;
  size_t left = s->data_size - s->pos;
  struct kind_info k;
  uint32_t marker, size;
  uint32_t roff = (uint32_t)s->pos;
  uint64_t boff = s->cur->offset;

  if (s->pos >= s->data_size || left < 4)
    return 0;
  marker = fb_le32(p);
  if (marker == 0xFFFFFFFFu || marker == 0)
    return 0; /* fill bytes after the last record */
  if ((marker & 0x80000000u) == 0 || kind_of((uint8_t)(marker >> 16), &k) < 0) {
    problem(r, ETL_PROBLEM_RECORD, boff, roff,
            "buffer at offset 0x%llx, record at +0x%x: unknown record marker 0x%08x: rest of buffer skipped",
            (unsigned long long)boff, roff, marker);
    return -1;
  }
  if (left < k.header_size) {
    problem(r, ETL_PROBLEM_RECORD, boff, roff,
            "buffer at offset 0x%llx, record at +0x%x: %s header cut by the end of the buffer data",
            (unsigned long long)boff, roff, etl_kind_name(k.kind));
    return -1;
  }
  size = fb_le16(p + k.size_at);
  if (size < k.header_size || size > left) {
    problem(
        r, ETL_PROBLEM_RECORD, boff, roff,
        "buffer at offset 0x%llx, record at +0x%x: bad %s record size %u (header %u, %zu bytes left): rest "
        "of buffer skipped",
        (unsigned long long)boff, roff, etl_kind_name(k.kind), size, k.header_size, left);
    return -1;
  }

  memset(rec, 0, offsetof(struct etl_record, raw));
  rec->kind = k.kind;
  rec->header_type = (uint8_t)(marker >> 16);
  rec->ptr_size = k.ptr_size ? k.ptr_size : (uint8_t)r->lf.pointer_size;
  rec->size = (uint16_t)size;
  rec->header_size = k.header_size;
  rec->cpu = s->cpu;
  rec->raw = p;
  rec->payload = p + k.header_size;
  rec->payload_size = size - k.header_size;
  rec->ext = NULL;
  rec->ext_size = 0;
  rec->ext_count = 0;
  rec->buffer_offset = boff;
  rec->buffer_index = s->cur->index;
  rec->record_offset = roff;
  rec->compressed = s->compressed;
  rec->pid = rec->tid = ETL_ID_NONE;

  switch (k.kind) {
  case ETL_KIND_SYSTEM32:
  case ETL_KIND_SYSTEM64:
  case ETL_KIND_COMPACT32:
  case ETL_KIND_COMPACT64:
    rec->version = fb_le16(p);
    rec->opcode = p[6];
    rec->group = p[7];
    rec->tid = fb_le32(p + 8);
    rec->pid = fb_le32(p + 12);
    rec->timestamp = fb_le64(p + 16);
    break;
  case ETL_KIND_PERFINFO32:
  case ETL_KIND_PERFINFO64: {
    uint16_t v = fb_le16(p);
    uint32_t extra = ((v & 0x8000) ? 8u : 0u) + ((v >> 8) & 7u) * 8u; /* PEBS index, PMC counters */
    rec->version = v & (uint16_t)~0x8700;
    rec->opcode = p[6];
    rec->group = p[7];
    rec->timestamp = fb_le64(p + 8);
    if (extra > rec->payload_size) {
      problem(
          r, ETL_PROBLEM_RECORD, boff, roff,
          "buffer at offset 0x%llx, record at +0x%x: PERFINFO extensions (%u bytes) larger than the record",
          (unsigned long long)boff, roff, extra);
      return -1;
    }
    rec->payload += extra;
    rec->payload_size -= extra;
    break;
  }
  case ETL_KIND_INSTANCE32:
  case ETL_KIND_INSTANCE64:
    rec->instance_id = fb_le32(p + 48);
    rec->parent_instance_id = fb_le32(p + 52);
    etl_guid_read(p + 56, &rec->parent_guid);
    /* fall through */
  case ETL_KIND_FULL32:
  case ETL_KIND_FULL64:
    rec->opcode = p[4];
    rec->level = p[5];
    rec->version = fb_le16(p + 6);
    rec->tid = fb_le32(p + 8);
    rec->pid = fb_le32(p + 12);
    rec->timestamp = fb_le64(p + 16);
    etl_guid_read(p + 24, &rec->guid);
    rec->has_guid = 1;
    break;
  case ETL_KIND_EVENT32:
  case ETL_KIND_EVENT64:
    rec->event_flags = fb_le16(p + 4);
    rec->event_property = fb_le16(p + 6);
    rec->tid = fb_le32(p + 8);
    rec->pid = fb_le32(p + 12);
    rec->timestamp = fb_le64(p + 16);
    etl_guid_read(p + 24, &rec->guid);
    rec->has_guid = 1;
    rec->id = fb_le16(p + 40);
    rec->version = p[42];
    rec->channel = p[43];
    rec->level = p[44];
    rec->opcode = p[45];
    rec->task = fb_le16(p + 46);
    rec->keyword = fb_le64(p + 48);
    etl_guid_read(p + 64, &rec->activity_id);
    if (rec->event_flags & 0x0001) {
      uint32_t used;
      int n = ext_walk(rec->payload, rec->payload_size, &used);
      if (n < 0) {
        problem(r, ETL_PROBLEM_EXT_DATA, boff, roff,
                "buffer at offset 0x%llx, record at +0x%x: malformed extended data items: ignored",
                (unsigned long long)boff, roff);
      } else {
        rec->ext = rec->payload;
        rec->ext_size = used;
        rec->ext_count = (uint32_t)n;
        rec->payload += used;
        rec->payload_size -= used;
      }
    }
    break;
  case ETL_KIND_WPP: {
    /* MESSAGE_TRACE_HEADER: optional fields in a fixed order (format doc 4.6). */
    struct fb_cursor c;
    uint16_t opt = fb_le16(p + 6);
    rec->message_number = fb_le16(p + 4);
    rec->timestamp = s->last_ts;
    fb_cursor_init(&c, p, size);
    fb_cursor_skip(&c, 8);
    if (opt & 0x01)
      fb_cursor_skip(&c, 4);
    if (opt & 0x02) {
      const uint8_t *g = fb_cursor_take(&c, 16);
      if (g) {
        etl_guid_read(g, &rec->guid);
        rec->has_guid = 1;
      }
    } else if (opt & 0x04) {
      fb_cursor_skip(&c, 4);
    }
    if (opt & 0x08)
      rec->timestamp = fb_cursor_u64(&c);
    if (opt & 0x20) {
      rec->tid = fb_cursor_u32(&c);
      rec->pid = fb_cursor_u32(&c);
    }
    if (c.bad) {
      problem(r, ETL_PROBLEM_RECORD, boff, roff,
              "buffer at offset 0x%llx, record at +0x%x: WPP message fields larger than the record",
              (unsigned long long)boff, roff);
      return -1;
    }
    rec->payload = p + c.pos;
    rec->payload_size = size - (uint32_t)c.pos;
    break;
  }
  default: break;
  }
  if (etl_kind_is_kernel(k.kind))
    rec->hook_id = (uint16_t)(rec->group << 8 | rec->opcode);
  rec->time = etl_time_from_raw(&r->lf, rec->timestamp);
  s->last_ts = rec->timestamp;
  s->pos += align8(size);
  return 1;
}

/* --- buffers ------------------------------------------------------------- */

/* Bytes [off, off + n) of the file (the caller checked they exist): in place
 * for a view, else read into *buf (grown as needed). NULL on a read error or
 * out of memory. */
static const uint8_t *file_bytes(struct etl_reader *r, uint64_t off, size_t n, uint8_t **buf, size_t *cap) {
  size_t done = 0;

  if (r->view != NULL)
    return r->view->data + off;
  if (*cap < n) {
    uint8_t *nb = realloc(*buf, n);
    if (nb == NULL)
      return NULL;
    *buf = nb;
    *cap = n;
  }
  while (done < n) {
    ssize_t got = pread(r->fd, *buf + done, n - done, (off_t)(off + done));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return NULL;
    done += (size_t)got;
  }
  return *buf;
}

/* Make s->data point at buffer b's records. Returns 0, or -1 if the buffer
 * cannot be read (problem noted) and FB_ENOMEM. */
static int buffer_load(struct etl_reader *r, struct stream *s, const struct buf_info *b) {
  const uint8_t *base = file_bytes(r, b->offset, b->avail, &s->raw, &s->raw_cap);

  if (base == NULL) {
    problem(r, ETL_PROBLEM_BUFFER_HEADER, b->offset, UINT32_MAX,
            "buffer at offset 0x%llx: cannot read it: %s", (unsigned long long)b->offset, strerror(errno));
    return -1;
  }
  s->cur = b;
  s->pos = BUFFER_HEADER_SIZE;
  s->compressed = (b->flags & BUFFER_FLAG_COMPRESSED) != 0;
  if (b->avail < b->size)
    problem(r, ETL_PROBLEM_TRUNCATED, b->offset, UINT32_MAX,
            "buffer at offset 0x%llx: the file ends after %u of its %u bytes: reading its complete records",
            (unsigned long long)b->offset, b->avail, b->size);
  if (b->flags & (BUFFER_FLAG_EVENTS_LOST | BUFFER_FLAG_BUFFER_LOST))
    problem(r, ETL_PROBLEM_LOST, b->offset, UINT32_MAX, "buffer at offset 0x%llx: the logger flagged %s",
            (unsigned long long)b->offset,
            (b->flags & BUFFER_FLAG_BUFFER_LOST) ? "lost buffers" : "lost events");

  if (!s->compressed) {
    uint32_t end = b->data_offset;
    if (end < BUFFER_HEADER_SIZE || end > b->size)
      end = b->saved_offset;
    if (end < BUFFER_HEADER_SIZE || end > b->size)
      end = b->size; /* no usable end: walk to the 0xFF fill */
    if (end > b->avail)
      end = b->avail;
    s->data = base;
    s->data_size = end;
    return 0;
  }

  uint32_t out_size = b->saved_offset;
  size_t produced = 0;
  struct fb_error xerr;
  /* A compressed buffer holds at most one logger buffer (the logfile's
   * BufferSize): a larger claim is damage, and must not cost memory. */
  uint32_t limit = r->lf.buffer_size >= BUFFER_HEADER_SIZE && r->lf.buffer_size <= MAX_BUFFER_DATA
                       ? r->lf.buffer_size
                       : MAX_BUFFER_DATA;
  if (out_size <= BUFFER_HEADER_SIZE || out_size > limit) {
    problem(r, ETL_PROBLEM_DECOMPRESS, b->offset, UINT32_MAX,
            "compressed buffer at offset 0x%llx: implausible decompressed size %u: skipped",
            (unsigned long long)b->offset, out_size);
    return -1;
  }
  if (s->scratch_cap < out_size) {
    uint8_t *n = realloc(s->scratch, out_size);
    if (n == NULL)
      return FB_ENOMEM;
    s->scratch = n;
    s->scratch_cap = out_size;
  }
  memcpy(s->scratch, base, BUFFER_HEADER_SIZE);
  fb_error_init(&xerr, NULL);
  int rc = xca_decompress(r->comp_format, base + BUFFER_HEADER_SIZE, b->avail - BUFFER_HEADER_SIZE,
                          s->scratch + BUFFER_HEADER_SIZE, out_size - BUFFER_HEADER_SIZE, &produced, &xerr);
  if (rc == 0 && produced != out_size - BUFFER_HEADER_SIZE && b->avail == b->size) {
    problem(r, ETL_PROBLEM_DECOMPRESS, b->offset, UINT32_MAX,
            "compressed buffer at offset 0x%llx: decompressed to %zu bytes instead of %u: skipped",
            (unsigned long long)b->offset, produced, out_size - BUFFER_HEADER_SIZE);
    return -1;
  }
  if (rc < 0) {
    if (b->avail < b->size && r->comp_format == XCA_FORMAT_XPRESS) {
      /* Truncated: what was produced before the cut is exact. */
    } else {
      problem(r, ETL_PROBLEM_DECOMPRESS, b->offset, UINT32_MAX,
              "compressed buffer at offset 0x%llx: damaged at file offset 0x%llx (%s): skipped",
              (unsigned long long)b->offset,
              (unsigned long long)(b->offset + BUFFER_HEADER_SIZE +
                                   (xerr.offset == FB_OFFSET_NONE ? 0 : xerr.offset)),
              xerr.msg);
      return -1;
    }
  }
  s->data = s->scratch;
  s->data_size = BUFFER_HEADER_SIZE + produced;
  return 0;
}

/* Move s to its next record, loading buffers as needed. */
static int stream_advance(struct etl_reader *r, struct stream *s) {
  for (;;) {
    if (s->cur != NULL) {
      int rc = record_parse(r, s, &s->rec);
      if (rc == 1) {
        s->has_rec = 1;
        return 0;
      }
      if (!s->compressed)
        release_range(r, s->cur->offset, s->cur->offset + s->cur->avail);
      s->cur = NULL;
    }
    if (s->next_buf >= s->nbufs) {
      s->has_rec = 0;
      return 0;
    }
    const struct buf_info *b = &r->bufs[s->bufs[s->next_buf++]];
    int rc = buffer_load(r, s, b);
    if (rc == FB_ENOMEM)
      return rc;
    if (rc < 0)
      s->cur = NULL;
  }
}

/* --- heap of streams by next timestamp ------------------------------------ */

static int stream_before(const struct stream *a, const struct stream *b) {
  if (a->rec.timestamp != b->rec.timestamp)
    return a->rec.timestamp < b->rec.timestamp;
  if (a->cur->index != b->cur->index)
    return a->cur->index < b->cur->index;
  return a->rec.record_offset < b->rec.record_offset;
}

static void heap_push(struct etl_reader *r, struct stream *s) {
  size_t i = r->heap_len++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!stream_before(s, r->heap[parent]))
      break;
    r->heap[i] = r->heap[parent];
    i = parent;
  }
  r->heap[i] = s;
}

static struct stream *heap_pop(struct etl_reader *r) {
  struct stream *top = r->heap[0], *last = r->heap[--r->heap_len];
  size_t i = 0, n = r->heap_len;

  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && stream_before(r->heap[c + 1], r->heap[c]))
      c++;
    if (!stream_before(r->heap[c], last))
      break;
    r->heap[i] = r->heap[c];
    i = c;
  }
  if (n > 0)
    r->heap[i] = last;
  return top;
}

int etl_reader_next(struct etl_reader *r, struct etl_record *rec, struct fb_error *err) {
  if (!r->started) {
    r->started = 1;
    for (size_t i = 0; i < r->nstreams; i++) {
      int rc = stream_advance(r, &r->streams[i]);
      if (rc < 0)
        return fb_error_set(err, rc, FB_OFFSET_NONE, "out of memory");
      if (r->streams[i].has_rec)
        heap_push(r, &r->streams[i]);
    }
  } else if (r->last != NULL) {
    int rc = stream_advance(r, r->last);
    if (rc < 0)
      return fb_error_set(err, rc, FB_OFFSET_NONE, "out of memory");
    if (r->last->has_rec)
      heap_push(r, r->last);
    r->last = NULL;
  }
  if (r->heap_len == 0)
    return 0;
  struct stream *s = heap_pop(r);
  *rec = s->rec;
  r->last = s;
  return 1;
}

/* --- open: logfile header and buffer index ---------------------------------- */

static void utf16z(const uint8_t *p, size_t max_bytes, char *out, size_t out_size, size_t *used) {
  size_t n = 0;
  while (n + 1 < max_bytes && (p[n] | p[n + 1]))
    n += 2;
  fb_utf16le_to_utf8(p, n / 2, out, out_size);
  *used = n + 2 <= max_bytes ? n + 2 : max_bytes;
}

static int logfile_parse(struct etl_reader *r, const uint8_t *rec, size_t rec_size, unsigned ps,
                         struct fb_error *err) {
  struct etl_logfile *lf = &r->lf;
  size_t fixed = ps == 8 ? 280 : 272, d = ps == 8 ? 0 : 8;
  const uint8_t *p = rec + 32;
  size_t n = rec_size - 32;

  if (rec_size < 32 || n < fixed)
    return fb_error_set(err, FB_EFORMAT, 32, "logfile header record too short (%zu bytes)", rec_size);
  lf->buffer_size = fb_le32(p);
  lf->version = fb_le32(p + 4);
  lf->os_major = p[4];
  lf->os_minor = p[5];
  lf->layout_major = p[6];
  lf->layout_minor = p[7];
  lf->build = fb_le32(p + 8);
  lf->cpus = fb_le32(p + 12);
  lf->end_time = fb_le64(p + 16);
  lf->timer_resolution = fb_le32(p + 24);
  lf->max_file_size = fb_le32(p + 28);
  lf->log_file_mode = fb_le32(p + 32);
  lf->buffers_written = fb_le32(p + 36);
  lf->pointer_size = fb_le32(p + 44);
  lf->events_lost = fb_le32(p + 48);
  lf->cpu_mhz = fb_le32(p + 52);
  lf->tz_bias = (int32_t)fb_le32(p + 72 - d);
  size_t used;
  utf16z(p + 76 - d, 64, lf->tz_standard_name, sizeof(lf->tz_standard_name), &used);
  lf->boot_time = fb_le64(p + 248 - d);
  lf->perf_freq = fb_le64(p + 256 - d);
  lf->start_time = fb_le64(p + 264 - d);
  lf->clock_type = fb_le32(p + 272 - d);
  lf->buffers_lost = fb_le32(p + 276 - d);
  if (n > fixed) {
    utf16z(p + fixed, n - fixed, lf->logger_name, sizeof(lf->logger_name), &used);
    if (fixed + used < n)
      utf16z(p + fixed + used, n - fixed - used, lf->log_file_name, sizeof(lf->log_file_name), &used);
  }
  if (lf->pointer_size != 4 && lf->pointer_size != 8)
    lf->pointer_size = ps;
  return 0;
}

/* Could h (with left bytes from it to the end of the file) start a buffer of
 * this file? Used only to find the next buffer after a damaged header. */
static int plausible_header(const struct etl_reader *r, const uint8_t *h, uint64_t left) {
  uint32_t size = fb_le32(h), saved = fb_le32(h + 4);
  uint16_t flags = fb_le16(h + 0x34), type = fb_le16(h + 0x36);
  uint32_t nominal = r->lf.buffer_size;

  if (size < BUFFER_HEADER_SIZE || size > left || size > MAX_BUFFER_DATA || type > 7 ||
      (flags & ~0x7Fu) != 0 || fb_le32(h + 0x0C) != 0)
    return 0;
  if (flags & BUFFER_FLAG_COMPRESSED)
    return saved > BUFFER_HEADER_SIZE && (nominal < BUFFER_HEADER_SIZE || saved <= nominal);
  return nominal < BUFFER_HEADER_SIZE || size <= nominal;
}

/* A plausible header at h (file offset o) whose successor is plausible too
 * (or the file end). */
static int plausible_chain(struct etl_reader *r, const uint8_t *h, uint64_t o) {
  if (!plausible_header(r, h, r->size - o))
    return 0;
  uint64_t next = o + fb_le32(h);
  if (next == r->size)
    return 1;
  if (next + BUFFER_HEADER_SIZE > r->size)
    return 0;
  const uint8_t *n = file_bytes(r, next, BUFFER_HEADER_SIZE, &r->hdr_buf, &r->hdr_cap);
  return n != NULL && plausible_header(r, n, r->size - next);
}

/* The first offset after off where a buffer plausibly starts, or 0. Read in
 * chunks so that a file (not only a view) can be scanned. */
static uint64_t resync(struct etl_reader *r, uint64_t off) {
  enum { CHUNK = 1 << 20 };
  for (uint64_t o = off + 8; o + BUFFER_HEADER_SIZE <= r->size; o += CHUNK) {
    size_t n = r->size - o < CHUNK + BUFFER_HEADER_SIZE ? (size_t)(r->size - o) : CHUNK + BUFFER_HEADER_SIZE;
    const uint8_t *c = file_bytes(r, o, n, &r->scan_buf, &r->scan_cap);
    if (c == NULL)
      return 0;
    for (size_t i = 0; i + BUFFER_HEADER_SIZE <= n && i < CHUNK; i++)
      if (plausible_chain(r, c + i, o + i))
        return o + i;
  }
  return 0;
}

static int add_buffer(struct etl_reader *r, size_t *cap, const struct buf_info *b) {
  if (r->nbufs == *cap) {
    size_t ncap = *cap ? *cap * 2 : 256;
    struct buf_info *n = realloc(r->bufs, ncap * sizeof(*n));
    if (n == NULL)
      return FB_ENOMEM;
    r->bufs = n;
    *cap = ncap;
  }
  r->bufs[r->nbufs++] = *b;
  return 0;
}

/* Walk the buffer headers from offset 0 to the end of the file. */
static int index_buffers(struct etl_reader *r) {
  uint64_t size = r->size, off = 0;
  size_t cap = 0;

  while (off < size) {
    uint64_t left = size - off;
    const uint8_t *h;
    struct buf_info b;

    if (left < BUFFER_HEADER_SIZE) {
      problem(r, ETL_PROBLEM_TRUNCATED, off, UINT32_MAX,
              "%llu bytes at offset 0x%llx are too short for a buffer header: ignored",
              (unsigned long long)left, (unsigned long long)off);
      break;
    }
    h = file_bytes(r, off, BUFFER_HEADER_SIZE, &r->hdr_buf, &r->hdr_cap);
    if (h == NULL) {
      problem(r, ETL_PROBLEM_BUFFER_HEADER, off, UINT32_MAX,
              "cannot read the buffer header at offset 0x%llx: %s", (unsigned long long)off, strerror(errno));
      break;
    }
    memset(&b, 0, sizeof(b));
    b.offset = off;
    b.size = fb_le32(h);
    b.saved_offset = fb_le32(h + 0x04);
    b.seq = fb_le64(h + 0x18);
    b.data_offset = fb_le32(h + 0x30);
    b.flags = fb_le16(h + 0x34);
    b.index = (uint32_t)r->nbufs;
    b.cpu = (b.flags & BUFFER_FLAG_PROC_INDEX) ? (fb_le16(h + 0x28) & 0x07FF) : h[0x28];
    uint16_t btype = fb_le16(h + 0x36);
    if (b.size < BUFFER_HEADER_SIZE || b.size > MAX_BUFFER_DATA || btype > 7) {
      /* Find where the next buffer starts: at the nominal size for
       * uncompressed files, else by looking for a plausible header. */
      uint64_t next = 0;
      uint32_t nominal = r->lf.buffer_size;
      if (!(r->lf.log_file_mode & ETL_LOGFILE_MODE_COMPRESSED) && nominal >= BUFFER_HEADER_SIZE &&
          nominal <= MAX_BUFFER_DATA && off % nominal == 0) {
        next = off + nominal;
      } else {
        next = resync(r, off);
      }
      problem(r, ETL_PROBLEM_BUFFER_HEADER, off, UINT32_MAX,
              "buffer at offset 0x%llx: bad header (BufferSize %u, type %u): skipped%s",
              (unsigned long long)off, b.size, btype, next ? "" : "; no further buffer found");
      if (next == 0 || next > size)
        break;
      off = next;
      continue;
    }
    b.avail = b.size <= left ? b.size : (uint32_t)left;
    if (b.flags & BUFFER_FLAG_COMPRESSED)
      r->lf.buffers_compressed++;
    if (add_buffer(r, &cap, &b) < 0)
      return FB_ENOMEM;
    off += b.avail;
    if (off - r->released_to >= RELEASE_CHUNK) {
      release_range(r, r->released_to, off);
      r->released_to = off;
    }
  }
  release_range(r, r->released_to, off);
  r->lf.buffers_in_file = (uint32_t)r->nbufs;
  return 0;
}

static const struct etl_reader *sort_ctx;
static int cmp_seq(const void *a, const void *b) {
  const struct buf_info *x = &sort_ctx->bufs[*(const uint32_t *)a],
                        *y = &sort_ctx->bufs[*(const uint32_t *)b];
  if (x->seq != y->seq)
    return x->seq < y->seq ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static int stream_add_buf(struct stream *s, uint32_t i) {
  if (s->nbufs == s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 16;
    uint32_t *n = realloc(s->bufs, ncap * sizeof(*n));
    if (n == NULL)
      return FB_ENOMEM;
    s->bufs = n;
    s->cap = ncap;
  }
  s->bufs[s->nbufs++] = i;
  return 0;
}

static int build_streams(struct etl_reader *r) {
  int32_t *slot = NULL;
  size_t nslots = r->opts.order == ETL_ORDER_FILE ? 1 : MAX_CPUS;

  slot = malloc(nslots * sizeof(*slot));
  r->streams = calloc(nslots < r->nbufs + 1 ? nslots : r->nbufs + 1, sizeof(*r->streams));
  if (slot == NULL || r->streams == NULL) {
    free(slot);
    return FB_ENOMEM;
  }
  for (size_t i = 0; i < nslots; i++)
    slot[i] = -1;
  for (size_t i = 0; i < r->nbufs; i++) {
    size_t c = r->opts.order == ETL_ORDER_FILE ? 0 : r->bufs[i].cpu;
    if (slot[c] < 0) {
      slot[c] = (int32_t)r->nstreams;
      r->streams[r->nstreams++].cpu = (uint32_t)c;
    }
    if (stream_add_buf(&r->streams[slot[c]], (uint32_t)i) < 0) {
      free(slot);
      return FB_ENOMEM;
    }
  }
  free(slot);
  if (r->opts.order == ETL_ORDER_FILE) {
    if (r->nstreams)
      r->streams[0].cpu = ETL_ID_NONE;
  } else {
    sort_ctx = r;
    for (size_t i = 0; i < r->nstreams; i++)
      qsort(r->streams[i].bufs, r->streams[i].nbufs, sizeof(uint32_t), cmp_seq);
    sort_ctx = NULL;
  }
  r->heap = calloc(r->nstreams + 1, sizeof(*r->heap));
  return r->heap ? 0 : FB_ENOMEM;
}

/* Read buffer 0 and the logfile header, index the buffers, build the streams. */
static int reader_start(struct etl_reader *r, struct fb_error *err) {
  const uint8_t *d;
  int rc;

  /* Buffer 0 and its first record: the logfile header (format doc 3). */
  if (r->size < BUFFER_HEADER_SIZE + 32)
    return fb_error_set(err, FB_EFORMAT, 0, "%llu bytes: too short for an ETL file",
                        (unsigned long long)r->size);
  d = file_bytes(r, 0, BUFFER_HEADER_SIZE + 32, &r->scan_buf, &r->scan_cap);
  if (d == NULL)
    return fb_error_set(err, FB_EIO, 0, "cannot read the first buffer: %s", strerror(errno));
  uint32_t bsize0 = fb_le32(d), end0 = fb_le32(d + 0x30);
  if (bsize0 < BUFFER_HEADER_SIZE + 32 || bsize0 > r->size || bsize0 > MAX_BUFFER_DATA)
    return fb_error_set(err, FB_EFORMAT, 0, "not an ETL file: first buffer size %u (file %llu bytes)", bsize0,
                        (unsigned long long)r->size);
  d = file_bytes(r, 0, bsize0, &r->scan_buf, &r->scan_cap);
  if (d == NULL)
    return fb_error_set(err, FB_EIO, 0, "cannot read the first buffer: %s", strerror(errno));
  uint32_t marker = fb_le32(d + BUFFER_HEADER_SIZE);
  unsigned ps = marker == 0xC0020002u ? 8 : marker == 0xC0010002u ? 4 : 0;
  uint16_t hsize = fb_le16(d + BUFFER_HEADER_SIZE + 4);
  if (ps == 0 || d[BUFFER_HEADER_SIZE + 7] != 0 || d[BUFFER_HEADER_SIZE + 6] != 0)
    return fb_error_set(err, FB_EFORMAT, BUFFER_HEADER_SIZE,
                        "not an ETL file: first record is not a logfile header (marker 0x%08x)", marker);
  if (end0 < BUFFER_HEADER_SIZE || end0 > bsize0)
    end0 = bsize0;
  if (hsize > end0 - BUFFER_HEADER_SIZE)
    return fb_error_set(err, FB_EFORMAT, BUFFER_HEADER_SIZE,
                        "logfile header record size %u past the buffer end", hsize);
  rc = logfile_parse(r, d + BUFFER_HEADER_SIZE, hsize, ps, err);
  if (rc < 0) {
    err->offset += BUFFER_HEADER_SIZE;
    return rc;
  }
  r->lf.header_timestamp = fb_le64(d + BUFFER_HEADER_SIZE + 16);
  r->lf.file_size = r->size;
  uint16_t state0 = fb_le16(d + 0x2C);
  if (r->lf.log_file_mode & ETL_LOGFILE_MODE_COMPRESSED)
    r->lf.compression = state0;
  r->comp_format = state0 ? state0 : XCA_FORMAT_XPRESS;

  rc = index_buffers(r);
  if (rc == 0)
    rc = build_streams(r);
  if (rc < 0)
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory");
  return 0;
}

static struct etl_reader *reader_new(const char *name, const struct etl_reader_options *opts) {
  struct etl_reader *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  r->fd = -1;
  snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
  if (opts)
    r->opts = *opts;
  if (r->opts.max_problems_kept == 0)
    r->opts.max_problems_kept = DEFAULT_PROBLEMS_KEPT;
  return r;
}

int etl_reader_open(struct etl_reader **out, const struct fb_view *view, const char *name,
                    const struct etl_reader_options *opts, struct fb_error *err) {
  struct etl_reader *r;
  int rc;

  *out = NULL;
  r = reader_new(name, opts);
  if (r == NULL)
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory");
  r->view = view;
  r->size = view->size;
  rc = reader_start(r, err);
  if (rc < 0) {
    if (err && name && err->file[0] == '\0')
      snprintf(err->file, sizeof(err->file), "%s", name);
    etl_reader_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

int etl_reader_open_file(struct etl_reader **out, const char *path, const struct etl_reader_options *opts,
                         struct fb_error *err) {
  struct etl_reader *r;
  struct stat st;
  uint8_t magic[2] = {0, 0};
  int fd, rc;

  *out = NULL;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot open: %s", strerror(errno));
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "not a regular file");
  }
  if (pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    /* .etl.gz: let the view inflate it, then read the view */
    struct fb_view view;
    close(fd);
    rc = fb_view_open(&view, path, err);
    if (rc < 0)
      return rc;
    rc = etl_reader_open(out, &view, path, opts, err);
    if (rc < 0) {
      fb_view_close(&view);
      return rc;
    }
    (*out)->own_view = view;
    (*out)->view = &(*out)->own_view;
    (*out)->owns_view = 1;
    return 0;
  }
  r = reader_new(path, opts);
  if (r == NULL) {
    close(fd);
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory");
  }
  r->fd = fd;
  r->size = (uint64_t)st.st_size;
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  rc = reader_start(r, err);
  if (rc < 0) {
    etl_reader_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

void etl_reader_close(struct etl_reader *r) {
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->nstreams; i++) {
    free(r->streams[i].bufs);
    free(r->streams[i].scratch);
    free(r->streams[i].raw);
  }
  free(r->hdr_buf);
  free(r->scan_buf);
  if (r->fd >= 0)
    close(r->fd);
  free(r->streams);
  free(r->heap);
  free(r->bufs);
  free(r->problems);
  if (r->owns_view)
    fb_view_close(&r->own_view);
  free(r);
}
