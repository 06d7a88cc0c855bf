/* testutil.h - small helpers shared by the Check suites. */
#ifndef FB_TESTUTIL_H
#define FB_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Absolute path of a corpus file: "pml/win10-1903-x64-process.pml". The
 * returned buffer is static per call site generation: copy it if kept. */
const char *tu_corpus(const char *rel);

/* A scratch directory for this test binary, created empty on first use. */
const char *tu_tmpdir(void);

/* Read a whole file into a malloc'd buffer (NUL-terminated); NULL on error. */
char *tu_read_file(const char *path, size_t *size);

/* Run a Check suite with the standard runner; returns the process exit status. */
int tu_run_suite(Suite *s);

#endif
