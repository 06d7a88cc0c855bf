/* etl_kernel.h - pure decoders of kernel event payloads (docs/etl-format.md §§5-11).
 *
 * Each function takes the event identity (type/opcode, version), the
 * record's pointer size (4 or 8, from its header type, not the file's) and
 * the payload bytes, and fills a struct. Nothing is allocated: strings are
 * returned as spans into the payload (struct etl_str), converted to UTF-8 by
 * etl_str_utf8() when the caller needs them.
 * Return values: 0, FB_EUNSUP (a version/type without a known layout),
 * FB_ETRUNC (the payload is shorter than the layout), FB_EFORMAT (bad pointer
 * size). A string that runs to the payload end without its NUL is accepted
 * (cut there); nothing past `size` is ever read.
 */
#ifndef FB_ETL_KERNEL_H
#define FB_ETL_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/evidence.h"

/* Kernel groups (hook id >> 8) and the Process/Image opcodes that matter. */
enum {
  ETL_GROUP_HEADER = 0x00,
  ETL_GROUP_DISKIO = 0x01,
  ETL_GROUP_PROCESS = 0x03,
  ETL_GROUP_FILE = 0x04,
  ETL_GROUP_THREAD = 0x05,
  ETL_GROUP_CONFIG = 0x0B,
  ETL_GROUP_PERFINFO = 0x0F,
  ETL_GROUP_IMAGE = 0x14,
  ETL_GROUP_STACKWALK = 0x18,
};

enum {
  ETL_OP_START = 1,
  ETL_OP_END = 2,
  ETL_OP_DCSTART = 3,
  ETL_OP_DCEND = 4,
  ETL_OP_LOAD = 10, /* Image Load: group 3 (Process), type 10 */
  ETL_OP_PROCESS_TERMINATE = 11,
  ETL_OP_PROCESS_DEFUNCT = 39,
};

/* A string inside a payload: UTF-16LE (wide) or ANSI, without its NUL. */
struct etl_str {
  const uint8_t *p;
  size_t len; /* code units */
  int wide;
};

/* UTF-8 into out (always NUL-terminated when cap > 0); returns bytes written. */
size_t etl_str_utf8(const struct etl_str *s, char *out, size_t cap);
/* 1 if s equals the ASCII string a ignoring case. */
int etl_str_eq_ascii(const struct etl_str *s, const char *a);

/* ---- Process (group 3: 1 Start, 2 End, 3 DCStart, 4 DCEnd, 39 Defunct; 11 Terminate) */
struct etl_process {
  uint64_t key; /* UniqueProcessKey (EPROCESS) */
  uint32_t pid;
  uint32_t ppid;
  uint32_t session;
  int32_t exit_status;
  uint64_t dtb;
  uint32_t flags;
  struct etl_str image_name; /* ANSI, e.g. "TiWorker.exe" */
  struct etl_str command_line;
};
int etl_decode_process(unsigned type, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                       struct etl_process *out);

/* ---- Thread (group 5: 1 Start, 2 End, 3 DCStart, 4 DCEnd; v1+) */
struct etl_thread {
  uint32_t pid;
  uint32_t tid;
};
int etl_decode_thread(unsigned type, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                      struct etl_thread *out);

/* ---- Image (group 3 type 10 Load; group 20: 2 Unload, 3 DCStart, 4 DCEnd; v2/v3) */
struct etl_image {
  uint64_t base;
  uint64_t size;
  uint32_t pid;
  uint32_t checksum;
  uint32_t time_date_stamp;
  uint64_t default_base;
  struct etl_str path; /* \SystemRoot\System32\drivers\fltMgr.sys, \Device\HarddiskVolume2\... */
};
int etl_decode_image(unsigned type, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                     struct etl_image *out);

/* ---- FileIo (group 4) and Microsoft-Windows-Kernel-File ----------------- */

/* What an event is, once the opcode (classic) or the event id (Kernel-File)
 * is mapped. */
enum etl_file_kind {
  ETL_FILE_UNKNOWN = 0,
  ETL_FILE_NAME,       /* 0 Name, 32 FileCreate, 35 FileDelete, 36 FileRundown: key -> path */
  ETL_FILE_CREATE,     /* 64 (78 CreateNew) */
  ETL_FILE_SIMPLE,     /* 65 Cleanup, 66 Close, 73 Flush */
  ETL_FILE_RW,         /* 67 Read, 68 Write */
  ETL_FILE_INFO,       /* 69 SetInfo, 70 Delete, 71 Rename, 74 QueryInfo, 75 FSControl */
  ETL_FILE_DIRENUM,    /* 72 DirEnum, 77 DirNotify */
  ETL_FILE_OPEND,      /* 76 */
  ETL_FILE_PATHOP,     /* 79 DeletePath, 80 RenamePath, 81 SetLinkPath */
  ETL_FILE_MINIFILTER, /* 96..101: see etl_minifilter.h */
};

