/* test_xca.c - MS-XCA decompressors against the specification's worked
 * examples (MS-XCA section 3) and real compressed ETL buffers whose
 * decompressed size is stated in their buffer header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/bytes.h"
#include "parsers/etl/xca.h"
#include "tests/testutil.h"

static size_t hex(const char *s, uint8_t *out) {
  size_t n = 0;
  while (*s) {
    if (*s == ' ') {
      s++;
      continue;
    }
    unsigned v;
    sscanf(s, "%2x", &v);
    out[n++] = (uint8_t)v;
    s += 2;
  }
  return n;
}

static const char *ALPHA = "abcdefghijklmnopqrstuvwxyz";

static void abc300(uint8_t *out) {
  for (int i = 0; i < 300; i++)
    out[i] = (uint8_t)("abc"[i % 3]);
}

START_TEST(lz77_spec_literals) {
  uint8_t in[64], out[64];
  size_t n = hex("3f 00 00 00 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 71 72 73 74 75 76 77 78 79 7a",
                 in),
         got;
  struct fb_error err;
  ck_assert_int_eq(xca_lz77_decompress(in, n, out, sizeof(out), &got, &err), 0);
  ck_assert_uint_eq(got, 26);
  ck_assert_mem_eq(out, ALPHA, 26);
}
END_TEST

START_TEST(lz77_spec_long_match) {
  uint8_t in[16], out[300], want[300];
  size_t n = hex("ff ff ff 1f 61 62 63 17 00 0f ff 26 01", in), got;
  struct fb_error err;
  abc300(want);
  ck_assert_int_eq(xca_lz77_decompress(in, n, out, sizeof(out), &got, &err), 0);
  ck_assert_uint_eq(got, 300);
  ck_assert_mem_eq(out, want, 300);
  /* one byte short of room: an error naming the input position, not an overflow */
  ck_assert_int_eq(xca_lz77_decompress(in, n, out, 299, &got, &err), FB_EFORMAT);
  ck_assert_uint_eq(got, 3);
  ck_assert_uint_eq(err.offset, n);
  /* cut inside the 16-bit length */
  ck_assert_int_eq(xca_lz77_decompress(in, 11, out, sizeof(out), &got, &err), FB_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "16-bit length"));
}
END_TEST

START_TEST(lz77_bad_offset) {
  /* flag word says "match" first: nothing produced yet to copy from */
  uint8_t in[] = {0x00, 0x00, 0x00, 0x80, 0x08, 0x00}, out[16];
  size_t got;
  struct fb_error err;
  ck_assert_int_eq(xca_lz77_decompress(in, sizeof(in), out, sizeof(out), &got, &err), FB_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "before the start"));
}
END_TEST

static size_t huff_table(uint8_t *t, const char *const *sets, const size_t *pos, int n) {
  memset(t, 0, 256);
  for (int i = 0; i < n; i++)
    hex(sets[i], t + pos[i]);
  return 256;
}

START_TEST(huffman_spec_literals) {
  uint8_t in[300], out[26];
  const char *sets[] = {"50 55 55 55 55 55 55 55 55 55 55 45 44 04", "04"};
  size_t pos[] = {48, 128}, got;
  size_t n = huff_table(in, sets, pos, 2);
  struct fb_error err;
  n += hex("d8 52 3e d7 94 11 5b e9 19 5f f9 d6 7c df 8d 04 00 00 00 00", in + n);
  ck_assert_int_eq(xca_huffman_decompress(in, n, out, sizeof(out), &got, &err), 0);
  ck_assert_uint_eq(got, 26);
  ck_assert_mem_eq(out, ALPHA, 26);
}
END_TEST

START_TEST(huffman_spec_long_match) {
  uint8_t in[300], out[300], want[300];
  const char *sets[] = {"30 23", "02", "20"};
  size_t pos[] = {48, 128, 143}, got;
  size_t n = huff_table(in, sets, pos, 3);
  struct fb_error err;
  n += hex("a8 dc 00 00 ff 26 01", in + n);
  abc300(want);
  ck_assert_int_eq(xca_huffman_decompress(in, n, out, sizeof(out), &got, &err), 0);
  ck_assert_uint_eq(got, 300);
  ck_assert_mem_eq(out, want, 300);
  /* an all-zero length table has no code */
  memset(in, 0, 256);
  ck_assert_int_eq(xca_huffman_decompress(in, n, out, sizeof(out), &got, &err), FB_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "table"));
}
END_TEST

