/* jobs_sha256.c - SHA-256 of an upload, to notice the same bytes uploaded
 * twice. The hash itself is the one ingestion uses (ingest_sha256.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "daemon/ingest_sha256.h"
#include "daemon/jobs.h"

void jobs_sha256_buf(const void *data, size_t len, char out[65]) {
  struct sha256 s;
  uint8_t digest[32];

  sha256_init(&s);
  sha256_update(&s, data, len);
  sha256_final(&s, digest);
  sha256_hex(digest, out);
}

int jobs_sha256_file(const char *path, char out[65]) {
  static uint8_t buf[1 << 16];
  struct sha256 s;
  uint8_t digest[32];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -1;
  sha256_init(&s);
  while ((n = read(fd, buf, sizeof(buf))) != 0) {
    if (n < 0) {
      int e = errno;
      if (e == EINTR)
        continue;
      close(fd);
      errno = e;
      return -1;
    }
    sha256_update(&s, buf, (size_t)n);
  }
  close(fd);
  sha256_final(&s, digest);
  sha256_hex(digest, out);
  return 0;
}
