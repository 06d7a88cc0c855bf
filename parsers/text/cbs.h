/* cbs.h - CBS.log (component-based servicing) failures as evidence.
 *
 * A line is "YYYY-MM-DD HH:MM:SS, Level<pad to 22> Comp<pad to 7> message".
 * Every line carrying "[HRESULT = 0x8xxxxxxx ...]" (a failure code) becomes
 * an EV_FACT_CBS_FAILURE: code = HRESULT, path = the file the line names
 * (or, when it names none, a path from the previous few lines of the same
 * second: CBS often prints the file just before the failure), subject = the
 * package identity or KB number named, text = the message. Times are UTC
 * when the log printed "Universal Time is: ..." for its session (the offset
 * is applied to later lines), else the log's local time taken as UTC.
 * origin.index = line number, origin.offset = byte offset of the line.
 */
#ifndef FB_CBS_H
#define FB_CBS_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"
#include "parsers/evidence.h"

struct cbs_stats {
  uint64_t lines;
  uint64_t entries;   /* timestamped lines */
  uint64_t errors;    /* lines of level Error */
  uint64_t failures;  /* facts emitted */
  int64_t utc_offset; /* applied offset in 100 ns units (UTC - local), 0 if none seen */
};

/* Parse CBS.log bytes. file names the input in origins and errors. Returns 0,
 * FB_EFORMAT when no line looked like CBS.log, FB_ESTOP if the sink stopped. */
int cbs_parse(const uint8_t *data, size_t size, const char *file, const struct ev_sink *sink,
              struct cbs_stats *st, struct fb_error *err);

/* Map and parse a file (gzip is inflated by fb_view). */
int cbs_read(const char *path, const struct ev_sink *sink, struct cbs_stats *st, struct fb_error *err);

#endif
