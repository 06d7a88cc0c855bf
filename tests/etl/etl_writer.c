/* etl_writer.c - synthetic ETL files (see etl_writer.h). Layouts follow
 * docs/etl-format.md; section numbers below refer to it. */
#include "tests/etl/etl_writer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUF_HDR 72
#define MAX_CPUS 64
#define HEADER_BUFFER_COMPRESSED 1024 /* relogged files have a short header buffer (§1) */

/* record header types (§4.1) */
enum {
  HT_SYSTEM32 = 1,
  HT_SYSTEM64 = 2,
  HT_FULL32 = 10,
  HT_PERFINFO32 = 16,
  HT_PERFINFO64 = 17,
  HT_EVENT32 = 18,
  HT_EVENT64 = 19,
  HT_FULL64 = 20,
};

struct cpu_buf {
  uint8_t *data; /* buffer_size bytes; records start at BUF_HDR */
  size_t used;   /* bytes of records */
  uint64_t last_ts;
  int any;
};

struct etlw {
  FILE *f;
  struct etlw_options o;
  struct cpu_buf cpu[MAX_CPUS];
  uint8_t *scratch; /* one record being built */
  size_t scratch_cap;
  uint8_t *zbuf; /* compression output */
  size_t zcap;
  uint64_t seq;
  uint64_t records;
  uint64_t buffers;
  uint64_t max_ts;
  uint32_t header_buffer_size;
  char err[256];
};

static const uint8_t guid_image_id[16] = {0xd7, 0x75, 0xe6, 0xb3, 0x54, 0x25, 0x18, 0x4f,
                                          0x83, 0x0b, 0x27, 0x62, 0x73, 0x25, 0x60, 0xde};
static const uint8_t guid_sysconfig[16] = {0x91, 0xee, 0x79, 0x9b, 0xfd, 0xb5, 0xc0, 0x41,
                                           0xa2, 0x43, 0x42, 0x48, 0xe2, 0x66, 0xe9, 0xd0};
/* Microsoft-Windows-Kernel-File edd08927-9cc4-4e65-b970-c2560fb5c289 */
static const uint8_t guid_kernel_file[16] = {0x27, 0x89, 0xd0, 0xed, 0xc4, 0x9c, 0x65, 0x4e,
                                             0xb9, 0x70, 0xc2, 0x56, 0x0f, 0xb5, 0xc2, 0x89};

static int fail(struct etlw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct etlw *w, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(w->err, sizeof(w->err), fmt, ap);
  va_end(ap);
  return -1;
}

const char *etlw_error(const struct etlw *w) {
  return w->err;
}
uint64_t etlw_records(const struct etlw *w) {
  return w->records;
}
uint64_t etlw_buffers(const struct etlw *w) {
  return w->buffers;
}

uint64_t etlw_ticks(const struct etlw *w, uint64_t us) {
  return w->o.start_ticks + us * (w->o.perf_freq / 1000000) + (us * (w->o.perf_freq % 1000000)) / 1000000;
}

/* ---- little-endian building -------------------------------------------- */

struct rec {
  uint8_t *p;
  size_t n;
  size_t cap;
  int bad;
};

static void put(struct rec *r, const void *src, size_t n) {
  if (r->bad || n > r->cap - r->n) {
    r->bad = 1;
    return;
  }
  if (src)
    memcpy(r->p + r->n, src, n);
  else
    memset(r->p + r->n, 0, n);
  r->n += n;
}

static void put_le(struct rec *r, uint64_t v, unsigned n) {
  uint8_t b[8];

  for (unsigned i = 0; i < n; i++)
    b[i] = (uint8_t)(v >> (8 * i));
  put(r, b, n);
}
static void u8(struct rec *r, unsigned v) {
  put_le(r, v, 1);
}
static void u16(struct rec *r, unsigned v) {
  put_le(r, v, 2);
}
static void u32(struct rec *r, uint32_t v) {
  put_le(r, v, 4);
}
static void u64(struct rec *r, uint64_t v) {
  put_le(r, v, 8);
}
static void ptr(struct rec *r, struct etlw *w, uint64_t v) {
  put_le(r, v, w->o.ptr_size);
}

/* UTF-8 -> UTF-16LE, NUL-terminated. Bad bytes become U+FFFD. */
static void wstr(struct rec *r, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");

  while (*p) {
    uint32_t cp;
    int extra;

    if (*p < 0x80) {
      cp = *p;
      extra = 0;
    } else if ((*p & 0xE0) == 0xC0) {
      cp = *p & 0x1F;
      extra = 1;
    } else if ((*p & 0xF0) == 0xE0) {
      cp = *p & 0x0F;
      extra = 2;
    } else if ((*p & 0xF8) == 0xF0) {
      cp = *p & 0x07;
      extra = 3;
    } else {
      cp = 0xFFFD;
      extra = 0;
    }
    p++;
    for (int i = 0; i < extra; i++) {
      if ((*p & 0xC0) != 0x80) {
        cp = 0xFFFD;
        break;
      }
      cp = (cp << 6) | (*p++ & 0x3F);
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u16(r, 0xD800 | (cp >> 10));
      u16(r, 0xDC00 | (cp & 0x3FF));
    } else {
      u16(r, cp);
    }
  }
  u16(r, 0);
}

