/* ingest_side.h - read the side evidence of one artifact by its type.
 *
 * For job.c: after ingest_run, hand each readable artifact of type evtx,
 * cbs, fltmc or setupapi to ingest_read_side() with the job's sink; ETL,
 * PML and dumps have their own readers (parsers/etl, parsers/pml,
 * parsers/dump), setupact/setuperr logs too (parsers/text/setuplog.h).
 */
#ifndef FB_INGEST_SIDE_H
#define FB_INGEST_SIDE_H

#include <stddef.h>

#include "daemon/ingest.h"
#include "parsers/evidence.h"

enum ingest_side_result {
  INGEST_SIDE_NOT_MINE = 0, /* not a side-evidence type: another reader's job */
  INGEST_SIDE_READ,         /* read completely */
  INGEST_SIDE_PARTIAL,      /* read, but part of it was lost: msg says what */
  INGEST_SIDE_FAILED,       /* nothing read: msg says why */
  INGEST_SIDE_STOPPED,      /* the sink asked to stop */
};

/* Read artifact a into sink. msg (may be NULL) receives "file: offset: what"
 * for PARTIAL/FAILED. Origins name a->chain, not the work-dir path, so the
 * verdict cites what the customer sent. */
enum ingest_side_result ingest_read_side(const struct ingest_artifact *a, const struct ev_sink *sink,
                                         char *msg, size_t msg_size);

#endif
