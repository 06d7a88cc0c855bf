/* jobs.c - the job index in SQLite (WAL, synchronous=FULL: a job recorded is
 * a job kept, across a kill -9 or a power cut). */
#include "daemon/jobs.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jobs {
  sqlite3 *db;
};

static const char *state_names[JOB_NSTATES] = {"queued", "running", "done", "failed", "cancelled"};

const char *job_state_name(int state) {
  return state >= 0 && state < JOB_NSTATES ? state_names[state] : "unknown";
}

int job_state_parse(const char *name) {
  for (int i = 0; i < JOB_NSTATES; i++)
    if (!strcmp(name, state_names[i]))
      return i;
  return -1;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS jobs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " path TEXT NOT NULL, customer TEXT NOT NULL DEFAULT '',"
    " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL DEFAULT '',"
    " state INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 1,"
    " closed_at REAL NOT NULL DEFAULT 0, created REAL NOT NULL, started REAL NOT NULL DEFAULT 0,"
    " finished REAL NOT NULL DEFAULT 0,"
    " verdict_path TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',"
    " duplicate_of INTEGER NOT NULL DEFAULT 0,"
    " findings INTEGER NOT NULL DEFAULT 0, confirmed INTEGER NOT NULL DEFAULT 0,"
    " filter TEXT NOT NULL DEFAULT '', vendor TEXT NOT NULL DEFAULT '',"
    " confidence TEXT NOT NULL DEFAULT '', fail_path TEXT NOT NULL DEFAULT '',"
    " fail_process TEXT NOT NULL DEFAULT '');"
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_upload ON jobs(path, size, mtime_ns);"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);"
    "CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished);"
    "CREATE INDEX IF NOT EXISTS jobs_sha ON jobs(sha256);";

#define COLS                                                                                                 \
  "id,path,customer,size,mtime_ns,sha256,state,attempts,version,closed_at,created,started,finished,"         \
  "verdict_path,error,duplicate_of,findings,confirmed,filter,vendor,confidence,fail_path,fail_process"

int jobs_open(struct jobs **out, const char *db_path, char *err, size_t errlen) {
  struct jobs *j = calloc(1, sizeof(*j));
  char *msg = NULL;

  *out = NULL;
  if (j == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (sqlite3_open_v2(db_path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    snprintf(err, errlen, "%s: %s", db_path, j->db ? sqlite3_errmsg(j->db) : "cannot open");
    jobs_close(j);
    return -1;
  }
  sqlite3_busy_timeout(j->db, 5000);
  if (sqlite3_exec(j->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg) !=
          SQLITE_OK ||
      sqlite3_exec(j->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "%s: %s", db_path, msg ? msg : "cannot create the schema");
    sqlite3_free(msg);
    jobs_close(j);
    return -1;
  }
  *out = j;
  return 0;
}

void jobs_close(struct jobs *j) {
  if (j == NULL)
    return;
  sqlite3_close(j->db);
  free(j);
}

const char *jobs_errmsg(struct jobs *j) {
  return sqlite3_errmsg(j->db);
}

static sqlite3_stmt *prep(struct jobs *j, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK)
    return NULL;
  return st;
}

static void copy_text(char *dst, size_t n, sqlite3_stmt *st, int col) {
  const unsigned char *s = sqlite3_column_text(st, col);
  snprintf(dst, n, "%s", s ? (const char *)s : "");
}

static void read_row(sqlite3_stmt *st, struct job_row *r) {
  memset(r, 0, sizeof(*r));
  r->id = sqlite3_column_int64(st, 0);
  copy_text(r->path, sizeof(r->path), st, 1);
  copy_text(r->customer, sizeof(r->customer), st, 2);
  r->size = sqlite3_column_int64(st, 3);
  r->mtime_ns = sqlite3_column_int64(st, 4);
  copy_text(r->sha256, sizeof(r->sha256), st, 5);
  r->state = sqlite3_column_int(st, 6);
  r->attempts = sqlite3_column_int(st, 7);
  r->version = sqlite3_column_int(st, 8);
  r->closed_at = sqlite3_column_double(st, 9);
  r->created = sqlite3_column_double(st, 10);
  r->started = sqlite3_column_double(st, 11);
  r->finished = sqlite3_column_double(st, 12);
  copy_text(r->verdict_path, sizeof(r->verdict_path), st, 13);
  copy_text(r->error, sizeof(r->error), st, 14);
  r->duplicate_of = sqlite3_column_int64(st, 15);
  r->findings = sqlite3_column_int(st, 16);
  r->confirmed = sqlite3_column_int(st, 17);
  copy_text(r->filter, sizeof(r->filter), st, 18);
  copy_text(r->vendor, sizeof(r->vendor), st, 19);
  copy_text(r->confidence, sizeof(r->confidence), st, 20);
  copy_text(r->fail_path, sizeof(r->fail_path), st, 21);
  copy_text(r->fail_process, sizeof(r->fail_process), st, 22);
}

/* Run a statement whose result is ignored; returns sqlite3_changes or -1. */
static int exec_stmt(struct jobs *j, sqlite3_stmt *st) {
  int rc;
  if (st == NULL)
    return -1;
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? sqlite3_changes(j->db) : -1;
}

int jobs_seen(struct jobs *j, const char *path, int64_t size, int64_t mtime_ns) {
  sqlite3_stmt *st = prep(j, "SELECT 1 FROM jobs WHERE path=? AND size=? AND mtime_ns=?");
  int rc;
  if (st == NULL)
    return -1;
  sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, size);
  sqlite3_bind_int64(st, 3, mtime_ns);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int64_t jobs_add(struct jobs *j, const char *path, const char *customer, int64_t size, int64_t mtime_ns,
                 double closed_at, double now) {
  sqlite3_stmt *st = prep(j, "INSERT INTO jobs(path,customer,size,mtime_ns,state,closed_at,created) "
                             "VALUES(?,?,?,?,0,?,?)");
  if (st == NULL)
    return -1;
  sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, customer, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, size);
  sqlite3_bind_int64(st, 4, mtime_ns);
  sqlite3_bind_double(st, 5, closed_at);
  sqlite3_bind_double(st, 6, now);
  if (exec_stmt(j, st) != 1)
    return -1;
  return sqlite3_last_insert_rowid(j->db);
}

static int get_one(struct jobs *j, sqlite3_stmt *st, struct job_row *row) {
  int rc;
  if (st == NULL)
    return -1;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    read_row(st, row);
  sqlite3_finalize(st);
  (void)j;
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int jobs_next_queued(struct jobs *j, struct job_row *row) {
  return get_one(j, prep(j, "SELECT " COLS " FROM jobs WHERE state=0 ORDER BY id LIMIT 1"), row);
}

int jobs_get(struct jobs *j, int64_t id, struct job_row *row) {
  sqlite3_stmt *st = prep(j, "SELECT " COLS " FROM jobs WHERE id=?");
  if (st)
    sqlite3_bind_int64(st, 1, id);
  return get_one(j, st, row);
}

int jobs_get_by_path(struct jobs *j, const char *path, struct job_row *row) {
  sqlite3_stmt *st = prep(j, "SELECT " COLS " FROM jobs WHERE path=? ORDER BY id DESC LIMIT 1");
  if (st)
    sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
  return get_one(j, st, row);
}

int jobs_mark_running(struct jobs *j, int64_t id, double now) {
  sqlite3_stmt *st =
      prep(j, "UPDATE jobs SET state=1, attempts=attempts+1, started=? WHERE id=? AND state=0");
  int n;
  if (st == NULL)
    return -1;
  sqlite3_bind_double(st, 1, now);
  sqlite3_bind_int64(st, 2, id);
  n = exec_stmt(j, st);
  return n < 0 ? -1 : n == 1 ? 0 : 1;
}

int jobs_finish(struct jobs *j, const struct job_row *r) {
  sqlite3_stmt *st = prep(j, "UPDATE jobs SET state=?, finished=?, sha256=?, verdict_path=?, error=?,"
                             " duplicate_of=?, findings=?, confirmed=?, filter=?, vendor=?, confidence=?,"
                             " fail_path=?, fail_process=? WHERE id=? AND state=1");
  int n;
  if (st == NULL)
    return -1;
  sqlite3_bind_int(st, 1, r->state);
  sqlite3_bind_double(st, 2, r->finished);
  sqlite3_bind_text(st, 3, r->sha256, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, r->verdict_path, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, r->error, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 6, r->duplicate_of);
  sqlite3_bind_int(st, 7, r->findings);
  sqlite3_bind_int(st, 8, r->confirmed);
  sqlite3_bind_text(st, 9, r->filter, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 10, r->vendor, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 11, r->confidence, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 12, r->fail_path, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 13, r->fail_process, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 14, r->id);
  n = exec_stmt(j, st);
  return n < 0 ? -1 : n == 1 ? 0 : 1;
}

int jobs_requeue(struct jobs *j, int64_t id, int refund_attempt) {
  sqlite3_stmt *st =
      prep(j, refund_attempt ? "UPDATE jobs SET state=0, attempts=MAX(attempts-1,0) WHERE id=? AND state=1"
                             : "UPDATE jobs SET state=0 WHERE id=? AND state=1");
  if (st == NULL)
    return -1;
  sqlite3_bind_int64(st, 1, id);
  return exec_stmt(j, st) < 0 ? -1 : 0;
}

int jobs_recover(struct jobs *j, int max_attempts, double now, int *requeued, int *failed) {
  sqlite3_stmt *st;
  int n;

  *requeued = *failed = 0;
  if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return -1;
  st = prep(j, "UPDATE jobs SET state=3, finished=?, error='given up: the daemon died during each of its '"
               " || attempts || ' runs' WHERE state=1 AND attempts>=?");
  if (st) {
    sqlite3_bind_double(st, 1, now);
    sqlite3_bind_int(st, 2, max_attempts);
  }
  if ((n = exec_stmt(j, st)) < 0)
    goto fail;
  *failed = n;
  if ((n = exec_stmt(j, prep(j, "UPDATE jobs SET state=0 WHERE state=1"))) < 0)
    goto fail;
  *requeued = n;
  return sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
fail:
  sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

int jobs_cancel(struct jobs *j, int64_t id, double now) {
  sqlite3_stmt *st =
      prep(j, "UPDATE jobs SET state=4, finished=?, error='cancelled' WHERE id=? AND state IN (0,1)");
  int n;
  if (st == NULL)
    return -1;
  sqlite3_bind_double(st, 1, now);
  sqlite3_bind_int64(st, 2, id);
  n = exec_stmt(j, st);
  return n < 0 ? -1 : n == 1 ? 0 : 1;
}

int jobs_reprocess(struct jobs *j, int64_t id, double now) {
  sqlite3_stmt *st = prep(j, "UPDATE jobs SET state=0, version=version+1, attempts=0, started=0, finished=0,"
                             " error='', created=? WHERE id=? AND state<>1");
  int n;
  if (st == NULL)
    return -1;
  sqlite3_bind_double(st, 1, now);
  sqlite3_bind_int64(st, 2, id);
  n = exec_stmt(j, st);
  return n < 0 ? -1 : n == 1 ? 0 : 1;
}

int64_t jobs_find_sha(struct jobs *j, const char *sha256, int64_t before_id) {
  sqlite3_stmt *st = prep(j, "SELECT id FROM jobs WHERE sha256=? AND id<? ORDER BY id LIMIT 1");
  int64_t id = 0;
  if (st == NULL)
    return 0;
  sqlite3_bind_text(st, 1, sha256, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, before_id);
  if (sqlite3_step(st) == SQLITE_ROW)
    id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return id;
}

int jobs_count_states(struct jobs *j, int64_t counts[JOB_NSTATES]) {
  sqlite3_stmt *st = prep(j, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  int rc;
  memset(counts, 0, sizeof(int64_t) * JOB_NSTATES);
  if (st == NULL)
    return -1;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int s = sqlite3_column_int(st, 0);
    if (s >= 0 && s < JOB_NSTATES)
      counts[s] = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

int64_t jobs_count_finished_since(struct jobs *j, double since) {
  sqlite3_stmt *st = prep(j, "SELECT COUNT(*) FROM jobs WHERE state IN (2,3) AND finished>=?");
  int64_t n = 0;
  if (st == NULL)
    return -1;
  sqlite3_bind_double(st, 1, since);
  if (sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

static int visit(sqlite3_stmt *st, int (*cb)(const struct job_row *, void *), void *user) {
  struct job_row *row = malloc(sizeof(*row));
  int rc;
  if (st == NULL || row == NULL) {
    sqlite3_finalize(st);
    free(row);
    return -1;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    read_row(st, row);
    if (cb(row, user)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  sqlite3_finalize(st);
  free(row);
  return rc == SQLITE_DONE ? 0 : -1;
}

int jobs_list(struct jobs *j, int state, double since, int limit,
              int (*cb)(const struct job_row *row, void *user), void *user) {
  sqlite3_stmt *st = prep(j, "SELECT " COLS " FROM jobs WHERE (?1<0 OR state=?1)"
                             " AND (created>=?2 OR finished>=?2) ORDER BY id DESC LIMIT ?3");
  if (st) {
    sqlite3_bind_int(st, 1, state);
    sqlite3_bind_double(st, 2, since);
    sqlite3_bind_int(st, 3, limit);
  }
  return visit(st, cb, user);
}

int jobs_finished_between(struct jobs *j, double from, double to,
                          int (*cb)(const struct job_row *row, void *user), void *user) {
  sqlite3_stmt *st = prep(j, "SELECT " COLS " FROM jobs WHERE state IN (2,3) AND finished>=? AND finished<?"
                             " ORDER BY finished, id");
  if (st) {
    sqlite3_bind_double(st, 1, from);
    sqlite3_bind_double(st, 2, to);
  }
  return visit(st, cb, user);
}
