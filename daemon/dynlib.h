/* dynlib.h - libarchive, libcrypto and libsystemd, loaded with dlopen() the
 * first time a command needs them.
 *
 * Mapping a shared library at start-up costs page faults whether or not the
 * command uses it, and these three (with what they pull in: libxml2, ICU,
 * libstdc++, libgcrypt, ...) cost more than everything else fltblame links
 * together. Only ingestion (libarchive, libcrypto), the upload digests
 * (libcrypto) and `serve` (libsystemd) use them, so `fltblame pml` and
 * `fltblame --version` never map them.
 *
 * Each library is a table of function pointers declared with the library's
 * own prototypes (its headers stay the compiler's reference), filled all at
 * once by fb_dynlib_load from the SONAME CMake found at configure time. Call
 * sites go through the table by the name without its prefix:
 *
 *   if (fb_dynlib_load(FB_DYNLIB_ARCHIVE, &err) < 0)
 *     return err.code;               // "cannot load libarchive: <dlerror>"
 *   struct archive *a = fb_archive.read_new();
 *
 * so every call shows that it needs a loaded table, and a call that bypasses
 * it (a plain archive_read_new()) does not link: fltblame does not link the
 * library. Loading is thread-safe; a failed load is tried again by the next
 * call (the package may have been installed since), a successful one stays.
 */
#ifndef FB_DYNLIB_H
#define FB_DYNLIB_H

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <systemd/sd-daemon.h>

#include "parsers/error.h"

enum fb_dynlib {
  FB_DYNLIB_ARCHIVE, /* libarchive: fb_archive */
  FB_DYNLIB_CRYPTO,  /* OpenSSL's libcrypto, EVP digests only: fb_evp */
  FB_DYNLIB_SYSTEMD, /* libsystemd, the notify protocol only: fb_sd */
  FB_DYNLIB_COUNT
};

/* X(prefix, name): the function prefix##name, called as table.name. One list
 * per library: every function fltblame calls in it, no more. */
#define FB_DYNLIB_ARCHIVE_FUNCS(X)                                                                           \
  X(archive_, entry_filetype)                                                                                \
  X(archive_, entry_hardlink)                                                                                \
  X(archive_, entry_is_encrypted)                                                                            \
  X(archive_, entry_pathname)                                                                                \
  X(archive_, entry_pathname_w)                                                                              \
  X(archive_, entry_size)                                                                                    \
  X(archive_, entry_size_is_set)                                                                             \
  X(archive_, entry_symlink)                                                                                 \
  X(archive_, error_string)                                                                                  \
  X(archive_, read_data)                                                                                     \
  X(archive_, read_data_block)                                                                               \
  X(archive_, read_free)                                                                                     \
  X(archive_, read_new)                                                                                      \
  X(archive_, read_next_header)                                                                              \
  X(archive_, read_open1)                                                                                    \
  X(archive_, read_open_fd)                                                                                  \
  X(archive_, read_set_callback_data)                                                                        \
  X(archive_, read_set_read_callback)                                                                        \
  X(archive_, read_set_seek_callback)                                                                        \
  X(archive_, read_support_filter_all)                                                                       \
  X(archive_, read_support_format_all)                                                                       \
  X(archive_, read_support_format_raw)                                                                       \
  X(archive_, set_error)

#define FB_DYNLIB_CRYPTO_FUNCS(X)                                                                            \
  X(EVP_, DigestFinal_ex)                                                                                    \
  X(EVP_, DigestInit_ex2)                                                                                    \
  X(EVP_, DigestUpdate)                                                                                      \
  X(EVP_, MD_CTX_free)                                                                                       \
  X(EVP_, MD_CTX_new)                                                                                        \
  X(EVP_, MD_fetch)

#define FB_DYNLIB_SYSTEMD_FUNCS(X)                                                                           \
  X(sd_, notify)                                                                                             \
  X(sd_, notifyf)                                                                                            \
  X(sd_, watchdog_enabled)

#define FB_DYNLIB_MEMBER(prefix, name) __typeof__(prefix##name) *name;

struct fb_archive_api {
  FB_DYNLIB_ARCHIVE_FUNCS(FB_DYNLIB_MEMBER)
};
struct fb_evp_api {
  FB_DYNLIB_CRYPTO_FUNCS(FB_DYNLIB_MEMBER)
};
struct fb_sd_api {
  FB_DYNLIB_SYSTEMD_FUNCS(FB_DYNLIB_MEMBER)
};

/* Filled by fb_dynlib_load; all NULL before. Read-only for everyone else. */
extern struct fb_archive_api fb_archive;
extern struct fb_evp_api fb_evp;
extern struct fb_sd_api fb_sd;

/* Load lib and resolve all its functions unless done already. Returns 0, or
 * FB_EIO with err (may be NULL) saying "cannot load LIBRARY: <dlerror text>"
 * when the library is missing or lacks a function; nothing is resolved then. */
int fb_dynlib_load(enum fb_dynlib lib, struct fb_error *err);

/* The SONAME lib is loaded from ("libarchive.so.13"). */
const char *fb_dynlib_soname(enum fb_dynlib lib);

/* For tests: load lib from soname (not copied: a string that outlives its
 * use) from now on; NULL: the configured one again. Returns 0, or -1 when
 * lib is loaded already (it stays loaded). */
int fb_dynlib_set_soname(enum fb_dynlib lib, const char *soname);

#endif
