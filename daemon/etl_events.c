/* etl_events.c - JSON Lines view of the ETL evidence (see etl_events.h). */
#include "daemon/etl_events.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/commands.h"
#include "parsers/etl/etl_decode.h"
#include "parsers/etl/etl_minifilter.h"
#include "parsers/evidence.h"

struct printer {
  FILE *out;
  const struct etl_events_filter *flt;
  uint64_t printed;
};

void etl_events_filter_init(struct etl_events_filter *f) {
  f->path = NULL;
  f->pid = UINT32_MAX;
  f->kind = NULL;
}

int etl_events_filter_parse(struct etl_events_filter *f, const char *arg) {
  if (strncmp(arg, "path=", 5) == 0) {
    f->path = arg + 5;
    return 0;
  }
  if (strncmp(arg, "kind=", 5) == 0) {
    f->kind = arg + 5;
    return 0;
  }
  if (strncmp(arg, "pid=", 4) == 0) {
    char *end;
    unsigned long v = strtoul(arg + 4, &end, 0);
    if (end == arg + 4 || *end != '\0' || v > UINT32_MAX)
      return -1;
    f->pid = (uint32_t)v;
    return 0;
  }
  return -1;
}

/* FILETIME -> "2026-01-05T02:00:01.1234567Z" */
static void iso_time(uint64_t ft, char *out, size_t cap) {
  const uint64_t epoch_diff = 116444736000000000ULL;
  time_t secs;
  struct tm tm;

  if (ft < epoch_diff) {
    snprintf(out, cap, "%s", "");
    return;
  }
  secs = (time_t)((ft - epoch_diff) / 10000000ULL);
  gmtime_r(&secs, &tm);
  snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%07uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)((ft - epoch_diff) % 10000000ULL));
}

static void set_hex(json_t *o, const char *k, uint64_t v) {
  char b[24];
  snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
  json_object_set_new(o, k, json_string(b));
}

static void set_str(json_t *o, const char *k, const char *v) {
  if (v)
    json_object_set_new(o, k, json_string(v));
}

static json_t *base_object(const char *kind, uint64_t time, const struct ev_origin *origin) {
  json_t *o = json_object();
  char t[48];

  iso_time(time, t, sizeof(t));
  if (t[0])
    json_object_set_new(o, "time", json_string(t));
  json_object_set_new(o, "kind", json_string(kind));
  json_object_set_new(o, "record", json_integer((json_int_t)origin->index));
  if (origin->offset != EV_UNKNOWN_U64)
    json_object_set_new(o, "offset", json_integer((json_int_t)origin->offset));
  return o;
}

static void set_pid_tid(json_t *o, uint32_t pid, uint32_t tid) {
  if (pid != EV_UNKNOWN_U32)
    json_object_set_new(o, "pid", json_integer(pid));
  if (tid != EV_UNKNOWN_U32 && tid != 0)
    json_object_set_new(o, "tid", json_integer(tid));
}

static void set_stack(json_t *o, const struct ev_stack *s) {
  json_t *a;
  char b[320];

  if (s->count == 0)
    return;
  a = json_array();
  for (uint32_t i = 0; i < s->count; i++) {
    const struct ev_frame *f = &s->frames[i];
    if (f->module)
      snprintf(b, sizeof(b), "%s+0x%llx", f->module, (unsigned long long)f->offset);
    else
      snprintf(b, sizeof(b), "0x%llx", (unsigned long long)f->addr);
    json_array_append_new(a, json_string(b));
  }
  json_object_set_new(o, "stack", a);
}

static int emit(struct printer *p, json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

  json_decref(o);
  if (s == NULL)
    return 0;
  fputs(s, p->out);
  fputc('\n', p->out);
  free(s);
  p->printed++;
  return ferror(p->out) ? 1 : 0; /* a closed pipe stops the decoder */
}

