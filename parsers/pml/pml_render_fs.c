/* pml_render_fs.c - File System events (class 3): operation names with
 * their sub-operations, the Path column, Detail and Category.
 * Layout: format doc 7.2; what we verified beyond it: docs/pml-render.md. */
#include <stdio.h>
#include <string.h>

#include "parsers/pml/pml_render_int.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum {
  FS_QUERY_OPEN = 6,
  FS_MDL_READ_COMPLETE = 4,
  FS_ACQUIRE_MOD_WRITE = 17,
  FS_CREATE_FILE_MAPPING = 19,
  FS_CREATE_FILE = 20,
  FS_CREATE_PIPE = 21,
  FS_READ = 23,
  FS_WRITE = 24,
  FS_QUERY_INFO = 25,
  FS_SET_INFO = 26,
  FS_QUERY_EA = 27,
  FS_SET_EA = 28,
  FS_QUERY_VOLUME = 30,
  FS_SET_VOLUME = 31,
  FS_DIRECTORY_CONTROL = 32,
  FS_FSCTL = 33,
  FS_IOCTL = 34,
  FS_INTERNAL_IOCTL = 35,
  FS_LOCK_UNLOCK = 37,
  FS_CREATE_MAILSLOT = 39,
  FS_QUERY_SECURITY = 40,
  FS_SET_SECURITY = 41,
  FS_PNP = 47,
};

static const char *const fs_ops[] = {
    "VolumeDismount",
    "VolumeMount",
    "FASTIO_MDL_WRITE_COMPLETE",
    "WriteFile2",
    "FASTIO_MDL_READ_COMPLETE",
    "ReadFile2",
    "QueryOpen",
    "FASTIO_CHECK_IF_POSSIBLE",
    "IRP_MJ_12",
    "IRP_MJ_11",
    "IRP_MJ_10",
    "IRP_MJ_9",
    "IRP_MJ_8",
    "FASTIO_NOTIFY_STREAM_FO_CREATION",
    "FASTIO_RELEASE_FOR_CC_FLUSH",
    "FASTIO_ACQUIRE_FOR_CC_FLUSH",
    "FASTIO_RELEASE_FOR_MOD_WRITE",
    "FASTIO_ACQUIRE_FOR_MOD_WRITE",
    "FASTIO_RELEASE_FOR_SECTION_SYNCHRONIZATION",
    "CreateFileMapping",
    "CreateFile",
    "CreatePipe",
    "IRP_MJ_CLOSE",
    "ReadFile",
    "WriteFile",
    "QueryInformationFile",
    "SetInformationFile",
    "QueryEAFile",
    "SetEAFile",
    "FlushBuffersFile",
    "QueryVolumeInformation",
    "SetVolumeInformation",
    "DirectoryControl",
    "FileSystemControl",
    "DeviceIoControl",
    "InternalDeviceIoControl",
    "Shutdown",
    "LockUnlockFile",
    "CloseFile",
    "CreateMailSlot",
    "QuerySecurityFile",
    "SetSecurityFile",
    "Power",
    "SystemControl",
    "DeviceChange",
    "QueryFileQuota",
    "SetFileQuota",
    "PlugAndPlay",
};

void pml_fs_parse(const struct pml_file *f, const struct pml_event *ev, struct pml_fs *fs) {
  struct fb_cursor c;
  size_t pb_len;
  uint16_t info;

  fs->ptr = pml_ptr_size(f);
  pb_len = 5 * (size_t)fs->ptr + 0x14;
  fb_cursor_init(&c, ev->detail, ev->detail ? ev->detail_size : 0);
  fs->subop = fb_cursor_u8(&c);
  fb_cursor_skip(&c, 3);
  fs->pb = c.bad ? NULL : c.p + c.pos;
  fs->pb_len = fb_cursor_left(&c) < pb_len ? fb_cursor_left(&c) : pb_len;
  fb_cursor_skip(&c, pb_len);
  info = fb_cursor_u16(&c);
  fb_cursor_skip(&c, 2);
  pml_dstr_take(&c, info, &fs->path);
  fs->tail = c;
}

uint32_t pml_fs_b32(const struct pml_fs *fs, size_t x86, size_t x64) {
  return pml_get32(fs->pb, fs->pb_len, fs->ptr == 8 ? x64 : x86);
}

uint64_t pml_fs_b64(const struct pml_fs *fs, size_t x86, size_t x64) {
  return pml_get64(fs->pb, fs->pb_len, fs->ptr == 8 ? x64 : x86);
}

/* The name of a sub-operation, NULL when Procmon (before 3.60, which wrote
 * every CSV of the corpus) did not know it and printed "<Unknown>". */
static const char *fs_subop_name(unsigned op, unsigned sub, int modern) {
  switch (op) {
  case FS_QUERY_INFO:
    if (sub >= 0x47 && !modern) /* QueryCaseSensitiveInformation and later */
      return NULL;
    return pml_name_find(pml_query_info_names, pml_query_info_names_count, sub);
  case FS_SET_INFO:
    if (sub >= 0x43 && !modern) /* SetStorageReservedIdInformation and later */
      return NULL;
    return pml_name_find(pml_set_info_names, pml_set_info_names_count, sub);
  case FS_QUERY_VOLUME: return pml_name_find(pml_query_volume_names, pml_query_volume_names_count, sub);
  case FS_SET_VOLUME: return pml_name_find(pml_set_volume_names, pml_set_volume_names_count, sub);
  case FS_DIRECTORY_CONTROL: return sub == 1 ? "QueryDirectory" : sub == 2 ? "NotifyChangeDirectory" : NULL;
  case FS_LOCK_UNLOCK: {
    static const char *const lk[] = {NULL, "LockFile", "UnlockFileSingle", "UnlockFileAll",
                                     "UnlockFileByKey"};
    return sub < COUNT(lk) ? lk[sub] : NULL;
  }
  case FS_PNP: return pml_name_find(pml_pnp_names, pml_pnp_names_count, sub);
  default: return NULL;
  }
}

