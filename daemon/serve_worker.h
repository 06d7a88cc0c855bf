/* serve_worker.h - one analysis in its own process.
 *
 * The daemon forks a worker per job. The child drops what it inherited (fds,
 * signal handlers), takes its limits (RLIMIT_CPU, RLIMIT_DATA where the build
 * allows, dies with its parent), hashes the upload, runs the analyzer into
 * OUT/CUSTOMER/ID-NAME.tmp, fsyncs, and renames it to OUT/CUSTOMER/ID-NAME
 * (an earlier version is moved aside to ID-NAME.vN first). It reports one JSON
 * line on a pipe. A crash or a runaway kills the child, never the daemon. */
#ifndef FB_SERVE_WORKER_H
#define FB_SERVE_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include "daemon/serve_config.h"

struct worker_job {
  int64_t id;
  int version;
  const char *path;
  const char *customer;
};

struct worker_result {
  int ok;     /* a verdict was written */
  int reused; /* the verdict of this very run was already in place (daemon died after the rename) */
  char sha256[65];
  char verdict_path[1024];
  char error[1024];
  int findings;
  int confirmed;
  char filter[128];
  char vendor[128];
  char confidence[32];
  char fail_path[1024];
  char fail_process[256];
};

/* Where a job's verdict goes. */
void worker_verdict_dir(const struct serve_config *cfg, const char *customer, int64_t id, const char *path,
                        char *buf, size_t n);

/* Fork the worker. *result_fd receives the read end of its result pipe
 * (non-blocking). Returns the child's pid, or -1 with err. */
pid_t worker_spawn(const struct worker_job *job, const struct serve_config *cfg, int *result_fd, char *err,
                   size_t errlen);

/* The child's work, in-process (tests call it directly). Returns 0 when a
 * verdict was written. */
int worker_run(const struct worker_job *job, const struct serve_config *cfg, struct worker_result *r);

/* Result line <-> struct. */
char *worker_result_to_json(const struct worker_result *r); /* malloc'd, no newline */
int worker_result_parse(const char *buf, size_t len, struct worker_result *r);

/* The stub analyzer (analyzer = stub): the upload's first line may say
 * "FLTBLAME-STUB key=value ..." with sleep=MS alloc=MB crash=1 spin=1
 * fail=TEXT filter= vendor= path= process= confidence= findings=N. Writes
 * verdict.json and verdict.txt to out_dir. */
int serve_stub_analyze(const char *upload, const char *upload_id, const char *out_dir, char *error,
                       size_t errlen);

/* Read the first finding of a verdict.json into r (lenient about the schema). */
void worker_read_verdict(const char *verdict_json, struct worker_result *r);

#endif