static void astr(struct rec *r, const char *s) {
  s = s ? s : "";
  put(r, s, strlen(s) + 1);
}

static void rec_begin(struct etlw *w, struct rec *r, size_t header) {
  r->p = w->scratch;
  r->cap = w->scratch_cap;
  r->n = 0;
  r->bad = 0;
  put(r, NULL, header); /* filled by the header writer once the size is known */
}

/* ---- XPRESS plain LZ77 (MS-XCA 2.3), greedy, hash of 3 bytes ---------- */

#define XP_HASH_BITS 13
#define XP_MAX_OFFSET 8192

size_t etlw_xpress_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t cap, int literal_only) {
  static int32_t head[1 << XP_HASH_BITS];
  size_t in = 0, out = 4, flag_pos = 0, nibble_pos = 0;
  uint32_t flags = 0;
  unsigned flag_count = 0;
  int have_nibble = 0;

  if (cap < 4)
    return 0;
  for (size_t i = 0; i < (1u << XP_HASH_BITS); i++)
    head[i] = -1;
#define NEED(k)                                                                                              \
  do {                                                                                                       \
    if (cap - out < (k))                                                                                     \
      return 0;                                                                                              \
  } while (0)
#define PUSH_FLAG(bit)                                                                                       \
  do {                                                                                                       \
    flags = (flags << 1) | (bit);                                                                            \
    if (++flag_count == 32) {                                                                                \
      dst[flag_pos] = (uint8_t)flags;                                                                        \
      dst[flag_pos + 1] = (uint8_t)(flags >> 8);                                                             \
      dst[flag_pos + 2] = (uint8_t)(flags >> 16);                                                            \
      dst[flag_pos + 3] = (uint8_t)(flags >> 24);                                                            \
      NEED(4);                                                                                               \
      flag_pos = out;                                                                                        \
      out += 4;                                                                                              \
      flags = 0;                                                                                             \
      flag_count = 0;                                                                                        \
    }                                                                                                        \
  } while (0)

  while (in < n) {
    size_t best_len = 0, best_off = 0;

    if (!literal_only && n - in >= 3) {
      unsigned h = ((unsigned)src[in] * 2654435761u ^ (unsigned)src[in + 1] << 8 ^ src[in + 2]) &
                   ((1u << XP_HASH_BITS) - 1);
      int32_t cand = head[h];
      head[h] = (int32_t)in;
      if (cand >= 0 && in - (size_t)cand <= XP_MAX_OFFSET) {
        size_t len = 0, max = n - in;
        if (max > 65535 + 3)
          max = 65535 + 3;
        while (len < max && src[(size_t)cand + len] == src[in + len])
          len++;
        if (len >= 3) {
          best_len = len;
          best_off = in - (size_t)cand;
        }
      }
    }
    if (best_len == 0) {
      NEED(1);
      dst[out++] = src[in++];
      PUSH_FLAG(0u);
      continue;
    }
    {
      size_t len = best_len - 3;
      uint32_t token = (uint32_t)((best_off - 1) << 3);

      NEED(2);
      if (len < 7) {
        token |= (uint32_t)len;
        dst[out++] = (uint8_t)token;
        dst[out++] = (uint8_t)(token >> 8);
      } else {
        size_t rest = len - 7;
        token |= 7;
        dst[out++] = (uint8_t)token;
        dst[out++] = (uint8_t)(token >> 8);
        if (!have_nibble) {
          NEED(1);
          nibble_pos = out;
          dst[out++] = (uint8_t)(rest < 15 ? rest : 15);
          have_nibble = 1;
        } else {
          dst[nibble_pos] |= (uint8_t)((rest < 15 ? rest : 15) << 4);
          have_nibble = 0;
        }
        if (rest >= 15) {
          rest -= 15;
          NEED(1);
          if (rest < 255) {
            dst[out++] = (uint8_t)rest;
          } else {
            dst[out++] = 255;
            NEED(2);
            dst[out++] = (uint8_t)len; /* the whole length minus 3 */
            dst[out++] = (uint8_t)(len >> 8);
          }
        }
      }
      in += best_len;
      PUSH_FLAG(1u);
    }
  }
  /* unused flag bits are 1: a decoder sees "match" and stops at the input end */
  flags = flag_count ? (flags << (32 - flag_count)) | ((1u << (32 - flag_count)) - 1) : 0xFFFFFFFFu;
  dst[flag_pos] = (uint8_t)flags;
  dst[flag_pos + 1] = (uint8_t)(flags >> 8);
  dst[flag_pos + 2] = (uint8_t)(flags >> 16);
  dst[flag_pos + 3] = (uint8_t)(flags >> 24);
#undef NEED
#undef PUSH_FLAG
  return out;
}

