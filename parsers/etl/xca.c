/* xca.c - MS-XCA decompressors (plain LZ77, LZNT1, LZ77+Huffman).
 *
 * Written from the [MS-XCA] specification (sections 2.1-2.5 and the worked
 * examples of section 3). Every read is bounds-checked against the input,
 * every write against out_cap, every back-reference against what has been
 * produced: the input is untrusted.
 */
#include "parsers/etl/xca.h"

#include <string.h>

#include "parsers/bytes.h"

/* Copy a match byte by byte: overlapping copies (offset < length) repeat
 * the last bytes, which is how runs are encoded. */
static void copy_match(uint8_t *out, size_t pos, size_t offset, size_t length) {
  uint8_t *d = out + pos;
  const uint8_t *s = d - offset;

  if (offset >= length) {
    memcpy(d, s, length);
    return;
  }
  while (length-- > 0)
    *d++ = *s++;
}

/* --- plain LZ77 (MS-XCA 2.4) ------------------------------------------- */

static int lz77_run(const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap, size_t *produced,
                    struct fb_error *err);

/* On error *out_size still says how many bytes were produced before the bad
 * token: they are exact, so a reader can use them for a truncated buffer. */
int xca_lz77_decompress(const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap, size_t *out_size,
                        struct fb_error *err) {
  *out_size = 0;
  return lz77_run(in, in_size, out, out_cap, out_size, err);
}

static int lz77_run(const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap, size_t *produced,
                    struct fb_error *err) {
  size_t ip = 0, op = 0, nibble_pos = 0;
  uint32_t flags = 0;
  int flag_count = 0;

#define LZ77_FAIL(...) (*produced = op, fb_error_set(err, FB_EFORMAT, ip, __VA_ARGS__))
  for (;;) {
    if (flag_count == 0) {
      if (ip == in_size)
        break; /* the input ends on a flag boundary */
      if (!fb_span_ok(in_size, ip, 4))
        return LZ77_FAIL("LZ77: input ends inside a flag word");
      flags = fb_le32(in + ip);
      ip += 4;
      flag_count = 32;
    }
    flag_count--;
    if (ip == in_size)
      break; /* end of stream: the rest of the flags are padding */
    if ((flags & (1u << flag_count)) == 0) {
      if (op == out_cap)
        return LZ77_FAIL("LZ77: output exceeds %zu bytes", out_cap);
      out[op++] = in[ip++];
      continue;
    }
    if (!fb_span_ok(in_size, ip, 2))
      return LZ77_FAIL("LZ77: input ends inside a match");
    uint32_t token = fb_le16(in + ip);
    size_t length = token & 7, offset = (token >> 3) + 1;
    ip += 2;
    if (length == 7) {
      if (nibble_pos == 0) {
        if (ip >= in_size)
          return LZ77_FAIL("LZ77: input ends before a length nibble");
        length = in[ip] & 0x0F;
        nibble_pos = ip++;
      } else {
        length = in[nibble_pos] >> 4;
        nibble_pos = 0;
      }
      if (length == 15) {
        if (ip >= in_size)
          return LZ77_FAIL("LZ77: input ends before a length byte");
        length = in[ip++];
        if (length == 255) {
          if (!fb_span_ok(in_size, ip, 2))
            return LZ77_FAIL("LZ77: input ends before a 16-bit length");
          length = fb_le16(in + ip);
          ip += 2;
          if (length == 0) {
            if (!fb_span_ok(in_size, ip, 4))
              return LZ77_FAIL("LZ77: input ends before a 32-bit length");
            length = fb_le32(in + ip);
            ip += 4;
          }
          if (length < 15 + 7)
            return LZ77_FAIL("LZ77: long match length %zu too small", length);
          length -= 15 + 7;
        }
        length += 15;
      }
      length += 7;
    }
    length += 3;
    if (offset > op)
      return LZ77_FAIL("LZ77: match offset %zu before the start of the output (%zu)", offset, op);
    if (length > out_cap - op)
      return LZ77_FAIL("LZ77: output exceeds %zu bytes", out_cap);
    copy_match(out, op, offset, length);
    op += length;
  }
  *produced = op;
  return FB_OK;
#undef LZ77_FAIL
}

/* --- LZNT1 (MS-XCA 2.5) -------------------------------------------------- */

enum { LZNT1_CHUNK = 4096 };

