/* etl_kernel.c - kernel event payload decoders (see etl_kernel.h). */
#include "parsers/etl/etl_kernel.h"

#include <string.h>

#include "parsers/bytes.h"
#include "parsers/error.h"
#include "parsers/utf16.h"

const uint8_t etl_guid_kernel_file[16] = {0x27, 0x89, 0xd0, 0xed, 0xc4, 0x9c, 0x65, 0x4e,
                                          0xb9, 0x70, 0xc2, 0x56, 0x0f, 0xb5, 0xc2, 0x89};
const uint8_t etl_guid_sysconfig[16] = {0x91, 0xee, 0x79, 0x9b, 0xfd, 0xb5, 0xc0, 0x41,
                                        0xa2, 0x43, 0x42, 0x48, 0xe2, 0x66, 0xe9, 0xd0};
const uint8_t etl_guid_image_id[16] = {0xd7, 0x75, 0xe6, 0xb3, 0x54, 0x25, 0x18, 0x4f,
                                       0x83, 0x0b, 0x27, 0x62, 0x73, 0x25, 0x60, 0xde};

/* ---- strings ------------------------------------------------------------ */

/* A NUL-terminated UTF-16 string at the cursor; consumes it and its NUL (or
 * everything up to the end when the NUL is missing). */
static struct etl_str take_wstr(struct fb_cursor *c) {
  struct etl_str s = {NULL, 0, 1};
  size_t left = fb_cursor_left(c), n = 0;

  if (c->bad)
    return s;
  s.p = c->p + c->pos;
  while (n + 2 <= left && (s.p[n] | s.p[n + 1]) != 0)
    n += 2;
  s.len = n / 2;
  c->pos += n + 2 <= left ? n + 2 : n;
  return s;
}

static struct etl_str take_astr(struct fb_cursor *c) {
  struct etl_str s = {NULL, 0, 0};
  size_t left = fb_cursor_left(c), n = 0;

  if (c->bad)
    return s;
  s.p = c->p + c->pos;
  while (n < left && s.p[n] != 0)
    n++;
  s.len = n;
  c->pos += n < left ? n + 1 : n;
  return s;
}

size_t etl_str_utf8(const struct etl_str *s, char *out, size_t cap) {
  size_t o = 0;

  if (cap == 0)
    return 0;
  if (s->p == NULL || s->len == 0) {
    out[0] = '\0';
    return 0;
  }
  if (s->wide)
    return fb_utf16le_to_utf8(s->p, s->len, out, cap);
  /* ANSI: the image file name of a process. Bytes >= 0x80 are taken as
   * Latin-1 (the code page is not in the trace). */
  for (size_t i = 0; i < s->len; i++) {
    size_t n = fb_utf8_put(s->p[i], out + o, cap - 1 - o);
    if (n == 0)
      break;
    o += n;
  }
  out[o] = '\0';
  return o;
}

int etl_str_eq_ascii(const struct etl_str *s, const char *a) {
  size_t n = strlen(a);

  if (s->len != n || (n && s->p == NULL))
    return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned ch = s->wide ? fb_le16(s->p + 2 * i) : s->p[i];
    unsigned x = (unsigned char)a[i];
    if (ch >= 'A' && ch <= 'Z')
      ch += 32;
    if (x >= 'A' && x <= 'Z')
      x += 32;
    if (ch != x)
      return 0;
  }
  return 1;
}

static int ptr_ok(unsigned ptr_size) {
  return ptr_size == 4 || ptr_size == 8;
}

/* ---- Process ------------------------------------------------------------ */

/* UserSID: a u32 0 alone, or TOKEN_USER (2 pointers) + SID (8 + 4 x count). */
static void skip_sid(struct fb_cursor *c, unsigned ptr_size) {
  const uint8_t *p;

  if (fb_cursor_left(c) >= 4 && fb_le32(c->p + c->pos) == 0) {
    fb_cursor_skip(c, 4);
    return;
  }
  fb_cursor_skip(c, 2 * ptr_size);
  p = fb_cursor_take(c, 8);
  if (p)
    fb_cursor_skip(c, 4u * p[1]);
}

