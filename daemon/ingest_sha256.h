/* ingest_sha256.h - SHA-256 (FIPS 180-4) for artifact digests.
 * Small and dependency-free: libarchive and sqlite do not export one. */
#ifndef FB_INGEST_SHA256_H
#define FB_INGEST_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
  uint32_t h[8];
  uint64_t len; /* bytes hashed so far */
  uint8_t buf[64];
  size_t fill;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
void sha256_final(struct sha256 *c, uint8_t out[32]);
/* Use the x86 SHA extensions when the CPU has them (the default) or not;
 * returns the previous setting (-1 = not decided yet). For tests. */
int sha256_use_hw(int on);
/* Lower-case hex of a finished digest into hex[65]. */
void sha256_hex(const uint8_t digest[32], char hex[65]);

#endif
