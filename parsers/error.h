/* error.h - errors as values: what went wrong, in which file, at which offset.
 *
 * Every parser function that can fail on input returns 0 or a negative FB_E*
 * code and fills a struct fb_error. Nothing an input can cause ever aborts.
 */
#ifndef FB_ERROR_H
#define FB_ERROR_H

#include <stdint.h>

enum {
  FB_OK = 0,
  FB_EIO = -1,     /* the operating system refused (open, read, map) */
  FB_EFORMAT = -2, /* the bytes are not what the format says */
  FB_ETRUNC = -3,  /* the file ends before a structure it announces */
  FB_ENOMEM = -4,  /* an allocation failed */
  FB_EUNSUP = -5,  /* valid, but a variant we do not read */
  FB_ESTOP = -6,   /* a callback asked to stop; not an error in the input */
  FB_ELIMIT = -7,  /* a configured limit was reached */
};

#define FB_OFFSET_NONE UINT64_MAX

struct fb_error {
  int code;
  uint64_t offset; /* byte offset in the file, FB_OFFSET_NONE if not tied to one */
  char file[512];
  char msg[512];
};

/* Clear an error record; file may be NULL. */
void fb_error_init(struct fb_error *err, const char *file);

/* Record an error and return code, so callers can write `return fb_error_set(...)`.
 * A NULL err is allowed and ignored. */
int fb_error_set(struct fb_error *err, int code, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "FILE: offset 0x1234: message" into buf (always NUL-terminated). */
const char *fb_error_format(const struct fb_error *err, char *buf, unsigned long size);

const char *fb_error_code_name(int code);

#endif