int etl_decode_process(unsigned type, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                       struct etl_process *out) {
  struct fb_cursor c;

  if (!ptr_ok(ptr_size))
    return FB_EFORMAT;
  memset(out, 0, sizeof(*out));
  fb_cursor_init(&c, p, size);
  if (type == ETL_OP_PROCESS_TERMINATE) {
    out->pid = fb_cursor_u32(&c);
    return c.bad ? FB_ETRUNC : 0;
  }
  if (version < 2)
    return FB_EUNSUP;
  out->key = fb_cursor_ptr(&c, ptr_size);
  out->pid = fb_cursor_u32(&c);
  out->ppid = fb_cursor_u32(&c);
  out->session = fb_cursor_u32(&c);
  out->exit_status = (int32_t)fb_cursor_u32(&c);
  if (version >= 3)
    out->dtb = fb_cursor_ptr(&c, ptr_size);
  if (version >= 4)
    out->flags = fb_cursor_u32(&c);
  if (c.bad)
    return FB_ETRUNC;
  skip_sid(&c, ptr_size);
  if (c.bad)
    return FB_ETRUNC;
  out->image_name = take_astr(&c);
  out->command_line = take_wstr(&c);
  return 0;
}

/* ---- Thread ------------------------------------------------------------- */

int etl_decode_thread(unsigned type, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                      struct etl_thread *out) {
  (void)type;
  if (!ptr_ok(ptr_size))
    return FB_EFORMAT;
  memset(out, 0, sizeof(*out));
  if (version < 1)
    return FB_EUNSUP;
  if (size < 8)
    return FB_ETRUNC;
  out->pid = fb_le32(p);
  out->tid = fb_le32(p + 4);
  return 0;
}

/* ---- Image -------------------------------------------------------------- */

int etl_decode_image(unsigned type, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                     struct etl_image *out) {
  struct fb_cursor c;

  (void)type;
  if (!ptr_ok(ptr_size))
    return FB_EFORMAT;
  memset(out, 0, sizeof(*out));
  if (version < 2)
    return FB_EUNSUP;
  fb_cursor_init(&c, p, size);
  out->base = fb_cursor_ptr(&c, ptr_size);
  out->size = fb_cursor_ptr(&c, ptr_size);
  out->pid = fb_cursor_u32(&c);
  out->checksum = fb_cursor_u32(&c);
  out->time_date_stamp = fb_cursor_u32(&c);
  fb_cursor_skip(&c, 4); /* v3: signature level/type; v2: reserved */
  out->default_base = fb_cursor_ptr(&c, ptr_size);
  fb_cursor_skip(&c, 16);
  if (c.bad)
    return FB_ETRUNC;
  out->path = take_wstr(&c);
  return 0;
}

/* ---- FileIo ------------------------------------------------------------- */

enum etl_file_kind etl_file_kind_of(unsigned opcode) {
  switch (opcode) {
  case 0:
  case 32:
  case 35:
  case 36: return ETL_FILE_NAME;
  case 64:
  case 78: return ETL_FILE_CREATE;
  case 65:
  case 66:
  case 73: return ETL_FILE_SIMPLE;
  case 67:
  case 68: return ETL_FILE_RW;
  case 69:
  case 70:
  case 71:
  case 74:
  case 75: return ETL_FILE_INFO;
  case 72:
  case 77: return ETL_FILE_DIRENUM;
  case 76: return ETL_FILE_OPEND;
  case 79:
  case 80:
  case 81: return ETL_FILE_PATHOP;
  default: break;
  }
  if (opcode >= 96 && opcode <= 101)
    return ETL_FILE_MINIFILTER;
  return ETL_FILE_UNKNOWN;
}

const char *etl_file_opcode_name(unsigned opcode) {
  switch (opcode) {
  case 0: return "Name";
  case 32: return "FileCreate";
  case 35: return "FileDelete";
  case 36: return "FileRundown";
  case 64: return "Create";
  case 65: return "Cleanup";
  case 66: return "Close";
  case 67: return "Read";
  case 68: return "Write";
  case 69: return "SetInfo";
  case 70: return "Delete";
  case 71: return "Rename";
  case 72: return "DirEnum";
  case 73: return "Flush";
  case 74: return "QueryInfo";
  case 75: return "FSControl";
  case 76: return "OperationEnd";
  case 77: return "DirNotify";
  case 78: return "CreateNew";
  case 79: return "DeletePath";
  case 80: return "RenamePath";
  case 81: return "SetLinkPath";
  case 96: return "PreOpInit";
  case 97: return "PostOpInit";
  case 98: return "PreOpCompletion";
  case 99: return "PostOpCompletion";
  case 100: return "PreOpFailure";
  case 101: return "PostOpFailure";
  default: return NULL;
  }
}

