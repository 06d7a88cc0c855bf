/* test_pml_reader.c - the PML reader against the corpus (exact values from
 * ../shared/corpus/pml/MANIFEST.md and Procmon's CSVs), damaged inputs, and
 * the synthetic writer read back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/pml/pml.h"
#include "parsers/pml/pml_csv.h"
#include "tests/pml/pml_writer.h"
#include "tests/testutil.h"

static struct pml_file *open_corpus(const char *name) {
  struct pml_file *f = NULL;
  struct fb_error err;
  char rel[256], buf[1200];

  snprintf(rel, sizeof(rel), "pml/%s", name);
  if (pml_open(&f, tu_corpus(rel), &err) < 0)
    ck_abort_msg("cannot open %s: %s", name, fb_error_format(&err, buf, sizeof(buf)));
  return f;
}

/* ---- header facts of every corpus file (MANIFEST "Files" + "Other header facts") ---- */

static const struct header_fact {
  const char *file;
  uint32_t events, processes, kernel_modules, cpus;
  uint64_t memory, max_user;
  uint32_t major, minor, build;
  unsigned ptr;
  const char *computer, *sp;
} facts[] = {
    {"win10-1709-x64-mixed.pml", 53214, 25, 193, 2, 2146406400ULL, 0x7ffffffeffffULL, 10, 0, 16299, 8,
     "DESKTOP-6PCIALL", ""},
    {"win10-1903-x64-filesystem.pml", 31569, 38, 181, 2, 2146414592ULL, 0x7ffffffeffffULL, 10, 0, 18362, 8,
     "DESKTOP-6PCIALL", ""},
    {"win10-1903-x64-process.pml", 3400, 74, 181, 2, 2146414592ULL, 0x7ffffffeffffULL, 10, 0, 18362, 8,
     "DESKTOP-6PCIALL", ""},
    {"win10-1903-x64-registry.pml.gz", 28240, 35, 181, 2, 2146414592ULL, 0x7ffffffeffffULL, 10, 0, 18362, 8,
     "DESKTOP-6PCIALL", ""},
    {"win10-1909-x64-cldflt-readfile.pml", 717, 6, 216, 16, 34307956736ULL, 0x7ffffffeffffULL, 10, 0, 18363,
     8, "DESKTOP-P9GK90E", ""},
    {"win10-22h2-x64-covefs.pml", 587, 3, 223, 4, 17128075264ULL, 0x7ffffffeffffULL, 10, 0, 19045, 8,
     "DESKTOP-QFV0G6C", ""},
    {"win7-sp1-x64-createfile-denied.pml", 1250, 2, 227, 4, 8553893888ULL, 0x7fffffeffffULL, 6, 1, 7601, 8,
     "DESKTOP-PC", "Service Pack 1"},
    {"win7-sp1-x64-profiling.pml", 13465, 57, 198, 2, 6441918464ULL, 0x7fffffeffffULL, 6, 1, 7601, 8,
     "ESEUSKRW76401", "Service Pack 1"},
    {"win7-sp1-x86-filesystem.pml", 8577, 65, 197, 1, 2146951168ULL, 0x7ffeffffULL, 6, 1, 7601, 4,
     "FUCKFUCKFUCKFUC", "Service Pack 1"},
    {"win7-sp1-x86-mixed.pml", 32930, 31, 196, 1, 2146951168ULL, 0x7ffeffffULL, 6, 1, 7601, 4,
     "WIN-5V8CQK0CP5H", "Service Pack 1"},
};

START_TEST(header_facts) {
  const struct header_fact *x = &facts[_i];
  struct pml_file *f = open_corpus(x->file);
  const struct pml_header *h = pml_header(f);
  struct pml_event ev;
  struct fb_error err;

  ck_assert_uint_eq(h->version, 9);
  ck_assert_uint_eq(h->event_count, x->events);
  ck_assert_uint_eq(pml_process_count(f), x->processes);
  ck_assert_ptr_nonnull(pml_system_process(f));
  ck_assert_uint_eq(pml_system_process(f)->pid, 4);
  ck_assert_uint_eq(pml_system_process(f)->module_count, x->kernel_modules);
  ck_assert_uint_eq(h->cpus, x->cpus);
  ck_assert_uint_eq(h->memory, x->memory);
  ck_assert_uint_eq(h->max_user_address, x->max_user);
  ck_assert_uint_eq(h->os_major, x->major);
  ck_assert_uint_eq(h->os_minor, x->minor);
  ck_assert_uint_eq(h->os_build, x->build);
  ck_assert_uint_eq(h->platform_id, 2);
  ck_assert_uint_eq(h->ptr_size, x->ptr);
  ck_assert_str_eq(h->computer, x->computer);
  ck_assert_str_eq(h->service_pack, x->sp);
  ck_assert_uint_eq(h->events_offset, 0x3A8);
  /* Tables in the order events < offsets < processes < strings < icons < hosts. */
  ck_assert_uint_lt(h->offsets_array_offset, h->process_table_offset);
  ck_assert_uint_lt(h->process_table_offset, h->string_table_offset);
  ck_assert_uint_lt(h->string_table_offset, h->icon_table_offset);
  ck_assert_uint_lt(h->icon_table_offset, h->hosts_offset);
  ck_assert_uint_eq(h->process_table_offset - h->offsets_array_offset, 5ULL * x->events);
  /* Every event reads; modules are sorted by base. */
  for (uint32_t i = 0; i < h->event_count; i++)
    ck_assert_int_eq(pml_event_read(f, i, &ev, &err), 0);
  for (uint32_t p = 0; p < pml_process_count(f); p++) {
    const struct pml_process *pr = pml_process_at(f, p);
    for (uint32_t m = 1; m < pr->module_count; m++)
      ck_assert_uint_le(pr->modules[m - 1].base, pr->modules[m].base);
  }
  pml_close(f);
}
END_TEST

/* ---- first and last events (values agree with Procmon's CSV rows) ---- */

