#include "parsers/evidence.h"

#include <string.h>

const char *ev_file_op_kind_name(enum ev_file_op_kind kind) {
  static const char *const names[] = {
      "other",  "create",    "cleanup", "close",   "read",       "write", "query_info", "set_info", "rename",
      "delete", "directory", "fsctl",   "section", "query_open", "lock",  "security",   "flush",    "op_end",
  };
  if ((unsigned)kind < sizeof(names) / sizeof(names[0]))
    return names[kind];
  return "other";
}

const char *ev_cb_phase_name(enum ev_cb_phase phase) {
  static const char *const names[] = {"pre_start", "post_start", "pre_end",
                                      "post_end",  "pre_failed", "post_failed"};
  if ((unsigned)phase < sizeof(names) / sizeof(names[0]))
    return names[phase];
  return "unknown";
}

const char *ev_fact_kind_name(enum ev_fact_kind kind) {
  static const char *const names[] = {"cbs_failure",    "wu_failure", "setup_result", "setup_crash",
                                      "driver_install", "bugcheck",   "other"};
  if ((unsigned)kind < sizeof(names) / sizeof(names[0]))
    return names[kind];
  return "other";
}

const char *ev_filter_source_name(enum ev_filter_source source) {
  static const char *const names[] = {"fltmc_filters", "fltmc_instances", "eventlog", "image"};
  if ((unsigned)source < sizeof(names) / sizeof(names[0]))
    return names[source];
  return "unknown";
}

const char *ev_path_basename(const char *path) {
  const char *back, *slash;

  if (path == NULL)
    return NULL;
  /* Two library scans from the end beat a byte loop (the PML reader calls
   * this for every module of every process). */
  back = strrchr(path, '\\');
  slash = strrchr(path, '/');
  if (back == NULL || (slash != NULL && slash > back))
    back = slash;
  return back != NULL ? back + 1 : path;
}

void ev_file_op_init(struct ev_file_op *op) {
  memset(op, 0, sizeof(*op));
  op->origin.offset = EV_UNKNOWN_U64;
  op->duration = EV_UNKNOWN_U64;
  op->info_class = EV_UNKNOWN_U32;
  op->desired_access = EV_UNKNOWN_U32;
  op->share_access = EV_UNKNOWN_U32;
  op->disposition = EV_UNKNOWN_U32;
  op->create_options = EV_UNKNOWN_U32;
  op->attributes = EV_UNKNOWN_U32;
  op->open_result = EV_UNKNOWN_U32;
}