static int kind_ok(const struct printer *p, const char *kind, const char *sub) {
  const char *k = p->flt->kind;
  return k == NULL || strcmp(k, kind) == 0 || (sub && strcmp(k, sub) == 0);
}

static int pid_ok(const struct printer *p, uint32_t pid) {
  return p->flt->pid == UINT32_MAX || p->flt->pid == pid;
}

static int path_ok(const struct printer *p, const char *a, const char *b) {
  const char *s = p->flt->path;
  return s == NULL || (a && strstr(a, s)) || (b && strstr(b, s));
}

static int on_image(void *ctx, const struct ev_image *r) {
  struct printer *p = ctx;
  json_t *o;

  if (!kind_ok(p, "image", NULL) || !pid_ok(p, r->pid) || !path_ok(p, r->path, NULL))
    return 0;
  o = base_object("image", r->time, &r->origin);
  set_pid_tid(o, r->pid, 0);
  set_hex(o, "base", r->base);
  set_hex(o, "size", r->size);
  set_str(o, "path", r->path);
  set_str(o, "name", r->name);
  set_str(o, "company", r->company);
  set_str(o, "version", r->version);
  json_object_set_new(o, "kernel", json_boolean(r->kernel));
  if (r->unloaded)
    json_object_set_new(o, "unloaded", json_true());
  return emit(p, o);
}

static int on_process(void *ctx, const struct ev_process *r) {
  struct printer *p = ctx;
  json_t *o;

  if (!kind_ok(p, "process", NULL) || !pid_ok(p, r->pid) || !path_ok(p, r->name, r->command_line))
    return 0;
  o = base_object("process", r->start_time ? r->start_time : r->end_time, &r->origin);
  set_pid_tid(o, r->pid, 0);
  json_object_set_new(o, "parent_pid", json_integer(r->parent_pid));
  set_str(o, "name", r->name);
  set_str(o, "command_line", r->command_line);
  if (r->ended)
    json_object_set_new(o, "ended", json_true());
  return emit(p, o);
}

static int on_thread(void *ctx, const struct ev_thread *r) {
  struct printer *p = ctx;
  json_t *o;

  if (!kind_ok(p, "thread", NULL) || !pid_ok(p, r->pid) || p->flt->path)
    return 0;
  o = base_object("thread", r->time, &r->origin);
  set_pid_tid(o, r->pid, r->tid);
  if (r->ended)
    json_object_set_new(o, "ended", json_true());
  return emit(p, o);
}

static int on_file_op(void *ctx, const struct ev_file_op *r) {
  struct printer *p = ctx;
  json_t *o;

  if (!kind_ok(p, "file_op", ev_file_op_kind_name(r->kind)) || !pid_ok(p, r->pid) ||
      !path_ok(p, r->path, r->device_path))
    return 0;
  o = base_object("file_op", r->time, &r->origin);
  set_pid_tid(o, r->pid, r->tid);
  set_str(o, "process", r->process_name);
  json_object_set_new(o, "op", json_string(ev_file_op_kind_name(r->kind)));
  set_str(o, "event", r->op_name);
  set_str(o, "path", r->path);
  if (r->device_path && (!r->path || strcmp(r->path, r->device_path) != 0))
    set_str(o, "device_path", r->device_path);
  if (r->file_object)
    set_hex(o, "file_object", r->file_object);
  if (r->file_key)
    set_hex(o, "file_key", r->file_key);
  if (r->irp)
    set_hex(o, "irp", r->irp);
  if (r->kind == EV_FOP_CREATE) {
    set_hex(o, "create_options", r->create_options);
    json_object_set_new(o, "disposition", json_integer(r->disposition));
    set_hex(o, "share_access", r->share_access);
    set_hex(o, "attributes", r->attributes);
    if (r->open_result != EV_UNKNOWN_U32)
      json_object_set_new(o, "open_result", json_integer(r->open_result));
  }
  if (r->info_class != EV_UNKNOWN_U32)
    json_object_set_new(o, "info_class", json_integer(r->info_class));
  if (r->status_known)
    set_hex(o, "status", r->status);
  if (r->duration != EV_UNKNOWN_U64)
    json_object_set_new(o, "duration_100ns", json_integer((json_int_t)r->duration));
  set_stack(o, &r->stack);
  return emit(p, o);
}

