/* etl_minifilter.h - the FltMgr minifilter events (FileIo opcodes 96-101).
 *
 * THE one place that holds every assumption about these events' payloads.
 * No public trace with them is known (docs/etl-minifilter.md lists every
 * source and what each one says), so the decoder:
 *   - picks the layout by payload size, not by opcode (sources disagree on
 *     which opcode carries which structure):
 *       5P+4  = INIT   RoutineAddr, FileObject, FsContext, Irp, CallbackData
 *                      (P each), i32 MajorFunction    (PERFINFO_FLT_OPERATION)
 *       5P+8  = STATUS the same + u32 NTSTATUS        (..._OPERATION_STATUS)
 *       5P+12 = TIMED  u64 InitialTime, then INIT     (MOF FltIoCompletion)
 *     (P=8: 44/48/52 bytes; P=4: 24/28/32 bytes);
 *   - refuses every other size with FB_EUNSUP (the caller counts and skips);
 *   - counts every (opcode, version, pointer size, payload size) it is
 *     handed, so the first real trace settles the question (`--stats`).
 */
#ifndef FB_ETL_MINIFILTER_H
#define FB_ETL_MINIFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/evidence.h"

#define ETL_FLT_OP_FIRST 96 /* EVENT_TRACE_TYPE_FLT_PREOP_INIT */
#define ETL_FLT_OP_LAST 101 /* EVENT_TRACE_TYPE_FLT_POSTOP_FAILURE */

enum etl_flt_stage {
  ETL_FLT_INIT = 0,       /* 96/97: the callback is about to be called */
  ETL_FLT_COMPLETION = 1, /* 98/99: the callback returned */
  ETL_FLT_FAILURE = 2,    /* 100/101: the callback failed the operation */
};

enum etl_flt_layout {
  ETL_FLT_LAYOUT_INIT = 0, /* 5P+4 */
  ETL_FLT_LAYOUT_STATUS,   /* 5P+8 */
  ETL_FLT_LAYOUT_TIMED,    /* 5P+12 */
};

struct etl_flt_event {
  uint8_t opcode;
  int post; /* 0 pre-operation (even opcode), 1 post-operation (odd) */
  enum etl_flt_stage stage;
  enum etl_flt_layout layout;
  int layout_expected; /* 1 if the layout is the one the MOF classes give for this opcode */
  enum ev_cb_phase phase;
  uint64_t routine; /* the minifilter's pre/post callback address */
  uint64_t file_object;
  uint64_t fs_context; /* FsContext / "FileContext": the FCB */
  uint64_t irp;
  uint64_t callback_data; /* FLT_CALLBACK_DATA */
  uint32_t major_raw;     /* the i32 as stored */
  int major_function;     /* IRP_MJ_* 0..27, or -1..-20 for FltMgr pseudo-operations */
  int major_known;        /* 0 when major_raw is neither */
  uint32_t status;        /* STATUS layout only */
  int status_known;
  uint64_t initial_time; /* TIMED layout only: raw clock ticks when the callback started */
  int initial_time_known;
};

/* Every (opcode, version, pointer size, payload size) seen, with counts. */
#define ETL_FLT_CENSUS_ROWS 32
struct etl_flt_census_row {
  uint8_t opcode;
  uint8_t ptr_size;
  uint16_t version;
  uint32_t size;
  int decoded; /* 1 if that size has a layout */
  uint64_t count;
};
struct etl_flt_census {
  struct etl_flt_census_row rows[ETL_FLT_CENSUS_ROWS];
  unsigned nrows;
  uint64_t overflow; /* events whose row did not fit in the table */
  uint64_t total;
  uint64_t refused; /* events with a size that has no layout */
};

/* 1 if (group, opcode) is a minifilter event. */
static inline int etl_flt_is_minifilter(unsigned group, unsigned opcode) {
  return group == 4 && opcode >= ETL_FLT_OP_FIRST && opcode <= ETL_FLT_OP_LAST;
}

/* Decode one payload. ptr_size is the record's pointer size (4 or 8, from its
 * header type). census may be NULL. Returns 0, FB_EUNSUP for a size without a
 * layout, FB_EFORMAT for an opcode outside 96..101 or a pointer size other
 * than 4/8. The version is only counted: every source names version 3, but
 * the size decides. */
int etl_flt_decode(unsigned opcode, unsigned version, unsigned ptr_size, const uint8_t *payload, size_t size,
                   struct etl_flt_event *out, struct etl_flt_census *census);

/* Normalize a stored MajorFunction: 0..27 stay; FltMgr pseudo-operations
 * (UCHAR)-n may arrive as 0x100-n or as a sign-extended LONG -n; both give -n
 * (n = 1..20). Returns 0 and sets *mj, or -1 if the value is neither. */
int etl_flt_major_normalize(uint32_t raw, int *mj);

/* "IRP_MJ_CREATE", "IRP_MJ_ACQUIRE_FOR_SECTION_SYNCHRONIZATION", ... or NULL. */
const char *etl_flt_major_name(int mj);

/* "PreOpInit", "PostOpCompletion", ... for 96..101, else NULL. */
const char *etl_flt_opcode_name(unsigned opcode);

const char *etl_flt_layout_name(enum etl_flt_layout layout);

#endif
