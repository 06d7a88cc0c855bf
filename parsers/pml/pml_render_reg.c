/* pml_render_reg.c - Registry events (class 2): Path, Detail, Category.
 * Layout: format doc 7.3 (u16 path info, per-operation fields, the key
 * path; returned KEY_* / KEY_VALUE_* structure in the extra detail). */
#include <stdio.h>
#include <string.h>

#include "parsers/pml/pml_render_int.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum {
  REG_OPEN_KEY = 0,
  REG_CREATE_KEY = 1,
  REG_CLOSE_KEY = 2,
  REG_QUERY_KEY = 3,
  REG_SET_VALUE = 4,
  REG_QUERY_VALUE = 5,
  REG_ENUM_VALUE = 6,
  REG_ENUM_KEY = 7,
  REG_SET_INFO_KEY = 8,
  REG_DELETE_KEY = 9,
  REG_DELETE_VALUE = 10,
  REG_FLUSH_KEY = 11,
  REG_LOAD_KEY = 12,
  REG_UNLOAD_KEY = 13,
  REG_RENAME_KEY = 14,
  REG_QUERY_MULTIPLE = 15,
  REG_SET_KEY_SECURITY = 16,
  REG_QUERY_KEY_SECURITY = 17,
};

void pml_reg_parse(const struct pml_event *ev, struct pml_reg *v) {
  struct fb_cursor c;
  uint16_t info = 0, info2 = 0;

  memset(v, 0, sizeof(*v));
  fb_cursor_init(&c, ev->detail, ev->detail ? ev->detail_size : 0);
  info = fb_cursor_u16(&c);
  switch (ev->operation) {
  case REG_LOAD_KEY:
  case REG_RENAME_KEY: info2 = fb_cursor_u16(&c); break;
  case REG_OPEN_KEY:
  case REG_CREATE_KEY:
    fb_cursor_skip(&c, 2);
    v->access = fb_cursor_u32(&c);
    break;
  case REG_QUERY_KEY:
  case REG_QUERY_VALUE:
    fb_cursor_skip(&c, 2);
    v->length = fb_cursor_u32(&c);
    v->info_class = fb_cursor_u32(&c);
    break;
  case REG_ENUM_VALUE:
  case REG_ENUM_KEY:
    fb_cursor_skip(&c, 2);
    v->length = fb_cursor_u32(&c);
    v->index = fb_cursor_u32(&c);
    v->info_class = fb_cursor_u32(&c);
    break;
  case REG_SET_INFO_KEY:
    fb_cursor_skip(&c, 2);
    v->info_class = fb_cursor_u32(&c);
    fb_cursor_skip(&c, 4);
    v->length = fb_cursor_u16(&c);
    fb_cursor_skip(&c, 2);
    break;
  case REG_SET_VALUE:
    fb_cursor_skip(&c, 2);
    v->type = fb_cursor_u32(&c);
    v->length = fb_cursor_u32(&c);
    v->data_length = fb_cursor_u16(&c); /* bytes captured; the next u16 is not part of it */
    fb_cursor_skip(&c, 2);
    break;
  default: break;
  }
  pml_dstr_take(&c, info, &v->path);
  if (info2)
    pml_dstr_take(&c, info2, &v->path2);
  v->rest = c;
}

int pml_reg_path(const struct pml_reg *v, struct fb_strbuf *out) {
  return pml_put_dstr(out, &v->path);
}

static const struct pml_flag reg_access[] = {
    {0xF003F, "All Access"},
    {0x2001F, "Read/Write"},
    {0x20019, "Read"},
    {0x20006, "Write"},
    {0x1, "Query Value"},
    {0x2, "Set Value"},
    {0x4, "Create Sub Key"},
    {0x8, "Enumerate Sub Keys"},
    {0x10, "Notify"},
    {0x20, "Create Link"},
    {0x300, "WOW64_Res"},
    {0x200, "WOW64_32Key"},
    {0x100, "WOW64_64Key"},
    {0x10000, "Delete"},
    {0x20000, "Read Control"},
    {0x40000, "Write DAC"},
    {0x80000, "Write Owner"},
    {0x100000, "Synchronize"},
    {0x1000000, "Access System Security"},
    {0x2000000, "Maximum Allowed"},
};