enum ev_file_op_kind etl_file_ev_kind(unsigned opcode) {
  switch (opcode) {
  case 64:
  case 78: return EV_FOP_CREATE;
  case 65: return EV_FOP_CLEANUP;
  case 66: return EV_FOP_CLOSE;
  case 67: return EV_FOP_READ;
  case 68: return EV_FOP_WRITE;
  case 69: return EV_FOP_SET_INFO;
  case 70:
  case 79: return EV_FOP_DELETE;
  case 71:
  case 80: return EV_FOP_RENAME;
  case 72:
  case 77: return EV_FOP_DIRECTORY;
  case 73: return EV_FOP_FLUSH;
  case 74: return EV_FOP_QUERY_INFO;
  case 75: return EV_FOP_FSCTL;
  case 76: return EV_FOP_OP_END;
  default: return EV_FOP_OTHER;
  }
}

/* The front most FileIo payloads share: IrpPtr, (v2) a pointer-sized TTID,
 * FileObject, FileKey. */
static void read_irp_object_key(struct fb_cursor *c, unsigned P, int v2, struct etl_file *out) {
  out->irp = fb_cursor_ptr(c, P);
  if (v2)
    out->ttid = (uint32_t)fb_cursor_ptr(c, P);
  out->file_object = fb_cursor_ptr(c, P);
  out->file_key = fb_cursor_ptr(c, P);
}

/* v2 puts a pointer-sized TTID after IrpPtr; v3 a u32 after the pointers. */
int etl_decode_fileio(unsigned opcode, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                      struct etl_file *out) {
  struct fb_cursor c;
  int v2 = version <= 2;
  unsigned P = ptr_size;

  if (!ptr_ok(P))
    return FB_EFORMAT;
  memset(out, 0, sizeof(*out));
  out->opcode = opcode;
  out->kind = etl_file_kind_of(opcode);
  fb_cursor_init(&c, p, size);
  switch (out->kind) {
  case ETL_FILE_NAME:
    out->file_key = fb_cursor_ptr(&c, P);
    if (c.bad)
      return FB_ETRUNC;
    out->path = take_wstr(&c);
    return 0;
  case ETL_FILE_CREATE:
    out->irp = fb_cursor_ptr(&c, P);
    if (v2) {
      out->ttid = (uint32_t)fb_cursor_ptr(&c, P);
      out->file_object = fb_cursor_ptr(&c, P);
    } else {
      out->file_object = fb_cursor_ptr(&c, P);
      out->ttid = fb_cursor_u32(&c);
    }
    out->create_options = fb_cursor_u32(&c);
    out->attributes = fb_cursor_u32(&c);
    out->share_access = fb_cursor_u32(&c);
    if (c.bad)
      return FB_ETRUNC;
    out->path = take_wstr(&c);
    return 0;
  case ETL_FILE_SIMPLE:
    read_irp_object_key(&c, P, v2, out);
    if (!v2)
      out->ttid = fb_cursor_u32(&c);
    return c.bad ? FB_ETRUNC : 0;
  case ETL_FILE_RW:
    out->offset = fb_cursor_u64(&c);
    read_irp_object_key(&c, P, v2, out);
    if (!v2)
      out->ttid = fb_cursor_u32(&c);
    out->io_size = fb_cursor_u32(&c);
    out->io_flags = fb_cursor_u32(&c);
    return c.bad ? FB_ETRUNC : 0;
  case ETL_FILE_INFO:
    read_irp_object_key(&c, P, v2, out);
    out->extra_info = fb_cursor_ptr(&c, P);
    if (!v2)
      out->ttid = fb_cursor_u32(&c);
    out->info_class = fb_cursor_u32(&c);
    return c.bad ? FB_ETRUNC : 0;
  case ETL_FILE_DIRENUM:
    read_irp_object_key(&c, P, v2, out);
    if (!v2)
      out->ttid = fb_cursor_u32(&c);
    out->length = fb_cursor_u32(&c);
    out->info_class = fb_cursor_u32(&c);
    fb_cursor_skip(&c, 4); /* FileIndex */
    if (c.bad)
      return FB_ETRUNC;
    out->path = take_wstr(&c);
    return 0;
  case ETL_FILE_OPEND:
    out->irp = fb_cursor_ptr(&c, P);
    out->extra_info = fb_cursor_ptr(&c, P);
    out->status = fb_cursor_u32(&c);
    return c.bad ? FB_ETRUNC : 0;
  case ETL_FILE_PATHOP:
    out->irp = fb_cursor_ptr(&c, P);
    out->file_object = fb_cursor_ptr(&c, P);
    out->file_key = fb_cursor_ptr(&c, P);
    out->extra_info = fb_cursor_ptr(&c, P);
    out->ttid = fb_cursor_u32(&c);
    out->info_class = fb_cursor_u32(&c);
    if (c.bad)
      return FB_ETRUNC;
    out->path = take_wstr(&c);
    return 0;
  case ETL_FILE_MINIFILTER:
  case ETL_FILE_UNKNOWN: break;
  }
  return FB_EUNSUP;
}

