#include "parsers/utf16.h"

#include "parsers/bytes.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t fb_utf8_put(uint32_t cp, char *out, size_t room) {
  if (cp < 0x80) {
    if (room < 1)
      return 0;
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    if (room < 2)
      return 0;
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    if (room < 3)
      return 0;
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  if (room < 4)
    return 0;
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

size_t fb_utf16le_to_utf8(const uint8_t *src, size_t nchars, char *out, size_t out_size) {
  size_t i = 0, n = 0;

  if (out_size == 0)
    return 0;
  while (i < nchars) {
    uint32_t cp;
    size_t w;

#if defined(__SSE2__)
    /* Eight ASCII units (1..0x7F) at a time where SSE2 is there (every
     * x86-64): paths and names are mostly ASCII. */
    while (i + 8 <= nchars && n + 9 <= out_size) {
      __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i));
      __m128i bad = _mm_or_si128(_mm_cmpgt_epi16(x, _mm_set1_epi16(0x7F)), /* 0x80..0x7FFF */
                                 _mm_cmplt_epi16(x, _mm_set1_epi16(1)));   /* NUL, 0x8000.. */
      if (_mm_movemask_epi8(bad) != 0)
        break;
      _mm_storel_epi64((__m128i *)(void *)(out + n), _mm_packus_epi16(x, x));
      n += 8;
      i += 8;
    }
#endif
    /* Four ASCII units (1..0x7F) at a time: paths and names are mostly ASCII. */
    while (i + 4 <= nchars && n + 5 <= out_size) {
      uint64_t x = fb_le64(src + 2 * i);
      if ((x & 0xFF80FF80FF80FF80ULL) != 0 ||
          ((x - 0x0001000100010001ULL) & ~x & 0x8000800080008000ULL) != 0) /* a NUL */
        break;
      out[n] = (char)x;
      out[n + 1] = (char)(x >> 16);
      out[n + 2] = (char)(x >> 32);
      out[n + 3] = (char)(x >> 48);
      n += 4;
      i += 4;
    }
    if (i >= nchars)
      break;
    cp = fb_le16(src + 2 * i++);

    if (cp - 1 < 0x7F && n + 1 < out_size) { /* ASCII, the common case */
      out[n++] = (char)cp;
      continue;
    }
    if (cp == 0)
      break;
    if (cp >= 0xD800 && cp <= 0xDBFF && i < nchars) {
      uint32_t lo = fb_le16(src + 2 * i);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        i++;
      } else {
        cp = 0xFFFD;
      }
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      cp = 0xFFFD;
    }
    w = fb_utf8_put(cp, out + n, out_size - 1 - n);
    if (w == 0)
      break;
    n += w;
  }
  out[n] = '\0';
  return n;
}
