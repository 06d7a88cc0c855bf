/* textlines.h - lines of a Windows text log as UTF-8, whatever it was saved in.
 *
 * Handles UTF-8 (with or without BOM), UTF-16LE (BOM, or detected by its
 * zero high bytes: PowerShell redirection) and 8-bit ANSI code page 936
 * (GBK, decoded as GB18030, its superset: cmd.exe redirection on Chinese
 * Windows). Each 8-bit line is taken as UTF-8 when it is valid UTF-8 and as
 * GB18030 otherwise, so mixed files still read. Lines longer than
 * TEXT_LINE_MAX bytes are cut (memory stays bounded); CR LF and LF both end
 * a line. The line buffer is reused: a line is valid until the next call.
 */
#ifndef FB_TEXTLINES_H
#define FB_TEXTLINES_H

#include <stddef.h>
#include <stdint.h>

#define TEXT_LINE_MAX 65536

enum text_encoding { TEXT_8BIT = 0, TEXT_UTF8_BOM, TEXT_UTF16LE };

struct text_lines {
  const uint8_t *data;
  size_t size;
  size_t pos;      /* next byte to read */
  uint64_t offset; /* byte offset of the current line in the file */
  uint64_t lineno; /* 1-based number of the current line */
  enum text_encoding enc;
  int gbk_lines; /* 8-bit lines decoded as GB18030 so far */
  char *buf;
  size_t cap;
  void *iconv; /* opened on first GBK line */
};

void text_lines_init(struct text_lines *t, const uint8_t *data, size_t size);
/* Next line (without its end of line) into line and len; 1 = a line, 0 = end,
 * -1 = out of memory. */
int text_lines_next(struct text_lines *t, const char **line, size_t *len);
void text_lines_free(struct text_lines *t);

/* FILETIME of a civil UTC date and time (no validation beyond ranges);
 * 0 when out of range. */
uint64_t text_filetime(int year, int month, int day, int hour, int min, int sec, int msec);

/* Parse up to `digits` decimal digits at s; -1 if none. */
int text_num(const char *s, size_t len, size_t *pos, int digits);

#endif