struct etl_file {
  unsigned opcode; /* classic opcode (Kernel-File ids are mapped to it) */
  enum etl_file_kind kind;
  uint64_t irp;
  uint64_t file_object;
  uint64_t file_key;
  uint64_t extra_info;     /* Info/PathOp ExtraInfo; OpEnd: IoStatus.Information */
  uint64_t offset;         /* Read/Write */
  uint32_t ttid;           /* issuing thread */
  uint32_t create_options; /* Create: low 24 bits options, high 8 bits disposition */
  uint32_t attributes;
  uint32_t share_access;
  uint32_t io_size;
  uint32_t io_flags;
  uint32_t info_class;
  uint32_t length;     /* DirEnum */
  uint32_t status;     /* OpEnd NTSTATUS */
  struct etl_str path; /* Create OpenPath, Name FileName, DirEnum pattern, PathOp FileName */
};

enum etl_file_kind etl_file_kind_of(unsigned opcode);
/* "Create", "Cleanup", ... ("FileRundown" for 36) or NULL. */
const char *etl_file_opcode_name(unsigned opcode);
/* The evidence kind for a classic opcode. */
enum ev_file_op_kind etl_file_ev_kind(unsigned opcode);

/* Classic FileIo. version 2 = MOF order (TTID pointer-sized before
 * FileObject), 3+ = Windows 8+ order. Minifilter opcodes are refused here
 * (FB_EUNSUP): decode them with etl_flt_decode(). */
int etl_decode_fileio(unsigned opcode, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                      struct etl_file *out);

/* Microsoft-Windows-Kernel-File {edd08927-9cc4-4e65-b970-c2560fb5c289}:
 * event id -> classic opcode (0 if not a file operation event). */
unsigned etl_kfile_opcode(unsigned id);
/* Kernel-File event: id/version of the EVENT_DESCRIPTOR; V1 templates use
 * the v3 order, V0 the v2 order. */
int etl_decode_kfile(unsigned id, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                     struct etl_file *out);

extern const uint8_t etl_guid_kernel_file[16];

/* ---- StackWalk (group 24) ----------------------------------------------- */
enum etl_stack_kind {
  ETL_STACK_FRAMES = 0, /* 32 Stack: frames for (event_ts, tid) */
  ETL_STACK_KEY_REF,    /* 37 StackKeyKernel / 38 StackKeyUser: a key for (event_ts, tid) */
  ETL_STACK_KEY_DEF,    /* 34 KeyCreate, 35 KeyDelete, 36 KeyRundown: key -> frames */
};
struct etl_kstack {
  enum etl_stack_kind kind;
  int user; /* 38 StackKeyUser */
  uint64_t event_ts;
  uint32_t pid;
  uint32_t tid;
  uint64_t key;
  const uint8_t *frames; /* count addresses of frame_size bytes, innermost first */
  uint32_t count;
  unsigned frame_size;
};
int etl_decode_stackwalk(unsigned type, unsigned ptr_size, const uint8_t *p, size_t size,
                         struct etl_kstack *out);
/* EVENT_HEADER extended item STACK_TRACE32 (5) / STACK_TRACE64 (6) data. */
int etl_decode_ext_stack(unsigned ext_type, const uint8_t *p, size_t size, struct etl_kstack *out);
static inline uint64_t etl_kstack_frame(const struct etl_kstack *s, uint32_t i) {
  const uint8_t *f = s->frames + (size_t)i * s->frame_size;
  uint64_t v = 0;
  for (unsigned k = 0; k < s->frame_size; k++)
    v |= (uint64_t)f[k] << (8 * k);
  return v;
}

/* ---- KernelTraceControl (FULL_HEADER records) -------------------------- */
extern const uint8_t etl_guid_sysconfig[16]; /* 9b79ee91-b5fd-41c0-a243-4248e266e9d0 */
extern const uint8_t etl_guid_image_id[16];  /* b3e675d7-2554-4f18-830b-2762732560de */

/* SysConfig type 35 VolumeMapping: NtPath -> DosPath. */
struct etl_volume_mapping {
  struct etl_str nt_path;  /* \Device\HarddiskVolume2\ */
  struct etl_str dos_path; /* C:\ */
};
int etl_decode_volume_mapping(const uint8_t *p, size_t size, struct etl_volume_mapping *out);

/* ImageID type 64 FileVersion: the version resource of the next image event. */
struct etl_file_version {
  uint32_t image_size;
  uint32_t time_date_stamp;
  struct etl_str orig_file_name, description, file_version, product_name, company;
};
int etl_decode_file_version(const uint8_t *p, size_t size, struct etl_file_version *out);

#endif
