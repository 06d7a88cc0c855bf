/* Kernel dump reader: the corpus triage dumps (ground truth in
 * corpus/dumps/MANIFEST.md), synthetic dumps of the other types, and
 * damaged dumps that must give clear errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/bytes.h"
#include "parsers/dump/dump.h"
#include "tests/dump/dump_writer.h"
#include "tests/testutil.h"

struct counts {
  int images, unloaded, facts;
  struct ev_fact fact;
  uint32_t nframes;
  struct ev_frame frames[8];
  char frame_mod[8][64];
  char subject[64];
  char first_image[64], last_image[64], last_unloaded[64];
  uint64_t image_153_base;
};

static int on_image(void *ctx, const struct ev_image *r) {
  struct counts *c = ctx;
  if (r->unloaded) {
    c->unloaded++;
    snprintf(c->last_unloaded, sizeof(c->last_unloaded), "%s", r->name);
    return 0;
  }
  ck_assert_int_eq(r->kernel, 1);
  ck_assert_uint_eq(r->pid, 4);
  if (c->images == 0)
    snprintf(c->first_image, sizeof(c->first_image), "%s", r->name);
  snprintf(c->last_image, sizeof(c->last_image), "%s", r->name);
  c->images++;
  return 0;
}

static int on_fact(void *ctx, const struct ev_fact *r) {
  struct counts *c = ctx;
  c->facts++;
  c->fact = *r;
  c->nframes = r->stack.count;
  snprintf(c->subject, sizeof(c->subject), "%s", r->subject);
  for (uint32_t i = 0; i < 8 && i < r->stack.count; i++) {
    c->frames[i] = r->stack.frames[i];
    snprintf(c->frame_mod[i], sizeof(c->frame_mod[i]), "%s",
             r->stack.frames[i].module ? r->stack.frames[i].module : "");
  }
  c->fact.stack.frames = NULL;
  c->fact.text = c->fact.subject = c->fact.path = NULL;
  return 0;
}

static void emit_counts(const struct dump *d, struct counts *c) {
  struct ev_sink sink = {0};
  struct fb_error err;

  memset(c, 0, sizeof(*c));
  sink.ctx = c;
  sink.image = on_image;
  sink.fact = on_fact;
  ck_assert_int_eq(dump_emit(d, &sink, &err), 0);
}

START_TEST(x64_triage_header_and_triage_area) {
  struct dump d;
  struct fb_error err;

  ck_assert_int_eq(dump_open(&d, tu_corpus("dumps/rizin-triage_x64.dmp"), &err), 0);
  ck_assert_int_eq(d.bits, 64);
  ck_assert_uint_eq(d.major_version, 0xF);
  ck_assert_uint_eq(d.build, 19041);
  ck_assert_uint_eq(d.machine, 0x8664);
  ck_assert_uint_eq(d.processors, 16);
  ck_assert_uint_eq(d.bugcheck, 0x1000007E);
  ck_assert_uint_eq(d.params[0], 0xFFFFFFFFC0000005ull);
  ck_assert_uint_eq(d.params[1], 0xFFFFF8048B58334Cull);
  ck_assert_uint_eq(d.params[2], 0xFFFF850429891EE8ull);
  ck_assert_uint_eq(d.params[3], 0xFFFF850429891720ull);
  ck_assert_uint_eq(d.dump_type, DUMP_TYPE_TRIAGE);
  ck_assert_uint_eq(d.minidump_fields, 0xCFF);
  ck_assert_uint_eq(d.product_type, 1);
  ck_assert_uint_eq(d.suite_mask, 0x110);
  ck_assert_uint_eq(d.required_space, 0x197915);
  ck_assert_uint_eq(d.system_time, 132583451029877657ull);
  ck_assert_uint_eq(d.uptime, 37470697);
  ck_assert_uint_eq(d.exception_code, 0x80000003);
  ck_assert_uint_eq(d.exception_address, 0xFFFFF8047BDF5A80ull);
  ck_assert(d.ctx.valid);
  ck_assert_uint_eq(d.ctx.flags, 0x10001F);
  ck_assert_uint_eq(d.ctx.ip, 0xFFFFF8048B58334Cull);
  ck_assert_uint_eq(d.ctx.sp, 0xFFFF850429892120ull);
  ck_assert_uint_eq(d.ctx.fp, 0xFFFFF8048B58F598ull);
  ck_assert_ptr_null(d.not_analysed);

  ck_assert(d.has_triage);
  ck_assert_uint_eq(d.triage.size_of_dump, 0x13A28C);
  ck_assert_uint_eq(d.triage.valid_offset, 0x13A288);
  ck_assert_uint_eq(d.triage.callstack_offset, 0xE390);
  ck_assert_uint_eq(d.triage.callstack_size, 0x2118);
  ck_assert_uint_eq(d.triage.driver_list_offset, 0x10828);
  ck_assert_uint_eq(d.triage.string_pool_offset, 0x15D18);
  ck_assert_uint_eq(d.triage.string_pool_size, 0x3720);
  ck_assert_uint_eq(d.triage.unloaded_offset, 0x20D0);
  ck_assert_uint_eq(d.triage.top_of_stack, 0xFFFF850429890EE8ull);
  ck_assert_uint_eq(d.triage.data_blocks_count, 1831);
  ck_assert_uint_eq(d.triage.debugger_data_size, 0x380);

  ck_assert_uint_eq(d.ndrivers, 151);
  ck_assert_str_eq(d.drivers[0].path, "\\SystemRoot\\system32\\ntoskrnl.exe");
  ck_assert_str_eq(d.drivers[0].name, "ntoskrnl.exe");
  ck_assert_uint_eq(d.drivers[0].base, 0xFFFFF8047BA00000ull);
  ck_assert_uint_eq(d.drivers[0].size, 0x1046000);
  ck_assert_str_eq(d.drivers[1].name, "hal.dll");
  ck_assert_uint_eq(d.drivers[1].base, 0xFFFFF80479440000ull);
  ck_assert_str_eq(d.drivers[2].name, "kd.dll");
  ck_assert_str_eq(d.drivers[3].name, "CLFS.SYS");
  ck_assert_str_eq(d.drivers[53].name, "ndis.sys");
  ck_assert_uint_eq(d.drivers[53].base, 0xFFFFF8047A610000ull);
  ck_assert_uint_eq(d.drivers[53].size, 0x16F000);
  ck_assert_str_eq(d.drivers[143].path, "\\SystemRoot\\System32\\drivers\\amdppm.sys");
  ck_assert_uint_eq(d.drivers[143].base, 0xFFFFF8048B580000ull);
  ck_assert_uint_eq(d.drivers[143].size, 0x3B000);
  ck_assert_uint_eq(d.drivers[143].entry_offset, 0x10828 + 143 * 0x90);
  ck_assert_str_eq(d.drivers[150].name, "rdpbus.sys");
  for (uint32_t i = 0; i < d.ndrivers; i++)
    ck_assert_uint_eq(d.drivers[i].base & 0xFFF, 0); /* all page-aligned */

  ck_assert_uint_eq(d.nunloaded, 4);
  ck_assert_str_eq(d.unloaded[0].name, "dam.sys");
  ck_assert_str_eq(d.unloaded[1].name, "WdBoot.sys");
  ck_assert_str_eq(d.unloaded[2].name, "hwpolicy.sys");
  ck_assert_str_eq(d.unloaded[3].name, "mcupdate.dll");
  ck_assert_uint_eq(d.unloaded[0].start, 0xFFFFF80487DE0000ull);
  ck_assert_uint_eq(d.unloaded[0].end, 0xFFFFF80487DFC000ull);

  ck_assert_str_eq(dump_driver_at(&d, d.params[1])->name, "amdppm.sys");
  ck_assert_ptr_null(dump_driver_at(&d, 0x1000));
  ck_assert_str_eq(dump_unloaded_at(&d, 0xFFFFF80487DE1000ull)->name, "dam.sys");
  {
    int from_sp;
    ck_assert_uint_eq(dump_stack_scan_start(&d, &from_sp), 0x1238);
    ck_assert_int_eq(from_sp, 1);
  }
  dump_close(&d);
}
END_TEST