static const struct event_fact {
  const char *file;
  uint32_t index, pid, tid, event_class;
  uint16_t operation;
  uint64_t duration, time;
  uint32_t result;
  uint16_t depth;
} events[] = {
    /* 2020-07-12 01:18:10.7752429 UTC, dwm.exe RegQueryValue, duration 0.0000074 */
    {"win10-1709-x64-mixed.pml", 0, 932, 1568, 2, 5, 74, 132389902907752429ULL, 0, 18},
    {"win10-1709-x64-mixed.pml", 53213, 4876, 3560, 1, 4, 0, 132389903033314099ULL, 0, 9},
    /* ctfmon.exe QueryOpen FAST IO DISALLOWED at 07:19:37.0147934 */
    {"win10-1903-x64-filesystem.pml", 0, 3524, 3588, 3, 6, 112, 132406535770147934ULL, 0xC01C0004, 51},
    {"win10-1903-x64-filesystem.pml", 31568, 6988, 6000, 3, 32, 135, 132406536691328193ULL, 0x80000006, 60},
    {"win10-1903-x64-registry.pml.gz", 0, 496, 6772, 2, 3, 110, 132406540517947753ULL, 0, 18},
    {"win10-1903-x64-registry.pml.gz", 28239, 2660, 2076, 2, 5, 138, 132406541426731119ULL, 0xC0000034, 82},
    {"win7-sp1-x86-mixed.pml", 0, 1320, 1408, 2, 3, 48, 132389587943062614ULL, 0, 35},
    {"win7-sp1-x86-mixed.pml", 32929, 2276, 2456, 3, 24, 763, 132389588083240685ULL, 0, 27},
    {"win7-sp1-x86-filesystem.pml", 0, 1364, 1720, 3, 32, 161, 132406521070236729ULL, 0, 19},
    {"win7-sp1-x86-filesystem.pml", 8576, 1364, 1196, 3, 6, 236, 132406524235461851ULL, 0xC01C0004, 32},
    {"win10-1909-x64-cldflt-readfile.pml", 0, 27444, 22896, 3, 20, 427, 132245196135475530ULL, 0, 65},
    {"win10-1909-x64-cldflt-readfile.pml", 716, 4316, 264, 3, 38, 61, 132245196165564231ULL, 0, 16},
    {"win7-sp1-x64-createfile-denied.pml", 0, 1760, 3792, 1, 5, 0, 134183142134359846ULL, 0, 6},
    /* the first ACCESS DENIED: 13:30:15.2798287 UTC, 0.0000355 s */
    {"win7-sp1-x64-createfile-denied.pml", 1232, 1760, 3792, 3, 20, 355, 134183142152798287ULL, 0xC0000022,
     31},
    {"win7-sp1-x64-createfile-denied.pml", 1249, 1760, 3792, 3, 20, 287, 134183142756413815ULL, 0xC0000022,
     10},
};

START_TEST(first_last_events) {
  const struct event_fact *x = &events[_i];
  struct pml_file *f = open_corpus(x->file);
  struct pml_event ev;
  struct fb_error err;

  ck_assert_int_eq(pml_event_read(f, x->index, &ev, &err), 0);
  ck_assert_ptr_nonnull(ev.process);
  ck_assert_uint_eq(ev.process->pid, x->pid);
  ck_assert_uint_eq(ev.tid, x->tid);
  ck_assert_uint_eq(ev.event_class, x->event_class);
  ck_assert_uint_eq(ev.operation, x->operation);
  ck_assert_uint_eq(ev.duration, x->duration);
  ck_assert_uint_eq(ev.time, x->time);
  ck_assert_uint_eq(ev.result, x->result);
  ck_assert_uint_eq(ev.stack_depth, x->depth);
  /* One past the end is refused. */
  ck_assert_int_eq(pml_event_read(f, pml_header(f)->event_count, &ev, &err), FB_EFORMAT);
  pml_close(f);
}
END_TEST

START_TEST(event_zero_strings) {
  struct pml_file *f = open_corpus("win10-1709-x64-mixed.pml");
  struct pml_event ev;
  struct fb_error err;
  struct pml_csv_options o;
  struct pml_csv *csv;
  struct fb_strbuf s;

  ck_assert_int_eq(pml_event_read(f, 0, &ev, &err), 0);
  ck_assert_str_eq(ev.process->name, "dwm.exe");
  ck_assert_str_eq(ev.process->image_path, "C:\\Windows\\system32\\dwm.exe");
  ck_assert_str_eq(ev.process->user, "Window Manager\\DWM-1");
  ck_assert_str_eq(ev.process->command_line, "\"dwm.exe\"");
  ck_assert_uint_eq(ev.process->auth_id, 0xfde3);
  ck_assert_uint_eq(ev.process->parent_pid, 572);
  pml_csv_options_default(&o);
  ck_assert_int_eq(pml_csv_columns_parse(&o, "all", NULL, 0), 0);
  csv = pml_csv_new(f, &o);
  fb_strbuf_init(&s);
  pml_csv_field(csv, &ev, PML_COL_TIME_OF_DAY, &s);
  ck_assert_str_eq(s.s, "1:18:10.7752429 AM");
  fb_strbuf_reset(&s);
  pml_csv_field(csv, &ev, PML_COL_DATE_TIME, &s);
  ck_assert_str_eq(s.s, "7/12/2020 1:18:10 AM");
  fb_strbuf_reset(&s);
  pml_csv_field(csv, &ev, PML_COL_COMPLETION_TIME, &s);
  ck_assert_str_eq(s.s, "1:18:10.7752503 AM");
  fb_strbuf_reset(&s);
  pml_csv_field(csv, &ev, PML_COL_AUTH_ID, &s);
  ck_assert_str_eq(s.s, "00000000:0000fde3");
  fb_strbuf_free(&s);
  pml_csv_free(csv);
  pml_close(f);
}
END_TEST

/* ---- counts per operation (procmon-parser's counts in pml_corpus_facts) ---- */

START_TEST(operation_counts) {
  struct pml_file *f = open_corpus("win10-1709-x64-mixed.pml");
  static uint32_t count[6][64];
  uint32_t classes[6] = {0};
  struct pml_event ev;
  struct fb_error err;

  memset(count, 0, sizeof(count));
  for (uint32_t i = 0; i < pml_header(f)->event_count; i++) {
    ck_assert_int_eq(pml_event_read(f, i, &ev, &err), 0);
    ck_assert_uint_lt(ev.event_class, 6);
    classes[ev.event_class]++;
    if (ev.operation < 64)
      count[ev.event_class][ev.operation]++;
  }
  ck_assert_uint_eq(classes[PML_CLASS_REGISTRY], 46030);
  ck_assert_uint_eq(classes[PML_CLASS_FILE_SYSTEM], 6795);
  ck_assert_uint_eq(classes[PML_CLASS_PROCESS], 253);
  ck_assert_uint_eq(classes[PML_CLASS_NETWORK], 136);
  ck_assert_uint_eq(count[2][3], 17747); /* RegQueryKey */
  ck_assert_uint_eq(count[2][0], 14177); /* RegOpenKey */
  ck_assert_uint_eq(count[2][5], 7443);  /* RegQueryValue */
  ck_assert_uint_eq(count[2][2], 4862);  /* RegCloseKey */
  ck_assert_uint_eq(count[3][23], 1381); /* ReadFile */
  ck_assert_uint_eq(count[3][20], 1076); /* CreateFile */
  ck_assert_uint_eq(count[3][38], 944);  /* CloseFile */
  ck_assert_uint_eq(count[2][7], 810);   /* RegEnumKey */
  ck_assert_uint_eq(count[2][6], 483);   /* RegEnumValue */
  ck_assert_uint_eq(count[3][33], 425);  /* FileSystemControl */
  ck_assert_uint_eq(count[2][8], 326);   /* RegSetInfoKey */
  pml_close(f);
}
END_TEST

/* ---- stacks ---- */

static void frame_str(struct pml_file *f, const struct pml_event *ev, uint32_t i, char *out, size_t n) {
  struct ev_frame fr;
  pml_frame_resolve(f, ev, i, &fr);
  if (fr.module)
    snprintf(out, n, "%s+0x%llx", fr.module, (unsigned long long)fr.offset);
  else
    snprintf(out, n, "0x%llx", (unsigned long long)fr.addr);
}

