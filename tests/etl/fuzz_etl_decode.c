/* libFuzzer target for the ETL payload decoders and the decoder state
 * machine (parsers/etl/etl_kernel.c, etl_minifilter.c, etl_decode.c).
 *
 * The input is read as a stream of records: u8 selector, u8 type, u8
 * version, u8 flags, u16 size, u32 tid, then size payload bytes. Each
 * payload goes through every pure decoder and, as one record, through the
 * decoder's learn and feed paths (kernel, classic and manifest kinds), so
 * held operations, stack keys, OpEnd joins and evictions are exercised. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "parsers/bytes.h"
#include "parsers/etl/etl_decode.h"
#include "parsers/etl/etl_kernel.h"
#include "parsers/etl/etl_minifilter.h"

static const unsigned groups[] = {3, 4, 5, 20, 24, 4, 4, 24};

static int on_image(void *c, const struct ev_image *r) {
  return (void)c, (void)r, 0;
}
static int on_process(void *c, const struct ev_process *r) {
  return (void)c, (void)r, 0;
}
static int on_thread(void *c, const struct ev_thread *r) {
  return (void)c, (void)r, 0;
}
static int on_file_op(void *c, const struct ev_file_op *r) {
  (void)c;
  /* touch every resolved frame and string so ASan sees any dangling pointer */
  for (uint32_t i = 0; i < r->stack.count; i++)
    if (r->stack.frames[i].module)
      (void)strlen(r->stack.frames[i].module);
  if (r->path)
    (void)strlen(r->path);
  if (r->process_name)
    (void)strlen(r->process_name);
  return 0;
}
static int on_callback(void *c, const struct ev_filter_callback *r) {
  (void)c;
  if (r->module)
    (void)strlen(r->module);
  return 0;
}
static int on_fact(void *c, const struct ev_fact *r) {
  return (void)c, (void)r, 0;
}

static void pure(unsigned type, unsigned version, unsigned ptr, const uint8_t *p, size_t n) {
  struct etl_process pr;
  struct etl_thread th;
  struct etl_image im;
  struct etl_file f;
  struct etl_kstack s;
  struct etl_volume_mapping vm;
  struct etl_file_version fv;
  struct etl_flt_event fe;
  char out[512];

  if (etl_decode_process(type, version, ptr, p, n, &pr) == 0) {
    etl_str_utf8(&pr.image_name, out, sizeof(out));
    etl_str_utf8(&pr.command_line, out, sizeof(out));
  }
  etl_decode_thread(type, version, ptr, p, n, &th);
  if (etl_decode_image(type, version, ptr, p, n, &im) == 0)
    etl_str_utf8(&im.path, out, sizeof(out));
  if (etl_decode_fileio(type, version, ptr, p, n, &f) == 0)
    etl_str_utf8(&f.path, out, sizeof(out));
  etl_decode_kfile(type & 31, version & 1, ptr, p, n, &f);
  if (etl_decode_stackwalk(type, ptr, p, n, &s) == 0)
    for (uint32_t i = 0; i < s.count; i++)
      (void)etl_kstack_frame(&s, i);
  if (etl_decode_ext_stack(5 + (type & 1), p, n, &s) == 0 && s.count)
    (void)etl_kstack_frame(&s, s.count - 1);
  if (etl_decode_volume_mapping(p, n, &vm) == 0)
    etl_str_utf8(&vm.dos_path, out, sizeof(out));
  if (etl_decode_file_version(p, n, &fv) == 0)
    etl_str_utf8(&fv.company, out, sizeof(out));
  etl_flt_decode(96 + type % 6, version, ptr, p, n, &fe, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct etl_clock clk = {
      .t0 = 1000, .start_filetime = 134119656000000000ULL, .freq = 10000000, .ptr_size = 8};
  struct ev_sink sink = {
      .image = on_image,
      .process = on_process,
      .thread = on_thread,
      .file_op = on_file_op,
      .filter_callback = on_callback,
      .fact = on_fact,
  };
  struct etl_decode_options opt = {.max_pending = 16, .stack_window_s = 0.000002, .hold_max_s = 0.00001};
  struct etl_decoder *d = etl_decoder_new(&clk, &sink, &opt, "fuzz");
  size_t pos = 0;
  uint64_t ts = 1000, index = 1;

  if (d == NULL)
    return 0;
  for (int pass = 0; pass < 2; pass++) {
    pos = 0;
    ts = 1000;
    while (size - pos >= 10) {
      struct etl_event_in e;
      unsigned sel = data[pos], type = data[pos + 1], version = data[pos + 2], flags = data[pos + 3];
      size_t n = fb_le16(data + pos + 4);
      uint32_t tid = fb_le32(data + pos + 6);
      pos += 10;
      if (n > size - pos)
        n = size - pos;
      memset(&e, 0, sizeof(e));
      e.ts = ts += flags & 7;
      e.index = index++;
      e.offset = pos;
      e.ptr_size = flags & 8 ? 4 : 8;
      e.has_ids = !(flags & 16);
      e.pid = tid & 0xFF;
      e.tid = tid;
      e.type = type;
      e.version = version;
      e.payload = data + pos;
      e.size = n;
      if (sel % 10 < 8) {
        e.kind = ETL_IN_KERNEL;
        e.group = groups[sel % 8];
      } else if (sel % 10 == 8) {
        e.kind = ETL_IN_CLASSIC;
        e.guid = sel & 0x80 ? etl_guid_sysconfig : etl_guid_image_id;
      } else {
        e.kind = ETL_IN_MANIFEST;
        e.guid = etl_guid_kernel_file;
        e.id = type & 31;
        if (flags & 32 && n >= 8) {
          e.stack_ext_type = flags & 64 ? 6 : 5;
          e.stack_ext = e.payload;
          e.stack_ext_size = n / 2;
        }
      }
      if (pass == 0) {
        pure(type, version, e.ptr_size, e.payload, n);
        etl_decoder_learn(d, &e);
      } else if (etl_decoder_feed(d, &e) != 0) {
        break;
      }
      pos += n;
    }
  }
  etl_decoder_finish(d);
  (void)etl_decoder_stats(d);
  etl_decoder_free(d);
  return 0;
}
