/* test_pml_scenarios.c - Procmon captures built with the project's PML
 * writer (tests/pml/pml_writer.h) for what the corpus lacks: a sharing
 * violation with the holder still open, and a denied open on a machine with
 * only Procmon and Microsoft filters. Analysed end to end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "daemon/job.h"
#include "daemon/jobs.h"
#include "rules/verdict.h"
#include "tests/pml/pml_writer.h"
#include "tests/testutil.h"

#define T0 132900000000000000ULL
#define K(x) (0xfffff80000000000ULL + (x))
#define B_NT K(0x2000000)
#define B_FLTMGR K(0x100000)
#define B_FILEINFO K(0x400000)
#define B_PROCMON K(0x600000)
#define B_WDFILTER K(0x700000)
#define FILE_PATH "C:\\Windows\\SoftwareDistribution\\Download\\77aa\\Windows10.0-KB5016623-x64.cab"

enum scenario { P_HELD, P_INBOX_ONLY };

static uint32_t add_process(struct pmlw *w, uint32_t pid, const char *name) {
  struct pmlw_process p;
  memset(&p, 0, sizeof(p));
  p.pid = pid;
  p.parent_pid = 4;
  p.is_64bit = 1;
  p.start_time = T0 - 600000000ULL;
  p.integrity = "System";
  p.user = "NT AUTHORITY\\SYSTEM";
  p.name = name;
  p.image_path = name;
  p.command_line = name;
  p.company = "Microsoft Corporation";
  return pmlw_add_process(w, &p);
}

static void create(struct pmlw *w, uint32_t proc, uint32_t tid, uint64_t t, uint32_t result, uint32_t access,
                   uint16_t share, const uint64_t *stack, uint16_t depth) {
  uint8_t d[1024], extra[4] = {1, 0, 0, 0};
  struct pmlw_event e;
  memset(&e, 0, sizeof(e));
  e.process = proc;
  e.tid = tid;
  e.event_class = 3;
  e.operation = 20; /* CreateFile */
  e.time = t;
  e.duration = 300;
  e.result = result;
  e.stack = stack;
  e.stack_depth = depth;
  e.detail_size = (uint32_t)pmlw_detail_createfile(d, sizeof(d), 1, FILE_PATH, access, 1, 0x60, 0x80, share);
  e.detail = d;
  if (result == 0) {
    e.extra = extra;
    e.extra_size = 4;
  }
  ck_assert_int_eq(pmlw_add_event(w, &e), 0);
}

static const char *build(enum scenario s) {
  static char path[1024];
  static const struct pmlw_system sys = {1, "DESK-01", "C:\\Windows", 10, 0, 19045, "", 4, 17128075264ULL};
  /* Procmon's stack: FltMgr on top; for the inbox case FileInfo and Procmon's
   * own frames between two FltMgr runs, which blame no one */
  static const uint64_t plain[] = {B_FLTMGR + 0x4a5c, B_FLTMGR + 0x45a0, B_NT + 0x31f79, B_NT + 0x5e61eb};
  static const uint64_t observers[] = {B_FLTMGR + 0x4a5c,  B_PROCMON + 0x99, B_FILEINFO + 0x4411,
                                       B_FLTMGR + 0x18063, B_NT + 0x31f79,   B_NT + 0x5e61eb};
  struct pmlw *w;
  struct pmlw_process p;
  uint32_t system, ti, av;

  snprintf(path, sizeof(path), "%s/pml-scenario-%d.pml", tu_tmpdir(), (int)s);
  w = pmlw_new(path, &sys);
  ck_assert_ptr_nonnull(w);
  memset(&p, 0, sizeof(p));
  p.pid = 4;
  p.is_64bit = 1;
  p.name = "System";
  system = pmlw_add_process(w, &p);
  pmlw_add_module(w, system, B_NT, 0x1000000, "\\SystemRoot\\system32\\ntoskrnl.exe", "10.0",
                  "Microsoft Corporation", "NT Kernel & System");
  pmlw_add_module(w, system, B_FLTMGR, 0x80000, "\\SystemRoot\\System32\\drivers\\FLTMGR.SYS", "10.0",
                  "Microsoft Corporation", "Microsoft Filesystem Filter Manager");
  pmlw_add_module(w, system, B_FILEINFO, 0x20000, "\\SystemRoot\\System32\\drivers\\FileInfo.sys", "10.0",
                  "Microsoft Corporation", "FileInfo Filter Driver");
  pmlw_add_module(w, system, B_PROCMON, 0x20000, "\\SystemRoot\\System32\\drivers\\PROCMON24.SYS", "4.01",
                  "Sysinternals - www.sysinternals.com", "Process Monitor");
  pmlw_add_module(w, system, B_WDFILTER, 0x70000, "\\SystemRoot\\System32\\drivers\\wd\\WdFilter.sys", "4.18",
                  "Microsoft Corporation", "Microsoft antimalware file system filter driver");
  ti = add_process(w, 4242, "TiWorker.exe");
  av = add_process(w, 3000, "MsMpEng.exe");
  if (s == P_HELD) {
    /* Defender opens the cab for reading, sharing nothing, and holds it */
    create(w, av, 3004, T0 + 1000, 0, 0x120089, 0, plain, 4);
    /* TiWorker wants to delete it: SHARING VIOLATION */
    create(w, ti, 5120, T0 + 2000, 0xC0000043, 0x110080, 7, plain, 4);
  } else {
    create(w, ti, 5120, T0 + 2000, 0xC0000022, 0x40000080, 0, observers, 6);
  }
  ck_assert_int_eq(pmlw_finish(w, NULL, NULL), 0);
  return path;
}