static void assert_frames(struct pml_file *f, uint32_t index, uint32_t first, const char *const *want,
                          int n) {
  struct pml_event ev;
  struct fb_error err;
  char got[256];

  ck_assert_int_eq(pml_event_read(f, index, &ev, &err), 0);
  for (int i = 0; i < n; i++) {
    frame_str(f, &ev, first + (uint32_t)i, got, sizeof(got));
    ck_assert_str_eq(got, want[i]);
  }
}

START_TEST(stack_access_denied) {
  static const char *const want[] = {"fltmgr.sys+0x2067",
                                     "fltmgr.sys+0x49aa",
                                     "fltmgr.sys+0x222a3",
                                     "ntoskrnl.exe+0x4e83e2",
                                     "ntoskrnl.exe+0x40eed4",
                                     "ntoskrnl.exe+0x2f5d76",
                                     "ntoskrnl.exe+0x4b62b8",
                                     "ntoskrnl.exe+0x34a0f4",
                                     "ntoskrnl.exe+0xa1eb9",
                                     "ntdll.dll+0x69dda",
                                     "KernelBase.dll+0x60d6",
                                     "kernel32.dll+0x10acd",
                                     "readyornotsteam-win64-shipping.exe+0xca238d"};
  struct pml_file *f = open_corpus("win7-sp1-x64-createfile-denied.pml");
  struct pml_event ev;
  struct fb_error err;
  struct ev_frame fr;

  assert_frames(f, 1232, 0, want, 13);
  ck_assert_int_eq(pml_event_read(f, 1232, &ev, &err), 0);
  pml_frame_resolve(f, &ev, 8, &fr);
  ck_assert_int_eq(fr.kernel, 1);
  ck_assert_uint_eq(fr.addr, 0xfffff80003105eb9ULL);
  pml_frame_resolve(f, &ev, 9, &fr);
  ck_assert_int_eq(fr.kernel, 0);
  ck_assert_uint_eq(fr.addr, 0x77649dda);
  pml_frame_resolve(f, &ev, ev.stack_depth, &fr); /* past the end: empty */
  ck_assert_ptr_null(fr.module);
  ck_assert_uint_eq(fr.addr, 0);
  pml_close(f);
}
END_TEST

START_TEST(stack_cldflt_nested) {
  /* cldflt.sys's own create between two FltMgr runs (MANIFEST). */
  static const char *const want[] = {"ntoskrnl.exe+0x857b73", "FLTMGR.SYS+0x18063", "cldflt.sys+0x15d59",
                                     "cldflt.sys+0x7923",     "cldflt.sys+0x5f77d", "cldflt.sys+0x60019",
                                     "FLTMGR.SYS+0x4a5c"};
  static const char *const wow[] = {"ntdll.dll+0x9cb64", "wow64.dll+0x4dc5"};
  struct pml_file *f = open_corpus("win10-1909-x64-cldflt-readfile.pml");

  assert_frames(f, 0, 8, want, 7);
  assert_frames(f, 0, 25, wow, 2);
  pml_close(f);
}
END_TEST

START_TEST(stack_x86_kernel_resolves) {
  /* Every kernel frame of every File System event resolves (32-bit file). */
  struct pml_file *f = open_corpus("win7-sp1-x86-filesystem.pml");
  struct pml_event ev;
  struct fb_error err;
  struct ev_frame fr;
  uint64_t kernel = 0, fltmgr_first = 0, with_stack = 0;

  for (uint32_t i = 0; i < pml_header(f)->event_count; i++) {
    ck_assert_int_eq(pml_event_read(f, i, &ev, &err), 0);
    for (uint32_t k = 0; k < ev.stack_depth; k++) {
      pml_frame_resolve(f, &ev, k, &fr);
      if (fr.kernel) {
        kernel++;
        ck_assert_ptr_nonnull(fr.module);
      }
      if (k == 0 && ev.event_class == PML_CLASS_FILE_SYSTEM) {
        with_stack++;
        fltmgr_first += fr.module && strcasecmp(fr.module, "fltmgr.sys") == 0;
      }
    }
  }
  ck_assert_uint_eq(with_stack, fltmgr_first); /* frame 0 is always FltMgr */
  ck_assert_uint_gt(kernel, 0);
  pml_close(f);
}
END_TEST

/* ---- 78 events followed by a spare byte (win7-sp1-x86-filesystem) ---- */

START_TEST(spare_byte_events) {
  struct pml_file *f = open_corpus("win7-sp1-x86-filesystem.pml");
  struct pml_event ev, next;
  struct fb_error err;
  uint32_t spare = 0, n = pml_header(f)->event_count;

  for (uint32_t i = 0; i + 1 < n; i++) {
    uint64_t end;
    ck_assert_int_eq(pml_event_read(f, i, &ev, &err), 0);
    ck_assert_int_eq(pml_event_read(f, i + 1, &next, &err), 0);
    end = ev.offset + 0x34 + ev.stack_depth * 4ULL + ev.detail_size + (ev.extra ? 2ULL + ev.extra_size : 0);
    if (next.offset != end) {
      ck_assert_uint_eq(next.offset, end + 1);
      ck_assert_uint_eq(ev.operation, 32); /* DirectoryControl */
      ck_assert_uint_eq(ev.extra_size % 2, 1);
      spare++;
    }
  }
  ck_assert_uint_eq(spare, 78);
  pml_close(f);
}
END_TEST

/* ---- .pml.gz ---- */

START_TEST(gzip_capture) {
  struct pml_file *f = open_corpus("win10-1903-x64-registry.pml.gz");
  const struct pml_header *h = pml_header(f);

  ck_assert_uint_eq(h->event_count, 28240);
  /* inflated size 13632640: the hosts table runs to the end */
  ck_assert_uint_lt(h->hosts_offset, 13632640);
  ck_assert_uint_gt(h->hosts_offset, 13632640 - 4096);
  pml_close(f);
}
END_TEST

/* ---- evidence ---- */

struct ev_count {
  uint32_t processes, images, file_ops, denied, pending, with_fltmgr;
  struct ev_file_op denied_op;
  char denied_path[512], frames[4][64];
  uint32_t images_kernel;
};

static int on_process(void *ctx, const struct ev_process *r) {
  struct ev_count *c = ctx;
  c->processes++;
  ck_assert_str_eq(r->origin.format, "pml");
  return 0;
}

static int on_image(void *ctx, const struct ev_image *r) {
  struct ev_count *c = ctx;
  c->images++;
  c->images_kernel += r->kernel == 1 && r->pid == 4;
  return 0;
}

