/* ingest_hash.c - SHA-256 through libcrypto, and a one-producer, one-worker
 * digest pipeline (see ingest_hash.h). */
#include "daemon/ingest_hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/dynlib.h"
#include "parsers/view.h"

#define NBUF 8

struct ingest_hasher {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t work;  /* worker waits: something queued, drain or stop asked */
  pthread_cond_t space; /* producer waits: a free slot, or drained */
  uint8_t *buf[NBUF];
  size_t len[NBUF];
  int head, tail, count;
  int drain, drained, stop;
  EVP_MD_CTX *ctx; /* touched by the worker only while the queue is non-empty */
  int fd;          /* the worker writes queued bytes here too; -1: digest only */
  int werr;        /* errno of the first failed write since _begin, under mu */
  uint8_t *cur;    /* producer: buffer being filled by _feed */
  size_t cur_len;
};

static const EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* An explicit fetch: EVP_sha256() would look the algorithm up again at
 * every EVP_DigestInit_ex2. Kept for the life of the process. */
static void fetch_sha256(void) {
  sha256_md = fb_evp.MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *ingest_sha256_md(void) {
  if (fb_dynlib_load(FB_DYNLIB_CRYPTO, NULL) < 0)
    return NULL;
  pthread_once(&sha256_once, fetch_sha256);
  return sha256_md;
}

int ingest_digest_init(EVP_MD_CTX *ctx) {
  const EVP_MD *md = ingest_sha256_md();

  return md != NULL && fb_evp.DigestInit_ex2(ctx, md, NULL) == 1 ? 0 : -1;
}

int ingest_digest_hex(EVP_MD_CTX *ctx, char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0, i;

  hex[0] = '\0';
  if (fb_evp.DigestFinal_ex(ctx, d, &n) != 1 || n != 32)
    return -1;
  for (i = 0; i < n; i++) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  hex[2 * n] = '\0';
  return 0;
}

static void *worker(void *arg) {
  struct ingest_hasher *h = arg;

  pthread_mutex_lock(&h->mu);
  for (;;) {
    while (h->count == 0 && !h->drain && !h->stop)
      pthread_cond_wait(&h->work, &h->mu);
    if (h->count > 0) {
      int i = h->head, fd = h->werr ? -1 : h->fd, err = 0;
      pthread_mutex_unlock(&h->mu);
      fb_evp.DigestUpdate(h->ctx, h->buf[i], h->len[i]);
      if (fd >= 0)
        err = fb_write_all(fd, h->buf[i], h->len[i]) < 0 ? errno : 0;
      pthread_mutex_lock(&h->mu);
      if (err != 0 && h->werr == 0)
        h->werr = err;
      h->head = (h->head + 1) % NBUF;
      h->count--;
      pthread_cond_signal(&h->space);
      continue;
    }
    if (h->drain) {
      h->drain = 0;
      h->drained = 1;
      pthread_cond_signal(&h->space);
      continue;
    }
    break; /* stop */
  }
  pthread_mutex_unlock(&h->mu);
  return NULL;
}

struct ingest_hasher *ingest_hasher_new(void) {
  struct ingest_hasher *h;
  int i;

  if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
    return NULL;
  h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  h->fd = -1;
  for (i = 0; i < NBUF; i++) {
    h->buf[i] = malloc(INGEST_HASH_BUF);
    if (h->buf[i] == NULL)
      goto fail;
  }
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->work, NULL);
  pthread_cond_init(&h->space, NULL);
  if (pthread_create(&h->thread, NULL, worker, h) != 0) {
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->work);
    pthread_cond_destroy(&h->space);
    goto fail;
  }
  return h;
fail:
  for (i = 0; i < NBUF; i++)
    free(h->buf[i]);
  free(h);
  return NULL;
}

void ingest_hasher_free(struct ingest_hasher *h) {
  int i;

  if (h == NULL)
    return;
  pthread_mutex_lock(&h->mu);
  h->stop = 1;
  pthread_cond_signal(&h->work);
  pthread_mutex_unlock(&h->mu);
  pthread_join(h->thread, NULL);
  pthread_mutex_destroy(&h->mu);
  pthread_cond_destroy(&h->work);
  pthread_cond_destroy(&h->space);
  for (i = 0; i < NBUF; i++)
    free(h->buf[i]);
  free(h);
}

void ingest_hasher_begin(struct ingest_hasher *h, EVP_MD_CTX *ctx, int fd) {
  pthread_mutex_lock(&h->mu);
  h->ctx = ctx;
  h->fd = fd;
  h->werr = 0;
  pthread_mutex_unlock(&h->mu);
}

uint8_t *ingest_hasher_buffer(struct ingest_hasher *h) {
  uint8_t *b;

  if (h->cur != NULL) {
    /* what _feed gathered goes first (it sits in the slot handed out next) */
    if (h->cur_len > 0)
      ingest_hasher_commit(h, h->cur_len);
    h->cur = NULL;
  }
  pthread_mutex_lock(&h->mu);
  while (h->count == NBUF)
    pthread_cond_wait(&h->space, &h->mu);
  b = h->buf[h->tail];
  pthread_mutex_unlock(&h->mu);
  return b;
}

void ingest_hasher_commit(struct ingest_hasher *h, size_t len) {
  pthread_mutex_lock(&h->mu);
  h->len[h->tail] = len;
  h->tail = (h->tail + 1) % NBUF;
  h->count++;
  pthread_cond_signal(&h->work);
  pthread_mutex_unlock(&h->mu);
}

int ingest_hasher_write_error(struct ingest_hasher *h) {
  int e;

  pthread_mutex_lock(&h->mu);
  e = h->werr;
  pthread_mutex_unlock(&h->mu);
  return e;
}

void ingest_hasher_feed(struct ingest_hasher *h, const void *p, size_t n) {
  const uint8_t *s = p;

  while (n > 0) {
    size_t k;
    if (h->cur == NULL) {
      h->cur = ingest_hasher_buffer(h);
      h->cur_len = 0;
    }
    k = INGEST_HASH_BUF - h->cur_len < n ? INGEST_HASH_BUF - h->cur_len : n;
    memcpy(h->cur + h->cur_len, s, k);
    h->cur_len += k;
    s += k;
    n -= k;
    if (h->cur_len == INGEST_HASH_BUF) {
      ingest_hasher_commit(h, h->cur_len);
      h->cur = NULL;
    }
  }
}

int ingest_hasher_end(struct ingest_hasher *h) {
  int e;

  if (h->cur != NULL) {
    if (h->cur_len > 0)
      ingest_hasher_commit(h, h->cur_len);
    h->cur = NULL;
  }
  pthread_mutex_lock(&h->mu);
  h->drained = 0;
  h->drain = 1;
  pthread_cond_signal(&h->work);
  while (!h->drained || h->count > 0)
    pthread_cond_wait(&h->space, &h->mu);
  h->ctx = NULL;
  h->fd = -1;
  e = h->werr;
  pthread_mutex_unlock(&h->mu);
  return e;
}
