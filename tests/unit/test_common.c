/* Unit tests of parsers/: byte reader, UTF-16, file views, error records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/bytes.h"
#include "parsers/error.h"
#include "parsers/evidence.h"
#include "parsers/strbuf.h"
#include "parsers/utf16.h"
#include "parsers/view.h"
#include "tests/testutil.h"

START_TEST(span_checks_do_not_overflow) {
  ck_assert(fb_span_ok(10, 0, 10));
  ck_assert(!fb_span_ok(10, 0, 11));
  ck_assert(!fb_span_ok(10, 11, 0));
  ck_assert(!fb_span_ok(10, 4, UINT64_MAX));
  ck_assert(!fb_span_ok(10, UINT64_MAX, 2));
}
END_TEST

START_TEST(cursor_reads_le_and_flags_overrun) {
  static const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};
  struct fb_cursor c;

  fb_cursor_init(&c, b, sizeof(b));
  ck_assert_uint_eq(fb_cursor_u16(&c), 0x0201);
  ck_assert_uint_eq(fb_cursor_u32(&c), 0x06050403);
  ck_assert_uint_eq(fb_cursor_left(&c), 3);
  ck_assert(!c.bad);
  ck_assert_uint_eq(fb_cursor_u32(&c), 0); /* only 3 left */
  ck_assert(c.bad);
  ck_assert_uint_eq(fb_cursor_u8(&c), 0); /* stays bad */
  ck_assert_uint_eq(fb_le64(b), 0x0807060504030201ULL);
  ck_assert_uint_eq(fb_leptr(b, 4), 0x04030201U);
}
END_TEST

/* The reference: one unit at a time (no surrogates in its inputs), with the
 * converter's rules: stop at a NUL, stop when a character does not fit. */
static size_t utf16_reference(const uint16_t *u, size_t n, char *out, size_t out_size) {
  size_t o = 0;

  for (size_t i = 0; i < n && u[i] != 0; i++) {
    size_t w = fb_utf8_put(u[i], out + o, out_size - 1 - o);
    if (w == 0)
      break;
    o += w;
  }
  out[o] = '\0';
  return o;
}

/* ASCII runs at every length around the 4- and 8-unit steps, with one other
 * unit (a NUL, 0x7F, 0x80, a Chinese character, 0xFFFF) at every position,
 * into roomy and tight buffers. The input is a heap block of exactly 2n
 * bytes, so a read past it trips ASan. */
START_TEST(utf16_fast_paths_match_one_unit_at_a_time) {
  static const uint16_t others[] = {0x0000, 0x007F, 0x0080, 0x4E2D, 0xFFFF};

  for (size_t n = 0; n <= 40; n++)
    for (size_t at = 0; at <= n; at++)
      for (size_t k = 0; k < sizeof(others) / sizeof(others[0]); k++)
        for (size_t room = 1; room <= 3 * n + 2; room += room < 24 ? 1 : 7) {
          uint16_t *u = malloc(2 * (n ? n : 1));
          uint8_t *le = malloc(2 * (n ? n : 1));
          char want[160], got[160];
          size_t wn, gn;
          ck_assert_ptr_nonnull(u);
          ck_assert_ptr_nonnull(le);
          for (size_t i = 0; i < n; i++)
            u[i] = (uint16_t)(i == at ? others[k] : 'A' + i % 26);
          for (size_t i = 0; i < n; i++) {
            le[2 * i] = (uint8_t)u[i];
            le[2 * i + 1] = (uint8_t)(u[i] >> 8);
          }
          wn = utf16_reference(u, n, want, room);
          gn = fb_utf16le_to_utf8(le, n, got, room);
          ck_assert_uint_eq(gn, wn);
          ck_assert_str_eq(got, want);
          free(u);
          free(le);
        }
}
END_TEST

START_TEST(utf16_converts_chinese_and_surrogates) {
  /* 湖北分行 U+6E56 U+5317 U+5206 U+884C, then U+1F600 as a surrogate pair */
  static const uint8_t s[] = {0x56, 0x6E, 0x17, 0x53, 0x06, 0x52, 0x4C, 0x88, 0x3D, 0xD8, 0x00, 0xDE};
  static const uint8_t lone[] = {0x41, 0x00, 0x00, 0xD8, 0x42, 0x00};
  char out[64];

  ck_assert_uint_eq(fb_utf16le_to_utf8(s, 6, out, sizeof(out)), 16);
  ck_assert_str_eq(out, "\xe6\xb9\x96\xe5\x8c\x97\xe5\x88\x86\xe8\xa1\x8c\xf0\x9f\x98\x80");
  fb_utf16le_to_utf8(lone, 3, out, sizeof(out));
  ck_assert_str_eq(out, "A\xef\xbf\xbd"
                        "B");
  /* output cut at a character boundary, never mid-sequence */
  ck_assert_uint_eq(fb_utf16le_to_utf8(s, 6, out, 5), 3);
  ck_assert_str_eq(out, "\xe6\xb9\x96");
}
END_TEST