static int on_file_op(void *ctx, const struct ev_file_op *r) {
  struct ev_count *c = ctx;
  c->file_ops++;
  c->pending += !r->status_known;
  if (r->stack.count > 0 && r->stack.frames[0].module &&
      strcasecmp(r->stack.frames[0].module, "fltmgr.sys") == 0)
    c->with_fltmgr++;
  if (r->status == 0xC0000022 && c->denied++ == 0) {
    c->denied_op = *r;
    snprintf(c->denied_path, sizeof(c->denied_path), "%s", r->path ? r->path : "");
    for (int i = 0; i < 4 && (uint32_t)i < r->stack.count; i++)
      snprintf(c->frames[i], sizeof(c->frames[i]), "%s+0x%llx", r->stack.frames[i].module,
               (unsigned long long)r->stack.frames[i].offset);
  }
  return 0;
}

START_TEST(evidence_createfile_denied) {
  struct pml_file *f = open_corpus("win7-sp1-x64-createfile-denied.pml");
  struct ev_count c;
  struct ev_sink sink = {0};
  struct fb_error err;

  memset(&c, 0, sizeof(c));
  sink.ctx = &c;
  sink.process = on_process;
  sink.image = on_image;
  sink.file_op = on_file_op;
  ck_assert_int_eq(pml_emit_evidence(f, &sink, &err), 0);
  ck_assert_uint_eq(c.processes, 2);
  ck_assert_uint_eq(c.images, 227);
  ck_assert_uint_eq(c.images_kernel, 227);
  ck_assert_uint_eq(c.file_ops, 1114);
  ck_assert_uint_eq(c.denied, 4);
  ck_assert_uint_eq(c.denied_op.origin.index, 1232);
  ck_assert_uint_eq(c.denied_op.origin.offset, 0x98ec8);
  ck_assert_int_eq(c.denied_op.kind, EV_FOP_CREATE);
  ck_assert_uint_eq(c.denied_op.pid, 1760);
  ck_assert_uint_eq(c.denied_op.tid, 3792);
  ck_assert_uint_eq(c.denied_op.duration, 355);
  ck_assert_int_eq(c.denied_op.status_known, 1);
  /* Detail: Desired Access: Generic Write, Read Attributes, Disposition:
   * OverwriteIf, Options: Synchronous IO Non-Alert, Non-Directory File,
   * Attributes: N, ShareMode: None; no OpenResult. */
  /* Procmon stores the access mask after GENERIC_* mapping: Generic Write
   * (0x120116) | Read Attributes (0x80). */
  ck_assert_uint_eq(c.denied_op.desired_access, 0x120196);
  ck_assert_uint_eq(c.denied_op.disposition, 5);
  ck_assert_uint_eq(c.denied_op.create_options, 0x60);
  ck_assert_uint_eq(c.denied_op.attributes, 0x80);
  ck_assert_uint_eq(c.denied_op.share_access, 0);
  ck_assert_uint_eq(c.denied_op.open_result, EV_UNKNOWN_U32);
  ck_assert_str_eq(c.frames[0], "fltmgr.sys+0x2067");
  ck_assert_str_eq(c.frames[1], "fltmgr.sys+0x49aa");
  ck_assert_str_eq(c.frames[2], "fltmgr.sys+0x222a3");
  ck_assert_str_eq(c.frames[3], "ntoskrnl.exe+0x4e83e2");
  pml_close(f);
}
END_TEST

START_TEST(evidence_pending_and_fltmgr) {
  /* 7 pending events (0x103) in the 1903 file-system capture; every stacked
   * File System event starts in FltMgr. */
  struct pml_file *f = open_corpus("win10-1903-x64-filesystem.pml");
  struct ev_count c;
  struct ev_sink sink = {0};
  struct fb_error err;

  memset(&c, 0, sizeof(c));
  sink.ctx = &c;
  sink.file_op = on_file_op;
  ck_assert_int_eq(pml_emit_evidence(f, &sink, &err), 0);
  ck_assert_uint_eq(c.file_ops, 31569);
  ck_assert_uint_eq(c.pending, 7);
  ck_assert_uint_gt(c.with_fltmgr, 0);
  pml_close(f);
}
END_TEST

static int stop_at_first(void *ctx, const struct ev_file_op *r) {
  (void)ctx;
  (void)r;
  return 1;
}

START_TEST(evidence_stop) {
  struct pml_file *f = open_corpus("win10-22h2-x64-covefs.pml");
  struct ev_sink sink = {0};
  struct fb_error err;

  sink.file_op = stop_at_first;
  ck_assert_int_eq(pml_emit_evidence(f, &sink, &err), FB_ESTOP);
  pml_close(f);
}
END_TEST

/* ---- damaged inputs: exact messages with offsets ---- */

static uint8_t *load_denied(size_t *size) {
  uint8_t *d = (uint8_t *)tu_read_file(tu_corpus("pml/win7-sp1-x64-createfile-denied.pml"), size);
  ck_assert_ptr_nonnull(d);
  ck_assert_uint_eq(*size, 776738);
  return d;
}

static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static void expect_open_error(const uint8_t *d, size_t size, int code, const char *want) {
  struct pml_file *f = NULL;
  struct fb_error err;
  char buf[1200];

  ck_assert_int_eq(pml_open_memory(&f, d, size, "damaged.pml", &err), code);
  ck_assert_ptr_null(f);
  ck_assert_str_eq(fb_error_format(&err, buf, sizeof(buf)), want);
}

START_TEST(damaged_truncated) {
  size_t size;
  uint8_t *d = load_denied(&size);

  expect_open_error(d, 0x100, FB_ETRUNC,
                    "damaged.pml: offset 0 (0x0): file is 256 bytes, shorter than the 0x3A8-byte PML header");
  /* Cut inside the events: the offsets array lies beyond the end. */
  expect_open_error(
      d, 0x50000, FB_ETRUNC,
      "damaged.pml: offset 584 (0x248): event offsets array offset 0x9afb8 lies outside the file "
      "(header 0x3a8 .. size 0x50000)");
  /* Cut inside the string table. */
  expect_open_error(
      d, 0xa2400, FB_ETRUNC,
      "damaged.pml: offset 608 (0x260): icon table offset 0xb0012 lies outside the file (header "
      "0x3a8 .. size 0xa2400)");
  /* Cut inside the hosts/ports tables (1 byte short of the end). */
  expect_open_error(
      d, size - 1, FB_ETRUNC,
      "damaged.pml: offset 776722 (0xbda12): ports table entry 1826: name length 12 runs past the end");
  free(d);
}
END_TEST

START_TEST(damaged_header) {
  size_t size;
  uint8_t *d = load_denied(&size);

  d[0] = 'X';
  expect_open_error(d, size, FB_EFORMAT,
                    "damaged.pml: offset 0 (0x0): not a Procmon capture: signature is not 'PML_'");
  d[0] = 'P';
  d[4] = 10;
  expect_open_error(d, size, FB_EUNSUP,
                    "damaged.pml: offset 4 (0x4): PML format version 10; only version 9 is known");
  d[4] = 9;
  /* Bit flip in the string table offset (bit 30). */
  d[0x258 + 3] ^= 0x40;
  expect_open_error(
      d, size, FB_ETRUNC,
      "damaged.pml: offset 600 (0x258): string table offset 0x400a23ce lies outside the file (header "
      "0x3a8 .. size 0xbda22)");
  d[0x258 + 3] ^= 0x40;
  /* Bit flip in the process table offset that still lands inside the file. */
  d[0x250 + 2] ^= 0x01; /* 0x9c822 -> 0x8c822: inside the events */
  {
    struct pml_file *f = NULL;
    struct fb_error err;
    int rc = pml_open_memory(&f, d, size, "damaged.pml", &err);
    ck_assert_int_lt(rc, 0); /* garbage counts are refused, whatever they are */
    ck_assert_ptr_null(f);
    ck_assert_uint_ne(err.offset, FB_OFFSET_NONE);
  }
  free(d);
}
END_TEST