static int fs_has_subops(unsigned op) {
  return op == FS_QUERY_INFO || op == FS_SET_INFO || op == FS_QUERY_VOLUME || op == FS_SET_VOLUME ||
         op == FS_DIRECTORY_CONTROL || op == FS_LOCK_UNLOCK || op == FS_PNP;
}

void pml_fs_operation(const struct pml_event *ev, const struct pml_fs *fs, int modern,
                      struct fb_strbuf *out) {
  const char *name = ev->operation < COUNT(fs_ops) ? fs_ops[ev->operation] : NULL;

  if (name && fs->subop && fs_has_subops(ev->operation))
    name = fs_subop_name(ev->operation, fs->subop, modern);
  fb_strbuf_puts(out, name ? name : "<Unknown>");
}

static int is_query_directory(const struct pml_event *ev, const struct pml_fs *fs) {
  return ev->operation == FS_DIRECTORY_CONTROL && fs->subop == 1;
}

/* QueryDirectory: the search pattern follows the path. */
static void fs_dir_filter(const struct pml_fs *fs, struct pml_dstr *s) {
  struct fb_cursor c = fs->tail;
  uint16_t info = fb_cursor_u16(&c);

  pml_dstr_take(&c, info, s);
}

int pml_fs_path(const struct pml_event *ev, const struct pml_fs *fs, struct fb_strbuf *out) {
  size_t start = out->len;
  struct pml_dstr filter;
  int quote = pml_put_dstr(out, &fs->path);

  if (!is_query_directory(ev, fs))
    return quote;
  fs_dir_filter(fs, &filter);
  if (!filter.nchars)
    return quote;
  if (out->len == start || out->s[out->len - 1] != '\\')
    fb_strbuf_putc(out, '\\');
  return pml_put_dstr(out, &filter) | quote;
}

/* ---- CreateFile ---- */

static const struct pml_flag fs_access[] = {
    {0x1F01FF, "All Access"},
    {0x1201BF, "Generic Read/Write/Execute"},
    {0x12019F, "Generic Read/Write"},
    {0x1200A9, "Generic Read/Execute"},
    {0x1201B6, "Generic Write/Execute"},
    {0x120089, "Generic Read"},
    {0x120116, "Generic Write"},
    {0x1200A0, "Generic Execute"},
    {0x1, "Read Data/List Directory"},
    {0x2, "Write Data/Add File"},
    {0x4, "Append Data/Add Subdirectory/Create Pipe Instance"},
    {0x8, "Read EA"},
    {0x10, "Write EA"},
    {0x20, "Execute/Traverse"},
    {0x40, "Delete Child"},
    {0x80, "Read Attributes"},
    {0x100, "Write Attributes"},
    {0x10000, "Delete"},
    {0x20000, "Read Control"},
    {0x40000, "Write DAC"},
    {0x80000, "Write Owner"},
    {0x100000, "Synchronize"},
    {0x1000000, "Access System Security"},
    {0x2000000, "Maximum Allowed"},
};

/* GENERIC_READ, _WRITE, _EXECUTE, _ALL as this object's own rights. */
static const uint32_t fs_put_access_generic[4] = {0x120089, 0x120116, 0x1200A0, 0x1F01FF};

static void fs_put_access(struct fb_strbuf *b, uint32_t mask) {
  pml_put_access(b, mask, fs_put_access_generic, fs_access, COUNT(fs_access));
}

static const struct pml_flag fs_options[] = {
    {0x1, "Directory"},
    {0x2, "Write Through"},
    {0x4, "Sequential Access"},
    {0x8, "No Buffering"},
    {0x10, "Synchronous IO Alert"},
    {0x20, "Synchronous IO Non-Alert"},
    {0x40, "Non-Directory File"},
    {0x80, "Create Tree Connection"},
    {0x100, "Complete If Oplocked"},
    {0x200, "No EA Knowledge"},
    {0x400, "Open for Recovery"},
    {0x800, "Random Access"},
    {0x1000, "Delete On Close"},
    {0x2000, "Open By ID"},
    {0x4000, "Open For Backup"},
    {0x8000, "No Compression"},
    {0x100000, "Reserve OpFilter"},
    {0x200000, "Open Reparse Point"},
    {0x400000, "Open No Recall"},
    {0x800000, "Open For Free Space Query"},
    {0x10000, "Open Requiring Oplock"},
    {0x20000, "Disallow Exclusive"},
};

static const struct pml_flag fs_attributes[] = {
    {0x1, "R"},   {0x2, "H"},    {0x4, "S"},      {0x10, "D"},   {0x20, "A"},
    {0x40, "D"},  {0x80, "N"},   {0x100, "T"},    {0x200, "SF"}, {0x400, "RP"},
    {0x800, "C"}, {0x1000, "O"}, {0x2000, "NCI"}, {0x4000, "E"}, {0x10000, "V"},
};

static void fs_put_attributes(struct fb_strbuf *b, uint32_t a) {
  if (!a) {
    fb_strbuf_puts(b, "n/a");
    return;
  }
  pml_put_flags(b, a, fs_attributes, COUNT(fs_attributes), "");
}

static const struct pml_flag fs_share[] = {{0x1, "Read"}, {0x2, "Write"}, {0x4, "Delete"}};

static const char *const fs_dispositions[] = {"Supersede", "Open",      "Create",
                                              "OpenIf",    "Overwrite", "OverwriteIf"};
