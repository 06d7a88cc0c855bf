/* etl_minifilter.c - decoding of the FltMgr minifilter events (see the header
 * and docs/etl-minifilter.md for the sources behind every rule here). */
#include "parsers/etl/etl_minifilter.h"

#include <string.h>

#include "parsers/bytes.h"
#include "parsers/error.h"

static const char *const major_names[28] = {
    "IRP_MJ_CREATE",
    "IRP_MJ_CREATE_NAMED_PIPE",
    "IRP_MJ_CLOSE",
    "IRP_MJ_READ",
    "IRP_MJ_WRITE",
    "IRP_MJ_QUERY_INFORMATION",
    "IRP_MJ_SET_INFORMATION",
    "IRP_MJ_QUERY_EA",
    "IRP_MJ_SET_EA",
    "IRP_MJ_FLUSH_BUFFERS",
    "IRP_MJ_QUERY_VOLUME_INFORMATION",
    "IRP_MJ_SET_VOLUME_INFORMATION",
    "IRP_MJ_DIRECTORY_CONTROL",
    "IRP_MJ_FILE_SYSTEM_CONTROL",
    "IRP_MJ_DEVICE_CONTROL",
    "IRP_MJ_INTERNAL_DEVICE_CONTROL",
    "IRP_MJ_SHUTDOWN",
    "IRP_MJ_LOCK_CONTROL",
    "IRP_MJ_CLEANUP",
    "IRP_MJ_CREATE_MAILSLOT",
    "IRP_MJ_QUERY_SECURITY",
    "IRP_MJ_SET_SECURITY",
    "IRP_MJ_POWER",
    "IRP_MJ_SYSTEM_CONTROL",
    "IRP_MJ_DEVICE_CHANGE",
    "IRP_MJ_QUERY_QUOTA",
    "IRP_MJ_SET_QUOTA",
    "IRP_MJ_PNP",
};

/* fltkernel.h: FltMgr's pseudo-operations, defined as ((UCHAR)-n). -8..-12
 * are not defined by any header copy found; they normalize but have no name.
 * -7 is IRP_MJ_NOTIFY_STREAM_FO_CREATION in older headers and
 * IRP_MJ_QUERY_OPEN in newer ones. */
static const char *const pseudo_names[21] = {
    NULL,
    "IRP_MJ_ACQUIRE_FOR_SECTION_SYNCHRONIZATION",
    "IRP_MJ_RELEASE_FOR_SECTION_SYNCHRONIZATION",
    "IRP_MJ_ACQUIRE_FOR_MOD_WRITE",
    "IRP_MJ_RELEASE_FOR_MOD_WRITE",
    "IRP_MJ_ACQUIRE_FOR_CC_FLUSH",
    "IRP_MJ_RELEASE_FOR_CC_FLUSH",
    "IRP_MJ_QUERY_OPEN",
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    "IRP_MJ_FAST_IO_CHECK_IF_POSSIBLE",
    "IRP_MJ_NETWORK_QUERY_OPEN",
    "IRP_MJ_MDL_READ",
    "IRP_MJ_MDL_READ_COMPLETE",
    "IRP_MJ_PREPARE_MDL_WRITE",
    "IRP_MJ_MDL_WRITE_COMPLETE",
    "IRP_MJ_VOLUME_MOUNT",
    "IRP_MJ_VOLUME_DISMOUNT",
};

#define PSEUDO_MAX 20

int etl_flt_major_normalize(uint32_t raw, int *mj) {
  if (raw <= 27) {
    *mj = (int)raw;
    return 0;
  }
  /* (UCHAR)-n stored in a LONG without sign extension: 0xFF = -1 ... 0xEC = -20 */
  if (raw >= 0x100 - PSEUDO_MAX && raw <= 0xFF) {
    *mj = (int)raw - 0x100;
    return 0;
  }
  /* sign-extended: 0xFFFFFFFF = -1 ... 0xFFFFFFEC = -20 */
  if (raw >= 0xFFFFFFFFu - (PSEUDO_MAX - 1)) {
    *mj = -(int)(0xFFFFFFFFu - raw) - 1;
    return 0;
  }
  return -1;
}

const char *etl_flt_major_name(int mj) {
  if (mj >= 0 && mj <= 27)
    return major_names[mj];
  if (mj < 0 && mj >= -PSEUDO_MAX)
    return pseudo_names[-mj];
  return NULL;
}

const char *etl_flt_opcode_name(unsigned opcode) {
  static const char *const names[6] = {"PreOpInit",        "PostOpInit",   "PreOpCompletion",
                                       "PostOpCompletion", "PreOpFailure", "PostOpFailure"};
  if (opcode < ETL_FLT_OP_FIRST || opcode > ETL_FLT_OP_LAST)
    return NULL;
  return names[opcode - ETL_FLT_OP_FIRST];
}