/* ---- buffers ------------------------------------------------------------ */

static void buffer_header(uint8_t *h, uint32_t buffer_size, uint32_t saved, uint64_t ts, uint64_t seq,
                          unsigned cpu, uint32_t state, uint32_t offset, uint16_t flag, uint16_t type) {
  struct rec r = {h, 0, BUF_HDR, 0};

  u32(&r, buffer_size);
  u32(&r, saved);
  u32(&r, saved); /* CurrentOffset */
  u32(&r, 0);     /* ReferenceCount */
  u64(&r, ts);
  u64(&r, seq);
  u64(&r, 0);                          /* clock/frequency union */
  u32(&r, (uint32_t)cpu | (2u << 16)); /* ProcessorIndex, LoggerId 2 */
  u32(&r, state);
  u32(&r, offset);
  u16(&r, flag);
  u16(&r, type);
  u64(&r, 0);
  u64(&r, 0);
}

static int write_at_end(struct etlw *w, const void *p, size_t n) {
  if (fwrite(p, 1, n, w->f) != n)
    return fail(w, "write failed");
  return 0;
}

static int flush_cpu(struct etlw *w, unsigned cpu) {
  struct cpu_buf *b = &w->cpu[cpu];
  uint32_t end = (uint32_t)(BUF_HDR + b->used);

  if (!b->any)
    return 0;
  w->seq++;
  if (w->o.compress) {
    size_t zn = etlw_xpress_compress(b->data + BUF_HDR, b->used, w->zbuf, w->zcap, w->o.literal_only);
    uint8_t h[BUF_HDR];

    if (zn == 0)
      return fail(w, "compression output too large");
    buffer_header(h, (uint32_t)(BUF_HDR + zn), end, b->last_ts, w->seq, cpu, 0, end, 0x60, 0);
    if (write_at_end(w, h, BUF_HDR) || write_at_end(w, w->zbuf, zn))
      return -1;
  } else {
    memset(b->data + end, 0xFF, w->o.buffer_size - end); /* unused tail (§1) */
    buffer_header(b->data, w->o.buffer_size, end, b->last_ts, w->seq, cpu, 0, end, 0x20, 0);
    if (write_at_end(w, b->data, w->o.buffer_size))
      return -1;
  }
  w->buffers++;
  b->used = 0;
  b->any = 0;
  return 0;
}

/* Append a finished record (header filled) to the CPU's buffer. */
static int emit(struct etlw *w, const struct etlw_ev *e, struct rec *r) {
  struct cpu_buf *b;
  size_t aligned = (r->n + 7) & ~(size_t)7;

  if (r->bad)
    return fail(w, "record larger than %zu bytes", w->scratch_cap);
  if (e->cpu >= w->o.cpus)
    return fail(w, "cpu %u out of range (trace has %u)", e->cpu, w->o.cpus);
  b = &w->cpu[e->cpu];
  if (b->any && e->ts < b->last_ts)
    return fail(w, "timestamp %llu before %llu on cpu %u", (unsigned long long)e->ts,
                (unsigned long long)b->last_ts, e->cpu);
  if (BUF_HDR + b->used + aligned > w->o.buffer_size && flush_cpu(w, e->cpu))
    return -1;
  memcpy(b->data + BUF_HDR + b->used, r->p, r->n);
  memset(b->data + BUF_HDR + b->used + r->n, 0, aligned - r->n);
  b->used += aligned;
  b->last_ts = e->ts;
  b->any = 1;
  if (e->ts > w->max_ts)
    w->max_ts = e->ts;
  w->records++;
  return 0;
}

/* SYSTEM (32 bytes) or PERFINFO (16 bytes) header at the start of r. */
static size_t kernel_header_size(const struct etlw *w, const struct etlw_ev *e) {
  (void)w;
  return e->perfinfo ? 16 : 32;
}

static int emit_kernel(struct etlw *w, const struct etlw_ev *e, struct rec *r, unsigned group, unsigned type,
                       unsigned version) {
  struct rec h = {r->p, 0, 32, 0};
  int p8 = w->o.ptr_size == 8;

  if (r->n > 0xFFFF)
    return fail(w, "record of %zu bytes does not fit a u16 size", r->n);
  u16(&h, version);
  if (e->perfinfo) {
    u8(&h, p8 ? HT_PERFINFO64 : HT_PERFINFO32);
    u8(&h, 0xC0);
    u16(&h, (unsigned)r->n);
    u8(&h, type);
    u8(&h, group);
    u64(&h, e->ts);
  } else {
    u8(&h, p8 ? HT_SYSTEM64 : HT_SYSTEM32);
    u8(&h, 0xC0);
    u16(&h, (unsigned)r->n);
    u8(&h, type);
    u8(&h, group);
    u32(&h, e->tid);
    u32(&h, e->pid);
    u64(&h, e->ts);
    u32(&h, 0); /* KernelTime */
    u32(&h, 0); /* UserTime */
  }
  return emit(w, e, r);
}