START_TEST(lznt1_spec_example) {
  static const char *song =
      "F# F# G A A G F# E D D E F# F# E E F# F# G A A G F# E D D E F# E D D E E F# D E F# G "
      "F# D E F# G F# E D E A F# F# G A A G F# E D D E F# E D D";
  uint8_t in[64], out[256];
  size_t n = hex(
             "38 b0 88 46 23 20 00 20 47 20 41 00 10 a2 47 01 a0 45 20 44 00 08 45 01 50 79 00 c0 45 20 05 "
             "24 13 88 05 b4 02 4a 44 ef 03 58 02 8c 09 16 01 48 45 00 be 00 9e 00 04 01 18 90 00",
             in),
         got;
  struct fb_error err;
  ck_assert_uint_eq(n, 59);
  ck_assert_int_eq(xca_lznt1_decompress(in, n, out, sizeof(out), &got, &err), 0);
  ck_assert_uint_eq(got, 142); /* the string and its terminating NUL */
  ck_assert_mem_eq(out, song, 142);
  /* a bad chunk signature is refused */
  in[1] = 0x80;
  ck_assert_int_eq(xca_lznt1_decompress(in, n, out, sizeof(out), &got, &err), FB_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "signature"));
}
END_TEST

/* Every compressed buffer of a real trace decompresses to exactly
 * SavedOffset - 72 bytes (its header's statement), and the output starts
 * with a record marker. */
static void check_file_buffers(const char *rel, unsigned want_buffers, unsigned long long want_bytes) {
  size_t size;
  uint8_t *f = (uint8_t *)tu_read_file(tu_corpus(rel), &size);
  uint8_t *out = malloc(1 << 20);
  size_t off = 0;
  unsigned compressed = 0;
  unsigned long long total = 0;

  ck_assert_ptr_nonnull(f);
  while (off + 72 <= size) {
    uint32_t bsize = fb_le32(f + off), saved = fb_le32(f + off + 4);
    uint16_t flags = fb_le16(f + off + 0x34);
    ck_assert(bsize >= 72 && off + bsize <= size);
    if (flags & 0x40) {
      size_t got;
      struct fb_error err;
      ck_assert_int_eq(xca_lz77_decompress(f + off + 72, bsize - 72, out, 1 << 20, &got, &err), 0);
      ck_assert_uint_eq(got, saved - 72);
      ck_assert_uint_eq(out[3] & 0x80, 0x80);
      compressed++;
      total += got;
    }
    off += bsize;
  }
  ck_assert_uint_eq(off, size);
  ck_assert_uint_eq(compressed, want_buffers);
  ck_assert_uint_eq(total, want_bytes);
  free(out);
  free(f);
}

START_TEST(lz77_real_buffers) {
  /* buffer counts from corpus/etl/MANIFEST.md; byte totals measured */
  check_file_buffers("etl/perfview/smallEtlFile.etl", 1, 664);
  check_file_buffers("etl/perfview/SelfDescribingSingleEvent.etl", 2, 7264);
}
END_TEST

START_TEST(lz77_real_buffers_big) {
  check_file_buffers("etl/perfview/net.4.5.2.x64.etl", 359, 23016304);
  check_file_buffers("etl/perfview/net.4.5.2.x86.etl", 275, 17707800);
}
END_TEST

int main(void) {
  Suite *s = suite_create("xca");
  TCase *tc = tcase_create("xca");
  tcase_add_test(tc, lz77_spec_literals);
  tcase_add_test(tc, lz77_spec_long_match);
  tcase_add_test(tc, lz77_bad_offset);
  tcase_add_test(tc, huffman_spec_literals);
  tcase_add_test(tc, huffman_spec_long_match);
  tcase_add_test(tc, lznt1_spec_example);
  tcase_add_test(tc, lz77_real_buffers);
  tcase_add_test(tc, lz77_real_buffers_big);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