static const char *const fs_open_results[] = {"Superseded",  "Opened", "Created",
                                              "Overwritten", "Exists", "DoesNotExist"};

static void fs_create_detail(const struct pml_file *f, const struct pml_event *ev, const struct pml_fs *fs,
                             struct pml_dw *w) {
  struct fb_cursor c = fs->tail;
  uint32_t access = fb_cursor_u32(&c);
  uint8_t sid_len = fb_cursor_u8(&c);
  uint32_t dispopt = pml_fs_b32(fs, 0x10, 0x14);
  unsigned disp = dispopt >> 24;
  uint16_t attrs = (uint16_t)pml_fs_b32(fs, 0x14, 0x1C);
  uint16_t share = (uint16_t)(pml_fs_b32(fs, 0x14, 0x1C) >> 16);
  const uint8_t *sid;

  fb_cursor_skip(&c, 3);
  sid = sid_len ? fb_cursor_take(&c, sid_len) : NULL;
  pml_field(w, "Desired Access");
  fs_put_access(w->b, access);
  pml_field(w, "Disposition");
  if (disp < COUNT(fs_dispositions))
    fb_strbuf_puts(w->b, fs_dispositions[disp]);
  else
    fb_strbuf_puts(w->b, "<unknown>");
  pml_field(w, "Options");
  pml_put_flags(w->b, dispopt & 0xFFFFFF, fs_options, COUNT(fs_options), ", ");
  pml_field(w, "Attributes");
  fs_put_attributes(w->b, attrs);
  pml_field(w, "ShareMode");
  if (!share)
    fb_strbuf_puts(w->b, "None");
  else
    pml_put_flags(w->b, share, fs_share, COUNT(fs_share), ", ");
  pml_field(w, "AllocationSize");
  if (disp == 0 || disp == 2 || disp == 3 || disp == 5)
    /* FLT_PARAMETERS.Create.AllocationSize (x64 value seen: 39,012 in
       win7-sp1-x64-createfile-denied; x86 offset from the structure) */
    pml_put_snum(w, (int64_t)pml_fs_b64(fs, 0x20, 0x34));
  else
    fb_strbuf_puts(w->b, "n/a");
  if (sid) {
    pml_field(w, "Impersonating");
    pml_put_account(f, w->b, sid, sid_len);
  }
  if (ev->extra && ev->extra_size >= 4) {
    uint32_t r = fb_le32(ev->extra);
    pml_field(w, "OpenResult");
    fb_strbuf_puts(w->b, r < COUNT(fs_open_results) ? fs_open_results[r] : "<unknown>");
  }
}

/* ---- ReadFile / WriteFile ---- */

static const struct pml_flag fs_io_flags[] = {
    {0x10, "Buffered"},
    {0x1, "Non-cached"},
    {0x2, "Paging I/O"},
    {0x4, "Synchronous"},
    {0x40, "Synchronous Paging I/O"},
    {0x400000, "Write Through"},
};
static const char *const fs_priorities[] = {"", "Very Low", "Low", "Normal", "High", "Critical"};

static void fs_rw_detail(const struct pml_event *ev, const struct pml_fs *fs, struct pml_dw *w) {
  uint32_t flags = pml_fs_b32(fs, 0x04, 0x04);
  uint32_t io_flags = flags & 0xE000FF, prio = (flags >> 17) & 7;
  uint32_t length = pml_fs_b32(fs, 0x0C, 0x0C);
  int64_t offset = (int64_t)pml_fs_b64(fs, 0x14, 0x1C);

  if (ev->extra && ev->extra_size >= 4)
    length = fb_le32(ev->extra); /* bytes actually transferred */
  pml_field(w, "Offset");
  pml_put_snum(w, offset);
  pml_field(w, "Length");
  pml_put_num(w, length);
  if (io_flags) {
    pml_field(w, "I/O Flags");
    pml_put_flags(w->b, io_flags, fs_io_flags, COUNT(fs_io_flags), ", ");
  }
  if (prio) {
    pml_field(w, "Priority");
    if (prio < COUNT(fs_priorities))
      fb_strbuf_puts(w->b, fs_priorities[prio]);
    else
      fb_strbuf_0x(w->b, prio);
  }
}

/* ---- DirectoryControl ---- */

static const struct pml_flag fs_notify[] = {
    {0x1, "FILE_NOTIFY_CHANGE_FILE_NAME"},
    {0x2, "FILE_NOTIFY_CHANGE_DIR_NAME"},
    {0x3, "FILE_NOTIFY_CHANGE_NAME"},
    {0x4, "FILE_NOTIFY_CHANGE_ATTRIBUTES"},
    {0x8, "FILE_NOTIFY_CHANGE_SIZE"},
    {0x10, "FILE_NOTIFY_CHANGE_LAST_WRITE"},
    {0x20, "FILE_NOTIFY_CHANGE_LAST_ACCESS"},
    {0x40, "FILE_NOTIFY_CHANGE_CREATION"},
    {0x80, "FILE_NOTIFY_CHANGE_EA"},
    {0x100, "FILE_NOTIFY_CHANGE_SECURITY"},
    {0x200, "FILE_NOTIFY_CHANGE_STREAM_NAME"},
    {0x400, "FILE_NOTIFY_CHANGE_STREAM_SIZE"},
    {0x800, "FILE_NOTIFY_CHANGE_STREAM_WRITE"},
};

static void put_info_class(struct fb_strbuf *b, uint32_t cls) {
  const char *name = pml_name_find(pml_file_info_class_names, pml_file_info_class_names_count, cls);
  if (name)
    fb_strbuf_puts(b, name);
  else
    fb_strbuf_u64(b, cls);
}

/* Offset of the file name (and of its byte length) in each
 * FILE_*_DIRECTORY_INFORMATION entry; 0 when the class is not a listing. */
