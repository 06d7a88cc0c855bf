/* ingest_sha256.c - SHA-256 per FIPS 180-4, written from the specification. */
#include "daemon/ingest_sha256.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI_CODE 1
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t ror(uint32_t x, unsigned n) {
  return (x >> n) | (x << (32 - n));
}

static void block_generic(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
  int i;

  for (i = 0; i < 16; i++)
    w[i] =
        (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (i = 0; i < 64; i++) {
    t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

#ifdef HAVE_SHA_NI_CODE
/* The x86 SHA extensions: four rounds per pair of sha256rnds2, the message
 * schedule with sha256msg1/msg2. State kept as ABEF/CDGH as the
 * instructions want it. */
__attribute__((target("sha,sse4.1,ssse3"))) static void blocks_ni(uint32_t h[8], const uint8_t *p, size_t n) {
  const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i st0, st1, tmp, msg, w[4], save0, save1;
  int g;

  tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* CDAB */
  st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* EFGH */
  st0 = _mm_alignr_epi8(tmp, st1, 8);                                     /* ABEF */
  st1 = _mm_blend_epi16(st1, tmp, 0xF0);                                  /* CDGH */
  for (; n > 0; n--, p += 64) {
    save0 = st0;
    save1 = st1;
#pragma GCC unroll 4
    for (g = 0; g < 4; g++)
      w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), mask);
#pragma GCC unroll 16
    for (g = 0; g < 16; g++) {
      __m128i *cur = &w[g & 3], *prev = &w[(g + 3) & 3], *next = &w[(g + 1) & 3];
      msg = _mm_add_epi32(*cur, _mm_loadu_si128((const __m128i *)&K[4 * g]));
      st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
      if (g >= 3 && g <= 14) {
        tmp = _mm_alignr_epi8(*cur, *prev, 4);
        *next = _mm_sha256msg2_epu32(_mm_add_epi32(*next, tmp), *cur);
      }
      msg = _mm_shuffle_epi32(msg, 0x0E);
      st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
      if (g >= 1 && g <= 12)
        *prev = _mm_sha256msg1_epu32(*prev, *cur);
    }
    st0 = _mm_add_epi32(st0, save0);
    st1 = _mm_add_epi32(st1, save1);
  }
  tmp = _mm_shuffle_epi32(st0, 0x1B);    /* FEBA */
  st1 = _mm_shuffle_epi32(st1, 0xB1);    /* DCHG */
  st0 = _mm_blend_epi16(tmp, st1, 0xF0); /* DCBA */
  st1 = _mm_alignr_epi8(st1, tmp, 8);    /* HGFE */
  _mm_storeu_si128((__m128i *)&h[0], st0);
  _mm_storeu_si128((__m128i *)&h[4], st1);
}

static int cpu_has_sha(void) {
  unsigned a, b, c, d;

  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9)))
    return 0; /* SSE4.1, SSSE3 */
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return 0;
  return (b >> 29) & 1;
}
#endif

static int use_hw = -1; /* -1: not decided yet */

int sha256_use_hw(int on) {
  int was = use_hw;
#ifdef HAVE_SHA_NI_CODE
  use_hw = on && cpu_has_sha();
#else
  (void)on;
  use_hw = 0;
#endif
  return was;
}

static void blocks(uint32_t h[8], const uint8_t *p, size_t n) {
  if (use_hw < 0)
    sha256_use_hw(1);
#ifdef HAVE_SHA_NI_CODE
  if (use_hw) {
    blocks_ni(h, p, n);
    return;
  }
#endif
  for (; n > 0; n--, p += 64)
    block_generic(h, p);
}

void sha256_init(struct sha256 *c) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, iv, sizeof(iv));
  c->len = 0;
  c->fill = 0;
}

void sha256_update(struct sha256 *c, const void *data, size_t n) {
  const uint8_t *p = data;

  if (n == 0)
    return;
  c->len += n;
  if (c->fill > 0) {
    size_t take = 64 - c->fill < n ? 64 - c->fill : n;
    memcpy(c->buf + c->fill, p, take);
    c->fill += take;
    p += take;
    n -= take;
    if (c->fill < 64)
      return;
    blocks(c->h, c->buf, 1);
    c->fill = 0;
  }
  if (n >= 64) {
    blocks(c->h, p, n / 64);
    p += n / 64 * 64;
    n %= 64;
  }
  memcpy(c->buf, p, n);
  c->fill = n;
}

void sha256_final(struct sha256 *c, uint8_t out[32]) {
  uint64_t bits = c->len * 8;
  int i;

  c->buf[c->fill++] = 0x80;
  if (c->fill > 56) {
    memset(c->buf + c->fill, 0, 64 - c->fill);
    blocks(c->h, c->buf, 1);
    c->fill = 0;
  }
  memset(c->buf + c->fill, 0, 56 - c->fill);
  for (i = 0; i < 8; i++)
    c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  blocks(c->h, c->buf, 1);
  for (i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->h[i];
  }
}

void sha256_hex(const uint8_t digest[32], char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  int i;

  for (i = 0; i < 32; i++) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 15];
  }
  hex[64] = '\0';
}