START_TEST(view_inflates_gzip_pml) {
  struct fb_view v;
  struct fb_error err;
  const char *path = tu_corpus("pml/win10-1903-x64-registry.pml.gz");

  ck_assert_int_eq(fb_view_open(&v, path, &err), FB_OK);
  ck_assert(v.gzipped);
  ck_assert_uint_eq(v.file_size, 1238933);
  ck_assert_uint_eq(v.size, 13632640); /* MANIFEST: inflated size */
  ck_assert_mem_eq(v.data, "PML_", 4);
  fb_view_close(&v);
}
END_TEST

START_TEST(view_reports_truncated_gzip_with_offset) {
  struct fb_view v;
  struct fb_error err;
  char path[4200], msg[1200];
  size_t n;
  char *gz = tu_read_file(tu_corpus("pml/win10-1903-x64-registry.pml.gz"), &n);
  FILE *f;

  ck_assert_ptr_nonnull(gz);
  snprintf(path, sizeof(path), "%s/cut.pml.gz", tu_tmpdir());
  f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(gz, 1, 100000, f), 100000);
  fclose(f);
  free(gz);
  ck_assert_int_eq(fb_view_open(&v, path, &err), FB_ETRUNC);
  ck_assert_uint_eq(err.offset, 100000);
  fb_error_format(&err, msg, sizeof(msg));
  ck_assert_ptr_nonnull(strstr(msg, "cut.pml.gz: offset 100000 (0x186a0): gzip stream ends early"));
}
END_TEST

START_TEST(view_refuses_missing_file) {
  struct fb_view v;
  struct fb_error err;

  ck_assert_int_eq(fb_view_open(&v, "/nonexistent/x.pml", &err), FB_EIO);
  ck_assert_str_eq(err.file, "/nonexistent/x.pml");
  ck_assert_str_eq(err.msg, "cannot open: No such file or directory");
}
END_TEST

/* fb_view_bytes reads a file through a 256 KiB window: ranges inside it,
 * across its end (a refill), behind it, and larger than it (the mapping). */
START_TEST(view_window_matches_the_mapping) {
  const char *path = tu_corpus("pml/win10-1709-x64-mixed.pml");
  static const uint64_t offs[] = {0, 100, 262100, 262144, 262000, 5, 24189428 - 64, 1 << 20};
  static const size_t lens[] = {64, 262044, 100, 64, 4096, 300000, 64, 262144};
  struct fb_window w = {0};
  struct fb_view v;
  struct fb_error err;
  size_t n;
  char *whole = tu_read_file(path, &n);

  ck_assert_ptr_nonnull(whole);
  ck_assert_uint_eq(n, 24189428);
  ck_assert_int_eq(fb_view_open(&v, path, &err), FB_OK);
  for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
    const uint8_t *p = fb_view_bytes(&v, &w, offs[i], lens[i]);
    ck_assert_ptr_nonnull(p);
    ck_assert_mem_eq(p, whole + offs[i], lens[i]);
    if (lens[i] <= 262144) /* served from the window, not the mapping */
      ck_assert(p >= w.buf && p + lens[i] <= w.buf + w.len);
  }
  ck_assert_uint_eq(w.off, 1 << 20);
  fb_window_free(&w);
  /* A window asked for 4 KiB holds 4 KiB: larger ranges come from the mapping. */
  w.cap = 4096;
  ck_assert_ptr_eq(fb_view_bytes(&v, &w, 10000, 4097), v.data + 10000);
  ck_assert_uint_eq(w.cap, 4096);
  ck_assert_ptr_eq(fb_view_bytes(&v, &w, 10000, 4096), w.buf);
  ck_assert_uint_eq(w.len, 4096);
  ck_assert_mem_eq(w.buf, whole + 10000, 4096);
  fb_window_free(&w);
  fb_view_close(&v);
  { /* a window over a small file is no larger than the file */
    char small[4200];
    FILE *fp;
    snprintf(small, sizeof(small), "%s/small.bin", tu_tmpdir());
    fp = fopen(small, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(whole, 1, 1000, fp), 1000);
    fclose(fp);
    ck_assert_int_eq(fb_view_open(&v, small, &err), FB_OK);
    ck_assert_mem_eq(fb_view_bytes(&v, &w, 990, 10), whole + 990, 10);
    ck_assert_uint_eq(w.cap, 1000);
    ck_assert_uint_eq(w.off, 990);
    ck_assert_uint_eq(w.len, 10);
    fb_window_free(&w);
  }
  fb_view_close(&v);
  fb_view_from_memory(&v, whole, n); /* memory views are served in place */
  ck_assert_ptr_eq(fb_view_bytes(&v, &w, 77, 10), (const uint8_t *)whole + 77);
  ck_assert_ptr_null(w.buf);
  free(whole);
}
END_TEST

