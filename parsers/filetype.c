/* filetype.c - content typing of uploaded files (see filetype.h). */
#include "parsers/filetype.h"

#include <string.h>

#include "parsers/bytes.h"
#include "parsers/utf16.h"

/* How much text the line rules look at: enough for a header block and the
 * first few dozen log lines. */
#define TEXT_SCAN 16384
#define TEXT_LINES 200

static int has_prefix(const uint8_t *h, size_t n, const char *magic, size_t len) {
  return n >= len && memcmp(h, magic, len) == 0;
}

/* ETL: the file is a run of buffers, buffer 0 is a header buffer (type 4)
 * whose first record is the logfile header with a SYSTEM_TRACE_HEADER marker
 * for 32- or 64-bit loggers. */
static int looks_etl(const uint8_t *h, size_t n) {
  uint32_t size, marker;

  if (n < 0x48 + 4)
    return 0;
  size = fb_le32(h);
  if (size < 0x48 + 4 || size > (64u << 20))
    return 0;
  if (fb_le16(h + 0x36) != 4)
    return 0;
  marker = fb_le32(h + 0x48);
  return marker == 0xC0020002u || marker == 0xC0010002u;
}

static int looks_tar(const uint8_t *h, size_t n) {
  return n >= 263 && memcmp(h + 257, "ustar", 5) == 0;
}

int fb_text_encoding(const uint8_t *h, size_t n, size_t *skip) {
  size_t i, zeros = 0, pairs = 0;

  *skip = 0;
  if (n >= 2 && h[0] == 0xFF && h[1] == 0xFE) {
    *skip = 2;
    return 2;
  }
  if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF) {
    *skip = 3;
    return 1;
  }
  /* UTF-16LE without BOM: most odd bytes are zero while even ones are not. */
  for (i = 0; i + 1 < n && i < 512; i += 2) {
    pairs++;
    if (h[i + 1] == 0 && h[i] != 0)
      zeros++;
  }
  return pairs >= 8 && zeros * 10 >= pairs * 9 ? 2 : 0;
}

