/* evtx_tool FILE... - print the evidence fb_evtx reads from event logs. */
#include <stdio.h>

#include "parsers/evtx/evtx.h"

static int on_filter(void *ctx, const struct ev_filter_info *f) {
  (void)ctx;
  printf("filter %s #%llu t=%llu name=%s alt=%s frame=%d inst=%d loaded=%d status=0x%08x vol=%s\n",
         f->origin.format, (unsigned long long)f->origin.index, (unsigned long long)f->time,
         f->name ? f->name : "-", f->altitude ? f->altitude : "-", f->frame, f->instances, f->loaded,
         f->status, f->volume ? f->volume : "-");
  return 0;
}

static int on_fact(void *ctx, const struct ev_fact *f) {
  (void)ctx;
  printf("fact %s %s #%llu t=%llu code=0x%08x subject=%s text=%s\n", ev_fact_kind_name(f->kind),
         f->origin.format, (unsigned long long)f->origin.index, (unsigned long long)f->time, f->code,
         f->subject ? f->subject : "-", f->text ? f->text : "-");
  return 0;
}

int main(int argc, char **argv) {
  struct ev_sink sink = {0};
  int i, status = 0;

  sink.filter_info = on_filter;
  sink.fact = on_fact;
  for (i = 1; i < argc; i++) {
    struct evtx_stats st;
    struct fb_error err;
    char buf[1200];
    int rc = evtx_read(argv[i], &sink, &st, &err);
    printf("# %s: rc=%d records=%llu failed=%llu recovered=%llu failed=%llu filters=%llu facts=%llu %s\n",
           argv[i], rc, (unsigned long long)st.records, (unsigned long long)st.records_failed,
           (unsigned long long)st.recovered, (unsigned long long)st.recovered_failed,
           (unsigned long long)st.filter_infos, (unsigned long long)st.facts,
           rc ? fb_error_format(&err, buf, sizeof(buf)) : "");
    if (rc != 0)
      status = 1;
  }
  return status;
}