static int lznt1_chunk(const uint8_t *in, size_t in_size, size_t base, uint8_t *out, size_t chunk_start,
                       size_t *op_io, size_t out_cap, struct fb_error *err) {
  size_t ip = 0, op = *op_io;

  while (ip < in_size) {
    uint8_t flags = in[ip++];
    for (int bit = 0; bit < 8 && ip < in_size; bit++) {
      if ((flags & (1u << bit)) == 0) {
        if (op == out_cap || op - chunk_start >= LZNT1_CHUNK)
          return fb_error_set(err, FB_EFORMAT, base + ip, "LZNT1: output exceeds the chunk or %zu bytes",
                              out_cap);
        out[op++] = in[ip++];
        continue;
      }
      if (!fb_span_ok(in_size, ip, 2))
        return fb_error_set(err, FB_EFORMAT, base + ip, "LZNT1: chunk ends inside a match");
      uint32_t token = fb_le16(in + ip);
      ip += 2;
      /* The split between offset and length bits depends on how much of
       * the chunk has been produced: offsets grow as the chunk fills. */
      size_t produced = op - chunk_start;
      unsigned len_bits = 12;
      for (size_t u = produced - 1; produced > 0 && u >= 0x10; u >>= 1)
        len_bits--;
      size_t length = (token & ((1u << len_bits) - 1)) + 3;
      size_t offset = (token >> len_bits) + 1;
      if (produced == 0 || offset > produced)
        return fb_error_set(err, FB_EFORMAT, base + ip - 2, "LZNT1: match offset %zu before the chunk start",
                            offset);
      if (length > out_cap - op || produced + length > LZNT1_CHUNK)
        return fb_error_set(err, FB_EFORMAT, base + ip - 2, "LZNT1: output exceeds the chunk or %zu bytes",
                            out_cap);
      copy_match(out, op, offset, length);
      op += length;
    }
  }
  *op_io = op;
  return FB_OK;
}

int xca_lznt1_decompress(const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap, size_t *out_size,
                         struct fb_error *err) {
  size_t ip = 0, op = 0;

  *out_size = 0;
  while (ip + 2 <= in_size) {
    uint16_t header = fb_le16(in + ip);
    if (header == 0)
      break; /* end marker */
    size_t size = (size_t)(header & 0x0FFF) + 1;
    if (((header >> 12) & 7) != 3)
      return fb_error_set(err, FB_EFORMAT, ip, "LZNT1: bad chunk signature 0x%04x", header);
    if (!fb_span_ok(in_size, ip + 2, size))
      return fb_error_set(err, FB_EFORMAT, ip, "LZNT1: chunk of %zu bytes past the input end", size);
    if (header & 0x8000) {
      int rc = lznt1_chunk(in + ip + 2, size, ip + 2, out, op, &op, out_cap, err);
      if (rc < 0)
        return rc;
    } else {
      if (size > out_cap - op)
        return fb_error_set(err, FB_EFORMAT, ip, "LZNT1: output exceeds %zu bytes", out_cap);
      memcpy(out + op, in + ip + 2, size);
      op += size;
    }
    ip += 2 + size;
  }
  *out_size = op;
  return FB_OK;
}

/* --- LZ77+Huffman (MS-XCA 2.1/2.2) ----------------------------------------- */

enum { HUFF_SYMBOLS = 512, HUFF_MAX_BITS = 15, HUFF_BLOCK = 65536, HUFF_TABLE_BYTES = 256 };

/* Canonical code: symbols sorted by (length, value), codes assigned in that
 * order. Decoding walks the lengths one bit at a time (small and exact). */
struct huff_code {
  uint16_t count[HUFF_MAX_BITS + 1];
  uint16_t symbol[HUFF_SYMBOLS];
};

static int huff_build(struct huff_code *h, const uint8_t *table) {
  uint16_t offs[HUFF_MAX_BITS + 2];
  int left = 1;

  memset(h->count, 0, sizeof(h->count));
  for (int s = 0; s < HUFF_SYMBOLS; s++)
    h->count[(table[s / 2] >> ((s & 1) * 4)) & 0x0F]++;
  if (h->count[0] == HUFF_SYMBOLS)
    return -1; /* no symbols at all */
  for (int len = 1; len <= HUFF_MAX_BITS; len++) {
    left <<= 1;
    left -= h->count[len];
    if (left < 0)
      return -1; /* over-subscribed */
  }
  offs[1] = 0;
  for (int len = 1; len <= HUFF_MAX_BITS; len++)
    offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
  for (int s = 0; s < HUFF_SYMBOLS; s++) {
    int len = (table[s / 2] >> ((s & 1) * 4)) & 0x0F;
    if (len)
      h->symbol[offs[len]++] = (uint16_t)s;
  }
  return 0;
}

/* Decode one symbol from the top 15 bits of bits; returns the symbol and its
 * length in *len, or -1 if no code matches. */