START_TEST(damaged_counts) {
  size_t size;
  uint8_t *d = load_denied(&size);

  put_le32(d + 0x234, 0x7fffffff);
  expect_open_error(
      d, size, FB_ETRUNC,
      "damaged.pml: offset 564 (0x234): header announces 2147483647 events; their offsets (10737418235 "
      "bytes at 0x9afb8) run past the end of the file (size 0xbda22)");
  put_le32(d + 0x234, 1250);
  put_le32(d + 0x9c822, 0x10000000); /* process count */
  expect_open_error(
      d, size, FB_ETRUNC,
      "damaged.pml: offset 641058 (0x9c822): process table announces 268435456 processes, more than "
      "the file holds");
  put_le32(d + 0x9c822, 2);
  put_le32(d + 0xa23ce, 0xfffffff0); /* string count */
  expect_open_error(
      d, size, FB_ETRUNC,
      "damaged.pml: offset 664526 (0xa23ce): string table announces 4294967280 strings, more than the "
      "file holds");
  put_le32(d + 0xa23ce, 765);
  {
    /* Every string entry pointing at one 64 KB string: entries share bytes. */
    uint8_t *saved = malloc(765 * 4);
    uint32_t one =
        (uint32_t)(d[0xa23ce + 8] | d[0xa23ce + 9] << 8 | d[0xa23ce + 10] << 16 | d[0xa23ce + 11] << 24);
    memcpy(saved, d + 0xa23ce + 4, 765 * 4);
    for (int i = 0; i < 765; i++)
      put_le32(d + 0xa23ce + 4 + 4 * i, one);
    put_le32(d + 0xa23ce + one, 0x10000);
    expect_open_error(
        d, size, FB_EFORMAT,
        "damaged.pml: offset 664526 (0xa23ce): string table: 765 strings hold 50135040 bytes, more "
        "than the file");
    free(d);
    d = load_denied(&size); /* fresh copy */
    free(saved);
  }
  put_le32(d + 0xb0722, 0x01000000); /* hosts count */
  expect_open_error(
      d, size, FB_EFORMAT,
      "damaged.pml: offset 722722 (0xb0722): hosts table announces 16777216 entries, more than the "
      "file holds");
  free(d);
}
END_TEST

START_TEST(damaged_events) {
  size_t size;
  uint8_t *d = load_denied(&size);
  struct pml_file *f = NULL;
  struct pml_event ev;
  struct fb_error err;
  char buf[1200];

  put_le32(d + 0x9afb8 + 5 * 5, 0xfffffff0); /* event 5's offset */
  put_le32(d + 0x9ae99 + 0x28, 0xffff);      /* last event: stack depth 65535 (u16) + next u16 */
  put_le32(d + 0x98ec8 + 0x2C, 0x7fffffff);  /* event 1232: detail size */
  ck_assert_int_eq(pml_open_memory(&f, d, size, "damaged.pml", &err), 0);
  ck_assert_int_eq(pml_event_read(f, 5, &ev, &err), FB_EFORMAT);
  ck_assert_str_eq(
      fb_error_format(&err, buf, sizeof(buf)),
      "damaged.pml: offset 634833 (0x9afd1): event 5: offset 0xfffffff0 lies outside the file (size "
      "0xbda22)");
  ck_assert_int_eq(pml_event_read(f, 1249, &ev, &err), FB_ETRUNC);
  ck_assert_str_eq(
      fb_error_format(&err, buf, sizeof(buf)),
      "damaged.pml: offset 634561 (0x9aec1): event 1249: stack of 65535 frames runs past the end of "
      "the file");
  ck_assert_int_eq(pml_event_read(f, 1232, &ev, &err), FB_ETRUNC);
  ck_assert_str_eq(
      fb_error_format(&err, buf, sizeof(buf)),
      "damaged.pml: offset 626420 (0x98ef4): event 1232: detail of 2147483647 bytes runs past the end "
      "of the file");
  ck_assert_int_eq(pml_event_read(f, 4, &ev, &err), 0); /* the rest still reads */
  /* Evidence stops at the first bad event with its message. */
  {
    struct ev_sink sink = {0};
    struct ev_count c;
    memset(&c, 0, sizeof(c));
    sink.ctx = &c;
    sink.file_op = on_file_op;
    ck_assert_int_eq(pml_emit_evidence(f, &sink, &err), FB_EFORMAT);
    ck_assert_uint_eq(err.offset, 0x9afd1);
  }
  pml_close(f);
  free(d);
}
END_TEST

START_TEST(damaged_gzip) {
  size_t size;
  char *gz = tu_read_file(tu_corpus("pml/win10-1903-x64-registry.pml.gz"), &size);
  char path[4200], buf[1200], want[4400];
  struct pml_file *f = NULL;
  struct fb_error err;
  FILE *out;

  ck_assert_ptr_nonnull(gz);
  snprintf(path, sizeof(path), "%s/half.pml.gz", tu_tmpdir());
  out = fopen(path, "wb");
  ck_assert_ptr_nonnull(out);
  ck_assert_uint_eq(fwrite(gz, 1, 600000, out), 600000);
  fclose(out);
  ck_assert_int_eq(pml_open(&f, path, &err), FB_ETRUNC);
  ck_assert_ptr_null(f);
  snprintf(want, sizeof(want), "%s: offset 600000 (0x927c0): gzip stream ends early (", path);
  ck_assert_int_eq(strncmp(fb_error_format(&err, buf, sizeof(buf)), want, strlen(want)), 0);
  free(gz);
}
END_TEST

START_TEST(truncate_everywhere) {
  /* Every cut of a small capture is refused or read without a fault. */
  uint8_t *d = NULL;
  size_t size = 0;
  ck_assert_int_eq(pmlw_build_example(NULL, &d, &size), 0);
  for (size_t cut = 0; cut < size; cut += 7) {
    struct pml_file *f = NULL;
    struct fb_error err;
    uint8_t *copy = malloc(cut ? cut : 1);
    memcpy(copy, d, cut);
    if (pml_open_memory(&f, copy, cut, "cut", &err) == 0) {
      struct pml_event ev;
      for (uint32_t i = 0; i < pml_header(f)->event_count; i++)
        (void)pml_event_read(f, i, &ev, &err);
      pml_close(f);
    } else {
      ck_assert_uint_ne(err.offset, FB_OFFSET_NONE);
      ck_assert_int_ne(err.msg[0], '\0');
    }
    free(copy);
  }
  free(d);
}
END_TEST