static size_t dir_name_offset(uint32_t cls, size_t *len_off) {
  switch (cls) {
  case 1: *len_off = 0x3C; return 0x40;  /* FileDirectoryInformation */
  case 2: *len_off = 0x3C; return 0x44;  /* FileFullDirectoryInformation */
  case 3: *len_off = 0x3C; return 0x5E;  /* FileBothDirectoryInformation */
  case 12: *len_off = 0x08; return 0x0C; /* FileNamesInformation */
  case 37: *len_off = 0x3C; return 0x68; /* FileIdBothDirectoryInformation */
  case 38: *len_off = 0x3C; return 0x50; /* FileIdFullDirectoryInformation */
  case 60: *len_off = 0x3C; return 0x58; /* FileIdExtdDirectoryInformation */
  case 63: *len_off = 0x3C; return 0x72; /* FileIdExtdBothDirectoryInformation */
  default: return 0;
  }
}

/* The returned listing (extra detail, NextEntryOffset-linked). Procmon
 * numbers the entries from 1 after a Filter, from 0 without one, and writes
 * FileInformationClass into the third field: it replaces entry "2" of a
 * listing without filter, follows the only entry after a Filter, and is left
 * out when there are fewer than two fields (docs/pml-render.md). */
enum dir_style {
  DIR_CLASS_THIRD, /* Procmon 3.5x: FileInformationClass in field 2 */
  DIR_CLASS_NONE,  /* the export of win7-sp1-x86-mixed (Procmon 3.4, we infer): no class */
  DIR_CLASS_FIRST, /* Procmon 3.61: the class first */
};

static void fs_query_directory_detail(const struct pml_event *ev, const struct pml_fs *fs, struct pml_dw *w) {
  enum dir_style style = !w->o || !w->o->procmon ? DIR_CLASS_THIRD
                         : w->o->procmon < 350   ? DIR_CLASS_NONE
                         : w->o->procmon < 360   ? DIR_CLASS_THIRD
                                                 : DIR_CLASS_FIRST;
  struct pml_dstr filter;
  uint32_t cls = pml_fs_b32(fs, 0x14, 0x1C);
  size_t len_off = 0, name_off = dir_name_offset(cls, &len_off);
  unsigned number, field = 0, entries = 0;
  size_t pos = 0, size = ev->extra ? ev->extra_size : 0;

  /* count the entries first: where FileInformationClass goes depends on it */
  if (ev->extra && name_off) {
    for (;;) {
      uint32_t next = pml_get32(ev->extra, size, pos);
      if (!fb_span_ok(size, pos, name_off) ||
          !fb_span_ok(size, pos + name_off, pml_get32(ev->extra, size, pos + len_off)))
        break;
      entries++;
      if (!next)
        break;
      pos += next;
    }
  }
  fs_dir_filter(fs, &filter);
  number = filter.nchars ? 1 : 0;
  if (style == DIR_CLASS_FIRST) {
    /* 3.61 (es-ES capture): FileInformationClass first, then the Filter,
     * entries numbered by their field position (UNVERIFIED without filter) */
    pml_field(w, "FileInformationClass");
    put_info_class(w->b, cls);
    number++;
  }
  if (filter.nchars) {
    pml_field(w, "Filter");
    pml_put_dstr(w->b, &filter);
  }
  /* only the 3.5x layout puts the class into field 2 */
  field = style == DIR_CLASS_THIRD ? (filter.nchars ? 1 : 0) : 3;
  pos = 0;
  for (unsigned e = 0; e < entries; e++, field++, number++) {
    uint32_t next = pml_get32(ev->extra, size, pos);
    uint32_t nlen = pml_get32(ev->extra, size, pos + len_off);
    if (field == 2) {
      pml_field(w, "FileInformationClass");
      put_info_class(w->b, cls);
    } else {
      char key[16], *k = key + sizeof(key);
      unsigned v = number;
      *--k = '\0';
      do { /* "%u", in a loop over every directory entry */
        *--k = (char)('0' + v % 10);
        v /= 10;
      } while (v);
      pml_field(w, k);
      fb_strbuf_utf16(w->b, ev->extra + pos + name_off, nlen / 2);
    }
    pos += next;
  }
  if (field == 2) {
    pml_field(w, "FileInformationClass");
    put_info_class(w->b, cls);
  }
}

/* ---- FileSystemControl / DeviceIoControl ---- */

static void fs_put_control(struct fb_strbuf *b, uint32_t code) {
  const char *name = pml_name_find(pml_ioctl_names, pml_ioctl_names_count, code);

  if (name) {
    fb_strbuf_puts(b, name);
  } else { /* "0x%x (Device:0x%x Function:%u Method: %u)", without printf: common on some captures */
    fb_strbuf_0x(b, code);
    fb_strbuf_add(b, " (Device:", 9);
    fb_strbuf_0x(b, code >> 16);
    fb_strbuf_add(b, " Function:", 10);
    fb_strbuf_u64(b, (code >> 2) & 0xFFF);
    fb_strbuf_add(b, " Method: ", 9);
    fb_strbuf_u64(b, code & 3);
    fb_strbuf_add(b, ")", 1);
  }
}

static void fs_control_detail(const struct pml_event *ev, const struct pml_fs *fs, struct pml_dw *w) {
  uint32_t code = pml_fs_b32(fs, 0x14, 0x1C);
  struct fb_cursor c = fs->tail; /* the input buffer */

  pml_field(w, "Control");
  fs_put_control(w->b, code);
  if (ev->operation != FS_FSCTL)
    return;
  if (code == 0x94264) { /* FSCTL_OFFLOAD_READ: FSCTL_OFFLOAD_READ_INPUT */
    fb_cursor_skip(&c, 16);
  } else if (code == 0x98268) { /* FSCTL_OFFLOAD_WRITE: FSCTL_OFFLOAD_WRITE_INPUT (UNVERIFIED) */
    fb_cursor_skip(&c, 8);
  } else {
    return;
  }
  pml_field(w, "Offset");
  pml_put_snum(w, (int64_t)fb_cursor_u64(&c));
  pml_field(w, "Length");
  pml_put_num(w, fb_cursor_u64(&c));
}

