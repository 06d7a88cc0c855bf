/* evtx.h - Windows event logs (.evtx) through libevtx into the evidence model.
 *
 * Reads live records and then the recovered ones (slack space of cleared or
 * reused logs), and turns the few events that matter into evidence:
 *  - Microsoft-Windows-FilterManager 1/6 (filter unloaded/loaded, with the
 *    altitude and frame of event version 1) and 3/4/5/7/9 (failures)
 *    -> ev_filter_info, source EV_FSRC_EVENTLOG;
 *  - Microsoft-Windows-WindowsUpdateClient failures (20 install, 31 download,
 *    any error-level event with an errorCode) -> EV_FACT_WU_FAILURE, code =
 *    HRESULT, subject = update title;
 *  - Application "Windows Error Reporting" 1001 for WindowsUpdateFailure*
 *    buckets -> EV_FACT_WU_FAILURE (code from P2);
 *  - BugCheck / Microsoft-Windows-WER-SystemErrorReporting 1001 and
 *    Microsoft-Windows-Kernel-Power 41 with a bugcheck code -> EV_FACT_BUGCHECK;
 *  - Microsoft-Windows-Servicing package/update state changes with a
 *    non-zero ErrorCode -> EV_FACT_CBS_FAILURE, subject = package or update.
 * Evidence from recovered records carries origin.format "evtx-recovered"
 * (values come from the XML, whose element names libevtx garbles there).
 * origin.index is the EventRecordID; origin.offset is unknown (libevtx
 * 20181227 reports 0 for every record).
 *
 * Damaged files: a record libevtx cannot decode is counted, skipped, and
 * reading goes on. evtx_read returns FB_EFORMAT with a message naming the
 * count and the first failure when any live record was lost.
 */
#ifndef FB_EVTX_H
#define FB_EVTX_H

#include <stdint.h>

#include "parsers/error.h"
#include "parsers/evidence.h"

struct evtx_stats {
  uint64_t records;          /* live records the file lists */
  uint64_t records_failed;   /* ... of which libevtx could not decode */
  uint64_t recovered;        /* recovered records listed */
  uint64_t recovered_failed; /* ... of which unreadable (common; not an error) */
  uint64_t filter_infos;     /* evidence emitted */
  uint64_t facts;
  uint16_t version_major, version_minor;
  uint32_t flags; /* file header flags: 0x1 dirty, 0x2 full */
};

/* Read path and hand evidence to sink. Returns 0 when every live record was
 * read, FB_EFORMAT when some were not (the rest was still delivered; err
 * says how many and why), FB_EIO/FB_EFORMAT when the file cannot be opened,
 * FB_ESTOP when a sink callback asked to stop. st may be NULL. */
int evtx_read(const char *path, const struct ev_sink *sink, struct evtx_stats *st, struct fb_error *err);

/* One decoded event, as evtx_read sees it; exposed so the mapping can be
 * tested on events no public log has (BugCheck 1001, Kernel-Power 41). */
struct evtx_event {
  const char *file;
  const char *provider; /* source name, e.g. "Microsoft-Windows-FilterManager" */
  uint32_t event_id;
  uint64_t record_id;
  uint64_t time; /* FILETIME */
  int level;
  const char *xml;            /* the event rendered as XML; NULL if not available */
  const char *const *strings; /* EventData/UserData values in order; NULL if not available */
  int nstrings;
  int recovered;
};

/* 1 when evtx_event_emit would look at this provider/event id (so the
 * reader renders the XML only for those). */
int evtx_event_wanted(const char *provider, uint32_t event_id);

/* Turn one event into evidence. Returns 0, or FB_ESTOP if the sink stopped. */
int evtx_event_emit(const struct evtx_event *e, const struct ev_sink *sink, struct evtx_stats *st);

#endif
