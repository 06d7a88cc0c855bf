/* fltmc.h - text of `fltmc filters` / `fltmc instances` as filter inventory.
 *
 * The tables are fixed-width with a dash row under the header; the dash row
 * gives the column spans, and each blank-separated word of a row goes to the
 * column it overlaps most (so right-aligned numbers, "<Legacy>" frames that
 * start in a gap, blank cells and instance names with spaces all land
 * right). The header above the dash row tells the table kind, in English or
 * Chinese; without a recognizable header the column count decides (4 =
 * filters, 6 or more = instances). `fltmc volumes` tables are skipped.
 * Input may be UTF-16LE, UTF-8 or ANSI/GBK (see textlines.h).
 *
 * Filters rows -> ev_filter_info{source FLTMC_FILTERS, name, altitude (text),
 * instances (-1 blank), frame (-1 for <Legacy>), loaded 1}; instances rows ->
 * {source FLTMC_INSTANCES, name, volume (NULL when blank), altitude,
 * instance, frame}. origin.index = line number, origin.offset = its byte
 * offset.
 */
#ifndef FB_FLTMC_H
#define FB_FLTMC_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"
#include "parsers/evidence.h"

struct fltmc_stats {
  uint64_t lines;
  uint32_t tables;    /* filter or instance tables found */
  uint32_t filters;   /* rows emitted from filters tables */
  uint32_t instances; /* rows emitted from instances tables */
  uint32_t skipped;   /* rows inside a table that did not parse */
  int legacy;         /* filters with frame <Legacy> */
};

/* Parse fltmc output. Returns 0; FB_EFORMAT when no table was found (err
 * quotes fltmc's own failure line, e.g. "Filter listing failed with error:
 * 0x80070005" when it was not run elevated); FB_ESTOP if the sink stopped. */
int fltmc_parse(const uint8_t *data, size_t size, const char *file, const struct ev_sink *sink,
                struct fltmc_stats *st, struct fb_error *err);

int fltmc_read(const char *path, const struct ev_sink *sink, struct fltmc_stats *st, struct fb_error *err);

#endif