static int huff_decode(const struct huff_code *h, uint32_t bits, unsigned *len) {
  int code = 0, first = 0, index = 0;

  for (unsigned l = 1; l <= HUFF_MAX_BITS; l++) {
    code |= (int)((bits >> (32 - l)) & 1);
    int count = h->count[l];
    if (code - first < count) {
      *len = l;
      return h->symbol[index + code - first];
    }
    index += count;
    first += count;
    first <<= 1;
    code <<= 1;
  }
  return -1;
}

/* 16 bits at ip, zeros past the end of the input (the final refill may
 * look ahead of the last code). */
static uint32_t huff_word(const uint8_t *in, size_t in_size, size_t ip) {
  if (fb_span_ok(in_size, ip, 2))
    return fb_le16(in + ip);
  return ip < in_size ? in[ip] : 0;
}

int xca_huffman_decompress(const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap, size_t *out_size,
                           struct fb_error *err) {
  struct huff_code h;
  size_t ip = 0, op = 0;

  *out_size = 0;
  size_t block_end = 0;
  while (op < out_cap) {
    if (!fb_span_ok(in_size, ip, HUFF_TABLE_BYTES + 4))
      return fb_error_set(err, FB_EFORMAT, ip, "Huffman: input ends before a block's code table");
    if (huff_build(&h, in + ip) < 0)
      return fb_error_set(err, FB_EFORMAT, ip, "Huffman: invalid code length table");
    ip += HUFF_TABLE_BYTES;
    uint32_t bits = (huff_word(in, in_size, ip) << 16) | huff_word(in, in_size, ip + 2);
    int extra = 16;
    ip += 4;
    /* Blocks end every 64 KB of output; a match may run past the end, the
     * next block then ends 64 KB after the previous end. */
    block_end += HUFF_BLOCK;
    if (block_end > out_cap)
      block_end = out_cap;
    while (op < block_end) {
      unsigned len;
      int sym = huff_decode(&h, bits, &len);
      if (sym < 0)
        return fb_error_set(err, FB_EFORMAT, ip, "Huffman: bit pattern matches no code");
      bits <<= len;
      extra -= (int)len;
      if (extra < 0) {
        if (ip > in_size)
          return fb_error_set(err, FB_EFORMAT, ip, "Huffman: input ends inside the bit stream");
        bits |= huff_word(in, in_size, ip) << (-extra);
        extra += 16;
        ip += 2;
      }
      if (sym < 256) {
        out[op++] = (uint8_t)sym;
        continue;
      }
      sym -= 256;
      size_t length = (size_t)(sym & 15);
      unsigned offset_bits = (unsigned)(sym >> 4);
      if (length == 15) {
        if (ip >= in_size)
          return fb_error_set(err, FB_EFORMAT, ip, "Huffman: input ends before a length byte");
        length = in[ip++];
        if (length == 255) {
          if (!fb_span_ok(in_size, ip, 2))
            return fb_error_set(err, FB_EFORMAT, ip, "Huffman: input ends before a 16-bit length");
          length = fb_le16(in + ip);
          ip += 2;
          if (length < 15)
            return fb_error_set(err, FB_EFORMAT, ip, "Huffman: long match length %zu too small", length);
          length -= 15;
        }
        length += 15;
      }
      length += 3;
      size_t offset = (offset_bits ? (size_t)(bits >> (32 - offset_bits)) : 0) + ((size_t)1 << offset_bits);
      bits = offset_bits < 32 ? bits << offset_bits : 0;
      extra -= (int)offset_bits;
      if (extra < 0) {
        bits |= huff_word(in, in_size, ip) << (-extra);
        extra += 16;
        ip += 2;
      }
      if (offset > op)
        return fb_error_set(err, FB_EFORMAT, ip, "Huffman: match offset %zu before the start of the output",
                            offset);
      if (length > out_cap - op)
        return fb_error_set(err, FB_EFORMAT, ip, "Huffman: output exceeds %zu bytes", out_cap);
      copy_match(out, op, offset, length);
      op += length;
    }
  }
  *out_size = op;
  return FB_OK;
}

int xca_decompress(int format, const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap,
                   size_t *out_size, struct fb_error *err) {
  switch (format) {
  case XCA_FORMAT_XPRESS: return xca_lz77_decompress(in, in_size, out, out_cap, out_size, err);
  case XCA_FORMAT_LZNT1: return xca_lznt1_decompress(in, in_size, out, out_cap, out_size, err);
  case XCA_FORMAT_XPRESS_HUFF: return xca_huffman_decompress(in, in_size, out, out_cap, out_size, err);
  default:
    *out_size = 0;
    return fb_error_set(err, FB_EUNSUP, FB_OFFSET_NONE, "compression format %d not supported", format);
  }
}
