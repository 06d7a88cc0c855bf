/* ingest_hash.h - SHA-256 on a second thread while the unpacker writes.
 *
 * Digesting every unpacked byte costs about a quarter of the unpack time;
 * on a machine with a spare core this hides it. The producer fills buffers
 * the hasher hands out (ingest_hasher_buffer / _commit), in order; the
 * worker folds them into the digest state it was given at _begin; _end
 * waits for the queue to drain and returns the state. One producer only.
 */
#ifndef FB_INGEST_HASH_H
#define FB_INGEST_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/ingest_sha256.h"

#define INGEST_HASH_BUF (1u << 20)

struct ingest_hasher;

/* NULL when threads are not worth it (one CPU) or cannot be had: hash inline. */
struct ingest_hasher *ingest_hasher_new(void);
void ingest_hasher_free(struct ingest_hasher *h);

/* Continue the digest in *state on the worker. The queue must be empty. */
void ingest_hasher_begin(struct ingest_hasher *h, const struct sha256 *state);
/* A free buffer of INGEST_HASH_BUF bytes (waits for one). */
uint8_t *ingest_hasher_buffer(struct ingest_hasher *h);
/* Queue the buffer last returned, holding len bytes. */
void ingest_hasher_commit(struct ingest_hasher *h, size_t len);
/* Copy and queue n bytes (gathered into whole buffers; do not mix with
 * _buffer/_commit between one _begin and _end). */
void ingest_hasher_feed(struct ingest_hasher *h, const void *p, size_t n);
/* Wait until everything queued is digested; the state goes to *state. */
void ingest_hasher_end(struct ingest_hasher *h, struct sha256 *state);

#endif