START_TEST(x64_triage_evidence) {
  struct dump d;
  struct fb_error err;
  struct counts c;

  ck_assert_int_eq(dump_open(&d, tu_corpus("dumps/rizin-triage_x64.dmp"), &err), 0);
  emit_counts(&d, &c);
  ck_assert_int_eq(c.images, 151);
  ck_assert_int_eq(c.unloaded, 4);
  ck_assert_str_eq(c.first_image, "ntoskrnl.exe");
  ck_assert_str_eq(c.last_image, "rdpbus.sys");
  ck_assert_str_eq(c.last_unloaded, "mcupdate.dll");
  ck_assert_int_eq(c.facts, 1);
  ck_assert_int_eq(c.fact.kind, EV_FACT_BUGCHECK);
  ck_assert_uint_eq(c.fact.code, 0x1000007E);
  ck_assert_uint_eq(c.fact.params[1], 0xFFFFF8048B58334Cull);
  ck_assert_uint_eq(c.fact.address, 0xFFFFF8048B58334Cull);
  ck_assert_uint_eq(c.fact.origin.offset, 0x38);
  ck_assert_str_eq(c.subject, "triage: stack from context sp");
  ck_assert_uint_eq(c.nframes, (0x2118 - 0x1238) / 8); /* 476 slots from Rsp */
  /* slot 1 is the first hit: amdppm.sys+0x22E2C (MANIFEST: first 12 hits in amdppm) */
  ck_assert_str_eq(c.frame_mod[0], "");
  ck_assert_str_eq(c.frame_mod[1], "amdppm.sys");
  ck_assert_uint_eq(c.frames[1].offset, 0x22E2C);
  ck_assert_str_eq(c.frame_mod[5], "amdppm.sys");
  ck_assert_uint_eq(c.frames[5].offset, 0x313F);
  ck_assert_int_eq(c.frames[5].kernel, 1);
  dump_close(&d);
}
END_TEST

