/* xca.h - decompressors of [MS-XCA] (Xpress Compression Algorithm), as
 * used by compressed ETL buffers (the COMPRESSION_FORMAT_* number is kept in
 * buffer 0's State field).
 *
 * Written from the public MS-XCA specification:
 *   - plain LZ77 Xpress (format 3, §2.3/§2.4) - what every known compressed
 *     ETL uses;
 *   - LZNT1 (format 2, §2.5);
 *   - LZ77 + Huffman Xpress (format 4, §2.1/§2.2).
 * Each call decodes one independent stream into out[0, out_cap). Output that
 * would go past out_cap, back-references before the start of the output and
 * input that ends inside a token are errors (err->offset = input position).
 */
#ifndef FB_XCA_H
#define FB_XCA_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"

enum {
  XCA_FORMAT_LZNT1 = 2,
  XCA_FORMAT_XPRESS = 3,
  XCA_FORMAT_XPRESS_HUFF = 4,
};

/* Each returns 0 and sets *out_size, or a negative FB_E* with err filled. */
int xca_lz77_decompress(const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap, size_t *out_size,
                        struct fb_error *err);
int xca_lznt1_decompress(const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap, size_t *out_size,
                         struct fb_error *err);
/* Huffman Xpress needs the exact output size: the stream does not say where
 * it ends (MS-XCA §2.2), so out_cap is taken as that size. */
int xca_huffman_decompress(const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap, size_t *out_size,
                           struct fb_error *err);

/* Dispatch on a COMPRESSION_FORMAT_* number; FB_EUNSUP for others. */
int xca_decompress(int format, const uint8_t *in, size_t in_size, uint8_t *out, size_t out_cap,
                   size_t *out_size, struct fb_error *err);

#endif
