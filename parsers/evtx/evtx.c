/* evtx.c - walk an .evtx file with libevtx 20181227 (see evtx.h and
 * docs/evtx-and-logs.md section 1 for the quirks handled here). */
#include "parsers/evtx/evtx.h"

#include <libevtx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STRINGS 64
#define MAX_XML (4u << 20)

struct reader {
  const char *path;
  const struct ev_sink *sink;
  struct evtx_stats *st;
  char *xml; /* reused across records */
  size_t xml_cap;
  char *strbuf; /* all string values of a record, NUL-separated, reused */
  size_t strbuf_cap;
  char first_error[384];
  uint64_t first_error_index;
};

static void error_text(libevtx_error_t *e, char *buf, size_t size) {
  buf[0] = '\0';
  if (e != NULL) {
    if (libevtx_error_sprint(e, buf, size) < 0)
      snprintf(buf, size, "libevtx error");
    /* the last line is the most specific */
    char *nl;
    while ((nl = strrchr(buf, '\n')) != NULL && nl[1] == '\0')
      *nl = '\0';
    libevtx_error_free(&e);
  }
}

/* Get a UTF-8 string through a size/get pair into a fixed buffer. */
#define GET_STR(fn_size, fn_get, rec, buf)                                                                   \
  do {                                                                                                       \
    size_t sz_ = 0;                                                                                          \
    (buf)[0] = '\0';                                                                                         \
    if (fn_size((rec), &sz_, NULL) == 1 && sz_ > 0 && sz_ <= sizeof(buf))                                    \
      if (fn_get((rec), (uint8_t *)(buf), sz_, NULL) != 1)                                                   \
        (buf)[0] = '\0';                                                                                     \
  } while (0)

static int ensure(char **p, size_t *cap, size_t need) {
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap : 4096;
  while (n < need)
    n *= 2;
  void *q = realloc(*p, n);
  if (q == NULL)
    return -1;
  *p = q;
  *cap = n;
  return 0;
}

static const char *record_xml(struct reader *r, libevtx_record_t *rec) {
  size_t sz = 0;

  if (libevtx_record_get_utf8_xml_string_size(rec, &sz, NULL) != 1 || sz == 0 || sz > MAX_XML)
    return NULL;
  if (ensure(&r->xml, &r->xml_cap, sz) != 0)
    return NULL;
  if (libevtx_record_get_utf8_xml_string(rec, (uint8_t *)r->xml, sz, NULL) != 1)
    return NULL;
  r->xml[sz - 1] = '\0';
  return r->xml;
}

/* Positional EventData/UserData values; a value libevtx cannot render
 * (empty/NULL-typed) becomes "". Returns the count, -1 if not available
 * (recovered records). */
static int record_strings(struct reader *r, libevtx_record_t *rec, const char **out) {
  int n = 0, i;
  size_t used = 0, offs[MAX_STRINGS];

  if (libevtx_record_get_number_of_strings(rec, &n, NULL) != 1 || n < 0)
    return -1;
  if (n > MAX_STRINGS)
    n = MAX_STRINGS;
  for (i = 0; i < n; i++) {
    size_t sz = 0;
    offs[i] = used;
    if (libevtx_record_get_utf8_string_size(rec, i, &sz, NULL) != 1 || sz == 0 || sz > MAX_XML ||
        ensure(&r->strbuf, &r->strbuf_cap, used + sz + 1) != 0 ||
        libevtx_record_get_utf8_string(rec, i, (uint8_t *)r->strbuf + used, sz, NULL) != 1) {
      if (ensure(&r->strbuf, &r->strbuf_cap, used + 1) != 0)
        return -1;
      r->strbuf[used++] = '\0';
      continue;
    }
    r->strbuf[used + sz - 1] = '\0';
    used += sz;
  }
  for (i = 0; i < n; i++)
    out[i] = r->strbuf + offs[i];
  return n;
}

