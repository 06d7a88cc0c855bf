#include "parsers/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fb_error_init(struct fb_error *err, const char *file) {
  if (err == NULL)
    return;
  memset(err, 0, sizeof(*err));
  err->offset = FB_OFFSET_NONE;
  if (file != NULL)
    snprintf(err->file, sizeof(err->file), "%s", file);
}

int fb_error_set(struct fb_error *err, int code, uint64_t offset, const char *fmt, ...) {
  va_list ap;

  if (err == NULL)
    return code;
  err->code = code;
  err->offset = offset;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  return code;
}

const char *fb_error_code_name(int code) {
  switch (code) {
  case FB_OK: return "ok";
  case FB_EIO: return "i/o error";
  case FB_EFORMAT: return "bad format";
  case FB_ETRUNC: return "truncated";
  case FB_ENOMEM: return "out of memory";
  case FB_EUNSUP: return "unsupported";
  case FB_ESTOP: return "stopped";
  case FB_ELIMIT: return "limit reached";
  default: return "error";
  }
}

const char *fb_error_format(const struct fb_error *err, char *buf, unsigned long size) {
  const char *file = err->file[0] ? err->file : "(input)";

  if (err->offset != FB_OFFSET_NONE)
    snprintf(buf, size, "%s: offset %llu (0x%llx): %s", file, (unsigned long long)err->offset,
             (unsigned long long)err->offset, err->msg);
  else
    snprintf(buf, size, "%s: %s", file, err->msg);
  return buf;
}