/* ---- the synthetic writer, read back ---- */

START_TEST(writer_roundtrip) {
  uint8_t *d = NULL;
  size_t size = 0;
  struct pml_file *f = NULL;
  struct fb_error err;
  struct pml_event ev;
  const struct pml_header *h;
  const struct pml_process *sys, *tiw;
  struct ev_count c;
  struct ev_sink sink = {0};
  static const char *const nested[] = {
      "FLTMGR.SYS+0x4a5c",     "FLTMGR.SYS+0x45a0",      "FLTMGR.SYS+0x3cd13",     "ntoskrnl.exe+0x31f79",
      "ntoskrnl.exe+0x5e61eb", "FLTMGR.SYS+0x18063",     "ContosoFlt.sys+0x15d59", "ContosoFlt.sys+0x7923",
      "FLTMGR.SYS+0x4a5c",     "FLTMGR.SYS+0x45a0",      "ntoskrnl.exe+0x31f79",   "ntoskrnl.exe+0x6305b9",
      "ntdll.dll+0x9cb64",     "KERNELBASE.dll+0x2f167", "TiWorker.exe+0x12345"};

  ck_assert_int_eq(pmlw_build_example(NULL, &d, &size), 0);
  ck_assert_int_eq(pml_open_memory(&f, d, size, "example.pml", &err), 0);
  h = pml_header(f);
  ck_assert_uint_eq(h->event_count, PMLW_EXAMPLE_EVENTS);
  ck_assert_str_eq(h->computer, "FLTBLAME-DEMO");
  ck_assert_str_eq(h->system_root, "C:\\Windows");
  ck_assert_uint_eq(h->os_build, 19045);
  ck_assert_uint_eq(h->cpus, 4);
  ck_assert_uint_eq(h->memory, 17128075264ULL);
  ck_assert_uint_eq(h->ptr_size, 8);
  ck_assert_uint_eq(pml_process_count(f), 2);
  sys = pml_system_process(f);
  ck_assert_ptr_nonnull(sys);
  ck_assert_uint_eq(sys->module_count, 5);
  ck_assert_str_eq(sys->modules[0].name, "FLTMGR.SYS"); /* sorted by base */
  ck_assert_str_eq(sys->modules[2].name, "ContosoFlt.sys");
  ck_assert_str_eq(sys->modules[2].company, "Contoso Security Ltd.");
  ck_assert_str_eq(sys->modules[2].version, "4.2.0.17");
  ck_assert_str_eq(sys->modules[2].path, "\\SystemRoot\\System32\\drivers\\ContosoFlt.sys");
  tiw = pml_process_at(f, 1);
  ck_assert_str_eq(tiw->name, "TiWorker.exe");
  ck_assert_uint_eq(tiw->pid, 4242);
  ck_assert_uint_eq(tiw->parent_pid, 4);
  ck_assert_uint_eq(tiw->parent_index, 0);
  ck_assert_str_eq(tiw->description, "Windows Modules Installer Worker");
  ck_assert_str_eq(pml_host_name(f, (const uint8_t[16]){10, 0, 0, 5}, 1), "fileserver.contoso.test");
  ck_assert_str_eq(pml_port_name(f, 445, 1), "microsoft-ds");
  ck_assert_ptr_null(pml_port_name(f, 445, 0));
  ck_assert_int_eq(pml_event_read(f, PMLW_EXAMPLE_DENIED_EVENT, &ev, &err), 0);
  ck_assert_uint_eq(ev.result, 0xC0000022);
  ck_assert_uint_eq(ev.operation, 20);
  ck_assert_uint_eq(ev.event_class, PML_CLASS_FILE_SYSTEM);
  ck_assert_uint_eq(ev.tid, 5120);
  ck_assert_uint_eq(ev.stack_depth, 15);
  for (uint32_t i = 0; i < 15; i++) {
    char got[128];
    frame_str(f, &ev, i, got, sizeof(got));
    ck_assert_str_eq(got, nested[i]);
  }
  memset(&c, 0, sizeof(c));
  sink.ctx = &c;
  sink.file_op = on_file_op;
  sink.image = on_image;
  ck_assert_int_eq(pml_emit_evidence(f, &sink, &err), 0);
  ck_assert_uint_eq(c.file_ops, PMLW_EXAMPLE_EVENTS);
  ck_assert_uint_eq(c.images, 5);
  ck_assert_uint_eq(c.denied, 2);
  ck_assert_uint_eq(c.pending, 1);
  ck_assert_uint_eq(c.denied_op.desired_access, 0x120196);
  ck_assert_uint_eq(c.denied_op.disposition, 5);
  ck_assert_uint_eq(c.denied_op.create_options, 0x60);
  ck_assert_uint_eq(c.denied_op.attributes, 0x80);
  ck_assert_uint_eq(c.denied_op.share_access, 0);
  ck_assert_uint_eq(c.denied_op.open_result, EV_UNKNOWN_U32);
  /* Event 0 opened a file with a Chinese name: UTF-16 round trip. */
  ck_assert_int_eq(pml_event_read(f, 0, &ev, &err), 0);
  ck_assert_uint_eq(ev.extra_size, 4);
  pml_close(f);
  free(d);
}
END_TEST

/* Events are read from a file through a 256 KiB window (fb_view_bytes):
 * events straddling its end, one larger than it (300 000 bytes of detail,
 * served from the mapping) and extras must read exactly as from memory. */