START_TEST(strbuf_formats_numbers) {
  struct fb_strbuf b;

  fb_strbuf_init(&b);
  fb_strbuf_u64(&b, 0);
  fb_strbuf_putc(&b, ' ');
  fb_strbuf_u64(&b, UINT64_MAX);
  fb_strbuf_putc(&b, ' ');
  fb_strbuf_hex(&b, 0xAB, 4, 1);
  fb_strbuf_putc(&b, ' ');
  fb_strbuf_hex(&b, 0xdeadbeefcafeULL, 1, 0);
  fb_strbuf_putc(&b, ' ');
  fb_strbuf_hex(&b, 0, 2, 1);
  fb_strbuf_putc(&b, ' ');
  fb_strbuf_grouped(&b, 1234567, ',');
  fb_strbuf_putc(&b, ' ');
  fb_strbuf_grouped(&b, 999, '.');
  fb_strbuf_putc(&b, ' ');
  fb_strbuf_grouped(&b, 1000, '.');
  fb_strbuf_putc(&b, ' ');
  fb_strbuf_0x(&b, 0x1F);
  ck_assert_str_eq(b.s, "0 18446744073709551615 00AB deadbeefcafe 00 1,234,567 999 1.000 0x1f");
  /* decimals on both sides of the eight-digit fast path */
  fb_strbuf_reset(&b);
  {
    static const uint64_t vs[] = {7,
                                  10,
                                  4242,
                                  10000000,
                                  99999999,
                                  100000000,
                                  1234567890123ULL,
                                  9999999999999999ULL,
                                  10000000000000000ULL,
                                  10000000000000000000ULL};
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
      fb_strbuf_u64(&b, vs[i]);
      fb_strbuf_putc(&b, ' ');
    }
  }
  ck_assert_str_eq(b.s, "7 10 4242 10000000 99999999 100000000 1234567890123 9999999999999999 "
                        "10000000000000000 10000000000000000000 ");
  /* grouped numbers at every digit count, against a grouping done by hand */
  for (uint64_t v = 0, step = 1; step != 0 && v <= UINT64_MAX / 10; step *= 10, v = v * 10 + 9) {
    uint64_t tries[] = {v, step, v + 1};
    for (size_t t = 0; t < 3; t++) {
      char digits[24], want[40];
      int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)tries[t]), w = 0;
      for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
          want[w++] = ',';
        want[w++] = digits[i];
      }
      want[w] = '\0';
      fb_strbuf_reset(&b);
      fb_strbuf_grouped(&b, tries[t], ',');
      ck_assert_str_eq(b.s, want);
    }
  }
  fb_strbuf_reset(&b);
  fb_strbuf_grouped(&b, UINT64_MAX, '.');
  ck_assert_str_eq(b.s, "18.446.744.073.709.551.615");
  fb_strbuf_reset(&b);
  fb_strbuf_grouped(&b, 1234567, '\0'); /* no separator */
  ck_assert_str_eq(b.s, "1234567");
  /* printf formats in place when it fits, and grows when it does not */
  fb_strbuf_reset(&b);
  for (int i = 0; i < 100; i++)
    fb_strbuf_printf(&b, "%03d|%s", i, i % 10 ? "" : "a longer piece of text to force a grow|");
  ck_assert_uint_eq(b.len, 100 * 4 + 10 * 39);
  ck_assert_uint_eq(strlen(b.s), b.len);
  ck_assert_int_eq(strncmp(b.s + b.len - 4, "099|", 4), 0);
  fb_strbuf_free(&b);
}
END_TEST

