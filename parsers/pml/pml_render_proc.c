/* pml_render_proc.c - Process (class 1) and Network (class 5) events:
 * Path and Detail. Layouts: format doc 7.4 and 7.6. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "parsers/pml/pml_render_int.h"

enum {
  PROC_DEFINED = 0,
  PROC_CREATE = 1,
  PROC_EXIT = 2,
  THREAD_CREATE = 3,
  THREAD_EXIT = 4,
  LOAD_IMAGE = 5,
  PROC_START = 7,
  PROC_STATISTICS = 8,
};

/* Process Create / Process Defined: the child's image path and command line. */
static void proc_create_parse(const struct pml_event *ev, uint32_t *pid, struct pml_dstr *path,
                              struct pml_dstr *cmd) {
  struct fb_cursor c;
  uint8_t n1, n2;
  uint16_t path_info, cmd_info;

  fb_cursor_init(&c, ev->detail, ev->detail ? ev->detail_size : 0);
  fb_cursor_skip(&c, 4);
  *pid = fb_cursor_u32(&c);
  fb_cursor_skip(&c, 0x24);
  n1 = fb_cursor_u8(&c);
  n2 = fb_cursor_u8(&c);
  path_info = fb_cursor_u16(&c);
  cmd_info = fb_cursor_u16(&c);
  fb_cursor_skip(&c, 2 + (size_t)n1 + n2);
  pml_dstr_take(&c, path_info, path);
  pml_dstr_take(&c, cmd_info, cmd);
}

/* Load Image: image base, size, path. */
static void load_image_parse(const struct pml_file *f, const struct pml_event *ev, uint64_t *base,
                             uint32_t *size, struct pml_dstr *path) {
  struct fb_cursor c;
  uint16_t info;

  fb_cursor_init(&c, ev->detail, ev->detail ? ev->detail_size : 0);
  *base = fb_cursor_ptr(&c, pml_ptr_size(f));
  *size = fb_cursor_u32(&c);
  info = fb_cursor_u16(&c);
  fb_cursor_skip(&c, 2);
  pml_dstr_take(&c, info, path);
}

void pml_proc_path(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  struct pml_dstr path = {0}, cmd = {0};
  uint64_t base;
  uint32_t u;

  if (ev->operation == PROC_DEFINED || ev->operation == PROC_CREATE) {
    proc_create_parse(ev, &u, &path, &cmd);
    pml_put_dstr(out, &path);
  } else if (ev->operation == LOAD_IMAGE) {
    load_image_parse(f, ev, &base, &u, &path);
    pml_put_dstr(out, &path);
  }
}

static void proc_start_detail(const struct pml_event *ev, struct pml_dw *w) {
  struct fb_cursor c;
  struct pml_dstr cmd, dir;
  uint32_t ppid, env_chars;
  uint16_t cmd_info, dir_info;
  size_t env_bytes, pos = 0;
  const uint8_t *env;

  fb_cursor_init(&c, ev->detail, ev->detail ? ev->detail_size : 0);
  ppid = fb_cursor_u32(&c);
  cmd_info = fb_cursor_u16(&c);
  dir_info = fb_cursor_u16(&c);
  env_chars = fb_cursor_u32(&c);
  pml_dstr_take(&c, cmd_info, &cmd);
  pml_dstr_take(&c, dir_info, &dir);
  pml_field(w, "Parent PID");
  fb_strbuf_u64(w->b, ppid);
  pml_field(w, "Command line");
  pml_put_dstr(w->b, &cmd);
  pml_field(w, "Current directory");
  pml_put_dstr(w->b, &dir);
  pml_field(w, "Environment");
  env_bytes = fb_cursor_left(&c);
  if ((uint64_t)env_chars * 2 < env_bytes)
    env_bytes = (size_t)env_chars * 2;
  env = env_bytes ? fb_cursor_take(&c, env_bytes) : NULL;
  /* NUL-separated variables, each printed after CR ';' TAB */
  while (env && pos + 2 <= env_bytes) {
    size_t len = 0;
    while (pos + 2 * len + 2 <= env_bytes && fb_le16(env + pos + 2 * len))
      len++;
    if (!len)
      break;
    fb_strbuf_puts(w->b, "\r;\t");
    fb_strbuf_utf16(w->b, env + pos, len);
    pos += 2 * len + 2;
  }
}

static void proc_exit_detail(const struct pml_event *ev, struct pml_dw *w) {
  const uint8_t *d = ev->detail;
  size_t n = ev->detail ? ev->detail_size : 0;

  pml_field(w, "Exit Status");
  fb_strbuf_printf(w->b, "%d", (int32_t)pml_get32(d, n, 0));
  pml_field(w, "User Time");
  pml_put_seconds(w->b, pml_get64(d, n, 12));
  fb_strbuf_puts(w->b, " seconds");
  pml_field(w, "Kernel Time");
  pml_put_seconds(w->b, pml_get64(d, n, 4));
  fb_strbuf_puts(w->b, " seconds");
  pml_field(w, "Private Bytes");
  pml_put_num(w, pml_get64(d, n, 36));
  pml_field(w, "Peak Private Bytes");
  pml_put_num(w, pml_get64(d, n, 44));
  pml_field(w, "Working Set");
  pml_put_num(w, pml_get64(d, n, 20));
  pml_field(w, "Peak Working Set");
  pml_put_num(w, pml_get64(d, n, 28));
}