/* GENERIC_READ, _WRITE, _EXECUTE, _ALL as this object's own rights. */
static const uint32_t reg_put_access_generic[4] = {0x20019, 0x20006, 0x20019, 0xF003F};

static void reg_put_access(struct fb_strbuf *b, uint32_t mask) {
  pml_put_access(b, mask, reg_put_access_generic, reg_access, COUNT(reg_access));
}

static const char *const reg_types[] = {
    "REG_NONE",
    "REG_SZ",
    "REG_EXPAND_SZ",
    "REG_BINARY",
    "REG_DWORD",
    "REG_DWORD_BIG_ENDIAN",
    "REG_LINK",
    "REG_MULTI_SZ",
    "REG_RESOURCE_LIST",
    "REG_FULL_RESOURCE_DESCRIPTOR",
    "REG_RESOURCE_REQUIREMENTS_LIST",
    "REG_QWORD",
};

static void reg_put_type(struct fb_strbuf *b, uint32_t type) {
  if (type < COUNT(reg_types))
    fb_strbuf_puts(b, reg_types[type]);
  else
    fb_strbuf_printf(b, "<Unknown: %u>", type);
}

/* Value data as Procmon prints it; p/n is what the capture holds (it may
 * be less than the value's length). */
static void reg_put_data(struct pml_dw *w, uint32_t type, const uint8_t *p, size_t n) {
  switch (type) {
  case 1: /* REG_SZ */
  case 2: /* REG_EXPAND_SZ */
  case 6: /* REG_LINK */
    pml_field(w, "Data");
    pml_put_utf16z(w->b, p, n);
    break;
  case 7: { /* REG_MULTI_SZ: the strings joined by ", " */
    size_t pos = 0;
    int first = 1;
    pml_field(w, "Data");
    while (pos + 2 <= n) {
      size_t len = 0;
      while (pos + 2 * len + 2 <= n && fb_le16(p + pos + 2 * len))
        len++;
      if (!len)
        break;
      if (!first)
        fb_strbuf_puts(w->b, ", ");
      first = 0;
      fb_strbuf_utf16(w->b, p + pos, len);
      pos += 2 * len + 2;
    }
    break;
  }
  case 4: /* REG_DWORD */
    if (n >= 4) {
      pml_field(w, "Data");
      fb_strbuf_u64(w->b, fb_le32(p));
    }
    break;
  case 11: /* REG_QWORD: Procmon before 3.60 prints no value */ pml_field(w, "Data"); break;
  case 0:  /* REG_NONE */
  case 3:  /* REG_BINARY */
  case 5:  /* REG_DWORD_BIG_ENDIAN */
  case 8:  /* REG_RESOURCE_LIST */
  case 9:  /* REG_FULL_RESOURCE_DESCRIPTOR */
  case 10: /* REG_RESOURCE_REQUIREMENTS_LIST: hex bytes, as many as were captured */
    if (n) {
      pml_field(w, "Data");
      for (size_t i = 0; i < n; i++) {
        if (i)
          fb_strbuf_putc(w->b, ' ');
        fb_strbuf_hex(w->b, p[i], 2, 1);
      }
    }
    break;
  default: /* a type Procmon does not know: the field, empty */ pml_field(w, "Data"); break;
  }
}

static const char *const key_info_classes[] = {"Basic", "Node",           "Full",       "Name",  "Cached",
                                               "Flags", "Virtualization", "HandleTags", "Trust", "Layer"};

static void key_put_name(struct pml_dw *w, const uint8_t *x, size_t n, size_t len_off, size_t name_off) {
  uint32_t len = pml_get32(x, n, len_off);

  pml_field(w, "Name");
  if (fb_span_ok(n, name_off, len))
    fb_strbuf_utf16(w->b, x + name_off, len / 2);
}

