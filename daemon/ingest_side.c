/* ingest_side.c - dispatch side-evidence artifacts to their parsers (see ingest_side.h). */
#include "daemon/ingest_side.h"

#include <stdio.h>
#include <string.h>

#include "parsers/error.h"
#include "parsers/evtx/evtx.h"
#include "parsers/text/cbs.h"
#include "parsers/text/fltmc.h"
#include "parsers/text/setupapi.h"
#include "parsers/view.h"

/* Text parsers take bytes plus a display name: map the file, name it by chain. */
static int read_text(const struct ingest_artifact *a, const struct ev_sink *sink, struct fb_error *err) {
  struct fb_view v;
  int rc = fb_view_open(&v, a->path, err);

  if (rc != 0)
    return rc;
  switch (a->type) {
  case FB_FT_CBS_LOG: rc = cbs_parse(v.data, v.size, a->chain, sink, NULL, err); break;
  case FB_FT_FLTMC: rc = fltmc_parse(v.data, v.size, a->chain, sink, NULL, err); break;
  default: rc = setupapi_parse(v.data, v.size, a->chain, sink, NULL, err); break;
  }
  fb_view_close(&v);
  return rc;
}

/* evtx_read names origins by path: relay records with the chain instead. */
struct relay {
  const struct ev_sink *sink;
  const char *chain;
};

static int relay_filter(void *ctx, const struct ev_filter_info *r) {
  struct relay *x = ctx;
  struct ev_filter_info c = *r;
  c.origin.file = x->chain;
  return x->sink->filter_info ? x->sink->filter_info(x->sink->ctx, &c) : 0;
}

static int relay_fact(void *ctx, const struct ev_fact *r) {
  struct relay *x = ctx;
  struct ev_fact c = *r;
  c.origin.file = x->chain;
  return x->sink->fact ? x->sink->fact(x->sink->ctx, &c) : 0;
}

enum ingest_side_result ingest_read_side(const struct ingest_artifact *a, const struct ev_sink *sink,
                                         char *msg, size_t msg_size) {
  struct fb_error err;
  int rc;

  if (msg != NULL && msg_size > 0)
    msg[0] = '\0';
  if (!ingest_artifact_readable(a))
    return INGEST_SIDE_NOT_MINE;
  fb_error_init(&err, a->chain);
  switch (a->type) {
  case FB_FT_EVTX: {
    struct relay x = {sink, a->chain};
    struct ev_sink s = {0};
    s.ctx = &x;
    s.filter_info = relay_filter;
    s.fact = relay_fact;
    rc = evtx_read(a->path, &s, NULL, &err);
    snprintf(err.file, sizeof(err.file), "%s", a->chain);
    if (rc == FB_EFORMAT && strstr(err.msg, "read partly") != NULL) {
      if (msg != NULL)
        fb_error_format(&err, msg, msg_size);
      return INGEST_SIDE_PARTIAL;
    }
    break;
  }
  case FB_FT_CBS_LOG:
  case FB_FT_FLTMC:
  case FB_FT_SETUPAPI: rc = read_text(a, sink, &err); break;
  default: return INGEST_SIDE_NOT_MINE;
  }
  if (rc == FB_ESTOP)
    return INGEST_SIDE_STOPPED;
  if (rc != 0) {
    if (msg != NULL)
      fb_error_format(&err, msg, msg_size);
    return INGEST_SIDE_FAILED;
  }
  return INGEST_SIDE_READ;
}
