/* engine.h - the verdict engine: evidence records in, findings out.
 *
 * Feed every parser's records through rules_engine_sink(); then
 * rules_engine_finish() decides and fills a struct verdict. The engine keeps
 * only bounded state: open handles per file object (or per process and path
 * when the source has no file object, as in Procmon), callback state per IRP,
 * process names; entries are dropped when the handle closes or the operation
 * completes, and the oldest are evicted when a table is full (counted in the
 * verdict's stats).
 *
 * Rules (issue 5; docs/verdict.md explains them for the desk):
 *  denied - a failing create/set-info/write/rename/delete (status a filter can
 *    return), or any operation failing with a status owned by a filter. The
 *    filter named is, in order: the one whose callback failed the operation
 *    (confirmed); the last third-party pre-callback before the failure
 *    (strong); a filter whose frames sit between two FltMgr runs on the failing
 *    stack (strong); the owner of the status (strong); else candidates from the
 *    inventory ranked by altitude relative to where the failure was observed
 *    (suspect, or undetermined when none). Observers (Procmon, FileInfo, ...)
 *    are never named. A Procmon stack alone never makes a finding confirmed.
 *  held - SHARING_VIOLATION: the open still open on the same path with an
 *    incompatible share mode names the holder process, and its driver/product
 *    when the holder is a filter's own I/O or a known AV service.
 */
#ifndef FB_ENGINE_H
#define FB_ENGINE_H

#include "parsers/evidence.h"
#include "rules/known_filters.h"
#include "rules/verdict.h"

struct rules_limits {
  unsigned open_handles; /* tracked open handles (default 65536) */
  unsigned irp_states;   /* tracked in-flight operations with callbacks (default 16384) */
  unsigned findings;     /* distinct findings (default 256) */
  unsigned evidence;     /* evidence links kept per finding (default 12) */
  size_t intern_bytes;   /* interned strings (paths, names) (default 64 MiB) */
};

struct rules_engine;

/* db may be NULL (only the built-in observer knowledge is used); it must
 * outlive the engine. limits may be NULL for the defaults. */
struct rules_engine *rules_engine_new(const struct kf_db *db, const struct rules_limits *limits);
void rules_engine_free(struct rules_engine *e);

/* The sink to hand to parsers. Its callbacks never stop a parser, except on
 * out-of-memory. */
const struct ev_sink *rules_engine_sink(struct rules_engine *e);

/* Decide and add findings, inventory, facts and limits to v. Call once. */
int rules_engine_finish(struct rules_engine *e, struct verdict *v);

/* Peak bytes of state the engine held (for bench/analyze). */
size_t rules_engine_state_bytes(const struct rules_engine *e);

#endif