static void reg_query_key_detail(const struct pml_event *ev, const struct pml_reg *v, struct pml_dw *w) {
  const uint8_t *x = ev->extra;
  size_t n = ev->extra ? ev->extra_size : 0;

  if (ev->operation == REG_ENUM_KEY) {
    pml_field(w, "Index");
    pml_put_num(w, v->index);
  } else {
    pml_field(w, "Query");
    if (v->info_class < COUNT(key_info_classes))
      fb_strbuf_puts(w->b, key_info_classes[v->info_class]);
    else
      fb_strbuf_u64(w->b, v->info_class);
  }
  if (!x) {
    pml_field(w, "Length");
    pml_put_num(w, v->length);
    return;
  }
  switch (v->info_class) {
  case 0: /* KEY_BASIC_INFORMATION: LastWriteTime, TitleIndex, NameLength, Name */
    key_put_name(w, x, n, 12, 16);
    break;
  case 1: /* KEY_NODE_INFORMATION: ..., ClassOffset, ClassLength, NameLength, Name */
    key_put_name(w, x, n, 20, 24);
    break;
  case 4: /* KEY_CACHED_INFORMATION */
    pml_field(w, "SubKeys");
    pml_put_num(w, pml_get32(x, n, 12));
    pml_field(w, "Values");
    pml_put_num(w, pml_get32(x, n, 20));
    break;
  case 2: /* KEY_FULL_INFORMATION */
    pml_field(w, "SubKeys");
    pml_put_num(w, pml_get32(x, n, 0x14));
    pml_field(w, "Values");
    pml_put_num(w, pml_get32(x, n, 0x20));
    break;
  case 5:
    pml_field(w, "UserFlags");
    fb_strbuf_0x(w->b, pml_get32(x, n, 0));
    break;
  case 7:
    pml_field(w, "HandleTags");
    fb_strbuf_0x(w->b, pml_get32(x, n, 0));
    break;
  default: break; /* Name (3): Procmon prints no more than the class */
  }
}

static void reg_query_value_detail(const struct pml_event *ev, const struct pml_reg *v, struct pml_dw *w) {
  const uint8_t *x = ev->extra;
  size_t n = ev->extra ? ev->extra_size : 0;
  uint32_t type, len;

  if (ev->operation == REG_ENUM_VALUE) {
    pml_field(w, "Index");
    pml_put_num(w, v->index);
  }
  if (!x) {
    pml_field(w, "Length");
    pml_put_num(w, v->length);
    return;
  }
  type = pml_get32(x, n, 4);
  if (v->info_class == 1) { /* KEY_VALUE_FULL_INFORMATION */
    uint32_t data_off = pml_get32(x, n, 8), name_len = pml_get32(x, n, 16);
    len = pml_get32(x, n, 12);
    if (ev->operation == REG_ENUM_VALUE) { /* RegQueryValue names the value in its path */
      pml_field(w, "Name");
      if (n >= 20 && name_len <= n - 20)
        fb_strbuf_utf16(w->b, x + 20, name_len / 2);
    }
    pml_field(w, "Type");
    reg_put_type(w->b, type);
    pml_field(w, "Length");
    pml_put_num(w, len);
    if (len && data_off <= n)
      reg_put_data(w, type, x + data_off, len <= n - data_off ? len : n - data_off);
  } else if (v->info_class == 2) { /* KEY_VALUE_PARTIAL_INFORMATION */
    len = pml_get32(x, n, 8);
    pml_field(w, "Type");
    reg_put_type(w->b, type);
    pml_field(w, "Length");
    pml_put_num(w, len);
    if (len && n >= 12)
      reg_put_data(w, type, x + 12, len <= n - 12 ? len : n - 12);
  } else {
    pml_field(w, "Type");
    reg_put_type(w->b, type);
  }
}

