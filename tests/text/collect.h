/* collect.h - an ev_sink that keeps copies of filter_info and fact records
 * for assertions (shared by the text and evtx tests). */
#ifndef FB_TEST_COLLECT_H
#define FB_TEST_COLLECT_H

#include <stdlib.h>
#include <string.h>

#include "parsers/evidence.h"

struct kept_filter {
  struct ev_filter_info r;
  char *name, *altitude, *volume, *instance, *format;
};

struct kept_fact {
  struct ev_fact r;
  char *path, *subject, *text, *format;
};

struct collect {
  struct kept_filter *filters;
  size_t nfilters, capf;
  struct kept_fact *facts;
  size_t nfacts, capa;
};

static inline char *collect_dup(const char *s) {
  return s ? strdup(s) : NULL;
}

static inline int collect_filter(void *ctx, const struct ev_filter_info *r) {
  struct collect *c = ctx;
  struct kept_filter *k;

  if (c->nfilters == c->capf) {
    c->capf = c->capf ? c->capf * 2 : 64;
    c->filters = realloc(c->filters, c->capf * sizeof(*c->filters));
  }
  k = &c->filters[c->nfilters++];
  k->r = *r;
  k->name = collect_dup(r->name);
  k->altitude = collect_dup(r->altitude);
  k->volume = collect_dup(r->volume);
  k->instance = collect_dup(r->instance);
  k->format = collect_dup(r->origin.format);
  return 0;
}

static inline int collect_fact(void *ctx, const struct ev_fact *r) {
  struct collect *c = ctx;
  struct kept_fact *k;

  if (c->nfacts == c->capa) {
    c->capa = c->capa ? c->capa * 2 : 64;
    c->facts = realloc(c->facts, c->capa * sizeof(*c->facts));
  }
  k = &c->facts[c->nfacts++];
  k->r = *r;
  k->path = collect_dup(r->path);
  k->subject = collect_dup(r->subject);
  k->text = collect_dup(r->text);
  k->format = collect_dup(r->origin.format);
  return 0;
}

static inline struct ev_sink collect_sink(struct collect *c) {
  struct ev_sink s;

  memset(c, 0, sizeof(*c));
  memset(&s, 0, sizeof(s));
  s.ctx = c;
  s.filter_info = collect_filter;
  s.fact = collect_fact;
  return s;
}

static inline void collect_free(struct collect *c) {
  size_t i;

  for (i = 0; i < c->nfilters; i++) {
    free(c->filters[i].name);
    free(c->filters[i].altitude);
    free(c->filters[i].volume);
    free(c->filters[i].instance);
    free(c->filters[i].format);
  }
  for (i = 0; i < c->nfacts; i++) {
    free(c->facts[i].path);
    free(c->facts[i].subject);
    free(c->facts[i].text);
    free(c->facts[i].format);
  }
  free(c->filters);
  free(c->facts);
  memset(c, 0, sizeof(*c));
}

/* Number of kept filters with this name (and altitude, when not NULL). */
static inline int collect_count_filter(const struct collect *c, const char *name, const char *altitude) {
  size_t i;
  int n = 0;

  for (i = 0; i < c->nfilters; i++)
    if (c->filters[i].name && strcmp(c->filters[i].name, name) == 0 &&
        (altitude == NULL || (c->filters[i].altitude && strcmp(c->filters[i].altitude, altitude) == 0)))
      n++;
  return n;
}

#endif