static int on_callback(void *ctx, const struct ev_filter_callback *r) {
  struct printer *p = ctx;
  json_t *o;
  char b[320];
  const char *mj = etl_flt_major_name(r->major_function);

  if (!kind_ok(p, "filter_callback", NULL) || !pid_ok(p, r->pid) || p->flt->path)
    return 0;
  o = base_object("filter_callback", r->time, &r->origin);
  set_pid_tid(o, r->pid, r->tid);
  json_object_set_new(o, "phase", json_string(ev_cb_phase_name(r->phase)));
  set_hex(o, "routine", r->routine);
  if (r->module) {
    snprintf(b, sizeof(b), "%s+0x%llx", r->module, (unsigned long long)r->module_offset);
    json_object_set_new(o, "filter", json_string(b));
  }
  set_hex(o, "file_object", r->file_object);
  set_hex(o, "fs_context", r->fs_context);
  set_hex(o, "irp", r->irp);
  set_hex(o, "callback_data", r->callback_data);
  json_object_set_new(o, "major_function", json_integer(r->major_function));
  set_str(o, "major", mj);
  if (r->status_known)
    set_hex(o, "status", r->status);
  if (r->start_time) {
    iso_time(r->start_time, b, sizeof(b));
    json_object_set_new(o, "start_time", json_string(b));
    if (r->time >= r->start_time)
      json_object_set_new(o, "duration_100ns", json_integer((json_int_t)(r->time - r->start_time)));
  }
  set_stack(o, &r->stack);
  return emit(p, o);
}

static int on_filter_info(void *ctx, const struct ev_filter_info *r) {
  struct printer *p = ctx;
  json_t *o;

  if (!kind_ok(p, "filter_info", NULL) || p->flt->pid != UINT32_MAX || !path_ok(p, r->name, NULL))
    return 0;
  o = base_object("filter_info", r->time, &r->origin);
  set_str(o, "name", r->name);
  json_object_set_new(o, "source", json_string(ev_filter_source_name(r->source)));
  json_object_set_new(o, "loaded", json_integer(r->loaded));
  return emit(p, o);
}

static int on_fact(void *ctx, const struct ev_fact *r) {
  struct printer *p = ctx;
  json_t *o;

  if (!kind_ok(p, "fact", NULL) || p->flt->pid != UINT32_MAX || p->flt->path)
    return 0;
  o = base_object("fact", r->time, &r->origin);
  json_object_set_new(o, "fact", json_string(ev_fact_kind_name(r->kind)));
  set_str(o, "subject", r->subject);
  set_str(o, "text", r->text);
  return emit(p, o);
}