static void reg_open_detail(const struct pml_event *ev, const struct pml_reg *v, struct pml_dw *w) {
  const uint8_t *x = ev->extra;
  size_t n = ev->extra ? ev->extra_size : 0;
  uint32_t disp;

  if (!v->access)
    return;
  pml_field(w, "Desired Access");
  reg_put_access(w->b, v->access);
  if (!x)
    return;
  if ((v->access & 0x2000000) && v->access == 0x2000000) {
    pml_field(w, "Granted Access");
    reg_put_access(w->b, pml_get32(x, n, 0));
  }
  disp = pml_get32(x, n, 4);
  if (disp == 1 || disp == 2) {
    pml_field(w, "Disposition");
    fb_strbuf_puts(w->b, disp == 1 ? "REG_CREATED_NEW_KEY" : "REG_OPENED_EXISTING_KEY");
  }
}

static void reg_set_info_detail(const struct pml_reg *v, struct pml_dw *w) {
  pml_field(w, "KeySetInformationClass");
  switch (v->info_class) {
  case 0: fb_strbuf_puts(w->b, "KeyWriteTimeInformation"); break;
  case 1: fb_strbuf_puts(w->b, "KeyWow64FlagsInformation"); break;
  case 5: fb_strbuf_puts(w->b, "KeySetHandleTagsInformation"); break;
  default: fb_strbuf_printf(w->b, "<Unknown: %u>", v->info_class); break;
  }
  pml_field(w, "Length");
  pml_put_num(w, v->length);
}

static void reg_set_value_detail(const struct pml_reg *v, struct pml_dw *w) {
  struct fb_cursor c = v->rest;
  size_t n = v->length < v->data_length ? v->length : v->data_length;
  const uint8_t *p;

  pml_field(w, "Type");
  reg_put_type(w->b, v->type);
  pml_field(w, "Length");
  pml_put_num(w, v->length);
  if (n > fb_cursor_left(&c))
    n = fb_cursor_left(&c);
  p = n ? fb_cursor_take(&c, n) : NULL;
  if (v->length)
    reg_put_data(w, v->type, p, p ? n : 0);
}

void pml_reg_detail(const struct pml_event *ev, const struct pml_reg *v, struct pml_dw *w) {
  switch (ev->operation) {
  case REG_OPEN_KEY:
  case REG_CREATE_KEY: reg_open_detail(ev, v, w); break;
  case REG_QUERY_KEY:
  case REG_ENUM_KEY: reg_query_key_detail(ev, v, w); break;
  case REG_QUERY_VALUE:
  case REG_ENUM_VALUE: reg_query_value_detail(ev, v, w); break;
  case REG_SET_INFO_KEY: reg_set_info_detail(v, w); break;
  case REG_SET_VALUE: reg_set_value_detail(v, w); break;
  case REG_LOAD_KEY:
    pml_field(w, "Hive Path");
    pml_put_dstr(w->b, &v->path2);
    break;
  case REG_RENAME_KEY:
    pml_field(w, "New Name");
    pml_put_dstr(w->b, &v->path2);
    break;
  default: break;
  }
}

void pml_reg_category(const struct pml_event *ev, struct fb_strbuf *out) {
  const char *cat = NULL;

  switch (ev->operation) {
  case REG_OPEN_KEY:
  case REG_CREATE_KEY:
    cat = "Read";
    if (ev->extra && pml_get32(ev->extra, ev->extra_size, 4) == 1)
      cat = "Write";
    break;
  case REG_QUERY_KEY:
  case REG_ENUM_KEY:
  case REG_QUERY_VALUE:
  case REG_ENUM_VALUE:
  case REG_QUERY_MULTIPLE: cat = "Read"; break;
  case REG_SET_VALUE:
  case REG_DELETE_KEY:
  case REG_DELETE_VALUE:
  case REG_RENAME_KEY: cat = "Write"; break;
  case REG_SET_INFO_KEY:
  case REG_SET_KEY_SECURITY: cat = "Write Metadata"; break;
  case REG_QUERY_KEY_SECURITY: cat = "Read Metadata"; break;
  default: break;
  }
  if (cat)
    fb_strbuf_puts(out, cat);
}