/* ---- open / close ------------------------------------------------------- */

int etlw_open(struct etlw **out, const char *path, const struct etlw_options *opt) {
  struct etlw *w = calloc(1, sizeof(*w));

  *out = w;
  if (w == NULL)
    return -1;
  if (opt)
    w->o = *opt;
  if (w->o.ptr_size == 0)
    w->o.ptr_size = 8;
  if (w->o.cpus == 0)
    w->o.cpus = 2;
  if (w->o.buffer_size == 0)
    w->o.buffer_size = 65536;
  if (w->o.perf_freq == 0)
    w->o.perf_freq = 10000000;
  if (w->o.start_time == 0)
    w->o.start_time = 134120520000000000ULL; /* 2026-01-05T02:00:00Z */
  if (w->o.start_ticks == 0)
    w->o.start_ticks = 0x100000000ULL;
  if (w->o.build == 0)
    w->o.build = 19045;
  if (w->o.logger == NULL)
    w->o.logger = "fltblame-etlw";
  if (w->o.ptr_size != 4 && w->o.ptr_size != 8)
    return fail(w, "pointer size must be 4 or 8");
  if (w->o.cpus > MAX_CPUS)
    return fail(w, "at most %d cpus", MAX_CPUS);
  if (w->o.buffer_size < 4096 || w->o.buffer_size > (1u << 20) || w->o.buffer_size % 8)
    return fail(w, "bad buffer size %u", w->o.buffer_size);
  if (strlen(w->o.logger) > 60)
    return fail(w, "logger name too long");
  w->header_buffer_size = w->o.compress ? HEADER_BUFFER_COMPRESSED : w->o.buffer_size;
  w->scratch_cap = w->o.buffer_size - BUF_HDR;
  if (w->scratch_cap > 0xFFF8)
    w->scratch_cap = 0xFFF8;
  w->scratch = malloc(w->scratch_cap);
  w->zcap = w->o.buffer_size + w->o.buffer_size / 8 + 64;
  w->zbuf = malloc(w->zcap);
  if (!w->scratch || !w->zbuf)
    return fail(w, "out of memory");
  for (unsigned i = 0; i < w->o.cpus; i++) {
    w->cpu[i].data = malloc(w->o.buffer_size);
    if (w->cpu[i].data == NULL)
      return fail(w, "out of memory");
  }
  w->f = fopen(path, "wb");
  if (w->f == NULL)
    return fail(w, "cannot create %s", path);
  /* the header buffer is written last, in place, once counts are known */
  {
    uint8_t *zero = calloc(1, w->header_buffer_size);
    int rc = zero ? write_at_end(w, zero, w->header_buffer_size) : fail(w, "out of memory");
    free(zero);
    if (rc)
      return rc;
  }
  w->buffers = 1;
  w->records = 1;
  w->max_ts = w->o.start_ticks;
  return 0;
}

static void timezone_china(struct rec *r) {
  static const char *std = "China Standard Time";
  size_t i;

  u32(r, (uint32_t)-480); /* Bias: UTC = local + Bias */
  for (i = 0; i < 32; i++)
    u16(r, i < strlen(std) ? (unsigned)std[i] : 0);
  put(r, NULL, 16); /* StandardDate */
  u32(r, 0);
  for (i = 0; i < 32; i++)
    u16(r, i < strlen(std) ? (unsigned)std[i] : 0);
  put(r, NULL, 16); /* DaylightDate */
  u32(r, 0);
}