/* Category of a file-system control code: the codes whose names
 * procmon-parser's lists place in a category (confirmed for the codes in
 * the corpus), sorted by code. */
static const struct pml_name fs_control_categories[] = {
    {0x9003BU, "Read Metadata"},  /* FSCTL_QUERY_RETRIEVAL_POINTERS */
    {0x9003CU, "Read Metadata"},  /* FSCTL_GET_COMPRESSION */
    {0x90058U, "Read Metadata"},  /* FSCTL_QUERY_FAT_BPB */
    {0x90060U, "Read Metadata"},  /* FSCTL_FILESYSTEM_GET_STATISTICS */
    {0x90064U, "Read Metadata"},  /* FSCTL_GET_NTFS_VOLUME_DATA */
    {0x90068U, "Read Metadata"},  /* FSCTL_GET_NTFS_FILE_RECORD */
    {0x9006FU, "Read Metadata"},  /* FSCTL_GET_VOLUME_BITMAP */
    {0x90073U, "Read Metadata"},  /* FSCTL_GET_RETRIEVAL_POINTERS */
    {0x90074U, "Write"},          /* FSCTL_MOVE_FILE */
    {0x90078U, "Read Metadata"},  /* FSCTL_IS_VOLUME_DIRTY */
    {0x90087U, "Read Metadata"},  /* FSCTL_READ_PROPERTY_DATA */
    {0x9008BU, "Write Metadata"}, /* FSCTL_WRITE_PROPERTY_DATA */
    {0x9008FU, "Read Metadata"},  /* FSCTL_FIND_FILES_BY_SID */
    {0x90098U, "Write Metadata"}, /* FSCTL_SET_OBJECT_ID */
    {0x9009CU, "Read Metadata"},  /* FSCTL_GET_OBJECT_ID */
    {0x900A0U, "Write Metadata"}, /* FSCTL_DELETE_OBJECT_ID */
    {0x900A4U, "Write Metadata"}, /* FSCTL_SET_REPARSE_POINT */
    {0x900A8U, "Read"},           /* FSCTL_GET_REPARSE_POINT */
    {0x900ACU, "Write"},          /* FSCTL_DELETE_REPARSE_POINT */
    {0x900BBU, "Read Metadata"},  /* FSCTL_READ_USN_JOURNAL */
    {0x900BCU, "Read Metadata"},  /* FSCTL_SET_OBJECT_ID_EXTENDED */
    {0x900C0U, "Read Metadata"},  /* FSCTL_CREATE_OR_GET_OBJECT_ID */
    {0x900C4U, "Write Metadata"}, /* FSCTL_SET_SPARSE */
    {0x900D7U, "Write Metadata"}, /* FSCTL_SET_ENCRYPTION */
    {0x900DFU, "Write"},          /* FSCTL_WRITE_RAW_ENCRYPTED */
    {0x900E3U, "Read"},           /* FSCTL_READ_RAW_ENCRYPTED */
    {0x900E7U, "Write Metadata"}, /* FSCTL_CREATE_USN_JOURNAL */
    {0x900EBU, "Read Metadata"},  /* FSCTL_READ_FILE_USN_DATA */
    {0x900EFU, "Write Metadata"}, /* FSCTL_WRITE_USN_CLOSE_RECORD */
    {0x900F0U, "Write Metadata"}, /* FSCTL_EXTEND_VOLUME */
    {0x900F4U, "Read Metadata"},  /* FSCTL_QUERY_USN_JOURNAL */
    {0x900F8U, "Write Metadata"}, /* FSCTL_DELETE_USN_JOURNAL */
    {0x94264U, "Read"},           /* FSCTL_OFFLOAD_READ */
    {0x98268U, "Write"},          /* FSCTL_OFFLOAD_WRITE */
    {0x9C040U, "Write Metadata"}, /* FSCTL_SET_COMPRESSION */
    {0x11C017U, "Write"},         /* FSCTL_PIPE_TRANSCEIVE */
    {0x11DFFFU, "Write"},         /* FSCTL_PIPE_INTERNAL_TRANSCEIVE */
};

static const char *fs_control_category(uint32_t code) {
  return pml_name_find(fs_control_categories, COUNT(fs_control_categories), code);
}

/* ---- CreateFileMapping ---- */

/* PageProtection: Procmon reads it from the pointer-sized slot after
 * SyncType (B+0x10 x86, B+0x14 x64), not from the FLT_PARAMETERS field at
 * B+0x10 that procmon-parser uses; on x64 that slot holds a pointer's low
 * half, so the names it prints can look arbitrary. Names one protection
 * (first match in this order) and then "|PAGE_NOCACHE". Verified on every
 * CreateFileMapping row of the corpus CSVs (docs/pml-render.md). */
static void fs_put_page_protection(struct fb_strbuf *b, uint32_t prot) {
  static const struct pml_flag order[] = {
      {0x02, "PAGE_READONLY"}, {0x04, "PAGE_READWRITE"},    {0x08, "PAGE_WRITECOPY"},
      {0x10, "PAGE_EXECUTE"},  {0x20, "PAGE_EXECUTE_READ"}, {0x40, "PAGE_EXECUTE_READWRITE"},
  };
  for (size_t i = 0; i < COUNT(order); i++) {
    if (prot & order[i].mask) {
      fb_strbuf_puts(b, order[i].name);
      break;
    }
  }
  if (prot & 0x200)
    fb_strbuf_puts(b, "|PAGE_NOCACHE");
}