START_TEST(arm64_triage) {
  struct dump d;
  struct fb_error err;
  struct counts c;
  int from_sp;

  ck_assert_int_eq(dump_open(&d, tu_corpus("dumps/rizin-triage_arm64.dmp"), &err), 0);
  ck_assert_uint_eq(d.build, 22000);
  ck_assert_uint_eq(d.machine, 0xAA64);
  ck_assert_str_eq(dump_machine_name(d.machine), "arm64");
  ck_assert_uint_eq(d.processors, 8);
  ck_assert_uint_eq(d.bugcheck, 0x1C8);
  ck_assert_uint_eq(d.params[0], 0x1B58);
  ck_assert_uint_eq(d.params[1], 0xFFFFF803F3A20860ull);
  ck_assert_uint_eq(d.params[2], 0);
  ck_assert_uint_eq(d.params[3], 0);
  ck_assert_uint_eq(d.dump_type, 4);
  ck_assert_uint_eq(d.ctx.flags, 0x400007);
  ck_assert_uint_eq(d.ctx.ip, 0xFFFFF803F32DE014ull);
  ck_assert_uint_eq(d.ctx.sp, 0xFFFFE00E0E4BC4A0ull);
  ck_assert_uint_eq(d.ctx.fp, 0xFFFFE00E0E4BC4A0ull);
  ck_assert_uint_eq(d.ctx.lr, 0);
  ck_assert_uint_eq(d.triage.size_of_dump, 0xAC46C);
  ck_assert_uint_eq(d.triage.callstack_size, 0xB60);
  ck_assert_uint_eq(d.triage.data_blocks_count, 0x2A7);
  ck_assert_uint_eq(d.ndrivers, 245);
  ck_assert_str_eq(d.drivers[0].name, "ntoskrnl.exe");
  ck_assert_uint_eq(d.nunloaded, 11);
  ck_assert_str_eq(d.unloaded[0].name, "MSKSSRV.sys");
  ck_assert_str_eq(d.unloaded[4].name, "dump_storpor");
  ck_assert_str_eq(d.unloaded[6].name, "dump_dumpfve");
  ck_assert_str_eq(d.unloaded[10].name, "WdBoot.sys");
  ck_assert_uint_eq(dump_stack_scan_start(&d, &from_sp), 0);
  ck_assert_int_eq(from_sp, 1); /* Sp == TopOfStack */
  emit_counts(&d, &c);
  ck_assert_int_eq(c.images, 245);
  ck_assert_int_eq(c.unloaded, 11);
  ck_assert_uint_eq(c.nframes, 0xB60 / 8);
  ck_assert_str_eq(c.frame_mod[1], "ntoskrnl.exe");
  ck_assert_uint_eq(c.frames[1].offset, 0x5442A0);
  dump_close(&d);
}
END_TEST