/* The header buffer: buffer 0, BufferType 4, logfile-header record (§3). */
static int write_header_buffer(struct etlw *w) {
  uint8_t *b = calloc(1, w->header_buffer_size);
  struct rec r = {b + BUF_HDR, 0, w->header_buffer_size - BUF_HDR, 0};
  struct rec h;
  unsigned P = w->o.ptr_size;
  uint64_t end_time = w->o.start_time + (w->max_ts - w->o.start_ticks) * 10000000ULL / w->o.perf_freq;
  uint32_t end;
  int rc;

  if (b == NULL)
    return fail(w, "out of memory");
  put(&r, NULL, 32);
  u32(&r, w->o.buffer_size);
  /* Version: OS 10.0, file layout 1.5 (2.0 for compressed files) */
  u8(&r, 10);
  u8(&r, 0);
  u8(&r, w->o.compress ? 2 : 1);
  u8(&r, w->o.compress ? 0 : 5);
  u32(&r, w->o.build);
  u32(&r, w->o.cpus);
  u64(&r, end_time);
  u32(&r, 156250);                                  /* TimerResolution */
  u32(&r, 0);                                       /* MaximumFileSize */
  u32(&r, w->o.compress ? 0x04010001 : 0x00000001); /* LogFileMode */
  u32(&r, (uint32_t)w->buffers);                    /* BuffersWritten */
  u32(&r, 1);                                       /* StartBuffers */
  u32(&r, P);
  u32(&r, 0);       /* EventsLost */
  u32(&r, 2400);    /* CpuSpeedInMHz */
  put_le(&r, 0, P); /* LoggerName pointer */
  put_le(&r, 0, P); /* LogFileName pointer */
  timezone_china(&r);
  u32(&r, 0); /* padding before BootTime */
  u64(&r, w->o.start_time - 864000000000ULL);
  u64(&r, w->o.perf_freq);
  u64(&r, w->o.start_time);
  u32(&r, 1); /* ReservedFlags: clock type QPC */
  u32(&r, 0); /* BuffersLost */
  wstr(&r, w->o.logger);
  wstr(&r, "fltblame-synthetic.etl");
  if (r.bad) {
    free(b);
    return fail(w, "logfile header does not fit the header buffer");
  }
  h = (struct rec){r.p, 0, 32, 0};
  u16(&h, 2);
  u8(&h, P == 8 ? HT_SYSTEM64 : HT_SYSTEM32);
  u8(&h, 0xC0);
  u16(&h, (unsigned)r.n);
  u8(&h, 0); /* type 0 */
  u8(&h, 0); /* group 0: EventTrace header */
  u32(&h, 0);
  u32(&h, 0);
  u64(&h, w->o.start_ticks);
  u64(&h, 0);
  end = (uint32_t)(BUF_HDR + r.n);
  memset(b + end, 0xFF, w->header_buffer_size - end);
  buffer_header(b, w->header_buffer_size, end, w->o.start_ticks, 0, 0, w->o.compress ? 3 : 0, end, 0x21, 4);
  rc = fseek(w->f, 0, SEEK_SET) != 0 ? fail(w, "seek failed") : write_at_end(w, b, w->header_buffer_size);
  free(b);
  return rc;
}

static void release(struct etlw *w) {
  if (w->f)
    fclose(w->f);
  for (unsigned i = 0; i < MAX_CPUS; i++)
    free(w->cpu[i].data);
  free(w->scratch);
  free(w->zbuf);
  free(w);
}

void etlw_abort(struct etlw *w) {
  if (w)
    release(w);
}

int etlw_close(struct etlw *w) {
  int rc = 0;

  if (w == NULL)
    return -1;
  for (unsigned i = 0; i < w->o.cpus && rc == 0; i++)
    rc = flush_cpu(w, i);
  if (rc == 0)
    rc = write_header_buffer(w);
  if (w->f && fclose(w->f) != 0)
    rc = -1;
  w->f = NULL;
  release(w);
  return rc;
}

/* ---- events ------------------------------------------------------------- */

int etlw_kernel_event(struct etlw *w, const struct etlw_ev *e, unsigned group, unsigned type,
                      unsigned version, const void *payload, size_t size) {
  struct rec r;

  rec_begin(w, &r, kernel_header_size(w, e));
  put(&r, payload, size);
  return emit_kernel(w, e, &r, group, type, version);
}

int etlw_process(struct etlw *w, const struct etlw_ev *e, int opcode, uint32_t pid, uint32_t ppid,
                 const char *name, const char *cmdline) {
  struct rec r;

  rec_begin(w, &r, kernel_header_size(w, e));
  ptr(&r, w, (w->o.ptr_size == 8 ? 0xFFFFE00000000000ULL : 0x85000000ULL) + (uint64_t)pid * 0x100);
  u32(&r, pid);
  u32(&r, ppid);
  u32(&r, pid <= 4 ? 0 : 1);                     /* SessionId */
  u32(&r, opcode == ETLW_END ? 0 : 0x103);       /* ExitStatus (STATUS_PENDING while running) */
  ptr(&r, w, 0x1aa000 + (uint64_t)pid * 0x1000); /* DirectoryTableBase */
  u32(&r, 0);                                    /* Flags */
  /* UserSID: TOKEN_USER (2 pointers) + S-1-5-18 */
  ptr(&r, w, w->o.ptr_size == 8 ? 0xFFFFC00012345670ULL : 0x91234560ULL);
  ptr(&r, w, 0);
  {
    static const uint8_t sid[12] = {1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0};
    put(&r, sid, sizeof(sid));
  }
  astr(&r, name);
  wstr(&r, cmdline);
  wstr(&r, ""); /* PackageFullName */
  wstr(&r, ""); /* ApplicationId */
  return emit_kernel(w, e, &r, 3, (unsigned)opcode, 4);
}

