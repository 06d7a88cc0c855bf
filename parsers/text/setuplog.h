/* setuplog.h - Windows Setup logs: setupact.log and setuperr.log (Panther,
 * Rollback, WinPE), in both line formats:
 *
 *   2022-07-06 08:08:29, Info                  MOUPG  message
 *   2019-03-29 00:25:29, Info       [0x0601c1] IBS    message
 *
 * (21-character timestamp prefix, local time without zone; the level field is
 * 22 wide, or 11 wide followed by a message id; the 7-wide component starts at
 * column 43 either way). Lines without the prefix continue the previous
 * message. Decoded: setup phase changes, result/extend codes such as
 * "0xC1900101 - 0x40017" (phase and operation per docs/upgrade-failures.md §2),
 * the last MOUPG "Result = 0x..." of an error chain, and the rollback log's
 * "Crash 0x... detected" block with its module name and four parameters.
 *
 * Evidence: EV_FACT_SETUP_RESULT per result/extend pair (code, extra_code,
 * subject "SECOND_BOOT / boot") and one for the final MOUPG result
 * (extra_code EV_UNKNOWN_U32, subject "final result"); EV_FACT_SETUP_CRASH per
 * crash block (code, params, subject = module name or NULL); EV_FACT_OTHER
 * per phase change (subject "setup phase: A -> B"). Times are the log's local
 * time read as if it were UTC (the zone is not in the file).
 */
#ifndef FB_SETUPLOG_H
#define FB_SETUPLOG_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"
#include "parsers/evidence.h"

#define SETUPLOG_MAX_COMPONENTS 64
#define SETUPLOG_MAX_PHASES 32

struct setuplog_component {
  char name[8]; /* "" for a blank component column */
  uint64_t count;
};

struct setuplog_phase_change {
  uint64_t line; /* 1-based */
  char from[48];
  char to[48];
};

struct setuplog_summary {
  uint64_t lines;        /* all lines, continuation lines included */
  uint64_t timestamped;  /* lines with the timestamp prefix */
  uint64_t continuation; /* lines without it */
  uint64_t with_msgid;   /* lines with a [0x......] message id */
  uint64_t info, warning, error, fatal, other_level;
  int bom;                            /* UTF-8 byte order mark */
  int crlf;                           /* first line ends in CRLF */
  char first_time[20], last_time[20]; /* "YYYY-MM-DD HH:MM:SS" */

  uint32_t ncomponents; /* distinct components (capped) */
  struct setuplog_component components[SETUPLOG_MAX_COMPONENTS];
  uint32_t nphases; /* phase changes kept (capped); phase_changes counts all */
  uint32_t phase_changes;
  struct setuplog_phase_change phases[SETUPLOG_MAX_PHASES];

  uint32_t dump_prepared; /* "... will be generated in case of bugcheck" lines */

  uint32_t results; /* result/extend pairs seen; the last one: */
  uint32_t result;
  uint32_t extend;
  uint64_t result_line;
  char phase_operation[64]; /* "SECOND_BOOT / boot" */

  uint32_t final_result; /* last MOUPG "Result = 0x..." (0 if none) */
  uint64_t final_result_line;
  char final_result_where[128]; /* "CSetupHost::Execute(433)" */

  uint32_t crashes; /* crash blocks; the last one: */
  uint32_t crash_code;
  uint64_t crash_params[4];
  char crash_module[128];
  uint64_t crash_line;

  char last_failed_operation[256]; /* SP "Operation failed: X. Error: ..." */
};

/* Parse a whole log held in memory. file names the input in errors and
 * evidence; sink may be NULL (summary only); sum may be NULL. Returns 0,
 * FB_EFORMAT when the text has no setup-log line shape, or FB_ESTOP. */
int setuplog_parse(const void *data, size_t size, const char *file, const struct ev_sink *sink,
                   struct setuplog_summary *sum, struct fb_error *err);

/* Map the file (gzip too) and parse it. */
int setuplog_parse_file(const char *path, const struct ev_sink *sink, struct setuplog_summary *sum,
                        struct fb_error *err);

/* Does the text start with a setup-log line ("YYYY-MM-DD HH:MM:SS, Level")?
 * CBS.log shares the shape; tell them apart by name or component. */
int setuplog_sniff(const void *data, size_t size);

/* Phase and operation names of an extend code (0x40017 -> "SECOND_BOOT",
 * "boot"); "UNKNOWN"/"unknown" for values outside the tables. */
const char *setup_phase_name(uint32_t extend);
const char *setup_operation_name(uint32_t extend);
/* "SECOND_BOOT / boot" into buf. */
const char *setup_extend_describe(uint32_t extend, char *buf, size_t size);

/* Count of one component in a summary (name "" = blank column). */
uint64_t setuplog_component_count(const struct setuplog_summary *sum, const char *name);

#endif
