/* fuzz_xca.c - libFuzzer target for the MS-XCA decompressors. The first byte
 * picks the format and (with the second) the output size; the rest is the
 * compressed stream. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "parsers/etl/xca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t out[1 << 17];
  struct fb_error err;
  size_t produced;

  if (size < 2)
    return 0;
  int format = 2 + data[0] % 3;
  size_t cap = ((size_t)data[1] << 9) + (data[0] >> 2);
  if (cap > sizeof(out))
    cap = sizeof(out);
  fb_error_init(&err, NULL);
  (void)xca_decompress(format, data + 2, size - 2, out, cap, &produced, &err);
  return 0;
}