int etlw_thread(struct etlw *w, const struct etlw_ev *e, int opcode, uint32_t pid, uint32_t tid) {
  struct rec r;
  uint64_t k = w->o.ptr_size == 8 ? 0xFFFFF00000000000ULL : 0x90000000ULL;

  rec_begin(w, &r, kernel_header_size(w, e));
  u32(&r, pid);
  u32(&r, tid);
  ptr(&r, w, k + (uint64_t)tid * 0x10000 + 0x6000);                             /* StackBase */
  ptr(&r, w, k + (uint64_t)tid * 0x10000);                                      /* StackLimit */
  ptr(&r, w, 0x2000000);                                                        /* UserStackBase */
  ptr(&r, w, 0x1F00000);                                                        /* UserStackLimit */
  ptr(&r, w, 0x7FF800001000ULL & (w->o.ptr_size == 8 ? ~0ULL : 0xFFFFFFFFULL)); /* StartAddr */
  ptr(&r, w, 0x401000);                                                         /* Win32StartAddr */
  ptr(&r, w, 0x7FFDF000);                                                       /* TebBase */
  u32(&r, 0);                                                                   /* SubProcessTag */
  u8(&r, 8);
  u8(&r, 5);
  u8(&r, 2);
  u8(&r, 0);
  return emit_kernel(w, e, &r, 5, (unsigned)opcode, 3);
}

int etlw_image(struct etlw *w, const struct etlw_ev *e, int opcode, uint32_t pid, uint64_t base,
               uint64_t size, const char *path) {
  struct rec r;
  unsigned group = opcode == ETLW_LOAD ? 3 : 20;

  rec_begin(w, &r, kernel_header_size(w, e));
  ptr(&r, w, base);
  ptr(&r, w, size);
  u32(&r, pid);
  u32(&r, 0x0001F2A3); /* ImageCheckSum */
  u32(&r, 0x5F3C2B10); /* TimeDateStamp */
  u8(&r, 0);           /* SignatureLevel */
  u8(&r, 0);           /* SignatureType */
  u16(&r, 0);
  ptr(&r, w, base); /* DefaultBase */
  put(&r, NULL, 16);
  wstr(&r, path);
  return emit_kernel(w, e, &r, group, (unsigned)opcode, 3);
}

int etlw_file_create(struct etlw *w, const struct etlw_ev *e, uint64_t irp, uint64_t file_object,
                     uint32_t ttid, uint32_t create_options, uint32_t attributes, uint32_t share_access,
                     const char *path) {
  struct rec r;

  rec_begin(w, &r, kernel_header_size(w, e));
  ptr(&r, w, irp);
  ptr(&r, w, file_object);
  u32(&r, ttid);
  u32(&r, create_options);
  u32(&r, attributes);
  u32(&r, share_access);
  wstr(&r, path);
  return emit_kernel(w, e, &r, 4, ETLW_FILE_CREATE, 3);
}

int etlw_file_simple(struct etlw *w, const struct etlw_ev *e, int opcode, uint64_t irp, uint64_t file_object,
                     uint64_t file_key, uint32_t ttid) {
  struct rec r;

  rec_begin(w, &r, kernel_header_size(w, e));
  ptr(&r, w, irp);
  ptr(&r, w, file_object);
  ptr(&r, w, file_key);
  u32(&r, ttid);
  return emit_kernel(w, e, &r, 4, (unsigned)opcode, 3);
}

int etlw_file_info(struct etlw *w, const struct etlw_ev *e, int opcode, uint64_t irp, uint64_t file_object,
                   uint64_t file_key, uint64_t extra_info, uint32_t ttid, uint32_t info_class) {
  struct rec r;

  rec_begin(w, &r, kernel_header_size(w, e));
  ptr(&r, w, irp);
  ptr(&r, w, file_object);
  ptr(&r, w, file_key);
  ptr(&r, w, extra_info);
  u32(&r, ttid);
  u32(&r, info_class);
  return emit_kernel(w, e, &r, 4, (unsigned)opcode, 3);
}

int etlw_file_rw(struct etlw *w, const struct etlw_ev *e, int opcode, uint64_t offset, uint64_t irp,
                 uint64_t file_object, uint64_t file_key, uint32_t ttid, uint32_t io_size,
                 uint32_t io_flags) {
  struct rec r;

  rec_begin(w, &r, kernel_header_size(w, e));
  u64(&r, offset);
  ptr(&r, w, irp);
  ptr(&r, w, file_object);
  ptr(&r, w, file_key);
  u32(&r, ttid);
  u32(&r, io_size);
  u32(&r, io_flags);
  u32(&r, 0); /* extra flags */
  return emit_kernel(w, e, &r, 4, (unsigned)opcode, 3);
}

int etlw_file_direnum(struct etlw *w, const struct etlw_ev *e, uint64_t irp, uint64_t file_object,
                      uint64_t file_key, uint32_t ttid, uint32_t length, uint32_t info_class,
                      const char *pattern) {
  struct rec r;

  rec_begin(w, &r, kernel_header_size(w, e));
  ptr(&r, w, irp);
  ptr(&r, w, file_object);
  ptr(&r, w, file_key);
  u32(&r, ttid);
  u32(&r, length);
  u32(&r, info_class);
  u32(&r, 0); /* FileIndex */
  wstr(&r, pattern);
  return emit_kernel(w, e, &r, 4, ETLW_FILE_DIRENUM, 3);
}

