/* pml_csv.h - Procmon's "Save as CSV" rows from a PML capture.
 *
 * Procmon writes UTF-8 with a BOM, every field in double quotes (inner quotes
 * doubled), rows ending in CR LF (every corpus CSV; a bare CR or LF inside a
 * field, as in Process Start environments, stays as it is), columns named
 * and ordered as in the user's view.
 * Times are the viewer's local time: the PML holds UTC, so the time zone is
 * an option (fixed offset or a zone name from the system zoneinfo).
 * Operation, Path, Result, Detail and Category come from pml_render.c.
 */
#ifndef FB_PML_CSV_H
#define FB_PML_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/pml/pml.h"
#include "parsers/strbuf.h"

/* Procmon's 27 columns, in the order of a full export; then ours. */
enum pml_column {
  PML_COL_TIME_OF_DAY = 0,
  PML_COL_PROCESS_NAME,
  PML_COL_PID,
  PML_COL_OPERATION,
  PML_COL_PATH,
  PML_COL_RESULT,
  PML_COL_DETAIL,
  PML_COL_DATE_TIME,
  PML_COL_RELATIVE_TIME,
  PML_COL_DURATION,
  PML_COL_COMPLETION_TIME,
  PML_COL_EVENT_CLASS,
  PML_COL_SEQUENCE,
  PML_COL_IMAGE_PATH,
  PML_COL_COMPANY,
  PML_COL_DESCRIPTION,
  PML_COL_VERSION,
  PML_COL_USER,
  PML_COL_AUTH_ID,
  PML_COL_SESSION,
  PML_COL_COMMAND_LINE,
  PML_COL_TID,
  PML_COL_VIRTUALIZED,
  PML_COL_INTEGRITY,
  PML_COL_CATEGORY,
  PML_COL_PARENT_PID,
  PML_COL_ARCHITECTURE,
  PML_COL_PROCMON_COUNT,                 /* the 27 above are Procmon's */
  PML_COL_STACK = PML_COL_PROCMON_COUNT, /* not Procmon's: resolved frames joined by " > " */
  PML_COL_COUNT,
};

enum pml_locale {
  PML_LOCALE_EN_US = 0, /* 1:18:10.7752429 AM, 7/12/2020, 1,612, 0.0000074 */
  PML_LOCALE_ES_ES,     /* 15:42:22,8459553, 12/07/2020, 1.612, 0,0000074 */
};

enum pml_tz_mode {
  PML_TZ_FIXED = 0, /* tz_offset seconds east of UTC (0 = UTC) */
  PML_TZ_ZONE,      /* tz_name from the system zoneinfo, DST per event */
};

struct pml_csv_options {
  int columns[PML_COL_COUNT * 2];
  int ncolumns;
  enum pml_tz_mode tz_mode;
  int32_t tz_offset;
  char tz_name[128];
  enum pml_locale locale;
};

struct pml_csv;

/* Procmon's seven default columns, UTC, en-US. */
void pml_csv_options_default(struct pml_csv_options *o);

/* Column name as Procmon writes it in the header ("Date & Time"). */
const char *pml_column_name(int column);
/* Column by name (case-insensitive); -1 if unknown. */
int pml_column_lookup(const char *name);

/* "Time of Day,Process Name,..." (names, comma-separated) or "all" (the 27
 * columns in a full export's order). Returns 0, or -1 with a message. */
int pml_csv_columns_parse(struct pml_csv_options *o, const char *spec, char *msg, size_t msg_size);

/* "UTC", "+08:00", "-05:30", "+8", or a zone name ("Europe/Madrid").
 * Returns 0, or -1 with a message. */
int pml_csv_tz_parse(struct pml_csv_options *o, const char *spec, char *msg, size_t msg_size);

/* "en-US" or "es-ES". Returns 0, or -1 with a message. */
int pml_csv_locale_parse(struct pml_csv_options *o, const char *spec, char *msg, size_t msg_size);

/* A writer for one capture. NULL on allocation failure. The zone option
 * sets TZ in this process's environment. */
struct pml_csv *pml_csv_new(struct pml_file *f, const struct pml_csv_options *o);
void pml_csv_free(struct pml_csv *c);

/* The header row, starting with the UTF-8 BOM, ending with CR LF. Appended. */
void pml_csv_header(struct pml_csv *c, struct fb_strbuf *out);
/* One event as a CSV row ending with CR LF. Appended. */
void pml_csv_row(struct pml_csv *c, const struct pml_event *ev, struct fb_strbuf *out);
/* One field's text, unquoted. Appended. */
void pml_csv_field(struct pml_csv *c, const struct pml_event *ev, int column, struct fb_strbuf *out);

/* Time formats used by the columns (exposed for tests and the text output):
 * FILETIME -> local time of day / date and time in the writer's zone. */
void pml_csv_time_of_day(struct pml_csv *c, uint64_t filetime, struct fb_strbuf *out);
void pml_csv_date_time(struct pml_csv *c, uint64_t filetime, struct fb_strbuf *out);

#endif