static void fs_mapping_detail(const struct pml_fs *fs, struct pml_dw *w) {
  int32_t sync = (int32_t)pml_fs_b32(fs, 0x0C, 0x0C);

  pml_field(w, "SyncType");
  if (sync == 0) {
    fb_strbuf_puts(w->b, "SyncTypeOther");
    return;
  }
  if (sync == 1)
    fb_strbuf_puts(w->b, "SyncTypeCreateSection");
  else
    fb_strbuf_printf(w->b, "Unknown: %d", sync);
  pml_field(w, "PageProtection");
  fs_put_page_protection(w->b, pml_fs_b32(fs, 0x10, 0x14));
}

/* ---- Query/Set information: the returned buffer is the extra detail,
 * the buffer set is the tail after the path ---- */

static void put_bool(struct fb_strbuf *b, int v) {
  fb_strbuf_puts(b, v ? "True" : "False");
}

static void put_basic_info(struct pml_dw *w, const uint8_t *p, size_t n) {
  static const char *const times[] = {"CreationTime", "LastAccessTime", "LastWriteTime", "ChangeTime"};
  for (int i = 0; i < 4; i++) {
    pml_field(w, times[i]);
    pml_put_date(w, pml_get64(p, n, 8 * (size_t)i));
  }
  pml_field(w, "FileAttributes");
  fs_put_attributes(w->b, pml_get32(p, n, 32));
}

static void put_standard_info(struct pml_dw *w, const uint8_t *p, size_t n) {
  pml_field(w, "AllocationSize");
  pml_put_snum(w, (int64_t)pml_get64(p, n, 0));
  pml_field(w, "EndOfFile");
  pml_put_snum(w, (int64_t)pml_get64(p, n, 8));
  pml_field(w, "NumberOfLinks");
  pml_put_num(w, pml_get32(p, n, 16));
  pml_field(w, "DeletePending");
  put_bool(w->b, pml_get8(p, n, 20));
  pml_field(w, "Directory");
  put_bool(w->b, pml_get8(p, n, 21));
}

static void put_name_info(struct pml_dw *w, const uint8_t *p, size_t n) {
  uint32_t len = pml_get32(p, n, 0);

  pml_field(w, "Name");
  if (n >= 4)
    fb_strbuf_utf16(w->b, p + 4, (len <= n - 4 ? len : n - 4) / 2);
}

static const char *const alignments[] = {"Byte", "Word", NULL, "Long", NULL, NULL, NULL, "Quad"};

static void put_all_info(struct pml_dw *w, const uint8_t *p, size_t n) {
  uint32_t align = pml_get32(p, n, 92);

  put_basic_info(w, p, n);
  put_standard_info(w, p + 40 <= p + n ? p + 40 : p, n >= 40 ? n - 40 : 0);
  pml_field(w, "IndexNumber");
  fb_strbuf_0x(w->b, pml_get64(p, n, 64));
  pml_field(w, "EaSize");
  pml_put_num(w, pml_get32(p, n, 72));
  pml_field(w, "Access");
  fs_put_access(w->b, pml_get32(p, n, 76));
  pml_field(w, "Position");
  pml_put_snum(w, (int64_t)pml_get64(p, n, 80));
  pml_field(w, "Mode");
  pml_put_flags(w->b, pml_get32(p, n, 88), fs_options, COUNT(fs_options), ", ");
  pml_field(w, "AlignmentRequirement");
  if (align < COUNT(alignments) && alignments[align])
    fb_strbuf_puts(w->b, alignments[align]);
  else
    fb_strbuf_0x(w->b, align);
  /* FileNameInformation follows, but Procmon does not print it */
}

static void put_network_open_info(struct pml_dw *w, const uint8_t *p, size_t n) {
  static const char *const names[] = {"CreationTime", "LastAccessTime", "LastWriteTime",
                                      "ChangeTime",   "AllocationSize", "EndOfFile"};
  /* Procmon prints AllocationSize and EndOfFile as dates too */
  for (int i = 0; i < 6; i++) {
    pml_field(w, names[i]);
    pml_put_date(w, pml_get64(p, n, 8 * (size_t)i));
  }
  pml_field(w, "FileAttributes");
  fs_put_attributes(w->b, pml_get32(p, n, 48));
}

static void fs_query_info_detail(const struct pml_event *ev, const struct pml_fs *fs, struct pml_dw *w) {
  const uint8_t *p = ev->extra;
  size_t n = ev->extra ? ev->extra_size : 0;

  if (!p)
    return;
  switch (fs->subop) {
  case 0x04: put_basic_info(w, p, n); break;
  case 0x05: put_standard_info(w, p, n); break;
  case 0x06:
    pml_field(w, "IndexNumber");
    fb_strbuf_0x(w->b, pml_get64(p, n, 0));
    break;
  case 0x09: put_name_info(w, p, n); break;
  case 0x12: put_all_info(w, p, n); break;
  case 0x22: put_network_open_info(w, p, n); break;
  case 0x23:
    pml_field(w, "Attributes");
    fs_put_attributes(w->b, pml_get32(p, n, 0));
    pml_field(w, "ReparseTag");
    fb_strbuf_0x(w->b, pml_get32(p, n, 4));
    break;
  default: break;
  }
}

static const struct pml_flag fs_volume_attributes[] = {
    {0x2, "Case Preserved"},  {0x1, "Case Sensitive"},    {0x4, "Unicode"}, {0x8, "ACLs"},
    {0x10, "Compression"},    {0x40000, "Named Streams"}, {0x20000, "EFS"}, {0x10000, "Object IDs"},
    {0x80, "Reparse Points"}, {0x40, "Sparse Files"},     {0x20, "Quotas"}, {0x200000, "Transactions"},
};

