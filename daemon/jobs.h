/* jobs.h - the job index: one row per upload taken, in SQLite (WAL).
 *
 * The index is the daemon's memory across restarts. A job is queued when its
 * upload settled, running while a worker has it, then done or failed (or
 * cancelled). An upload is known by (path, size, mtime): the rescan that sees
 * it again does not make a second job. Its sha256 notices the same bytes
 * uploaded twice (duplicate_of). */
#ifndef FB_JOBS_H
#define FB_JOBS_H

#include <stddef.h>
#include <stdint.h>

enum job_state { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED, JOB_NSTATES };

struct job_row {
  int64_t id;
  char path[1024];    /* absolute path of the upload */
  char customer[256]; /* first directory under the upload root */
  int64_t size;
  int64_t mtime_ns;
  char sha256[65]; /* "" until a worker hashed it */
  int state;
  int attempts;     /* runs started */
  int version;      /* 1, +1 per reprocess */
  double closed_at; /* when the upload was last changed (unix seconds) */
  double created;   /* when the job was queued */
  double started;   /* last run start, 0 if never */
  double finished;  /* 0 while not finished */
  char verdict_path[1024];
  char error[1024];
  int64_t duplicate_of; /* earlier job with the same sha256, 0 if none */
  int findings;
  int confirmed;
  char filter[128]; /* filter named by the first finding */
  char vendor[128];
  char confidence[32];
  char fail_path[1024]; /* path of the first finding */
  char fail_process[256];
};

struct jobs;

const char *job_state_name(int state);
int job_state_parse(const char *name); /* -1 if unknown */

/* Open (creating) the index. Returns 0 or -1 with err. */
int jobs_open(struct jobs **out, const char *db_path, char *err, size_t errlen);
void jobs_close(struct jobs *j);
const char *jobs_errmsg(struct jobs *j);

/* 1 when a job for exactly this (path, size, mtime) exists, 0 if not, -1 on error. */
int jobs_seen(struct jobs *j, const char *path, int64_t size, int64_t mtime_ns);

/* Queue a new job; returns its id (> 0) or -1. */
int64_t jobs_add(struct jobs *j, const char *path, const char *customer, int64_t size, int64_t mtime_ns,
                 double closed_at, double now);

/* The oldest queued job into *row: 1 found, 0 none, -1 error. */
int jobs_next_queued(struct jobs *j, struct job_row *row);
int jobs_get(struct jobs *j, int64_t id, struct job_row *row);               /* 1, 0, -1 */
int jobs_get_by_path(struct jobs *j, const char *path, struct job_row *row); /* newest; 1, 0, -1 */

/* queued -> running, attempts+1, started=now. Returns 0, or 1 when the job
 * was no longer queued (cancelled meanwhile), -1 on error. */
int jobs_mark_running(struct jobs *j, int64_t id, double now);

/* Record the end of a run: row->state (done/failed/cancelled), finished,
 * sha256, verdict path, error, findings... Only a running job is finished, so
 * a late result never overwrites a newer state. Returns 0, 1 if not running, -1. */
int jobs_finish(struct jobs *j, const struct job_row *row);

/* Put a running job back in the queue (drain, daemon death). When
 * refund_attempt, the interrupted run does not count. */
int jobs_requeue(struct jobs *j, int64_t id, int refund_attempt);

/* At start-up: every job left running by a dead daemon goes back to queued,
 * or to failed once it has used max_attempts runs. Counts go to requeued and failed. */
int jobs_recover(struct jobs *j, int max_attempts, double now, int *requeued, int *failed);

/* queued -> cancelled (returns 0), running -> cancelled is for the caller
 * after killing the worker. 1 when the job is in a state that cannot be cancelled. */
int jobs_cancel(struct jobs *j, int64_t id, double now);

/* Queue the job again with version+1 (reprocess). Refused (1) while running. */
int jobs_reprocess(struct jobs *j, int64_t id, double now);

/* Earliest job before before_id whose upload had the same sha256 (0 if none). */
int64_t jobs_find_sha(struct jobs *j, const char *sha256, int64_t before_id);

int jobs_count_states(struct jobs *j, int64_t counts[JOB_NSTATES]);
/* Jobs finished in [since, now]. */
int64_t jobs_count_finished_since(struct jobs *j, double since);

/* Visit jobs: state -1 = all; since = created or finished at/after this time
 * (0 = any). Newest first, at most limit. Callback returns non-zero to stop. */
int jobs_list(struct jobs *j, int state, double since, int limit,
              int (*cb)(const struct job_row *row, void *user), void *user);

/* Visit jobs finished in [from, to), oldest first (reports). */
int jobs_finished_between(struct jobs *j, double from, double to,
                          int (*cb)(const struct job_row *row, void *user), void *user);

/* SHA-256 of a file as 64 lowercase hex digits. 0 or -1 (errno set;
 * ELIBACC: libcrypto could not be loaded, see dynlib.h). */
int jobs_sha256_file(const char *path, char out[65]);
/* SHA-256 of a buffer (tests). */
void jobs_sha256_buf(const void *data, size_t len, char out[65]);

#endif
