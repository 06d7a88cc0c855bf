/* ingest_hash.h - SHA-256 of artifacts through OpenSSL's libcrypto, and a
 * second thread that digests (and writes) while the unpacker inflates.
 *
 * Digesting every unpacked byte costs about a third of the unpack time, and
 * writing it out another sixth; on a machine with a spare core the worker
 * takes both off the inflating thread. The producer fills buffers the
 * hasher hands out (ingest_hasher_buffer / _commit, or _feed), in order; the
 * worker folds them into the EVP_MD_CTX it was given at _begin and writes
 * them to the fd given there; _end waits for the queue to drain, after
 * which the context and the fd are the caller's again. One producer only.
 */
#ifndef FB_INGEST_HASH_H
#define FB_INGEST_HASH_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define INGEST_HASH_BUF (256u << 10)

/* SHA-256 from libcrypto's default provider, fetched once per process
 * (NULL when libcrypto cannot be loaded, is broken or out of memory; see
 * dynlib.h: fltblame loads libcrypto at run time). Not to be freed. */
const EVP_MD *ingest_sha256_md(void);
/* (Re)start ctx on SHA-256. Returns 0, -1 on a libcrypto failure. */
int ingest_digest_init(EVP_MD_CTX *ctx);
/* Finish ctx into lower-case hex; hex is "" and -1 returned on failure. */
int ingest_digest_hex(EVP_MD_CTX *ctx, char hex[65]);

struct ingest_hasher;

/* NULL when threads are not worth it (one CPU) or cannot be had: hash inline. */
struct ingest_hasher *ingest_hasher_new(void);
void ingest_hasher_free(struct ingest_hasher *h);

/* Continue the digest in ctx on the worker, which also appends every queued
 * byte to fd (-1: digest only); the caller must not touch ctx nor write to
 * fd until _end. The queue must be empty. */
void ingest_hasher_begin(struct ingest_hasher *h, EVP_MD_CTX *ctx, int fd);
/* A free buffer of INGEST_HASH_BUF bytes (waits for one). Bytes gathered
 * by _feed are queued first. */
uint8_t *ingest_hasher_buffer(struct ingest_hasher *h);
/* Queue the buffer last returned, holding len bytes. */
void ingest_hasher_commit(struct ingest_hasher *h, size_t len);
/* Copy and queue n bytes (gathered into whole buffers). */
void ingest_hasher_feed(struct ingest_hasher *h, const void *p, size_t n);
/* errno of the first write that failed since _begin, 0 if none yet: the
 * producer may stop early. Later bytes are still digested, not written. */
int ingest_hasher_write_error(struct ingest_hasher *h);
/* Wait until everything queued is digested and written; ctx and fd are the
 * caller's again. Returns 0 or the errno of the first failed write. */
int ingest_hasher_end(struct ingest_hasher *h);

#endif