START_TEST(synthetic_seed_case_reads_back) {
  size_t n;
  uint8_t *buf = dw_build_seed_case(&n);
  struct dump d;
  struct fb_error err;
  int from_sp;

  ck_assert_ptr_nonnull(buf);
  ck_assert_int_eq(dump_read(&d, buf, n, "setupmem.dmp", &err), 0);
  ck_assert_uint_eq(d.bugcheck, 0x1000007E);
  ck_assert_uint_eq(d.ndrivers, 7);
  ck_assert_str_eq(d.drivers[5].name, "lwfmgr.sys");
  ck_assert_uint_eq(d.nunloaded, 1);
  ck_assert_str_eq(d.unloaded[0].name, "dump_storpor"); /* cut at 12 like Windows */
  ck_assert_uint_eq(dump_stack_scan_start(&d, &from_sp), 128 * 8);
  ck_assert_int_eq(from_sp, 1);
  ck_assert_str_eq(dump_driver_at(&d, d.ctx.ip)->name, "ndis.sys");
  dump_close(&d);
  free(buf);
}
END_TEST

START_TEST(other_dump_types_report_header_only) {
  struct dw_spec s;
  struct dump d;
  struct fb_error err;
  struct counts c;
  size_t n;
  uint8_t *buf;

  memset(&s, 0, sizeof(s));
  s.build = 22621;
  s.bugcheck = 0x133;
  s.params[0] = 1;
  s.params[1] = 0x1E00;
  s.dump_type = DUMP_TYPE_BITMAP_KERNEL;
  s.ip = 0xFFFFF80470001234ull;
  buf = dw_build(&s, &n);
  ck_assert_int_eq(dump_read(&d, buf, n, "MEMORY.DMP", &err), 0);
  ck_assert_uint_eq(d.dump_type, 6);
  ck_assert_str_eq(dump_type_name(d.dump_type), "bitmap kernel");
  ck_assert_str_eq(d.second_signature, "SDMPDUMP");
  ck_assert_uint_eq(d.bitmap_present_pages, 0x2A);
  ck_assert(!d.has_triage);
  ck_assert_str_eq(d.not_analysed,
                   "bitmap memory dump: header read; memory pages, driver list and stack not analysed");
  emit_counts(&d, &c);
  ck_assert_int_eq(c.images, 0);
  ck_assert_int_eq(c.facts, 1);
  ck_assert_uint_eq(c.fact.code, 0x133);
  ck_assert_uint_eq(c.fact.address, 0xFFFFF80470001234ull);
  ck_assert_uint_eq(c.nframes, 0);
  ck_assert_str_eq(c.subject, "not analysed");
  dump_close(&d);
  free(buf);

  s.dump_type = DUMP_TYPE_FULL;
  buf = dw_build(&s, &n);
  ck_assert_int_eq(dump_read(&d, buf, n, "MEMORY.DMP", &err), 0);
  ck_assert_str_eq(d.not_analysed,
                   "full memory dump: header read; physical memory, driver list and stack not analysed");
  dump_close(&d);
  free(buf);

  s.bits32 = 1;
  s.machine = 0x14C;
  s.params[1] = 0x82001E00;
  buf = dw_build(&s, &n);
  ck_assert_int_eq(dump_read(&d, buf, n, "Mini032.dmp", &err), 0);
  ck_assert_int_eq(d.bits, 32);
  ck_assert_uint_eq(d.bugcheck, 0x133);
  ck_assert_uint_eq(d.params[1], 0x82001E00);
  ck_assert_str_eq(dump_machine_name(d.machine), "x86");
  ck_assert_ptr_nonnull(strstr(d.not_analysed, "32-bit kernel dump"));
  dump_close(&d);
  free(buf);
}
END_TEST