START_TEST(window_reads_as_memory) {
  char path[4200];
  uint8_t *mem, *big;
  size_t msize = 0;
  struct pmlw_system sys = {1, "AMD64", "C:\\Windows", 10, 0, 19045, "", 2, 1ULL << 33};
  struct pmlw_process p = {0};
  struct pmlw *w;
  struct pmlw_event e = {0};
  uint64_t stack[3] = {0xfffff80000001000ULL, 0xfffff80000002000ULL, 0x00401000ULL};
  uint8_t extra[5] = {9, 8, 7, 6, 5};
  struct pml_file *ff = NULL, *fm = NULL;
  struct fb_error err;
  uint32_t app;

  snprintf(path, sizeof(path), "%s/window.pml", tu_tmpdir());
  big = malloc(300000);
  ck_assert_ptr_nonnull(big);
  for (size_t i = 0; i < 300000; i++)
    big[i] = (uint8_t)(i * 7 + i / 251);
  w = pmlw_new(path, &sys);
  ck_assert_ptr_nonnull(w);
  p.pid = 100;
  p.name = "app.exe";
  app = pmlw_add_process(w, &p);
  e.process = app;
  e.event_class = 3;
  e.operation = 20;
  e.stack = stack;
  for (uint32_t i = 0; i < 3000; i++) {
    e.time = 132000000000000000ULL + i;
    e.tid = i;
    e.stack_depth = (uint16_t)(i % 4);
    e.detail = big + i;
    e.detail_size = i == 1500 ? 300000 - 1500 : 1 + (i * 131) % 997;
    e.extra = i % 3 == 0 ? extra : NULL;
    e.extra_size = (uint16_t)(1 + i % 5);
    e.spare_byte = e.extra && e.extra_size % 2;
    ck_assert_int_eq(pmlw_add_event(w, &e), 0);
  }
  ck_assert_int_eq(pmlw_finish(w, NULL, NULL), 0);
  mem = (uint8_t *)tu_read_file(path, &msize);
  ck_assert_ptr_nonnull(mem);
  ck_assert_uint_gt(msize, 3 * 262144);
  ck_assert_int_eq(pml_open(&ff, path, &err), 0);
  ck_assert_int_eq(pml_open_memory(&fm, mem, msize, "window.pml", &err), 0);
  ck_assert_uint_eq(pml_header(ff)->event_count, 3000);
  for (uint32_t i = 0; i < 3000; i++) {
    struct pml_event a, b;
    uint32_t k = i < 2990 ? i : 2999 - (i - 2990); /* the last ones backwards */
    ck_assert_int_eq(pml_event_read(fm, k, &b, &err), 0);
    ck_assert_int_eq(pml_event_read(ff, k, &a, &err), 0);
    ck_assert_uint_eq(a.offset, b.offset);
    ck_assert_uint_eq(a.tid, k);
    ck_assert_uint_eq(a.stack_depth, k % 4);
    ck_assert_uint_eq(a.detail_size, k == 1500 ? 298500 : 1 + (k * 131) % 997);
    ck_assert_mem_eq(a.stack, b.stack, (size_t)a.stack_depth * 8);
    ck_assert_mem_eq(a.detail, big + k, a.detail_size);
    ck_assert_uint_eq(a.extra_size, b.extra_size);
    ck_assert_int_eq(a.extra != NULL, k % 3 == 0);
    if (a.extra)
      ck_assert_mem_eq(a.extra, extra, a.extra_size);
    ck_assert_uint_eq(pml_frame_address(ff, &a, 0), a.stack_depth ? stack[0] : 0);
  }
  pml_close(ff);
  pml_close(fm);
  free(mem);
  free(big);
}
END_TEST

/* The tables are read into the window before they are decoded, and read in
 * place from the mapping when larger than it: a capture whose string and
 * process tables are each larger than the 256 KiB window, with modules
 * written out of order, reads the same from a file as from memory. */
START_TEST(large_tables_read_as_memory) {
  char path[4200], cmd[1200], mod[64];
  uint8_t *mem;
  size_t msize = 0;
  struct pmlw_system sys = {1, "AMD64", "C:\\Windows", 10, 0, 19045, "", 2, 1ULL << 33};
  struct pmlw *w;
  struct pmlw_event e = {0};
  uint8_t addr[16] = {10, 0, 0, 7};
  struct pml_file *ff = NULL, *fm = NULL;
  struct fb_error err;
  struct pml_event ev;

  snprintf(path, sizeof(path), "%s/tables.pml", tu_tmpdir());
  w = pmlw_new(path, &sys);
  ck_assert_ptr_nonnull(w);
  for (uint32_t i = 0; i < 400; i++) {
    struct pmlw_process p = {0};
    uint32_t id;
    memset(cmd, 'a' + (char)(i % 26), sizeof(cmd) - 1);
    cmd[sizeof(cmd) - 1] = '\0';
    snprintf(cmd, 16, "cmd%u ", i);
    cmd[strlen(cmd)] = 'x';
    p.pid = 1000 + i;
    p.name = "svc.exe";
    p.command_line = cmd;
    id = pmlw_add_process(w, &p);
    for (uint32_t k = 0; k < 30; k++) { /* bases descending: the reader sorts them */
      snprintf(mod, sizeof(mod), "C:\\Program Files/p%u\\m%u.dll", i, k);
      pmlw_add_module(w, id, 0x7ff000000000ULL - (uint64_t)k * 0x100000, 0x10000, mod, "1.0", "Contoso", "m");
    }
    if (i == 0) {
      e.process = id;
      e.event_class = 3;
      e.operation = 20;
    }
  }
  pmlw_add_host(w, addr, "db.contoso.test");
  pmlw_add_port(w, 1433, 1, "ms-sql-s");
  ck_assert_int_eq(pmlw_add_event(w, &e), 0);
  ck_assert_int_eq(pmlw_finish(w, NULL, NULL), 0);
  mem = (uint8_t *)tu_read_file(path, &msize);
  ck_assert_ptr_nonnull(mem);
  ck_assert_int_eq(pml_open(&ff, path, &err), 0);
  ck_assert_int_eq(pml_open_memory(&fm, mem, msize, "tables.pml", &err), 0);
  ck_assert_uint_gt(pml_header(ff)->icon_table_offset - pml_header(ff)->string_table_offset, 262144);
  ck_assert_uint_gt(pml_header(ff)->string_table_offset - pml_header(ff)->process_table_offset, 262144);
  ck_assert_uint_eq(pml_process_count(ff), 400);
  for (uint32_t i = 0; i < 400; i++) {
    const struct pml_process *a = pml_process_at(ff, i), *b = pml_process_at(fm, i);
    ck_assert_uint_eq(a->pid, 1000 + i);
    ck_assert_str_eq(a->command_line, b->command_line);
    ck_assert_uint_eq(strlen(a->command_line), sizeof(cmd) - 1);
    ck_assert_uint_eq(a->module_count, 30);
    for (uint32_t k = 0; k < 30; k++) {
      ck_assert_uint_eq(a->modules[k].base, 0x7ff000000000ULL - (uint64_t)(29 - k) * 0x100000);
      ck_assert_str_eq(a->modules[k].path, b->modules[k].path);
      snprintf(mod, sizeof(mod), "m%u.dll", 29 - k);
      ck_assert_str_eq(a->modules[k].name, mod);
    }
  }
  snprintf(cmd, 16, "cmd%u ", 399);
  ck_assert_int_eq(strncmp(pml_process_at(ff, 399)->command_line, cmd, strlen(cmd)), 0);
  ck_assert_str_eq(pml_host_name(ff, addr, 1), "db.contoso.test");
  ck_assert_str_eq(pml_port_name(ff, 1433, 1), "ms-sql-s");
  ck_assert_int_eq(pml_event_read(ff, 0, &ev, &err), 0);
  ck_assert_uint_eq(ev.process->pid, 1000);
  pml_close(ff);
  pml_close(fm);
  free(mem);
}
END_TEST

