/* dynlib.c - libarchive, libcrypto and libsystemd through dlopen() (see dynlib.h). */
#include "daemon/dynlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* CMake reads each SONAME from the library pkg-config found (daemon/CMakeLists.txt). */
#if !defined(FB_SONAME_ARCHIVE) || !defined(FB_SONAME_CRYPTO) || !defined(FB_SONAME_SYSTEMD)
#error "FB_SONAME_ARCHIVE, FB_SONAME_CRYPTO and FB_SONAME_SYSTEMD come from daemon/CMakeLists.txt"
#endif

struct fb_archive_api fb_archive;
struct fb_evp_api fb_evp;
struct fb_sd_api fb_sd;

/* dlsym gives a void *; ISO C has no conversion from it to a function
 * pointer, POSIX guarantees the two have the same representation. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function pointers are not data pointers");

static int resolve(void *handle, const char *symbol, void *slot) {
  void *p;

  dlerror(); /* clear: dlerror() after a NULL is then this lookup's */
  p = dlsym(handle, symbol);
  if (p == NULL)
    return -1;
  memcpy(slot, &p, sizeof(p));
  return 0;
}

/* Fill a local table and publish it only when every function was found. */
#define FB_DYNLIB_RESOLVE(prefix, name)                                                                      \
  if (resolve(handle, #prefix #name, &t.name) < 0)                                                           \
    return -1;

static int resolve_archive(void *handle) {
  struct fb_archive_api t;
  FB_DYNLIB_ARCHIVE_FUNCS(FB_DYNLIB_RESOLVE)
  fb_archive = t;
  return 0;
}

static int resolve_crypto(void *handle) {
  struct fb_evp_api t;
  FB_DYNLIB_CRYPTO_FUNCS(FB_DYNLIB_RESOLVE)
  fb_evp = t;
  return 0;
}

static int resolve_systemd(void *handle) {
  struct fb_sd_api t;
  FB_DYNLIB_SYSTEMD_FUNCS(FB_DYNLIB_RESOLVE)
  fb_sd = t;
  return 0;
}

struct lib {
  const char *what;       /* the library's name in messages */
  const char *configured; /* SONAME found at configure time */
  const char *soname;     /* set by a test; NULL: configured */
  int (*resolve)(void *handle);
  pthread_mutex_t mu; /* serializes loading and fb_dynlib_set_soname */
  atomic_int loaded;  /* 1 once the table is filled: read without mu */
};

static struct lib libs[FB_DYNLIB_COUNT] = {
    [FB_DYNLIB_ARCHIVE] = {"libarchive", FB_SONAME_ARCHIVE, NULL, resolve_archive, PTHREAD_MUTEX_INITIALIZER,
                           0},
    [FB_DYNLIB_CRYPTO] = {"libcrypto", FB_SONAME_CRYPTO, NULL, resolve_crypto, PTHREAD_MUTEX_INITIALIZER, 0},
    [FB_DYNLIB_SYSTEMD] = {"libsystemd", FB_SONAME_SYSTEMD, NULL, resolve_systemd, PTHREAD_MUTEX_INITIALIZER,
                           0},
};

static const char *soname_of(const struct lib *l) {
  return l->soname != NULL ? l->soname : l->configured;
}

int fb_dynlib_load(enum fb_dynlib lib, struct fb_error *err) {
  struct lib *l;
  void *handle;
  int rc = 0;

  if ((unsigned)lib >= FB_DYNLIB_COUNT)
    return fb_error_set(err, FB_EUNSUP, FB_OFFSET_NONE, "no library number %d", (int)lib);
  l = &libs[lib];
  /* acquire: the table written before the release below is visible */
  if (atomic_load_explicit(&l->loaded, memory_order_acquire))
    return 0;
  pthread_mutex_lock(&l->mu);
  if (!atomic_load_explicit(&l->loaded, memory_order_relaxed)) {
    handle = dlopen(soname_of(l), RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL || l->resolve(handle) < 0) {
      const char *why = dlerror();
      rc = fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot load %s: %s", l->what,
                        why != NULL ? why : soname_of(l));
      if (handle != NULL)
        dlclose(handle);
    } else {
      /* never closed: the process uses it until it exits */
      atomic_store_explicit(&l->loaded, 1, memory_order_release);
    }
  }
  pthread_mutex_unlock(&l->mu);
  return rc;
}

const char *fb_dynlib_soname(enum fb_dynlib lib) {
  const char *s;

  if ((unsigned)lib >= FB_DYNLIB_COUNT)
    return "";
  pthread_mutex_lock(&libs[lib].mu);
  s = soname_of(&libs[lib]);
  pthread_mutex_unlock(&libs[lib].mu);
  return s;
}

int fb_dynlib_set_soname(enum fb_dynlib lib, const char *soname) {
  int rc = 0;

  if ((unsigned)lib >= FB_DYNLIB_COUNT)
    return -1;
  pthread_mutex_lock(&libs[lib].mu);
  if (atomic_load_explicit(&libs[lib].loaded, memory_order_relaxed))
    rc = -1;
  else
    libs[lib].soname = soname;
  pthread_mutex_unlock(&libs[lib].mu);
  return rc;
}