static void print_summary(FILE *out, const struct etl_decode_stats *s) {
  json_t *o = json_object(), *census = json_array();

  json_object_set_new(o, "kind", json_string("summary"));
  json_object_set_new(o, "records", json_integer((json_int_t)s->records));
  json_object_set_new(o, "images", json_integer((json_int_t)s->images));
  json_object_set_new(o, "processes", json_integer((json_int_t)s->processes));
  json_object_set_new(o, "threads", json_integer((json_int_t)s->threads));
  json_object_set_new(o, "file_ops", json_integer((json_int_t)s->file_ops));
  json_object_set_new(o, "filter_callbacks", json_integer((json_int_t)s->filter_callbacks));
  json_object_set_new(o, "minifilter_events", json_integer((json_int_t)s->minifilter_events));
  json_object_set_new(o, "minifilter_refused", json_integer((json_int_t)s->minifilter_refused));
  json_object_set_new(o, "minifilter_resolved", json_integer((json_int_t)s->minifilter_resolved));
  json_object_set_new(o, "filters_seen", json_integer((json_int_t)s->filters_seen));
  json_object_set_new(o, "opend_matched", json_integer((json_int_t)s->opend_matched));
  json_object_set_new(o, "stacks_attached", json_integer((json_int_t)s->stacks_attached));
  json_object_set_new(o, "stacks_unmatched", json_integer((json_int_t)s->stacks_unmatched));
  json_object_set_new(o, "decode_errors", json_integer((json_int_t)s->decode_errors));
  json_object_set_new(o, "evicted", json_integer((json_int_t)s->evicted));
  json_object_set_new(o, "kernel_modules", json_integer((json_int_t)s->kernel_modules));
  json_object_set_new(o, "volume_mappings", json_integer((json_int_t)s->volume_mappings));
  json_object_set_new(o, "reader_problems", json_integer((json_int_t)s->reader_problems));
  if (s->first_problem[0])
    json_object_set_new(o, "first_problem", json_string(s->first_problem));
  for (unsigned i = 0; i < s->census.nrows; i++) {
    const struct etl_flt_census_row *r = &s->census.rows[i];
    json_t *row = json_object();
    json_object_set_new(row, "opcode", json_integer(r->opcode));
    json_object_set_new(row, "version", json_integer(r->version));
    json_object_set_new(row, "pointer_size", json_integer(r->ptr_size));
    json_object_set_new(row, "payload_size", json_integer(r->size));
    json_object_set_new(row, "decoded", json_boolean(r->decoded));
    json_object_set_new(row, "count", json_integer((json_int_t)r->count));
    json_array_append_new(census, row);
  }
  json_object_set_new(o, "minifilter_census", census);
  {
    char *txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (txt) {
      fprintf(out, "%s\n", txt);
      free(txt);
    }
  }
  json_decref(o);
}

int etl_events_print(const char *path, FILE *out, const struct etl_events_filter *filter,
                     struct fb_error *err) {
  struct etl_events_filter any;
  struct printer p = {out, filter, 0};
  struct ev_sink sink = {
      .ctx = &p,
      .image = on_image,
      .process = on_process,
      .thread = on_thread,
      .file_op = on_file_op,
      .filter_callback = on_callback,
      .filter_info = on_filter_info,
      .fact = on_fact,
  };
  struct etl_decode_stats st;
  int rc;

  if (filter == NULL) {
    etl_events_filter_init(&any);
    p.flt = &any;
  }
  memset(&st, 0, sizeof(st));
  rc = etl_emit_evidence(path, &sink, NULL, &st, err);
  if (rc == 0 || rc == FB_ESTOP)
    print_summary(out, &st);
  fflush(out);
  return rc == FB_ESTOP ? 0 : rc;
}

int etl_print_events(const char *path, int argc, char **argv) {
  struct etl_events_filter flt;
  struct fb_error err;
  char msg[1200];
  int rc;

  etl_events_filter_init(&flt);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (strcmp(a, "--events") == 0)
      continue;
    if (strcmp(a, "--filter") == 0 && i + 1 < argc)
      v = argv[++i];
    else if (strncmp(a, "--filter=", 9) == 0)
      v = a + 9;
    if (v == NULL || etl_events_filter_parse(&flt, v) != 0) {
      fprintf(stderr, "fltblame etl: bad option '%s' (--filter path=TEXT | pid=N | kind=KIND)\n", v ? v : a);
      return FB_EXIT_USAGE;
    }
  }
  fb_error_init(&err, path);
  rc = etl_events_print(path, stdout, &flt, &err);
  if (rc != 0) {
    fprintf(stderr, "fltblame etl: %s\n", fb_error_format(&err, msg, sizeof(msg)));
    return FB_EXIT_INPUT;
  }
  return FB_EXIT_OK;
}
