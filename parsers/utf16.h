/* utf16.h - UTF-16LE (as Windows writes it) to UTF-8. */
#ifndef FB_UTF16_H
#define FB_UTF16_H

#include <stddef.h>
#include <stdint.h>

/* Convert nchars UTF-16LE code units at src into out (at most out_size bytes
 * including the NUL). Unpaired surrogates become U+FFFD; conversion stops at
 * a NUL code unit. Returns the number of bytes written, without the NUL;
 * output that does not fit is cut at a character boundary. */
size_t fb_utf16le_to_utf8(const uint8_t *src, size_t nchars, char *out, size_t out_size);

/* Bytes needed to hold the conversion of nchars code units (worst case + NUL). */
static inline size_t fb_utf16_bound(size_t nchars) {
  return nchars * 3 + 1;
}

/* Append one code point as UTF-8 to out; returns bytes written (0 if no room). */
size_t fb_utf8_put(uint32_t cp, char *out, size_t room);

#endif