int etlw_file_opend(struct etlw *w, const struct etlw_ev *e, uint64_t irp, uint64_t extra_info,
                    uint32_t status) {
  struct rec r;

  rec_begin(w, &r, kernel_header_size(w, e));
  ptr(&r, w, irp);
  ptr(&r, w, extra_info);
  u32(&r, status);
  return emit_kernel(w, e, &r, 4, ETLW_FILE_OPEND, 3);
}

int etlw_file_name(struct etlw *w, const struct etlw_ev *e, int opcode, uint64_t file_key, const char *path) {
  struct rec r;

  rec_begin(w, &r, kernel_header_size(w, e));
  ptr(&r, w, file_key);
  wstr(&r, path);
  return emit_kernel(w, e, &r, 4, (unsigned)opcode, 2);
}

int etlw_filter_callback(struct etlw *w, const struct etlw_ev *e, int opcode, const struct etlw_flt *f) {
  struct rec r;
  int layout = f->layout;

  if (opcode < ETLW_FLT_PREOP_INIT || opcode > ETLW_FLT_POSTOP_FAILURE)
    return fail(w, "opcode %d is not a minifilter event", opcode);
  if (layout < 0)
    layout = opcode <= ETLW_FLT_POSTOP_INIT ? 0 : opcode <= ETLW_FLT_POSTOP_COMPLETION ? 2 : 1;
  rec_begin(w, &r, kernel_header_size(w, e));
  if (layout == 2)
    u64(&r, f->initial_time);
  ptr(&r, w, f->routine);
  ptr(&r, w, f->file_object);
  ptr(&r, w, f->fs_context);
  ptr(&r, w, f->irp);
  ptr(&r, w, f->callback_data);
  u32(&r, (uint32_t)f->major_function);
  if (layout == 1)
    u32(&r, f->status);
  return emit_kernel(w, e, &r, 4, (unsigned)opcode, 3);
}

int etlw_stack(struct etlw *w, const struct etlw_ev *e, uint64_t event_ts, uint32_t pid, uint32_t tid,
               const uint64_t *frames, unsigned count) {
  struct etlw_ev pe = *e;
  struct rec r;

  pe.perfinfo = 1; /* StackWalk events carry PERFINFO headers in every corpus file */
  rec_begin(w, &r, kernel_header_size(w, &pe));
  u64(&r, event_ts);
  u32(&r, pid);
  u32(&r, tid);
  for (unsigned i = 0; i < count; i++)
    ptr(&r, w, frames[i]);
  return emit_kernel(w, &pe, &r, 24, 32, 2);
}

static int emit_full(struct etlw *w, const struct etlw_ev *e, struct rec *r, const uint8_t guid[16],
                     unsigned type, unsigned version) {
  struct rec h = {r->p, 0, 48, 0};

  u16(&h, (unsigned)r->n);
  u8(&h, w->o.ptr_size == 8 ? HT_FULL64 : HT_FULL32);
  u8(&h, 0xC0);
  u8(&h, type);
  u8(&h, 0); /* level */
  u16(&h, version);
  u32(&h, e->tid);
  u32(&h, e->pid);
  u64(&h, e->ts);
  put(&h, guid, 16);
  u64(&h, 0);
  return emit(w, e, r);
}

int etlw_volume_mapping(struct etlw *w, const struct etlw_ev *e, const char *nt_path, const char *dos_path) {
  struct rec r;

  rec_begin(w, &r, 48);
  wstr(&r, nt_path);
  wstr(&r, dos_path);
  return emit_full(w, e, &r, guid_sysconfig, 35, 2);
}

int etlw_kfile_create(struct etlw *w, const struct etlw_ev *e, uint64_t irp, uint64_t file_object,
                      uint32_t ttid, uint32_t create_options, uint32_t attributes, uint32_t share_access,
                      const char *path, const uint64_t *frames, unsigned count) {
  struct rec r, h;
  unsigned P = w->o.ptr_size;

  rec_begin(w, &r, 80);
  if (count > 0) {
    size_t data = 8 + (size_t)count * P;
    size_t item = (8 + data + 7) & ~(size_t)7;
    u16(&r, (unsigned)item);
    u16(&r, P == 8 ? 6 : 5); /* STACK_TRACE64 / 32 */
    u16(&r, 0);              /* Linkage: last item */
    u16(&r, (unsigned)data);
    u64(&r, 0); /* MatchId */
    for (unsigned i = 0; i < count; i++)
      put_le(&r, frames[i], P);
    put(&r, NULL, item - 8 - data);
  }
  ptr(&r, w, irp);
  ptr(&r, w, file_object);
  u32(&r, ttid);
  u32(&r, create_options);
  u32(&r, attributes);
  u32(&r, share_access);
  wstr(&r, path);
  if (r.bad || r.n > 0xFFFF)
    return fail(w, "record too large");
  h = (struct rec){r.p, 0, 80, 0};
  u16(&h, (unsigned)r.n);
  u8(&h, P == 8 ? HT_EVENT64 : HT_EVENT32);
  u8(&h, 0xC0);
  u16(&h, count > 0 ? 0x0001 : 0); /* Flags: EXTENDED_INFO */
  u16(&h, 0);                      /* EventProperty */
  u32(&h, e->tid);
  u32(&h, e->pid);
  u64(&h, e->ts);
  put(&h, guid_kernel_file, 16);
  u16(&h, 12); /* Id: Create */
  u8(&h, 1);   /* Version */
  u8(&h, 16);  /* Channel */
  u8(&h, 4);   /* Level */
  u8(&h, 0);   /* Opcode */
  u16(&h, 12); /* Task */
  u64(&h, 0x8000000000000090ULL);
  u64(&h, 0); /* ProcessorTime */
  put(&h, NULL, 16);
  return emit(w, e, &r);
}