/* Eight digits at once: each 4-digit lane is split independently, so every
 * value of each lane with the other at its extremes, plus all values below
 * 10^6, cover it. */
static void check_digits8(uint32_t v) {
  char got[8], want[8];
  uint32_t t = v;

  fb_digits8(got, v);
  for (int i = 7; i >= 0; i--, t /= 10)
    want[i] = (char)('0' + t % 10);
  ck_assert_msg(memcmp(got, want, 8) == 0, "fb_digits8(%u) = %.8s", v, got);
}

START_TEST(strbuf_digits8_match_division) {
  for (uint32_t v = 0; v < 1000000; v++)
    check_digits8(v);
  for (uint32_t lane = 0; lane < 10000; lane++) {
    check_digits8(lane * 10000);        /* high lane, low lane 0 */
    check_digits8(lane * 10000 + 9999); /* high lane, low lane 9999 */
    check_digits8(9999 * 10000 + lane); /* low lane, high lane 9999 */
  }
  check_digits8(99999999);
}
END_TEST

START_TEST(strbuf_room_and_out_of_memory) {
  struct fb_strbuf b;
  char *p;

  fb_strbuf_init(&b);
  p = fb_strbuf_room(&b, 5); /* no buffer yet: allocates */
  ck_assert_ptr_nonnull(p);
  memcpy(p, "12:34", 5);
  fb_strbuf_commit(&b, p + 5);
  ck_assert_str_eq(b.s, "12:34");
  /* an allocation that cannot succeed: nothing more is added, what was there stays */
  ck_assert_ptr_null(fb_strbuf_room(&b, SIZE_MAX / 2));
  ck_assert_int_eq(b.oom, 1);
  fb_strbuf_add(&b, "x", 1);
  fb_strbuf_add(&b, "a piece longer than sixteen bytes", 33);
  fb_strbuf_puts(&b, "y");
  ck_assert_ptr_null(fb_strbuf_room(&b, 1));
  ck_assert_uint_eq(b.len, 5);
  ck_assert_str_eq(b.s, "12:34");
  fb_strbuf_free(&b);
}
END_TEST

START_TEST(evidence_names) {
  struct ev_file_op op;

  ck_assert_str_eq(ev_path_basename("\\SystemRoot\\System32\\drivers\\TmPreFlt.sys"), "TmPreFlt.sys");
  ck_assert_str_eq(ev_path_basename("a/b.sys"), "b.sys");
  ck_assert_str_eq(ev_path_basename("C:\\x/y\\z.dll"), "z.dll"); /* the last separator of either kind */
  ck_assert_str_eq(ev_path_basename("C:\\x\\y/z.dll"), "z.dll");
  ck_assert_str_eq(ev_path_basename("ntoskrnl.exe"), "ntoskrnl.exe");
  ck_assert_str_eq(ev_path_basename("C:\\dir\\"), "");
  ck_assert_str_eq(ev_path_basename(""), "");
  ck_assert_ptr_null(ev_path_basename(NULL));
  ck_assert_str_eq(ev_file_op_kind_name(EV_FOP_CREATE), "create");
  ck_assert_str_eq(ev_cb_phase_name(EV_CB_PRE_FAILED), "pre_failed");
  ev_file_op_init(&op);
  ck_assert_uint_eq(op.duration, EV_UNKNOWN_U64);
  ck_assert_uint_eq(op.desired_access, EV_UNKNOWN_U32);
}
END_TEST

int main(void) {
  Suite *s = suite_create("common");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, span_checks_do_not_overflow);
  tcase_add_test(tc, cursor_reads_le_and_flags_overrun);
  tcase_add_test(tc, utf16_converts_chinese_and_surrogates);
  tcase_add_test(tc, utf16_fast_paths_match_one_unit_at_a_time);
  tcase_add_test(tc, view_inflates_gzip_pml);
  tcase_add_test(tc, view_reports_truncated_gzip_with_offset);
  tcase_add_test(tc, view_refuses_missing_file);
  tcase_add_test(tc, view_window_matches_the_mapping);
  tcase_add_test(tc, strbuf_formats_numbers);
  tcase_add_test(tc, strbuf_digits8_match_division);
  tcase_add_test(tc, strbuf_room_and_out_of_memory);
  tcase_add_test(tc, evidence_names);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