static struct verdict *analyze(enum scenario s) {
  const char *p = build(s);
  struct job_options opt = {0};
  struct job_summary sum;
  struct verdict *v = NULL;
  opt.data_dir = FB_SOURCE_DIR "/etc";
  opt.print = JOB_PRINT_NONE;
  if (job_analyze_verdict(&p, 1, &opt, &sum, &v) != 0)
    ck_abort_msg("job failed: %s", sum.error);
  ck_assert_str_eq(v->inputs[0].status, "read");
  return v;
}

START_TEST(pml_sharing_violation_names_holder) {
  struct verdict *v = analyze(P_HELD);
  const struct vd_finding *f;
  ck_assert_uint_eq(v->nfindings, 1);
  f = &v->findings[0];
  ck_assert_int_eq(f->kind, VD_HELD);
  ck_assert_str_eq(f->path, FILE_PATH);
  ck_assert_str_eq(f->process, "TiWorker.exe");
  ck_assert_int_eq(f->has_holder, 1);
  ck_assert_uint_eq(f->holder_pid, 3000);
  ck_assert_str_eq(f->holder_process, "MsMpEng.exe");
  ck_assert_uint_eq(f->holder_access, 0x120089);
  ck_assert_uint_eq(f->holder_share, 0);
  ck_assert_int_eq(f->confidence, VD_CONFIRMED); /* both share modes recorded, and they conflict */
  ck_assert_int_eq(f->reason, VD_R_HOLDER_PROCESS);
  ck_assert_str_eq(f->filter.name, "WdFilter.sys");
  ck_assert_str_eq(f->evidence[1].kind, "open_handle");
  ck_assert_uint_eq(f->evidence[1].index, 0);
  verdict_free(v);
}
END_TEST

/* The same capture uploaded as a zip (a folder inside it): the verdict cites
 * the evidence by the name in the upload, as it lists the input, never by
 * the job's work directory (gone by the time anyone reads the verdict). */
START_TEST(pml_zipped_upload_cited_by_its_chain) {
  const char *pml = build(P_HELD);
  char zip[1024], *data;
  const char *p = zip;
  size_t n;
  struct archive *a = archive_write_new();
  struct archive_entry *e = archive_entry_new();
  struct job_options opt = {0};
  struct job_summary sum;
  struct verdict *v = NULL;
  const struct vd_finding *f;

  data = tu_read_file(pml, &n);
  ck_assert_ptr_nonnull(data);
  snprintf(zip, sizeof(zip), "%s/held.zip", tu_tmpdir());
  ck_assert_int_eq(archive_write_set_format_zip(a), ARCHIVE_OK);
  ck_assert_int_eq(archive_write_open_filename(a, zip), ARCHIVE_OK);
  archive_entry_set_pathname(e, "logs/procmon.pml");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, (la_int64_t)n);
  ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
  ck_assert_int_eq(archive_write_data(a, data, n), (la_ssize_t)n);
  archive_entry_free(e);
  ck_assert_int_eq(archive_write_free(a), ARCHIVE_OK);
  free(data);

  opt.data_dir = FB_SOURCE_DIR "/etc";
  opt.print = JOB_PRINT_NONE;
  ck_assert_int_eq(job_analyze_verdict(&p, 1, &opt, &sum, &v), 0);
  { /* the upload's digest, made while unpacking it, for the daemon's job key */
    char want[65];
    ck_assert_int_eq(jobs_sha256_file(zip, want), 0);
    ck_assert_str_eq(sum.upload_sha256, want);
    ck_assert_str_eq(v->inputs[0].sha256, want);
  }
  ck_assert_uint_eq(v->ninputs, 2);
  ck_assert_str_eq(v->inputs[1].path, "held.zip!logs/procmon.pml");
  ck_assert_str_eq(v->inputs[1].status, "read");
  ck_assert_uint_eq(v->nfindings, 1);
  f = &v->findings[0];
  ck_assert_str_eq(f->holder_process, "MsMpEng.exe");
  ck_assert_uint_ge(f->nevidence, 2);
  for (size_t i = 0; i < f->nevidence; i++)
    ck_assert_str_eq(f->evidence[i].file, "held.zip!logs/procmon.pml");
  verdict_free(v);
}
END_TEST

START_TEST(pml_inbox_only_never_blamed) {
  struct verdict *v = analyze(P_INBOX_ONLY);
  const struct vd_finding *f;
  ck_assert_uint_eq(v->nfindings, 1);
  f = &v->findings[0];
  ck_assert_int_eq(f->kind, VD_DENIED);
  ck_assert_int_eq(f->has_filter, 0);
  ck_assert_int_eq(f->confidence, VD_UNDETERMINED);
  ck_assert_int_eq(f->fs_possible, 1);
  ck_assert_uint_eq(f->ncandidates, 1); /* WdFilter only: FileInfo and Procmon are observers */
  ck_assert_str_eq(f->candidates[0].filter.name, "WdFilter.sys");
  ck_assert_int_eq(f->candidates[0].filter.inbox, 1);
  verdict_free(v);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("pml-scenarios");
  TCase *tc = tcase_create("analyze");
  tcase_add_test(tc, pml_sharing_violation_names_holder);
  tcase_add_test(tc, pml_zipped_upload_cited_by_its_chain);
  tcase_add_test(tc, pml_inbox_only_never_blamed);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return tu_run_suite(suite());
}