const char *etl_flt_layout_name(enum etl_flt_layout layout) {
  switch (layout) {
  case ETL_FLT_LAYOUT_INIT: return "init";
  case ETL_FLT_LAYOUT_STATUS: return "init+status";
  case ETL_FLT_LAYOUT_TIMED: return "initial_time+init";
  }
  return "unknown";
}

static void census_count(struct etl_flt_census *c, unsigned opcode, unsigned version, unsigned ptr_size,
                         size_t size, int decoded) {
  uint32_t sz = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;

  c->total++;
  if (!decoded)
    c->refused++;
  for (unsigned i = 0; i < c->nrows; i++) {
    struct etl_flt_census_row *r = &c->rows[i];
    if (r->opcode == opcode && r->version == version && r->ptr_size == ptr_size && r->size == sz) {
      r->count++;
      return;
    }
  }
  if (c->nrows == ETL_FLT_CENSUS_ROWS) {
    c->overflow++;
    return;
  }
  c->rows[c->nrows++] = (struct etl_flt_census_row){
      .opcode = (uint8_t)opcode,
      .ptr_size = (uint8_t)ptr_size,
      .version = (uint16_t)version,
      .size = sz,
      .decoded = decoded,
      .count = 1,
  };
}

/* The phase in the evidence model for (stage, pre/post). */
static enum ev_cb_phase phase_of(enum etl_flt_stage stage, int post) {
  switch (stage) {
  case ETL_FLT_INIT: return post ? EV_CB_POST_START : EV_CB_PRE_START;
  case ETL_FLT_COMPLETION: return post ? EV_CB_POST_END : EV_CB_PRE_END;
  case ETL_FLT_FAILURE: return post ? EV_CB_POST_FAILED : EV_CB_PRE_FAILED;
  }
  return EV_CB_PRE_START;
}

int etl_flt_decode(unsigned opcode, unsigned version, unsigned ptr_size, const uint8_t *payload, size_t size,
                   struct etl_flt_event *out, struct etl_flt_census *census) {
  struct fb_cursor c;
  enum etl_flt_layout layout;
  enum etl_flt_layout expected;

  if (opcode < ETL_FLT_OP_FIRST || opcode > ETL_FLT_OP_LAST || (ptr_size != 4 && ptr_size != 8))
    return FB_EFORMAT;
  if (size == 5u * ptr_size + 4)
    layout = ETL_FLT_LAYOUT_INIT;
  else if (size == 5u * ptr_size + 8)
    layout = ETL_FLT_LAYOUT_STATUS;
  else if (size == 5u * ptr_size + 12)
    layout = ETL_FLT_LAYOUT_TIMED;
  else {
    if (census)
      census_count(census, opcode, version, ptr_size, size, 0);
    return FB_EUNSUP;
  }
  if (census)
    census_count(census, opcode, version, ptr_size, size, 1);

  memset(out, 0, sizeof(*out));
  out->opcode = (uint8_t)opcode;
  out->post = (opcode - ETL_FLT_OP_FIRST) & 1;
  out->stage = (enum etl_flt_stage)((opcode - ETL_FLT_OP_FIRST) / 2);
  out->phase = phase_of(out->stage, out->post);
  out->layout = layout;
  /* The MOF classes pair Init, Completion and Failure with these layouts;
   * ntwmi.h's comments pair 97 and 99 with the STATUS layout instead. */
  expected = out->stage == ETL_FLT_INIT         ? ETL_FLT_LAYOUT_INIT
             : out->stage == ETL_FLT_COMPLETION ? ETL_FLT_LAYOUT_TIMED
                                                : ETL_FLT_LAYOUT_STATUS;
  out->layout_expected = layout == expected;

  fb_cursor_init(&c, payload, size);
  if (layout == ETL_FLT_LAYOUT_TIMED) {
    out->initial_time = fb_cursor_u64(&c);
    out->initial_time_known = 1;
  }
  out->routine = fb_cursor_ptr(&c, ptr_size);
  out->file_object = fb_cursor_ptr(&c, ptr_size);
  out->fs_context = fb_cursor_ptr(&c, ptr_size);
  out->irp = fb_cursor_ptr(&c, ptr_size);
  out->callback_data = fb_cursor_ptr(&c, ptr_size);
  out->major_raw = fb_cursor_u32(&c);
  out->major_known = etl_flt_major_normalize(out->major_raw, &out->major_function) == 0;
  if (!out->major_known)
    out->major_function = (int)(out->major_raw & 0x7FFFFFFF);
  if (layout == ETL_FLT_LAYOUT_STATUS) {
    out->status = fb_cursor_u32(&c);
    out->status_known = 1;
  }
  return c.bad ? FB_EFORMAT : 0;
}