static void fs_query_volume_detail(const struct pml_event *ev, const struct pml_fs *fs, struct pml_dw *w) {
  const uint8_t *p = ev->extra;
  size_t n = ev->extra ? ev->extra_size : 0;

  if (!p)
    return;
  switch (fs->subop) {
  case 1: { /* FILE_FS_VOLUME_INFORMATION */
    uint32_t serial = pml_get32(p, n, 8), label = pml_get32(p, n, 12);
    pml_field(w, "VolumeCreationTime");
    pml_put_date(w, pml_get64(p, n, 0));
    pml_field(w, "VolumeSerialNumber");
    fb_strbuf_printf(w->b, "%04X-%04X", serial >> 16, serial & 0xFFFF);
    pml_field(w, "SupportsObjects");
    put_bool(w->b, pml_get8(p, n, 16));
    pml_field(w, "VolumeLabel");
    if (n > 18)
      fb_strbuf_utf16(w->b, p + 18, (label <= n - 18 ? label : n - 18) / 2);
    break;
  }
  case 3: /* FILE_FS_SIZE_INFORMATION */
  case 7: /* FILE_FS_FULL_SIZE_INFORMATION */
    pml_field(w, "TotalAllocationUnits");
    pml_put_snum(w, (int64_t)pml_get64(p, n, 0));
    pml_field(w, fs->subop == 3 ? "AvailableAllocationUnits" : "CallerAvailableAllocationUnits");
    pml_put_snum(w, (int64_t)pml_get64(p, n, 8));
    if (fs->subop == 7) {
      pml_field(w, "ActualAvailableAllocationUnits");
      pml_put_snum(w, (int64_t)pml_get64(p, n, 16));
    }
    pml_field(w, "SectorsPerAllocationUnit");
    pml_put_num(w, pml_get32(p, n, fs->subop == 3 ? 16 : 24));
    pml_field(w, "BytesPerSector");
    pml_put_num(w, pml_get32(p, n, fs->subop == 3 ? 20 : 28));
    break;
  case 5: { /* FILE_FS_ATTRIBUTE_INFORMATION */
    uint32_t attrs = pml_get32(p, n, 0), left, name = pml_get32(p, n, 8);
    pml_field(w, "FileSystemAttributes");
    left = pml_put_flags(w->b, attrs, fs_volume_attributes, COUNT(fs_volume_attributes), ", ");
    if (left)
      fb_strbuf_printf(w->b, "%s0x%x", left != attrs ? ", " : "", left);
    pml_field(w, "MaximumComponentNameLength");
    pml_put_num(w, pml_get32(p, n, 4));
    pml_field(w, "FileSystemName");
    if (n > 12)
      fb_strbuf_utf16(w->b, p + 12, (name <= n - 12 ? name : n - 12) / 2);
    break;
  }
  case 8: /* FILE_FS_OBJECTID_INFORMATION */
    pml_field(w, "ObjectId");
    for (size_t i = 0; i < 16 && i < n; i++)
      fb_strbuf_printf(w->b, "%02X", p[i]);
    break;
  default: break;
  }
}

/* FILE_RENAME_INFORMATION / FILE_LINK_INFORMATION in T (ReplaceIfExists,
 * RootDirectory, FileNameLength, FileName as the caller gave it), then 2
 * or 4 zero bytes and a detail string: the target as Procmon resolved it. Wording
 * UNVERIFIED: no CSV of the corpus holds a rename (covefs has 4, no CSV). */
static void fs_rename_detail(const struct pml_fs *fs, const uint8_t *p, size_t n, struct pml_dw *w) {
  size_t len_off = fs->ptr == 8 ? 16 : 8, name_off = len_off + 4;
  uint32_t len = pml_get32(p, n, len_off);
  struct fb_cursor c;
  struct pml_dstr target = {0};

  pml_field(w, "ReplaceIfExists");
  put_bool(w->b, pml_get8(p, n, 0));
  pml_field(w, "FileName");
  if (!fb_span_ok(n, name_off, len))
    return;
  fb_cursor_init(&c, p, n);
  fb_cursor_skip(&c, name_off + len);
  /* 2 or 4 bytes of zeros (a NUL and padding) come before it */
  for (int i = 0; i < 2 && fb_cursor_left(&c) >= 2 && fb_le16(c.p + c.pos) == 0; i++)
    fb_cursor_skip(&c, 2);
  pml_dstr_take(&c, fb_cursor_u16(&c), &target);
  if (target.nchars)
    pml_put_dstr(w->b, &target);
  else
    fb_strbuf_utf16(w->b, p + name_off, len / 2);
}

static void fs_set_info_detail(const struct pml_fs *fs, struct pml_dw *w) {
  struct fb_cursor c = fs->tail;
  size_t n = fb_cursor_left(&c);
  const uint8_t *p = n ? c.p + c.pos : NULL;

  switch (fs->subop) {
  case 0x04: put_basic_info(w, p, n); break;
  case 0x0D:
    pml_field(w, "Delete");
    put_bool(w->b, pml_get8(p, n, 0));
    break;
  case 0x13:
    pml_field(w, "AllocationSize");
    pml_put_snum(w, (int64_t)pml_get64(p, n, 0));
    break;
  case 0x14:
    pml_field(w, "EndOfFile");
    pml_put_snum(w, (int64_t)pml_get64(p, n, 0));
    break;
  case 0x0A: /* SetRenameInformationFile */
  case 0x0B: /* SetLinkInformationFile */ fs_rename_detail(fs, p, n, w); break;
  case 0x27:
    pml_field(w, "ValidDataLength");
    pml_put_snum(w, (int64_t)pml_get64(p, n, 0));
    break;
  default: break;
  }
}