unsigned etl_kfile_opcode(unsigned id) {
  static const uint8_t map[31] = {
      [10] = 32, [11] = 35, [12] = 64, [13] = 65, [14] = 66, [15] = 67, [16] = 68,
      [17] = 69, [18] = 70, [19] = 71, [20] = 72, [21] = 73, [22] = 74, [23] = 75,
      [24] = 76, [25] = 77, [26] = 79, [27] = 80, [28] = 81, [29] = 71, [30] = 78,
  };
  return id < sizeof(map) ? map[id] : 0;
}

int etl_decode_kfile(unsigned id, unsigned version, unsigned ptr_size, const uint8_t *p, size_t size,
                     struct etl_file *out) {
  unsigned op = etl_kfile_opcode(id);

  if (op == 0) {
    memset(out, 0, sizeof(*out));
    return FB_EUNSUP;
  }
  /* manifest V0 templates = classic v2 order, V1+ = classic v3 order */
  return etl_decode_fileio(op, version == 0 ? 2 : 3, ptr_size, p, size, out);
}

/* ---- StackWalk ---------------------------------------------------------- */

int etl_decode_stackwalk(unsigned type, unsigned ptr_size, const uint8_t *p, size_t size,
                         struct etl_kstack *out) {
  struct fb_cursor c;

  if (!ptr_ok(ptr_size))
    return FB_EFORMAT;
  memset(out, 0, sizeof(*out));
  out->frame_size = ptr_size;
  fb_cursor_init(&c, p, size);
  switch (type) {
  case 32:
    out->kind = ETL_STACK_FRAMES;
    out->event_ts = fb_cursor_u64(&c);
    out->pid = fb_cursor_u32(&c);
    out->tid = fb_cursor_u32(&c);
    break;
  case 37:
  case 38:
    out->kind = ETL_STACK_KEY_REF;
    out->user = type == 38;
    out->event_ts = fb_cursor_u64(&c);
    out->pid = fb_cursor_u32(&c);
    out->tid = fb_cursor_u32(&c);
    out->key = fb_cursor_ptr(&c, ptr_size);
    return c.bad ? FB_ETRUNC : 0;
  case 34:
  case 35:
  case 36:
    out->kind = ETL_STACK_KEY_DEF;
    out->key = fb_cursor_ptr(&c, ptr_size);
    break;
  default: return FB_EUNSUP;
  }
  if (c.bad)
    return FB_ETRUNC;
  out->frames = p + c.pos;
  out->count = (uint32_t)((size - c.pos) / ptr_size);
  return 0;
}

int etl_decode_ext_stack(unsigned ext_type, const uint8_t *p, size_t size, struct etl_kstack *out) {
  memset(out, 0, sizeof(*out));
  if (ext_type != 5 && ext_type != 6)
    return FB_EUNSUP;
  if (size < 8)
    return FB_ETRUNC;
  out->kind = ETL_STACK_FRAMES;
  out->frame_size = ext_type == 6 ? 8 : 4;
  out->key = fb_le64(p); /* MatchId */
  out->frames = p + 8;
  out->count = (uint32_t)((size - 8) / out->frame_size);
  return 0;
}

/* ---- KernelTraceControl ------------------------------------------------- */

int etl_decode_volume_mapping(const uint8_t *p, size_t size, struct etl_volume_mapping *out) {
  struct fb_cursor c;

  fb_cursor_init(&c, p, size);
  out->nt_path = take_wstr(&c);
  out->dos_path = take_wstr(&c);
  return out->nt_path.len == 0 ? FB_ETRUNC : 0;
}

int etl_decode_file_version(const uint8_t *p, size_t size, struct etl_file_version *out) {
  struct fb_cursor c;
  struct etl_str skip;

  memset(out, 0, sizeof(*out));
  fb_cursor_init(&c, p, size);
  out->image_size = fb_cursor_u32(&c);
  out->time_date_stamp = fb_cursor_u32(&c);
  if (c.bad)
    return FB_ETRUNC;
  out->orig_file_name = take_wstr(&c);
  out->description = take_wstr(&c);
  out->file_version = take_wstr(&c);
  skip = take_wstr(&c); /* BinFileVersion */
  skip = take_wstr(&c); /* VerLanguage */
  (void)skip;
  out->product_name = take_wstr(&c);
  out->company = take_wstr(&c);
  return 0;
}