void pml_proc_detail(const struct pml_file *f, const struct pml_event *ev, struct pml_dw *w) {
  const uint8_t *d = ev->detail;
  size_t n = ev->detail ? ev->detail_size : 0;
  struct pml_dstr path = {0}, cmd = {0};
  uint64_t base;
  uint32_t u;

  switch (ev->operation) {
  case PROC_DEFINED:
  case PROC_CREATE:
    proc_create_parse(ev, &u, &path, &cmd);
    pml_field(w, "PID");
    fb_strbuf_u64(w->b, u);
    pml_field(w, "Command line");
    pml_put_dstr(w->b, &cmd);
    break;
  case PROC_START: proc_start_detail(ev, w); break;
  case PROC_EXIT:
  case PROC_STATISTICS: proc_exit_detail(ev, w); break;
  case THREAD_CREATE:
    pml_field(w, "Thread ID");
    fb_strbuf_u64(w->b, pml_get32(d, n, 0));
    break;
  case THREAD_EXIT:
    pml_field(w, "Thread ID");
    fb_strbuf_u64(w->b, ev->tid);
    pml_field(w, "User Time");
    pml_put_seconds(w->b, pml_get64(d, n, 12));
    pml_field(w, "Kernel Time");
    pml_put_seconds(w->b, pml_get64(d, n, 4));
    break;
  case LOAD_IMAGE:
    load_image_parse(f, ev, &base, &u, &path);
    pml_field(w, "Image Base");
    fb_strbuf_0x(w->b, base);
    pml_field(w, "Image Size");
    fb_strbuf_0x(w->b, u);
    break;
  default: break;
  }
}

/* ---- Network ---- */

int pml_net_is_tcp(const struct pml_event *ev) {
  return ev->detail && ev->detail_size >= 2 && (fb_le16(ev->detail) & 4) != 0;
}

static void net_put_host(const struct pml_file *f, struct fb_strbuf *b, const uint8_t *addr, int v4) {
  const char *name = f ? pml_host_name(f, addr, v4) : NULL;
  char text[64];

  if (name && *name) {
    fb_strbuf_puts(b, name);
  } else if (inet_ntop(v4 ? AF_INET : AF_INET6, addr, text, sizeof(text))) {
    fb_strbuf_puts(b, text);
  }
}

static void net_put_port(const struct pml_file *f, struct fb_strbuf *b, uint16_t port, int tcp) {
  const char *name = f ? pml_port_name(f, port, tcp) : NULL;

  if (name && *name)
    fb_strbuf_puts(b, name);
  else
    fb_strbuf_u64(b, port);
}

void pml_net_path(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  const uint8_t *d = ev->detail;
  size_t n = ev->detail ? ev->detail_size : 0;
  uint16_t flags;
  int tcp;

  if (n < 0x2C)
    return;
  flags = fb_le16(d);
  tcp = (flags & 4) != 0;
  net_put_host(f, out, d + 8, flags & 1);
  fb_strbuf_putc(out, ':');
  net_put_port(f, out, fb_le16(d + 0x28), tcp);
  fb_strbuf_puts(out, " -> ");
  net_put_host(f, out, d + 0x18, (flags & 2) != 0);
  fb_strbuf_putc(out, ':');
  net_put_port(f, out, fb_le16(d + 0x2A), tcp);
}

void pml_net_detail(const struct pml_file *f, const struct pml_event *ev, struct pml_dw *w) {
  const uint8_t *d = ev->detail;
  size_t n = ev->detail ? ev->detail_size : 0, pos = 0x2C;
  int key = 1;

  (void)f;
  if (n < 8)
    return;
  pml_field(w, "Length");
  fb_strbuf_u64(w->b, fb_le32(d + 4));
  /* NUL-separated key, value, key, value ... ending with an empty string */
  while (pos + 2 <= n) {
    size_t len = 0;
    while (pos + 2 * len + 2 <= n && fb_le16(d + pos + 2 * len))
      len++;
    if (!len && key)
      break;
    if (key) {
      if (w->fields++ > 0)
        fb_strbuf_puts(w->b, ", ");
      fb_strbuf_utf16(w->b, d + pos, len);
      fb_strbuf_puts(w->b, ": ");
    } else {
      fb_strbuf_utf16(w->b, d + pos, len);
    }
    key = !key;
    pos += 2 * len + 2;
  }
}