/* Copy the head as 8-bit text into out (UTF-16 converted to UTF-8). */
static size_t head_text(const uint8_t *h, size_t n, char *out, size_t out_size) {
  size_t skip, len;
  int enc = fb_text_encoding(h, n, &skip);

  h += skip;
  n -= skip;
  if (enc == 2)
    return fb_utf16le_to_utf8(h, n / 2, out, out_size);
  len = n < out_size - 1 ? n : out_size - 1;
  memcpy(out, h, len);
  out[len] = '\0';
  return len;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* "YYYY-MM-DD HH:MM:SS, " */
static int stamp_prefix(const char *s, size_t len) {
  static const char shape[] = "dddd-dd-dd dd:dd:dd, ";
  size_t i;

  if (len < sizeof(shape) - 1)
    return 0;
  for (i = 0; i < sizeof(shape) - 1; i++) {
    if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
      return 0;
  }
  return 1;
}

/* The component word of a CBS/Panther line, after level and optional
 * "[0x0601c1]" message id. Returns its length (0 if none) and start. */
static size_t line_component(const char *s, size_t len, const char **comp) {
  size_t i = 21, start;

  while (i < len && s[i] != ' ')
    i++;
  while (i < len && s[i] == ' ')
    i++;
  if (i + 2 < len && s[i] == '[' && s[i + 1] == '0' && s[i + 2] == 'x') {
    while (i < len && s[i] != ' ')
      i++;
    while (i < len && s[i] == ' ')
      i++;
  }
  start = i;
  while (i < len && s[i] != ' ')
    i++;
  *comp = s + start;
  return i - start;
}

/* A fltmc dash row: at least four runs of '-' separated by blanks, the first
 * one long (the name column). */
static int fltmc_dash_row(const char *s, size_t len) {
  size_t i = 0, groups = 0, first = 0;

  while (i < len && s[i] == ' ')
    i++;
  while (i < len) {
    size_t start = i;
    while (i < len && s[i] == '-')
      i++;
    if (i == start)
      return 0;
    if (groups == 0)
      first = i - start;
    groups++;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
      i++;
  }
  return groups >= 4 && first >= 10;
}

static enum fb_filetype text_type(const uint8_t *h, size_t n) {
  char local[TEXT_SCAN * 3 + 1];
  size_t len, pos = 0, lines = 0, stamped = 0, cbs = 0;
  int setupapi = 0, fltmc = 0;

  len = head_text(h, n < TEXT_SCAN ? n : TEXT_SCAN, local, sizeof(local));
  while (pos < len && lines < TEXT_LINES) {
    const char *s = local + pos, *nl = memchr(s, '\n', len - pos), *comp;
    size_t l = nl ? (size_t)(nl - s) : len - pos, cl;

    pos += l + (nl ? 1 : 0);
    if (l > 0 && s[l - 1] == '\r')
      l--;
    lines++;
    if (stamp_prefix(s, l)) {
      stamped++;
      cl = line_component(s, l, &comp);
      if ((cl == 3 && (memcmp(comp, "CBS", 3) == 0 || memcmp(comp, "CSI", 3) == 0)))
        cbs++;
      continue;
    }
    if ((l >= 20 && memcmp(s, "[Device Install Log]", 20) == 0) || (l >= 6 && memcmp(s, ">>>  [", 6) == 0) ||
        (l >= 19 && memcmp(s, ">>>  Section start", 18) == 0))
      setupapi = 1;
    if (fltmc_dash_row(s, l))
      fltmc = 1;
    if (l >= 32 && memcmp(s, "Filter listing failed with error", 32) == 0)
      fltmc = 1;
  }
  if (setupapi)
    return FB_FT_SETUPAPI;
  /* a log whose lines are mostly timestamped stays a log even if it quotes
   * a fltmc table or prints a dashed separator */
  if (stamped >= 1 && stamped * 2 >= lines - (lines > 1 ? 1 : 0))
    return cbs * 2 > stamped ? FB_FT_CBS_LOG : FB_FT_SETUP_LOG;
  if (fltmc)
    return FB_FT_FLTMC;
  return FB_FT_OTHER;
}

enum fb_filetype fb_filetype_detect(const uint8_t *h, size_t n) {
  if (h == NULL || n == 0)
    return FB_FT_OTHER;
  if (has_prefix(h, n, "PML_", 4))
    return FB_FT_PML;
  if (has_prefix(h, n, "ElfFile\0", 8))
    return FB_FT_EVTX;
  if (has_prefix(h, n, "PAGEDU64", 8) || has_prefix(h, n, "PAGEDUMP", 8))
    return FB_FT_KERNEL_DUMP;
  if (has_prefix(h, n, "MDMP", 4) && n >= 6 && fb_le16(h + 4) == 0xA793)
    return FB_FT_MINIDUMP;
  if (has_prefix(h, n, "PK\3\4", 4) || has_prefix(h, n, "PK\5\6", 4) || has_prefix(h, n, "PK\7\x08", 4))
    return FB_FT_ZIP;
  if (has_prefix(h, n, "7z\xBC\xAF\x27\x1C", 6))
    return FB_FT_7Z;
  if (has_prefix(h, n, "MSCF\0\0\0\0", 8))
    return FB_FT_CAB;
  if (has_prefix(h, n, "Rar!\x1A\x07", 6))
    return FB_FT_RAR;
  if (has_prefix(h, n, "\x1F\x8B", 2))
    return FB_FT_GZIP;
  if (has_prefix(h, n,
                 "\xFD"
                 "7zXZ\0",
                 6))
    return FB_FT_XZ;
  if (has_prefix(h, n, "BZh", 3) && n >= 4 && h[3] >= '1' && h[3] <= '9')
    return FB_FT_BZIP2;
  if (has_prefix(h, n, "\x28\xB5\x2F\xFD", 4))
    return FB_FT_ZSTD;
  if (looks_tar(h, n))
    return FB_FT_TAR;
  if (looks_etl(h, n))
    return FB_FT_ETL;
  return text_type(h, n);
}

const char *fb_filetype_name(enum fb_filetype t) {
  switch (t) {
  case FB_FT_ETL: return "etl";
  case FB_FT_PML: return "pml";
  case FB_FT_EVTX: return "evtx";
  case FB_FT_CBS_LOG: return "cbs";
  case FB_FT_SETUPAPI: return "setupapi";
  case FB_FT_SETUP_LOG: return "setupact";
  case FB_FT_FLTMC: return "fltmc";
  case FB_FT_KERNEL_DUMP: return "kernel-dump";
  case FB_FT_MINIDUMP: return "minidump";
  case FB_FT_ZIP: return "zip";
  case FB_FT_7Z: return "7z";
  case FB_FT_CAB: return "cab";
  case FB_FT_RAR: return "rar";
  case FB_FT_TAR: return "tar";
  case FB_FT_GZIP: return "gzip";
  case FB_FT_XZ: return "xz";
  case FB_FT_BZIP2: return "bzip2";
  case FB_FT_ZSTD: return "zstd";
  case FB_FT_OTHER:
  case FB_FT_COUNT: break;
  }
  return "other";
}

int fb_filetype_is_archive(enum fb_filetype t) {
  return t >= FB_FT_ZIP && t <= FB_FT_ZSTD;
}

int fb_filetype_is_compressed_stream(enum fb_filetype t) {
  return t >= FB_FT_GZIP && t <= FB_FT_ZSTD;
}
