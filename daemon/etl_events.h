/* etl_events.h - `fltblame etl FILE --events [--filter ...]`: one JSON object
 * per decoded evidence record (JSON Lines), from parsers/etl/etl_decode.h.
 *
 * Each line: {"time":"2026-01-05T02:00:01.1234567Z","kind":"file_op","pid":..,
 * "tid":..,...fields...,"stack":["fltmgr.sys+0x1844",...]}; kinds are image,
 * process, thread, file_op, filter_callback, filter_info, fact. The last line is a
 * summary: {"kind":"summary",...decode statistics and the minifilter census}.
 */
#ifndef FB_ETL_EVENTS_H
#define FB_ETL_EVENTS_H

#include <stdint.h>
#include <stdio.h>

#include "parsers/error.h"

struct etl_events_filter {
  const char *path; /* substring of path or device path (file_op), image path; NULL = any */
  uint32_t pid;     /* UINT32_MAX = any */
  /* record kind ("file_op", "filter_callback", "filter_info", "image",
   * "process", "thread", "fact") or a file-operation kind ("create", "close", "op_end", ...); NULL = any */
  const char *kind;
};

/* Parse one "--filter" value: "path=...", "pid=N" or "kind=...". Returns 0 or -1. */
int etl_events_filter_parse(struct etl_events_filter *f, const char *arg);
void etl_events_filter_init(struct etl_events_filter *f);

/* Decode path and print every record that passes the filter to out.
 * Returns 0 or a negative FB_E* (err filled). */
int etl_events_print(const char *path, FILE *out, const struct etl_events_filter *filter,
                     struct fb_error *err);

/* The `fltblame etl FILE --events` entry point called by daemon/cmd_etl.c:
 * argv = the options after FILE ("--events", "--filter path=...", "--filter=pid=4",
 * "--filter kind=filter_callback", repeatable). Prints to stdout, errors to
 * stderr; returns an FB_EXIT_* status. */
int etl_print_events(const char *path, int argc, char **argv);

#endif
