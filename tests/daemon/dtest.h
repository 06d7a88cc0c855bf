/* dtest.h - helpers for the daemon tests: start 'fltblame serve' in a scratch
 * directory, talk to its control socket, wait for conditions. */
#ifndef FB_DTEST_H
#define FB_DTEST_H

#include <jansson.h>
#include <sys/types.h>

struct dtest_daemon {
  pid_t pid;
  char root[1024];
  char up[1100], out[1100], state[1100], sock[1100], log[1100], reports[1100];
};

/* Make root/{up,out,state} under the test's tmpdir, named name. */
void dtest_init(struct dtest_daemon *d, const char *name);
/* Start the daemon (stub analyzer, short quiet period) with extra options
 * (NULL-terminated). Waits until the control socket answers. */
void dtest_start(struct dtest_daemon *d, const char *const *extra);
/* SIGTERM and wait; returns the exit status (or -1). */
int dtest_stop(struct dtest_daemon *d);
void dtest_kill9(struct dtest_daemon *d);

/* One request line (without newline) -> parsed answer, NULL if no answer. */
json_t *dtest_ctl(const char *sock, const char *request);
/* Raw: send bytes (optionally shutdown(SHUT_WR) after), read one answer line. */
char *dtest_ctl_raw(const char *sock, const char *bytes, size_t len, int shut_wr, int timeout_ms);

/* jobs.<state> from status, -1 on error. */
long dtest_count(struct dtest_daemon *d, const char *state);
/* Wait until jobs.<state> == n; returns 1 if reached. */
int dtest_wait_count(struct dtest_daemon *d, const char *state, long n, int timeout_ms);

/* Write a file (mkdir -p its directory). */
void dtest_write(const char *path, const char *content);
double dtest_now(void);
void dtest_sleep_ms(int ms);

#endif