int etlw_file_version(struct etlw *w, const struct etlw_ev *e, uint32_t image_size, const char *orig_name,
                      const char *description, const char *version, const char *product,
                      const char *company) {
  struct rec r;

  rec_begin(w, &r, 48);
  u32(&r, image_size);
  u32(&r, 0x5F3C2B10); /* TimeDateStamp */
  wstr(&r, orig_name);
  wstr(&r, description);
  wstr(&r, version);
  wstr(&r, version); /* BinFileVersion */
  wstr(&r, "0409");  /* VerLanguage */
  wstr(&r, product);
  wstr(&r, company);
  wstr(&r, version); /* ProductVersion */
  wstr(&r, "");      /* FileId */
  wstr(&r, "");      /* ProgramId */
  return emit_full(w, e, &r, guid_image_id, 64, 2);
}

/* Bases as seen on Windows 10 22H2 x64 (the kernel's region, 64 KB aligned). */
const struct etlw_driver etlw_std_drivers[] = {
    {"\\SystemRoot\\system32\\ntoskrnl.exe", 0xfffff80461000000ULL, 0x1047000, "Microsoft Corporation",
     "NT Kernel & System"},
    {"\\SystemRoot\\System32\\drivers\\FLTMGR.SYS", 0xfffff80463a10000ULL, 0x7c000, "Microsoft Corporation",
     "Microsoft Filesystem Filter Manager"},
    {"\\SystemRoot\\System32\\Drivers\\Ntfs.sys", 0xfffff80464c00000ULL, 0x2b0000, "Microsoft Corporation",
     "NT File System Driver"},
    {"\\SystemRoot\\system32\\drivers\\FileInfo.sys", 0xfffff80463b00000ULL, 0x1a000, "Microsoft Corporation",
     "FileInfo Filter Driver"},
    {"\\SystemRoot\\system32\\drivers\\WdFilter.sys", 0xfffff80463b30000ULL, 0x6e000, "Microsoft Corporation",
     "Microsoft antimalware file system filter driver"},
    {"\\SystemRoot\\system32\\drivers\\TmPreFlt.sys", 0xfffff80467f20000ULL, 0x3c000, "Trend Micro Inc.",
     "Trend Micro PreFilter"},
    {"\\SystemRoot\\system32\\drivers\\gscfmgr.sys", 0xfffff80467f70000ULL, 0x2e000,
     "Synthetic Vendor (etl_writer)", "gscfmgr file filter (synthetic test module)"},
    {"\\SystemRoot\\system32\\drivers\\PROCMON24.SYS", 0xfffff80468a10000ULL, 0x1d000,
     "Sysinternals - www.sysinternals.com", "Process Monitor"},
};
const unsigned etlw_std_driver_count = sizeof(etlw_std_drivers) / sizeof(etlw_std_drivers[0]);

uint64_t etlw_driver_base(const struct etlw *w, unsigned i) {
  if (i >= etlw_std_driver_count)
    return 0;
  if (w->o.ptr_size == 4) /* x86 kernel space: 0x8xxxxxxx */
    return 0x80000000ULL | (etlw_std_drivers[i].base & 0x0FFFFFFFULL);
  return etlw_std_drivers[i].base;
}

int etlw_driver_find(const char *name) {
  size_t n = strlen(name);

  for (unsigned i = 0; i < etlw_std_driver_count; i++) {
    size_t m = strlen(etlw_std_drivers[i].path);
    if (m >= n && strcasecmp(etlw_std_drivers[i].path + m - n, name) == 0)
      return (int)i;
  }
  return -1;
}

int etlw_kernel_rundown(struct etlw *w, const struct etlw_ev *e, int opcode) {
  for (unsigned i = 0; i < etlw_std_driver_count; i++) {
    const struct etlw_driver *d = &etlw_std_drivers[i];
    const char *name = strrchr(d->path, '\\') + 1;
    if (etlw_file_version(w, e, d->size, name, d->description, "10.0.19041.1", d->description, d->company) ||
        etlw_image(w, e, opcode, 0, etlw_driver_base(w, i), d->size, d->path))
      return -1;
  }
  return 0;
}