/* ---- LockUnlockFile: FLT_PARAMETERS.LockControl in B, the length in the tail ---- */

static void fs_lock_detail(const struct pml_fs *fs, struct pml_dw *w) {
  struct fb_cursor c = fs->tail;
  uint32_t length = fb_cursor_u32(&c); /* a LARGE_INTEGER, of which Procmon prints the low half */

  if (fs->subop == 1) {
    pml_field(w, "Exclusive");
    put_bool(w->b, pml_get8(fs->pb, fs->pb_len, fs->ptr == 8 ? 0x2D : 0x21));
  }
  if (fs->subop == 1 || fs->subop == 2) {
    pml_field(w, "Offset");
    pml_put_snum(w, (int64_t)pml_fs_b64(fs, 0x14, 0x1C));
    pml_field(w, "Length");
    pml_put_num(w, length);
  }
  if (fs->subop == 1) {
    pml_field(w, "Fail Immediately");
    put_bool(w->b, pml_get8(fs->pb, fs->pb_len, fs->ptr == 8 ? 0x2C : 0x20));
  }
}

static const struct pml_flag fs_security_info[] = {
    {0x1, "Owner"},
    {0x2, "Group"},
    {0x4, "DACL"},
    {0x8, "SACL"},
    {0x10, "Label"},
    {0x20, "Attribute"},
    {0x40, "Scope"},
    {0x80, "Process Trust Label"},
    {0x80000000u, "DACL Protected"},
    {0x40000000, "SACL Protected"},
    {0x20000000, "DACL Unprotected"},
    {0x10000000, "SACL Unprotected"},
};

static void fs_security_detail(const struct pml_fs *fs, struct pml_dw *w) {
  uint32_t info = pml_fs_b32(fs, 0x0C, 0x0C), left;

  pml_field(w, "Information");
  left = pml_put_flags(w->b, info, fs_security_info, COUNT(fs_security_info), ", ");
  if (left) /* bits Procmon has no name for */
    fb_strbuf_printf(w->b, "%s0x%x", left != info ? ", " : "", left);
}

void pml_fs_detail(const struct pml_file *f, const struct pml_event *ev, const struct pml_fs *fs,
                   struct pml_dw *w) {
  switch (ev->operation) {
  case FS_CREATE_FILE: fs_create_detail(f, ev, fs, w); break;
  case FS_READ:
  case FS_WRITE: fs_rw_detail(ev, fs, w); break;
  case FS_DIRECTORY_CONTROL:
    if (fs->subop == 1) {
      fs_query_directory_detail(ev, fs, w);
    } else if (fs->subop == 2) {
      pml_field(w, "Filter");
      pml_put_flags(w->b, pml_fs_b32(fs, 0x10, 0x14), fs_notify, COUNT(fs_notify), ", ");
    }
    break;
  case FS_FSCTL:
  case FS_IOCTL: fs_control_detail(ev, fs, w); break;
  case FS_CREATE_FILE_MAPPING: fs_mapping_detail(fs, w); break;
  case FS_SET_INFO: fs_set_info_detail(fs, w); break;
  case FS_QUERY_INFO: fs_query_info_detail(ev, fs, w); break;
  case FS_QUERY_VOLUME: fs_query_volume_detail(ev, fs, w); break;
  case FS_LOCK_UNLOCK: fs_lock_detail(fs, w); break;
  case FS_QUERY_SECURITY:
  case FS_SET_SECURITY: fs_security_detail(fs, w); break;
  case FS_ACQUIRE_MOD_WRITE: {
    struct fb_cursor c = fs->tail;
    pml_field(w, "EndingOffset");
    pml_put_snum(w, (int64_t)fb_cursor_u64(&c));
    break;
  }
  case FS_MDL_READ_COMPLETE:
    pml_field(w, "MDL");
    fb_strbuf_printf(w->b, "0x%llx",
                     (unsigned long long)pml_get64(fs->pb, fs->pb_len, 0x0C) &
                         (fs->ptr == 8 ? ~0ull : 0xFFFFFFFFull));
    break;
  default: break;
  }
}

void pml_fs_category(const struct pml_event *ev, const struct pml_fs *fs, struct fb_strbuf *out) {
  const char *cat = NULL;

  switch (ev->operation) {
  case FS_READ: cat = "Read"; break;
  case FS_WRITE: cat = "Write"; break;
  case FS_CREATE_FILE: {
    uint32_t disp = pml_fs_b32(fs, 0x10, 0x14) >> 24;
    if (ev->extra && ev->extra_size >= 4) {
      uint32_t r = fb_le32(ev->extra);
      if (r == 0 || r == 2 || r == 3)
        cat = "Write";
    } else if (disp != 1) {
      cat = "Write";
    }
    break;
  }
  case FS_QUERY_INFO:
  case FS_QUERY_EA:
  case FS_QUERY_SECURITY: cat = "Read Metadata"; break;
  case FS_SET_INFO: {
    struct fb_cursor c = fs->tail;
    if (fs->subop == 0x0D)
      cat = fb_cursor_u8(&c) ? "Write" : "Write Metadata";
    else
      cat = "Write Metadata";
    break;
  }
  case FS_SET_EA:
  case FS_SET_SECURITY: cat = "Write Metadata"; break;
  case FS_DIRECTORY_CONTROL:
    if (fs->subop == 1 || fs->subop == 2)
      cat = "Read Metadata";
    break;
  case FS_FSCTL:
  case FS_IOCTL: cat = fs_control_category(pml_fs_b32(fs, 0x14, 0x1C)); break;
  default: break;
  }
  if (cat)
    fb_strbuf_puts(out, cat);
}
