/* Tests of parsers/etl/etl_minifilter.c over hand-made payloads.
 *
 * No real trace with minifilter events exists publicly: every payload here
 * is built from the layouts in docs/etl-minifilter.md. When a real WPR
 * "Minifilter I/O activity" trace arrives, its `--stats` census (opcode,
 * version, pointer size, payload size) and a few decoded events must be
 * compared with these assumptions, and this file updated. */
#include <stdlib.h>
#include <string.h>

#include "parsers/error.h"
#include "parsers/etl/etl_minifilter.h"
#include "tests/testutil.h"

static void put_le(uint8_t *p, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Build a payload in one of the three layouts with distinct field values. */
static size_t build(uint8_t *buf, unsigned ptr, enum etl_flt_layout layout, uint32_t major, uint32_t status) {
  size_t o = 0;
  uint64_t base = ptr == 8 ? 0xFFFFF80012340000ULL : 0x81230000ULL;

  if (layout == ETL_FLT_LAYOUT_TIMED) {
    put_le(buf, 0x0000000123456789ULL, 8);
    o = 8;
  }
  put_le(buf + o, base + 0x1111, ptr); /* RoutineAddr */
  o += ptr;
  put_le(buf + o, base + 0x2222, ptr); /* FileObject */
  o += ptr;
  put_le(buf + o, base + 0x3333, ptr); /* FsContext */
  o += ptr;
  put_le(buf + o, base + 0x4444, ptr); /* Irp */
  o += ptr;
  put_le(buf + o, base + 0x5555, ptr); /* CallbackData */
  o += ptr;
  put_le(buf + o, major, 4);
  o += 4;
  if (layout == ETL_FLT_LAYOUT_STATUS) {
    put_le(buf + o, status, 4);
    o += 4;
  }
  return o;
}

static void check_all_layouts(unsigned ptr) {
  static const enum etl_flt_layout layouts[3] = {ETL_FLT_LAYOUT_INIT, ETL_FLT_LAYOUT_STATUS,
                                                 ETL_FLT_LAYOUT_TIMED};
  static const enum ev_cb_phase phases[6] = {EV_CB_PRE_START, EV_CB_POST_START, EV_CB_PRE_END,
                                             EV_CB_POST_END,  EV_CB_PRE_FAILED, EV_CB_POST_FAILED};
  uint64_t base = ptr == 8 ? 0xFFFFF80012340000ULL : 0x81230000ULL;
  struct etl_flt_census census;
  uint8_t buf[64];

  memset(&census, 0, sizeof(census));
  for (unsigned op = 96; op <= 101; op++) {
    for (unsigned l = 0; l < 3; l++) {
      struct etl_flt_event ev;
      size_t n = build(buf, ptr, layouts[l], 0, 0xC0000022);

      ck_assert_uint_eq(n, 5 * ptr + 4 + 4 * l);
      ck_assert_int_eq(etl_flt_decode(op, 3, ptr, buf, n, &ev, &census), 0);
      ck_assert_uint_eq(ev.opcode, op);
      ck_assert_int_eq(ev.post, (op - 96) % 2);
      ck_assert_int_eq(ev.stage, (int)(op - 96) / 2);
      ck_assert_int_eq(ev.phase, phases[op - 96]);
      ck_assert_int_eq(ev.layout, layouts[l]);
      /* MOF pairing: 96/97 init, 98/99 timed, 100/101 status */
      ck_assert_int_eq(ev.layout_expected,
                       (op <= 97 && l == 0) || ((op == 98 || op == 99) && l == 2) || (op >= 100 && l == 1));
      ck_assert_uint_eq(ev.routine, base + 0x1111);
      ck_assert_uint_eq(ev.file_object, base + 0x2222);
      ck_assert_uint_eq(ev.fs_context, base + 0x3333);
      ck_assert_uint_eq(ev.irp, base + 0x4444);
      ck_assert_uint_eq(ev.callback_data, base + 0x5555);
      ck_assert_int_eq(ev.major_function, 0);
      ck_assert(ev.major_known);
      ck_assert_int_eq(ev.status_known, l == 1);
      ck_assert_uint_eq(ev.status, l == 1 ? 0xC0000022 : 0);
      ck_assert_int_eq(ev.initial_time_known, l == 2);
      ck_assert_uint_eq(ev.initial_time, l == 2 ? 0x0000000123456789ULL : 0);
    }
  }
  ck_assert_uint_eq(census.total, 18);
  ck_assert_uint_eq(census.nrows, 18);
  ck_assert_uint_eq(census.refused, 0);
}

START_TEST(decodes_every_opcode_and_layout_p8) {
  check_all_layouts(8);
}
END_TEST

START_TEST(decodes_every_opcode_and_layout_p4) {
  check_all_layouts(4);
}
END_TEST

START_TEST(sizes_are_44_48_52_and_24_28_32) {
  uint8_t buf[64] = {0};
  struct etl_flt_event ev;
  static const size_t ok8[3] = {44, 48, 52}, ok4[3] = {24, 28, 32};

  for (size_t n = 0; n <= sizeof(buf); n++) {
    int want8 = n == ok8[0] || n == ok8[1] || n == ok8[2];
    int want4 = n == ok4[0] || n == ok4[1] || n == ok4[2];
    ck_assert_int_eq(etl_flt_decode(96, 3, 8, buf, n, &ev, NULL), want8 ? 0 : FB_EUNSUP);
    ck_assert_int_eq(etl_flt_decode(99, 3, 4, buf, n, &ev, NULL), want4 ? 0 : FB_EUNSUP);
  }
  ck_assert_int_eq(etl_flt_decode(96, 3, 8, buf, 44, &ev, NULL), 0);
  ck_assert_int_eq(ev.layout, ETL_FLT_LAYOUT_INIT);
  ck_assert_int_eq(etl_flt_decode(96, 3, 8, buf, 48, &ev, NULL), 0);
  ck_assert_int_eq(ev.layout, ETL_FLT_LAYOUT_STATUS);
  ck_assert_int_eq(etl_flt_decode(96, 3, 8, buf, 52, &ev, NULL), 0);
  ck_assert_int_eq(ev.layout, ETL_FLT_LAYOUT_TIMED);
  ck_assert_int_eq(etl_flt_decode(96, 3, 4, buf, 32, &ev, NULL), 0);
  ck_assert_int_eq(ev.layout, ETL_FLT_LAYOUT_TIMED);
}
END_TEST

START_TEST(refuses_bad_opcode_and_pointer_size) {
  uint8_t buf[64] = {0};
  struct etl_flt_event ev;

  ck_assert_int_eq(etl_flt_decode(95, 3, 8, buf, 44, &ev, NULL), FB_EFORMAT);
  ck_assert_int_eq(etl_flt_decode(102, 3, 8, buf, 44, &ev, NULL), FB_EFORMAT);
  ck_assert_int_eq(etl_flt_decode(64, 3, 8, buf, 44, &ev, NULL), FB_EFORMAT);
  ck_assert_int_eq(etl_flt_decode(96, 3, 2, buf, 14, &ev, NULL), FB_EFORMAT);
  ck_assert_int_eq(etl_flt_decode(96, 3, 16, buf, 84, &ev, NULL), FB_EFORMAT);
  ck_assert_int_eq(etl_flt_decode(96, 3, 8, NULL, 0, &ev, NULL), FB_EUNSUP);
  ck_assert(etl_flt_is_minifilter(4, 96));
  ck_assert(etl_flt_is_minifilter(4, 101));
  ck_assert(!etl_flt_is_minifilter(4, 76));
  ck_assert(!etl_flt_is_minifilter(3, 96));
}
END_TEST

START_TEST(census_counts_every_triple_and_refusals) {
  uint8_t buf[64] = {0};
  struct etl_flt_event ev;
  struct etl_flt_census c;

  memset(&c, 0, sizeof(c));
  for (int i = 0; i < 5; i++)
    ck_assert_int_eq(etl_flt_decode(96, 3, 8, buf, 44, &ev, &c), 0);
  ck_assert_int_eq(etl_flt_decode(96, 2, 8, buf, 44, &ev, &c), 0); /* another version: own row */
  ck_assert_int_eq(etl_flt_decode(98, 3, 8, buf, 56, &ev, &c), FB_EUNSUP);
  ck_assert_int_eq(etl_flt_decode(98, 3, 8, buf, 56, &ev, &c), FB_EUNSUP);
  ck_assert_uint_eq(c.total, 8);
  ck_assert_uint_eq(c.refused, 2);
  ck_assert_uint_eq(c.nrows, 3);
  ck_assert_uint_eq(c.rows[0].opcode, 96);
  ck_assert_uint_eq(c.rows[0].version, 3);
  ck_assert_uint_eq(c.rows[0].ptr_size, 8);
  ck_assert_uint_eq(c.rows[0].size, 44);
  ck_assert_uint_eq(c.rows[0].count, 5);
  ck_assert_int_eq(c.rows[0].decoded, 1);
  ck_assert_uint_eq(c.rows[1].version, 2);
  ck_assert_uint_eq(c.rows[1].count, 1);
  ck_assert_uint_eq(c.rows[2].size, 56);
  ck_assert_uint_eq(c.rows[2].count, 2);
  ck_assert_int_eq(c.rows[2].decoded, 0);
  /* the table is bounded: further distinct rows only count as overflow */
  for (unsigned v = 0; v < 40; v++)
    etl_flt_decode(97, 100 + v, 8, buf, 44, &ev, &c);
  ck_assert_uint_eq(c.nrows, ETL_FLT_CENSUS_ROWS);
  ck_assert_uint_eq(c.overflow, 40 - (ETL_FLT_CENSUS_ROWS - 3));
  ck_assert_uint_eq(c.total, 48);
}
END_TEST

START_TEST(major_function_accepts_byte_and_sign_extended_pseudo_ops) {
  int mj;

  for (uint32_t v = 0; v <= 27; v++) {
    ck_assert_int_eq(etl_flt_major_normalize(v, &mj), 0);
    ck_assert_int_eq(mj, (int)v);
  }
  for (int n = 1; n <= 20; n++) {
    ck_assert_int_eq(etl_flt_major_normalize(0x100u - (uint32_t)n, &mj), 0);
    ck_assert_int_eq(mj, -n);
    ck_assert_int_eq(etl_flt_major_normalize((uint32_t)-n, &mj), 0);
    ck_assert_int_eq(mj, -n);
  }
  ck_assert_int_eq(etl_flt_major_normalize(28, &mj), -1);
  ck_assert_int_eq(etl_flt_major_normalize(0x80, &mj), -1); /* IRP_MJ_OPERATION_END is not an operation */
  ck_assert_int_eq(etl_flt_major_normalize(0xEB, &mj), -1); /* -21 */
  ck_assert_int_eq(etl_flt_major_normalize(0xFFFFFFEBu, &mj), -1);
  ck_assert_int_eq(etl_flt_major_normalize(0x100, &mj), -1);
  ck_assert_str_eq(etl_flt_major_name(0), "IRP_MJ_CREATE");
  ck_assert_str_eq(etl_flt_major_name(18), "IRP_MJ_CLEANUP");
  ck_assert_str_eq(etl_flt_major_name(27), "IRP_MJ_PNP");
  ck_assert_str_eq(etl_flt_major_name(-1), "IRP_MJ_ACQUIRE_FOR_SECTION_SYNCHRONIZATION");
  ck_assert_str_eq(etl_flt_major_name(-14), "IRP_MJ_NETWORK_QUERY_OPEN");
  ck_assert_str_eq(etl_flt_major_name(-20), "IRP_MJ_VOLUME_DISMOUNT");
  ck_assert_ptr_null(etl_flt_major_name(-10));
  ck_assert_ptr_null(etl_flt_major_name(-21));
  ck_assert_ptr_null(etl_flt_major_name(28));
}
END_TEST

START_TEST(decoded_major_function_in_payload) {
  uint8_t buf[64];
  struct etl_flt_event ev;
  size_t n;

  n = build(buf, 8, ETL_FLT_LAYOUT_INIT, 0xFF, 0); /* (UCHAR)-1 */
  ck_assert_int_eq(etl_flt_decode(96, 3, 8, buf, n, &ev, NULL), 0);
  ck_assert_int_eq(ev.major_function, -1);
  ck_assert_uint_eq(ev.major_raw, 0xFF);
  ck_assert(ev.major_known);
  n = build(buf, 4, ETL_FLT_LAYOUT_STATUS, 0xFFFFFFF2u, 0xC0000043); /* -14 sign-extended */
  ck_assert_int_eq(etl_flt_decode(100, 3, 4, buf, n, &ev, NULL), 0);
  ck_assert_int_eq(ev.major_function, -14);
  ck_assert_uint_eq(ev.status, 0xC0000043);
  ck_assert_int_eq(ev.phase, EV_CB_PRE_FAILED);
  n = build(buf, 8, ETL_FLT_LAYOUT_TIMED, 0x1234, 0);
  ck_assert_int_eq(etl_flt_decode(99, 3, 8, buf, n, &ev, NULL), 0);
  ck_assert(!ev.major_known);
  ck_assert_uint_eq(ev.major_raw, 0x1234);
  ck_assert_int_eq(ev.phase, EV_CB_POST_END);
}
END_TEST

START_TEST(names) {
  ck_assert_str_eq(etl_flt_opcode_name(96), "PreOpInit");
  ck_assert_str_eq(etl_flt_opcode_name(99), "PostOpCompletion");
  ck_assert_str_eq(etl_flt_opcode_name(101), "PostOpFailure");
  ck_assert_ptr_null(etl_flt_opcode_name(95));
  ck_assert_str_eq(etl_flt_layout_name(ETL_FLT_LAYOUT_TIMED), "initial_time+init");
}
END_TEST

int main(void) {
  Suite *s = suite_create("etl_minifilter");
  TCase *tc = tcase_create("decode");

  tcase_add_test(tc, decodes_every_opcode_and_layout_p8);
  tcase_add_test(tc, decodes_every_opcode_and_layout_p4);
  tcase_add_test(tc, sizes_are_44_48_52_and_24_28_32);
  tcase_add_test(tc, refuses_bad_opcode_and_pointer_size);
  tcase_add_test(tc, census_counts_every_triple_and_refusals);
  tcase_add_test(tc, major_function_accepts_byte_and_sign_extended_pseudo_ops);
  tcase_add_test(tc, decoded_major_function_in_payload);
  tcase_add_test(tc, names);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
