/* verdict.h - what the engine concluded about one upload, and its writers
 * (verdict.json, schema in docs/verdict.md and docs/verdict.schema.json;
 * verdict.txt in English or Simplified Chinese).
 *
 * The verdict owns all its strings. The engine fills findings, inventory and
 * facts; the job fills the upload id and the inputs.
 */
#ifndef FB_VERDICT_H
#define FB_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "parsers/error.h"
#include "rules/crash.h"

#define VERDICT_SCHEMA_VERSION "1.0"

enum vd_kind { VD_DENIED = 0, VD_HELD };

/* How sure the verdict is about the filter it names. */
enum vd_confidence {
  VD_UNDETERMINED = 0, /* the capture cannot name one; see the candidates */
  VD_SUSPECT,          /* ranked from the inventory, or a weak sign */
  VD_STRONG,           /* the filter's own frames / status / last pre-callback */
  VD_CONFIRMED,        /* the filter's callback failed this very operation (ETL), or an open handle seen */
};

/* Why a filter is named: the rule that fired. */
enum vd_reason {
  VD_R_NONE = 0,
  VD_R_CALLBACK_FAILED,   /* minifilter failure event on this IRP / file object */
  VD_R_LAST_PRE_CALLBACK, /* last third-party pre-callback before the failure */
  VD_R_NESTED_FRAMES,     /* its frames sit between two FltMgr runs on the failing stack */
  VD_R_STATUS_OWNER,      /* the status code belongs to it (cloud files -> cldflt) */
  VD_R_BELOW_OBSERVER,    /* present and below the observer that saw the failure */
  VD_R_PRESENT,           /* present on the machine (no position known) */
  VD_R_HOLDER_OPEN,       /* held: the holder's open is still open, share modes conflict */
  VD_R_HOLDER_MAYBE,      /* held: an open on the path is still open, share mode unknown */
  VD_R_HOLDER_PROCESS,    /* held: the holder process belongs to the product */
};

struct vd_filter {
  char *name;      /* as seen: "TmPreFlt.sys", "PROCMON24" */
  char *vendor;    /* NULL if unknown */
  char *product;   /* NULL if unknown */
  char *altitude;  /* as the machine reported it, or its only allocation; NULL if unknown */
  char *allocated; /* allocated altitudes from the database, "409500, 180451"; NULL if unknown */
  char *group;     /* load-order group, NULL if unknown */
  int inbox;       /* Microsoft's */
  int observer;
  int known; /* in the known-filter database */
};

struct vd_evidence {
  char *kind;   /* "file_op", "filter_callback", "stack", "status_owner", "open_handle", "inventory" */
  char *file;   /* input file */
  char *format; /* "pml", "etl", ... */
  uint64_t index;
  uint64_t offset; /* UINT64_MAX if unknown */
  uint64_t time;   /* FILETIME, 0 unknown */
  uint32_t pid, tid;
  uint64_t file_object, irp; /* 0 unknown */
  uint32_t status;
  int status_known;
  char *operation;
  char *module; /* the module this link names */
  char *text;   /* the event / frames as text (language neutral) */
};

struct vd_candidate {
  struct vd_filter filter;
  enum vd_reason reason;
  int rank; /* 1 = most likely */
};

struct vd_fact {
  char *kind; /* ev_fact_kind_name */
  char *file;
  uint64_t index;
  uint64_t time;
  uint32_t code;
  char *path, *subject, *text;
  int finding; /* index of the finding it is linked to, -1 none */
};

struct vd_finding {
  enum vd_kind kind;
  char *path;
  char *process;
  uint32_t pid;
  char *operation; /* source's own word: "CreateFile", "FileIo/Create" */
  char *op_kind;   /* ev_file_op_kind_name */
  uint32_t status;
  uint64_t first_time, last_time;
  uint32_t occurrences;
  char *observed_by; /* "procmon" (PROCMONnn at its altitude), "fileio", "minifilter" */
  char *observer_altitude;
  int has_filter;
  struct vd_filter filter;
  enum vd_confidence confidence;
  enum vd_reason reason;
  int fs_possible; /* the file system itself (ACL, attribute) cannot be ruled out */
  /* held */
  int has_holder;
  uint32_t holder_pid;
  char *holder_process;
  uint64_t holder_time;
  uint32_t holder_access, holder_share;
  struct vd_evidence *evidence;
  size_t nevidence, evidence_cap;
  uint32_t evidence_dropped;
  struct vd_candidate *candidates;
  size_t ncandidates;
};

enum vd_inv_source {
  VD_SRC_FLTMC = 1,
  VD_SRC_EVENTLOG = 2,
  VD_SRC_IMAGE = 4,
  VD_SRC_STACK = 8,
  VD_SRC_CALLBACK = 16
};

struct vd_inventory_entry {
  struct vd_filter filter;
  unsigned sources; /* VD_SRC_* */
  char *image_company, *image_version;
  int instances;         /* -1 unknown */
  int loaded;            /* -1 unknown */
  uint32_t stack_events; /* file-system events whose stack holds its frames between FltMgr runs */
};

struct vd_input {
  char *path;
  char *type; /* "pml", "etl", "evtx", ..., "unknown" */
  uint64_t size;
  char sha256[65];
  char *status; /* "read", "partial", "failed", "skipped" */
  char *error;  /* NULL if none */
  uint64_t records;
};

struct verdict {
  char *upload_id;
  char *generated_by;
  uint64_t time_first, time_last; /* range of the evidence, FILETIME */
  struct vd_input *inputs;
  size_t ninputs;
  struct vd_finding *findings;
  size_t nfindings;
  struct vd_inventory_entry *inventory;
  size_t ninventory;
  struct vd_fact *facts;
  size_t nfacts;
  struct crash_finding *crashes; /* kind "crash" (rules/crash.h, docs/crash.md) */
  size_t ncrashes;
  char **limits; /* what could not be decided / read, as sentences */
  size_t nlimits;
  struct {
    uint64_t file_ops, filter_callbacks, images, processes, filter_infos, facts, failures_seen;
    uint64_t state_evicted;
  } stats;
};

struct verdict *verdict_new(void);
void verdict_free(struct verdict *v);
void vd_filter_free(struct vd_filter *f);
/* Free what a finding owns and zero it (the finding itself is not freed). */
void vd_finding_free(struct vd_finding *f);
int vd_filter_copy(struct vd_filter *dst, const struct vd_filter *src);
int verdict_add_input(struct verdict *v, const struct vd_input *in);
int verdict_add_limit(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int verdict_add_crash(struct verdict *v, const struct crash_finding *f);
/* The verdict's confidence word for a crash finding (docs/crash.md mapping). */
enum vd_confidence vd_crash_confidence(const struct crash_finding *f);

const char *vd_kind_name(enum vd_kind k);
const char *vd_confidence_name(enum vd_confidence c);
const char *vd_reason_name(enum vd_reason r);
/* "STATUS_ACCESS_DENIED", NULL if not in the table. */
const char *vd_status_name(uint32_t status);
/* "2019-05-06T13:30:15.2798287Z" into buf (>= 32 bytes); "" for 0. */
const char *vd_time_iso(uint64_t filetime, char *buf, size_t size);

/* Writers. The JSON is built with jansson; the text is a short mail-ready report. */
char *verdict_json_string(const struct verdict *v); /* malloc'd, NULL on OOM */
int verdict_write_json(const struct verdict *v, const char *path, struct fb_error *err);
int verdict_write_text(const struct verdict *v, const char *lang, FILE *out);
int verdict_write_text_file(const struct verdict *v, const char *lang, const char *path,
                            struct fb_error *err);

#endif