/* A damaged copy of the x64 corpus dump must fail with code, offset and text. */
static void expect_error(const uint8_t *buf, size_t n, int code, uint64_t offset, const char *words) {
  struct dump d;
  struct fb_error err;
  char msg[1200];

  ck_assert_int_eq(dump_read(&d, buf, n, "bad.dmp", &err), code);
  fb_error_format(&err, msg, sizeof(msg));
  ck_assert_msg(strstr(msg, words) != NULL, "message \"%s\" lacks \"%s\"", msg, words);
  ck_assert_msg(err.offset == offset, "offset 0x%llx, expected 0x%llx (%s)", (unsigned long long)err.offset,
                (unsigned long long)offset, msg);
  ck_assert_str_eq(err.file, "bad.dmp");
  dump_close(&d);
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

START_TEST(damaged_dumps_give_clear_errors) {
  size_t n;
  char *orig = tu_read_file(tu_corpus("dumps/rizin-triage_x64.dmp"), &n);
  uint8_t *b = malloc(n);

  ck_assert_ptr_nonnull(orig);
  /* cut inside the header */
  expect_error((uint8_t *)orig, 0x1000, FB_ETRUNC, 0x1000, "kernel dump header is 0x2000 bytes");
  /* cut inside the triage area */
  expect_error((uint8_t *)orig, 0x100000, FB_ETRUNC, 0x100000, "SizeOfDump (at 0x2004) says 0x13a28c bytes");
  /* a driver count no file could hold */
  memcpy(b, orig, n);
  put32(b + 0x2034, 0xFFFFFFF0);
  expect_error(b, n, FB_EFORMAT, 0x2034, "DriverCount 4294967280 is over the limit");
  put32(b + 0x2034, 9000);
  expect_error(b, n, FB_EFORMAT, 0x2030, "driver list at 0x10828 with 9000 entries");
  /* a driver list offset past the triage area */
  memcpy(b, orig, n);
  put32(b + 0x2030, 0x13A000);
  expect_error(b, n, FB_EFORMAT, 0x2030, "runs past the triage area");
  /* a driver name offset outside the file */
  memcpy(b, orig, n);
  put32(b + 0x10828 + 3 * 0x90, 0x7FFFFFF0);
  expect_error(b, n, FB_EFORMAT, 0x10828 + 3 * 0x90, "driver #3 names a string at 0x7ffffff0");
  /* a name length that runs off the end */
  memcpy(b, orig, n);
  {
    uint32_t name_off = fb_le32(b + 0x10828);
    put32(b + name_off, 0x0FFFFFFF);
    expect_error(b, n, FB_EFORMAT, name_off, "name of driver #0 claims 268435455 characters");
  }
  /* validity marker gone */
  memcpy(b, orig, n);
  memcpy(b + 0x13A288, "XXXX", 4);
  expect_error(b, n, FB_EFORMAT, 0x13A288, "no \"TRGD\" validity marker");
  /* unloaded-driver count */
  memcpy(b, orig, n);
  put32(b + 0x20D0, 0x10000);
  expect_error(b, n, FB_EFORMAT, 0x20D0, "unloaded-driver count 65536");
  /* stack copy size and offset */
  memcpy(b, orig, n);
  put32(b + 0x202C, 0x7FFFFFFF);
  expect_error(b, n, FB_EFORMAT, 0x202C, "SizeOfCallStack 0x7fffffff is over the limit");
  memcpy(b, orig, n);
  put32(b + 0x2028, 0x13A100);
  expect_error(b, n, FB_EFORMAT, 0x2028, "stack copy at 0x13a100 (0x2118 bytes) runs past");
  /* not a kernel dump at all */
  expect_error((const uint8_t *)"MDMP\x93\xa7\0\0", 8, FB_EUNSUP, 0, "user-mode minidump");
  expect_error((const uint8_t *)"hello world", 11, FB_EFORMAT, 0, "not a Windows kernel dump");
  /* every prefix of the header area either reads or fails cleanly */
  for (size_t cut = 0; cut < 0x2100; cut += 0x1F) {
    struct dump d;
    struct fb_error err;
    int rc = dump_read(&d, orig, cut, "cut.dmp", &err);
    ck_assert_int_lt(rc, 0);
    dump_close(&d);
  }
  free(b);
  free(orig);
}
END_TEST

START_TEST(dump_open_missing_file) {
  struct dump d;
  struct fb_error err;

  ck_assert_int_eq(dump_open(&d, "/nonexistent/setupmem.dmp", &err), FB_EIO);
  dump_close(&d);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dump");
  TCase *tc = tcase_create("dump");

  tcase_add_test(tc, x64_triage_header_and_triage_area);
  tcase_add_test(tc, x64_triage_evidence);
  tcase_add_test(tc, arm64_triage);
  tcase_add_test(tc, synthetic_seed_case_reads_back);
  tcase_add_test(tc, other_dump_types_report_header_only);
  tcase_add_test(tc, damaged_dumps_give_clear_errors);
  tcase_add_test(tc, dump_open_missing_file);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
