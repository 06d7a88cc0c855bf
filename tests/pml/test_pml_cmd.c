/* test_pml_cmd.c - 'fltblame pml' end to end: output bytes and exit codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "tests/testutil.h"

/* Run cmd_pml with stdout sent to a file; returns the exit code, *out the text. */
static int run(char **out, int argc, char **argv) {
  char path[4200];
  int saved, rc;
  FILE *f;

  snprintf(path, sizeof(path), "%s/out.txt", tu_tmpdir());
  fflush(stdout);
  saved = dup(1);
  f = freopen(path, "w", stdout);
  ck_assert_ptr_nonnull(f);
  rc = cmd_pml(argc, argv);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  *out = tu_read_file(path, NULL);
  ck_assert_ptr_nonnull(*out);
  return rc;
}

START_TEST(cmd_csv_denied) {
  char *out;
  char *argv[] = {"pml",
                  (char *)tu_corpus("pml/win7-sp1-x64-createfile-denied.pml"),
                  "--csv",
                  "--columns",
                  "Time of Day,PID,TID,Duration",
                  "--filter",
                  "result=0xC0000022",
                  "--tz",
                  "+08:00",
                  NULL};

  ck_assert_int_eq(run(&out, 9, argv), FB_EXIT_OK);
  ck_assert_str_eq(out, "\xEF\xBB\xBF\"Time of Day\",\"PID\",\"TID\",\"Duration\"\r\n"
                        "\"9:30:15.2798287 PM\",\"1760\",\"3792\",\"0.0000355\"\r\n"
                        "\"9:30:15.2799768 PM\",\"1760\",\"3792\",\"0.0000229\"\r\n"
                        "\"9:31:15.6412075 PM\",\"1760\",\"3792\",\"0.0000447\"\r\n"
                        "\"9:31:15.6413815 PM\",\"1760\",\"3792\",\"0.0000287\"\r\n");
  free(out);
}
END_TEST

START_TEST(cmd_stacks_and_check) {
  char *out;
  char *argv[] = {"pml",
                  (char *)tu_corpus("pml/win7-sp1-x64-createfile-denied.pml"),
                  "--stacks",
                  "--filter",
                  "pid=1760",
                  "--filter",
                  "result=0xC0000022",
                  NULL};
  char *check[] = {"pml", (char *)tu_corpus("pml/win10-1909-x64-cldflt-readfile.pml"), "--check", NULL};

  ck_assert_int_eq(run(&out, 7, argv), FB_EXIT_OK);
  ck_assert_ptr_nonnull(
      strstr(out, "#1232\t1:30:15.2798287 PM\tReadyOrNotSteam-Win64-Shipping.exe\t1760\t3792\t"));
  ck_assert_ptr_nonnull(strstr(out, "     0 k fltmgr.sys+0x2067  (0xfffff880010d0067)\n"
                                    "     1 k fltmgr.sys+0x49aa  (0xfffff880010d29aa)\n"));
  ck_assert_ptr_nonnull(strstr(out, "#1249\t"));
  ck_assert_ptr_null(strstr(out, "#1231\t"));
  free(out);
  ck_assert_int_eq(run(&out, 3, check), FB_EXIT_OK);
  ck_assert_ptr_nonnull(strstr(out,
                               ": 717 events, 0 unreadable; 21792 stack frames (7024 kernel, 0 unresolved; "
                               "14768 user, 127 unresolved)\n"));
  free(out);
}
END_TEST

START_TEST(cmd_errors) {
  char *out;
  char bad_path[4200];
  char *missing[] = {"pml", "/nonexistent/x.pml", NULL};
  char *usage[] = {"pml", "x.pml", "--bogus", NULL};
  char *tz[] = {"pml", "x.pml", "--tz", "Nowhere/Atlantis", NULL};
  char *none[] = {"pml", NULL};
  char *help[] = {"pml", "--help", NULL};
  char *damaged[] = {"pml", bad_path, "--check", NULL};
  FILE *f;

  ck_assert_int_eq(run(&out, 2, missing), FB_EXIT_INPUT);
  free(out);
  ck_assert_int_eq(run(&out, 3, usage), FB_EXIT_USAGE);
  free(out);
  ck_assert_int_eq(run(&out, 4, tz), FB_EXIT_USAGE);
  free(out);
  ck_assert_int_eq(run(&out, 1, none), FB_EXIT_USAGE);
  free(out);
  ck_assert_int_eq(run(&out, 2, help), FB_EXIT_OK);
  ck_assert_ptr_nonnull(strstr(out, "usage: fltblame pml FILE [options]"));
  free(out);
  snprintf(bad_path, sizeof(bad_path), "%s/short.pml", tu_tmpdir());
  f = fopen(bad_path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs("PML_", f);
  fclose(f);
  ck_assert_int_eq(run(&out, 3, damaged), FB_EXIT_INPUT);
  free(out);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pml_cmd");
  TCase *t = tcase_create("cmd");

  tcase_set_timeout(t, 60);
  tcase_add_test(t, cmd_csv_denied);
  tcase_add_test(t, cmd_stacks_and_check);
  tcase_add_test(t, cmd_errors);
  suite_add_tcase(s, t);
  return tu_run_suite(s);
}