static int handle_record(struct reader *r, libevtx_record_t *rec, int recovered) {
  struct evtx_event ev;
  char guid[64], source[256];
  const char *strings[MAX_STRINGS];
  uint64_t id = 0, t = 0;
  uint32_t eid = 0;
  uint8_t level = 0;
  int n;

  if (libevtx_record_get_event_identifier(rec, &eid, NULL) != 1)
    return -1;
  libevtx_record_get_identifier(rec, &id, NULL);
  libevtx_record_get_written_time(rec, &t, NULL);
  libevtx_record_get_event_level(rec, &level, NULL);
  /* provider identifier before source name: the other order breaks the
   * identifier getters in this libevtx build */
  GET_STR(libevtx_record_get_utf8_provider_identifier_size, libevtx_record_get_utf8_provider_identifier, rec,
          guid);
  GET_STR(libevtx_record_get_utf8_source_name_size, libevtx_record_get_utf8_source_name, rec, source);
  eid &= 0xFFFF;
  if (!evtx_event_wanted(source, eid))
    return 0;
  memset(&ev, 0, sizeof(ev));
  ev.file = r->path;
  ev.provider = source;
  ev.event_id = eid;
  ev.record_id = id;
  ev.time = t;
  ev.level = level;
  ev.recovered = recovered;
  ev.xml = record_xml(r, rec);
  n = recovered ? -1 : record_strings(r, rec, strings);
  ev.strings = n >= 0 ? strings : NULL;
  ev.nstrings = n >= 0 ? n : 0;
  return evtx_event_emit(&ev, r->sink, r->st) == FB_ESTOP ? FB_ESTOP : 0;
}

static int walk(struct reader *r, libevtx_file_t *file, int recovered) {
  int count = 0, i, rc;

  if ((recovered ? libevtx_file_get_number_of_recovered_records(file, &count, NULL)
                 : libevtx_file_get_number_of_records(file, &count, NULL)) != 1)
    count = 0;
  if (recovered)
    r->st->recovered = (uint64_t)count;
  else
    r->st->records = (uint64_t)count;
  for (i = 0; i < count; i++) {
    libevtx_record_t *rec = NULL;
    libevtx_error_t *e = NULL;
    int got = recovered ? libevtx_file_get_recovered_record_by_index(file, i, &rec, &e)
                        : libevtx_file_get_record_by_index(file, i, &rec, &e);

    rc = got == 1 ? handle_record(r, rec, recovered) : -1;
    if (rc == FB_ESTOP) {
      libevtx_record_free(&rec, NULL);
      libevtx_error_free(&e);
      return FB_ESTOP;
    }
    if (rc < 0) {
      if (recovered) {
        r->st->recovered_failed++;
      } else {
        if (r->st->records_failed++ == 0) {
          r->first_error_index = (uint64_t)i;
          if (e != NULL) {
            error_text(e, r->first_error, sizeof(r->first_error));
            e = NULL;
          } else {
            snprintf(r->first_error, sizeof(r->first_error), "event identifier unreadable");
          }
        }
      }
    }
    libevtx_error_free(&e);
    if (rec != NULL)
      libevtx_record_free(&rec, NULL);
  }
  return 0;
}

int evtx_read(const char *path, const struct ev_sink *sink, struct evtx_stats *st, struct fb_error *err) {
  struct evtx_stats local;
  struct reader r;
  libevtx_file_t *file = NULL;
  libevtx_error_t *e = NULL;
  char msg[384];
  int rc = 0;

  fb_error_init(err, path);
  if (st == NULL)
    st = &local;
  memset(st, 0, sizeof(*st));
  memset(&r, 0, sizeof(r));
  r.path = path;
  r.sink = sink;
  r.st = st;
  libevtx_notify_set_verbose(0);
  if (libevtx_file_initialize(&file, &e) != 1) {
    error_text(e, msg, sizeof(msg));
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "libevtx: %s", msg);
  }
  if (libevtx_file_open(file, path, LIBEVTX_OPEN_READ, &e) != 1) {
    error_text(e, msg, sizeof(msg));
    libevtx_file_free(&file, NULL);
    return fb_error_set(err, FB_EFORMAT, 0, "not a readable event log (libevtx: %s)", msg);
  }
  libevtx_file_get_format_version(file, &st->version_major, &st->version_minor, NULL);
  libevtx_file_get_flags(file, &st->flags, NULL);
  rc = walk(&r, file, 0);
  if (rc == 0)
    rc = walk(&r, file, 1);
  libevtx_file_close(file, NULL);
  libevtx_file_free(&file, NULL);
  free(r.xml);
  free(r.strbuf);
  if (rc == FB_ESTOP)
    return fb_error_set(err, FB_ESTOP, FB_OFFSET_NONE, "stopped by the consumer");
  if (st->records_failed > 0)
    return fb_error_set(err, FB_EFORMAT, FB_OFFSET_NONE,
                        "read partly: %llu of %llu records could not be decoded and were skipped (first: "
                        "record #%llu: %s)",
                        (unsigned long long)st->records_failed, (unsigned long long)st->records,
                        (unsigned long long)r.first_error_index, r.first_error);
  return 0;
}