START_TEST(writer_file_and_x86) {
  /* A streamed file equals the memory image; a 32-bit capture reads back. */
  char path[4200];
  uint8_t *mem = NULL, *disk;
  size_t msize = 0, dsize = 0;
  struct pmlw_system sys = {0, "X86", "C:\\Windows", 6, 1, 7601, "Service Pack 1", 1, 1ULL << 31};
  struct pmlw_process p = {0};
  struct pmlw *w;
  struct pmlw_event e = {0};
  uint64_t stack[2] = {0x80001234ULL, 0x00401000ULL};
  uint8_t det[256], extra[3] = {1, 2, 3};
  struct pml_file *f = NULL;
  struct fb_error err;
  struct pml_event ev;
  struct ev_frame fr;
  uint32_t sp, app;

  snprintf(path, sizeof(path), "%s/example.pml", tu_tmpdir());
  ck_assert_int_eq(pmlw_build_example(path, NULL, NULL), 0);
  ck_assert_int_eq(pmlw_build_example(NULL, &mem, &msize), 0);
  disk = (uint8_t *)tu_read_file(path, &dsize);
  ck_assert_uint_eq(dsize, msize);
  ck_assert_int_eq(memcmp(disk, mem, msize), 0);
  free(disk);
  free(mem);

  w = pmlw_new(NULL, &sys);
  p.pid = 4;
  p.name = "System";
  sp = pmlw_add_process(w, &p);
  pmlw_add_module(w, sp, 0x80000000ULL, 0x10000, "\\SystemRoot\\System32\\ntkrnlpa.exe", "", "", "");
  p.pid = 100;
  p.name = "app.exe";
  p.set_index = 1; /* sparse process indexes: looked up by halving */
  p.index = 3000000;
  app = pmlw_add_process(w, &p);
  pmlw_add_module(w, app, 0x00400000ULL, 0x2000, "C:\\app.exe", "", "", "");
  e.process = app;
  e.event_class = 3;
  e.operation = 32;
  e.stack = stack;
  e.stack_depth = 2;
  e.detail = det;
  e.detail_size = (uint32_t)pmlw_detail_path_only(det, sizeof(det), 0, 1, "C:\\dir");
  e.extra = extra;
  e.extra_size = 3;
  e.spare_byte = 1;
  ck_assert_int_eq(pmlw_add_event(w, &e), 0);
  e.extra = NULL;
  e.spare_byte = 0;
  ck_assert_int_eq(pmlw_add_event(w, &e), 0);
  ck_assert_int_eq(pmlw_finish(w, &mem, &msize), 0);
  ck_assert_int_eq(pml_open_memory(&f, mem, msize, "x86.pml", &err), 0);
  ck_assert_uint_eq(pml_header(f)->ptr_size, 4);
  ck_assert_int_eq(pml_event_read(f, 1, &ev, &err), 0);
  ck_assert_int_eq(pml_event_read(f, 0, &ev, &err), 0);
  ck_assert_ptr_nonnull(ev.process);
  ck_assert_str_eq(ev.process->name, "app.exe");
  ck_assert_uint_eq(ev.process_index, 3000000);
  ck_assert_uint_eq(ev.detail_size, 8 + 0x28 + 12);
  ck_assert_uint_eq(ev.extra_size, 3);
  ck_assert_int_eq(ev.extra[2], 3);
  pml_frame_resolve(f, &ev, 0, &fr);
  ck_assert_str_eq(fr.module, "ntkrnlpa.exe");
  ck_assert_uint_eq(fr.offset, 0x1234);
  ck_assert_int_eq(fr.kernel, 1);
  pml_frame_resolve(f, &ev, 1, &fr);
  ck_assert_str_eq(fr.module, "app.exe");
  ck_assert_uint_eq(fr.offset, 0x1000);
  pml_close(f);
  free(mem);
}
END_TEST

START_TEST(writer_shrink_same_csv) {
  /* A real capture's first 400 events rewritten by the writer read back
   * into the same 27 CSV fields and the same resolved stacks. */
  static const char *const files[] = {"win10-1709-x64-mixed.pml", "win7-sp1-x86-mixed.pml"};
  const char *name = files[_i];
  struct pml_file *a = open_corpus(name), *b = NULL;
  struct pml_csv_options o;
  struct pml_csv *ca, *cb;
  struct fb_strbuf ra, rb;
  struct fb_error err;
  struct pml_event ea, eb;
  uint8_t *d = NULL;
  size_t size = 0;
  char rel[256];

  snprintf(rel, sizeof(rel), "pml/%s", name);
  ck_assert_int_eq(pmlw_shrink(tu_corpus(rel), NULL, 400, &d, &size), 0);
  ck_assert_int_eq(pml_open_memory(&b, d, size, "shrunk.pml", &err), 0);
  ck_assert_uint_eq(pml_header(b)->event_count, 400);
  ck_assert_uint_eq(pml_system_process(b)->module_count, pml_system_process(a)->module_count);
  pml_csv_options_default(&o);
  ck_assert_int_eq(pml_csv_columns_parse(&o, "all", NULL, 0), 0);
  o.columns[o.ncolumns++] = PML_COL_STACK;
  ca = pml_csv_new(a, &o);
  cb = pml_csv_new(b, &o);
  fb_strbuf_init(&ra);
  fb_strbuf_init(&rb);
  for (uint32_t i = 0; i < 400; i++) {
    ck_assert_int_eq(pml_event_read(a, i, &ea, &err), 0);
    ck_assert_int_eq(pml_event_read(b, i, &eb, &err), 0);
    fb_strbuf_reset(&ra);
    fb_strbuf_reset(&rb);
    pml_csv_row(ca, &ea, &ra);
    pml_csv_row(cb, &eb, &rb);
    ck_assert_str_eq(ra.s, rb.s);
    ck_assert_uint_eq(ea.detail_size, eb.detail_size);
    ck_assert_int_eq(memcmp(ea.detail, eb.detail, ea.detail_size), 0);
  }
  fb_strbuf_free(&ra);
  fb_strbuf_free(&rb);
  pml_csv_free(ca);
  pml_csv_free(cb);
  pml_close(a);
  pml_close(b);
  free(d);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("pml_reader");
  TCase *t = tcase_create("corpus");

  tcase_set_timeout(t, 120);
  tcase_add_loop_test(t, header_facts, 0, (int)(sizeof(facts) / sizeof(facts[0])));
  tcase_add_loop_test(t, first_last_events, 0, (int)(sizeof(events) / sizeof(events[0])));
  tcase_add_test(t, event_zero_strings);
  tcase_add_test(t, operation_counts);
  tcase_add_test(t, stack_access_denied);
  tcase_add_test(t, stack_cldflt_nested);
  tcase_add_test(t, stack_x86_kernel_resolves);
  tcase_add_test(t, spare_byte_events);
  tcase_add_test(t, gzip_capture);
  tcase_add_test(t, evidence_createfile_denied);
  tcase_add_test(t, evidence_pending_and_fltmgr);
  tcase_add_test(t, evidence_stop);
  suite_add_tcase(s, t);
  t = tcase_create("damaged");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, damaged_truncated);
  tcase_add_test(t, damaged_header);
  tcase_add_test(t, damaged_counts);
  tcase_add_test(t, damaged_events);
  tcase_add_test(t, damaged_gzip);
  tcase_add_test(t, truncate_everywhere);
  suite_add_tcase(s, t);
  t = tcase_create("writer");
  tcase_add_test(t, writer_roundtrip);
  tcase_add_test(t, writer_file_and_x86);
  tcase_add_test(t, window_reads_as_memory);
  tcase_add_test(t, large_tables_read_as_memory);
  tcase_add_loop_test(t, writer_shrink_same_csv, 0, 2);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  return tu_run_suite(suite());
}
