/* etl_decode_read.c - etl_emit_evidence(): the core reader (etl.h) feeding
 * the decoder (etl_decode.c), in two passes (see etl_decode.h). */
#include <stdio.h>
#include <string.h>

#include "parsers/etl/etl.h"
#include "parsers/etl/etl_decode.h"

/* A GUID back in its file layout, which the decoder compares bytewise. */
static void guid_bytes(const struct etl_guid *g, uint8_t out[16]) {
  out[0] = (uint8_t)g->data1;
  out[1] = (uint8_t)(g->data1 >> 8);
  out[2] = (uint8_t)(g->data1 >> 16);
  out[3] = (uint8_t)(g->data1 >> 24);
  out[4] = (uint8_t)g->data2;
  out[5] = (uint8_t)(g->data2 >> 8);
  out[6] = (uint8_t)g->data3;
  out[7] = (uint8_t)(g->data3 >> 8);
  memcpy(out + 8, g->data4, 8);
}

/* etl_record -> etl_event_in. guid_buf holds the GUID bytes e points to. */
static int to_event(const struct etl_record *rec, uint64_t index, struct etl_event_in *e,
                    uint8_t guid_buf[16]) {
  memset(e, 0, sizeof(*e));
  e->ts = rec->timestamp;
  e->index = index;
  e->offset = rec->compressed ? rec->buffer_offset : rec->buffer_offset + rec->record_offset;
  e->ptr_size = rec->ptr_size;
  e->pid = rec->pid;
  e->tid = rec->tid;
  e->type = rec->opcode;
  e->version = rec->version;
  e->payload = rec->payload;
  e->size = rec->payload_size;
  if (etl_kind_is_kernel(rec->kind)) {
    e->kind = ETL_IN_KERNEL;
    e->group = rec->group;
    e->has_ids = rec->kind != ETL_KIND_PERFINFO32 && rec->kind != ETL_KIND_PERFINFO64;
    return 1;
  }
  if (!rec->has_guid)
    return 0;
  guid_bytes(&rec->guid, guid_buf);
  e->guid = guid_buf;
  e->has_ids = 1;
  if (etl_kind_is_classic(rec->kind)) {
    e->kind = ETL_IN_CLASSIC;
    return 1;
  }
  if (etl_kind_is_event(rec->kind)) {
    struct etl_ext_iter it;
    struct etl_ext_item item;

    e->kind = ETL_IN_MANIFEST;
    e->id = rec->id;
    if (rec->ext) {
      etl_ext_iter_init(&it, rec);
      while (etl_ext_next(&it, &item) == 1)
        if (item.type == ETL_EXT_STACK_TRACE32 || item.type == ETL_EXT_STACK_TRACE64) {
          e->stack_ext_type = item.type;
          e->stack_ext = item.data;
          e->stack_ext_size = item.size;
          break;
        }
    }
    return 1;
  }
  return 0;
}

static void clock_of(const struct etl_logfile *lf, struct etl_clock *c) {
  memset(c, 0, sizeof(*c));
  c->t0 = lf->header_timestamp;
  c->start_filetime = lf->start_time;
  c->ptr_size = lf->pointer_size == 4 ? 4 : 8;
  switch (lf->clock_type) {
  case 2: c->freq = 10000000; break;                                          /* system time: 100 ns ticks */
  case 3: c->freq = lf->cpu_mhz ? (uint64_t)lf->cpu_mhz * 1000000 : 0; break; /* CPU cycles */
  default: c->freq = lf->perf_freq; break;
  }
  if (c->freq == 0)
    c->freq = 10000000;
}

/* One pass over the file. learn: pass 1. */
static int one_pass(const char *path, struct etl_decoder **dp, const struct ev_sink *sink,
                    const struct etl_decode_options *opt, const char *origin, int learn,
                    struct fb_error *err) {
  struct etl_reader *r;
  struct etl_record rec;
  struct etl_event_in e;
  uint8_t guid_buf[16];
  uint64_t index = 0;
  int rc;

  rc = etl_reader_open_file(&r, path, NULL, err);
  if (rc != 0)
    return rc;
  if (*dp == NULL) {
    struct etl_clock clk;
    clock_of(etl_reader_logfile(r), &clk);
    *dp = etl_decoder_new(&clk, sink, opt, origin);
    if (*dp == NULL) {
      etl_reader_close(r);
      return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "out of memory for the ETL decoder");
    }
  }
  while ((rc = etl_reader_next(r, &rec, err)) == 1) {
    if (to_event(&rec, index, &e, guid_buf)) {
      if (learn) {
        etl_decoder_learn(*dp, &e);
      } else if (etl_decoder_feed(*dp, &e) == FB_ESTOP) {
        rc = FB_ESTOP;
        break;
      }
    }
    index++;
  }
  if (!learn && *dp) {
    /* reader damage is not an error: every readable event was returned */
    struct etl_decode_stats *st = (struct etl_decode_stats *)etl_decoder_stats(*dp);
    st->reader_problems = etl_reader_problems_total(r);
    if (etl_reader_problem_count(r) > 0)
      snprintf(st->first_problem, sizeof(st->first_problem), "%s", etl_reader_problem(r, 0)->msg);
  }
  etl_reader_close(r);
  return rc < 0 ? rc : 0;
}

int etl_emit_evidence(const char *path, const struct ev_sink *sink, const struct etl_decode_options *opt,
                      struct etl_decode_stats *stats, struct fb_error *err) {
  struct etl_decoder *d = NULL;
  const char *origin = opt && opt->origin_file ? opt->origin_file : path;
  int rc = 0;

  if (!(opt && opt->single_pass))
    rc = one_pass(path, &d, sink, opt, origin, 1, err);
  if (rc == 0)
    rc = one_pass(path, &d, sink, opt, origin, 0, err);
  /* emit what is held even after a read error: every readable event counts */
  if (d != NULL && rc != FB_ESTOP) {
    int frc = etl_decoder_finish(d);
    if (rc == 0)
      rc = frc;
  }
  if (d != NULL && stats)
    *stats = *etl_decoder_stats(d);
  etl_decoder_free(d);
  return rc;
}
