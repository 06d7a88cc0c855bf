/* jobs_sha256.c - SHA-256 of an upload, to notice the same bytes uploaded
 * twice. libcrypto's, as ingestion uses (ingest_hash.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "daemon/dynlib.h"
#include "daemon/ingest_hash.h"
#include "daemon/jobs.h"

void jobs_sha256_buf(const void *data, size_t len, char out[65]) {
  EVP_MD_CTX *ctx;

  out[0] = '\0';
  if (fb_dynlib_load(FB_DYNLIB_CRYPTO, NULL) < 0)
    return;
  ctx = fb_evp.MD_CTX_new();
  if (ctx != NULL && ingest_digest_init(ctx) == 0 && fb_evp.DigestUpdate(ctx, data, len) == 1)
    ingest_digest_hex(ctx, out);
  fb_evp.MD_CTX_free(ctx);
}

int jobs_sha256_file(const char *path, char out[65]) {
  static uint8_t buf[1 << 16];
  EVP_MD_CTX *ctx;
  int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
  ssize_t n;

  out[0] = '\0';
  if (fd < 0)
    return -1;
  if (fb_dynlib_load(FB_DYNLIB_CRYPTO, NULL) < 0) {
    close(fd);
    errno = ELIBACC; /* fb_dynlib_load(FB_DYNLIB_CRYPTO, err) says which and why */
    return -1;
  }
  ctx = fb_evp.MD_CTX_new();
  if (ctx == NULL || ingest_digest_init(ctx) != 0) {
    fb_evp.MD_CTX_free(ctx);
    close(fd);
    errno = ENOMEM;
    return -1;
  }
  while ((n = read(fd, buf, sizeof(buf))) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = -1;
      break;
    }
    fb_evp.DigestUpdate(ctx, buf, (size_t)n);
  }
  if (rc == 0 && ingest_digest_hex(ctx, out) != 0) {
    errno = ENOMEM;
    rc = -1;
  }
  fb_evp.MD_CTX_free(ctx);
  {
    int e = errno;
    close(fd);
    errno = e;
  }
  return rc;
}
