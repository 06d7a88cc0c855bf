/* verdict.c - the verdict object, its names and verdict.json. */
#include "rules/verdict.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct verdict *verdict_new(void) {
  return calloc(1, sizeof(struct verdict));
}

void vd_filter_free(struct vd_filter *f) {
  free(f->name);
  free(f->vendor);
  free(f->product);
  free(f->altitude);
  free(f->group);
  free(f->allocated);
  memset(f, 0, sizeof(*f));
}

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

int vd_filter_copy(struct vd_filter *d, const struct vd_filter *s) {
  *d = *s;
  d->name = dup_or_null(s->name);
  d->vendor = dup_or_null(s->vendor);
  d->product = dup_or_null(s->product);
  d->altitude = dup_or_null(s->altitude);
  d->group = dup_or_null(s->group);
  d->allocated = dup_or_null(s->allocated);
  return 0;
}

void vd_finding_free(struct vd_finding *f) {
  free(f->path);
  free(f->process);
  free(f->operation);
  free(f->op_kind);
  free(f->observed_by);
  free(f->observer_altitude);
  free(f->holder_process);
  vd_filter_free(&f->filter);
  for (size_t i = 0; i < f->nevidence; i++) {
    struct vd_evidence *l = &f->evidence[i];
    free(l->kind);
    free(l->file);
    free(l->format);
    free(l->operation);
    free(l->module);
    free(l->text);
  }
  free(f->evidence);
  for (size_t i = 0; i < f->ncandidates; i++)
    vd_filter_free(&f->candidates[i].filter);
  free(f->candidates);
  memset(f, 0, sizeof(*f));
}

void verdict_free(struct verdict *v) {
  if (v == NULL)
    return;
  for (size_t i = 0; i < v->ninputs; i++) {
    free(v->inputs[i].path);
    free(v->inputs[i].type);
    free(v->inputs[i].status);
    free(v->inputs[i].error);
  }
  free(v->inputs);
  for (size_t i = 0; i < v->nfindings; i++) {
    vd_finding_free(&v->findings[i]);
  }
  free(v->findings);
  for (size_t i = 0; i < v->ninventory; i++) {
    vd_filter_free(&v->inventory[i].filter);
    free(v->inventory[i].image_company);
    free(v->inventory[i].image_version);
  }
  free(v->inventory);
  for (size_t i = 0; i < v->nfacts; i++) {
    free(v->facts[i].kind);
    free(v->facts[i].file);
    free(v->facts[i].path);
    free(v->facts[i].subject);
    free(v->facts[i].text);
  }
  free(v->facts);
  free(v->crashes);
  for (size_t i = 0; i < v->nlimits; i++)
    free(v->limits[i]);
  free(v->limits);
  free(v->upload_id);
  free(v->generated_by);
  free(v);
}

int verdict_add_input(struct verdict *v, const struct vd_input *in) {
  struct vd_input *p = realloc(v->inputs, (v->ninputs + 1) * sizeof(*p));
  if (p == NULL)
    return FB_ENOMEM;
  v->inputs = p;
  p[v->ninputs] = *in;
  p[v->ninputs].path = dup_or_null(in->path);
  p[v->ninputs].type = dup_or_null(in->type);
  p[v->ninputs].status = dup_or_null(in->status);
  p[v->ninputs].error = dup_or_null(in->error);
  v->ninputs++;
  return 0;
}

int verdict_add_crash(struct verdict *v, const struct crash_finding *f) {
  struct crash_finding *p = realloc(v->crashes, (v->ncrashes + 1) * sizeof(*p));
  if (p == NULL)
    return FB_ENOMEM;
  v->crashes = p;
  p[v->ncrashes++] = *f;
  return 0;
}

enum vd_confidence vd_crash_confidence(const struct crash_finding *f) {
  if (f->blamed[0] == '\0')
    return VD_UNDETERMINED;
  if (f->confidence == CRASH_CONF_HIGH)
    return (f->has_log_crash && f->log_crash_matches == 1) || f->has_setup_result ? VD_CONFIRMED : VD_STRONG;
  return f->confidence >= CRASH_CONF_LOW ? VD_SUSPECT : VD_UNDETERMINED;
}

int verdict_add_limit(struct verdict *v, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  char **p = realloc(v->limits, (v->nlimits + 1) * sizeof(*p));
  if (p == NULL)
    return FB_ENOMEM;
  v->limits = p;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if ((p[v->nlimits] = strdup(buf)) == NULL)
    return FB_ENOMEM;
  v->nlimits++;
  return 0;
}

const char *vd_kind_name(enum vd_kind k) {
  return k == VD_HELD ? "held" : "denied";
}

const char *vd_confidence_name(enum vd_confidence c) {
  static const char *const n[] = {"undetermined", "suspect", "strong", "confirmed"};
  return (unsigned)c < 4 ? n[c] : "undetermined";
}

const char *vd_reason_name(enum vd_reason r) {
  static const char *const n[] = {"none",         "callback_failed", "last_pre_callback", "nested_frames",
                                  "status_owner", "below_observer",  "present",           "holder_open",
                                  "holder_maybe", "holder_process"};
  return (unsigned)r < sizeof(n) / sizeof(n[0]) ? n[r] : "none";
}

const char *vd_status_name(uint32_t s) {
  static const struct {
    uint32_t code;
    const char *name;
  } t[] = {
      {0xC0000022u, "STATUS_ACCESS_DENIED"},
      {0xC0000043u, "STATUS_SHARING_VIOLATION"},
      {0xC0000056u, "STATUS_DELETE_PENDING"},
      {0xC00000A2u, "STATUS_MEDIA_WRITE_PROTECTED"},
      {0xC00000BBu, "STATUS_NOT_SUPPORTED"},
      {0xC0000121u, "STATUS_CANNOT_DELETE"},
      {0xC0000361u, "STATUS_ACCESS_DISABLED_BY_POLICY_DEFAULT"},
      {0xC0000362u, "STATUS_ACCESS_DISABLED_BY_POLICY_PATH"},
      {0xC0000363u, "STATUS_ACCESS_DISABLED_BY_POLICY_PUBLISHER"},
      {0xC0000364u, "STATUS_ACCESS_DISABLED_BY_POLICY_OTHER"},
      {0xC0000372u, "STATUS_ACCESS_DISABLED_NO_SAFER_UI_BY_POLICY"},
      {0xC0000906u, "STATUS_VIRUS_INFECTED"},
      {0xC0000907u, "STATUS_VIRUS_DELETED"},
      {0xC000CF0Au, "STATUS_CLOUD_FILE_NOT_SUPPORTED"},
      {0xC000CF14u, "STATUS_CLOUD_FILE_IN_USE"},
      {0xC000CF18u, "STATUS_CLOUD_FILE_ACCESS_DENIED"},
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
    if (t[i].code == s)
      return t[i].name;
  return NULL;
}

const char *vd_time_iso(uint64_t ft, char *buf, size_t size) {
  struct tm tm;
  time_t secs;
  if (size == 0)
    return buf;
  buf[0] = '\0';
  if (ft < 116444736000000000ull)
    return buf;
  secs = (time_t)((ft - 116444736000000000ull) / 10000000ull);
  if (gmtime_r(&secs, &tm) == NULL)
    return buf;
  {
    char tmp[96]; /* wide enough for any struct tm, so nothing is cut mid-field */
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%07lluZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned long long)(ft % 10000000ull));
    size_t n = strlen(tmp);
    if (n >= size)
      n = size - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
  }
  return buf;
}

/* ------------------------------------------------------------------ JSON */

static json_t *jstr(const char *s) {
  return s ? json_string(s) : json_null();
}

static json_t *jtime(uint64_t ft) {
  char b[40];
  return ft ? json_string(vd_time_iso(ft, b, sizeof(b))) : json_null();
}

static json_t *jhex32(uint32_t v) {
  char b[16];
  snprintf(b, sizeof(b), "0x%08X", v);
  return json_string(b);
}

static json_t *jhex64(uint64_t v) {
  char b[24];
  if (v == 0)
    return json_null();
  snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
  return json_string(b);
}

static json_t *filter_json(const struct vd_filter *f) {
  return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:b}", "name", jstr(f->name), "vendor",
                   jstr(f->vendor), "product", jstr(f->product), "altitude", jstr(f->altitude),
                   "allocated_altitudes", jstr(f->allocated), "group", jstr(f->group), "inbox", f->inbox,
                   "observer", f->observer, "known", f->known);
}

static json_t *evidence_json(const struct vd_evidence *l) {
  json_t *o = json_pack("{s:o, s:o, s:o, s:I, s:o}", "kind", jstr(l->kind), "file", jstr(l->file), "format",
                        jstr(l->format), "index", (json_int_t)l->index, "time", jtime(l->time));
  json_object_set_new(o, "offset",
                      l->offset == UINT64_MAX ? json_null() : json_integer((json_int_t)l->offset));
  json_object_set_new(o, "pid", json_integer(l->pid));
  json_object_set_new(o, "tid", json_integer(l->tid));
  json_object_set_new(o, "file_object", jhex64(l->file_object));
  json_object_set_new(o, "irp", jhex64(l->irp));
  json_object_set_new(o, "status", l->status_known ? jhex32(l->status) : json_null());
  json_object_set_new(o, "operation", jstr(l->operation));
  json_object_set_new(o, "module", jstr(l->module));
  json_object_set_new(o, "text", jstr(l->text));
  return o;
}

static json_t *finding_json(const struct vd_finding *f) {
  json_t *o = json_object(), *ev = json_array(), *cands = json_array();
  json_object_set_new(o, "kind", json_string(vd_kind_name(f->kind)));
  json_object_set_new(o, "path", jstr(f->path));
  json_object_set_new(o, "process", jstr(f->process));
  json_object_set_new(o, "pid", json_integer(f->pid));
  json_object_set_new(o, "operation", jstr(f->operation));
  json_object_set_new(o, "op_kind", jstr(f->op_kind));
  json_object_set_new(o, "status", jhex32(f->status));
  json_object_set_new(o, "status_name", jstr(vd_status_name(f->status)));
  json_object_set_new(o, "first_time", jtime(f->first_time));
  json_object_set_new(o, "last_time", jtime(f->last_time));
  json_object_set_new(o, "occurrences", json_integer(f->occurrences));
  json_object_set_new(o, "observed_by", jstr(f->observed_by));
  json_object_set_new(o, "observer_altitude", jstr(f->observer_altitude));
  json_object_set_new(o, "filter", f->has_filter ? filter_json(&f->filter) : json_null());
  json_object_set_new(o, "confidence", json_string(vd_confidence_name(f->confidence)));
  json_object_set_new(o, "reason", json_string(vd_reason_name(f->reason)));
  json_object_set_new(o, "file_system_possible", json_boolean(f->fs_possible));
  if (f->kind == VD_HELD)
    json_object_set_new(o, "holder",
                        f->has_holder
                            ? json_pack("{s:I, s:o, s:o, s:o, s:o}", "pid", (json_int_t)f->holder_pid,
                                        "process", jstr(f->holder_process), "opened", jtime(f->holder_time),
                                        "access", jhex32(f->holder_access), "share", jhex32(f->holder_share))
                            : json_null());
  for (size_t i = 0; i < f->nevidence; i++)
    json_array_append_new(ev, evidence_json(&f->evidence[i]));
  json_object_set_new(o, "evidence", ev);
  json_object_set_new(o, "evidence_omitted", json_integer(f->evidence_dropped));
  for (size_t i = 0; i < f->ncandidates; i++) {
    json_t *c =
        json_pack("{s:i, s:o, s:s}", "rank", f->candidates[i].rank, "filter",
                  filter_json(&f->candidates[i].filter), "reason", vd_reason_name(f->candidates[i].reason));
    json_array_append_new(cands, c);
  }
  json_object_set_new(o, "candidates", cands);
  return o;
}

static json_t *jhex64s(uint64_t v) {
  char b[24];
  snprintf(b, sizeof(b), "0x%llX", (unsigned long long)v);
  return json_string(b);
}

static json_t *jnonempty(const char *s) {
  return s && s[0] ? json_string(s) : json_null();
}

/* A crash finding in the shape docs/crash.md proposes. */
static json_t *crash_json(const struct crash_finding *f) {
  json_t *o = json_object(), *a;
  json_object_set_new(o, "kind", json_string("crash"));
  json_object_set_new(o, "rule", json_string(f->rule));
  json_object_set_new(o, "driver", jnonempty(f->blamed));
  json_object_set_new(o, "driver_path", jnonempty(f->blamed_path));
  json_object_set_new(o, "driver_at", jnonempty(f->blamed_at));
  json_object_set_new(o, "confidence", json_string(crash_confidence_name(f->confidence)));
  json_object_set_new(o, "verdict_confidence", json_string(vd_confidence_name(vd_crash_confidence(f))));
  json_object_set_new(o, "reason", json_string(f->reason));
  json_object_set_new(
      o, "vendor",
      f->has_vendor ? json_pack("{s:o, s:o, s:o, s:o}", "name", jnonempty(f->vendor.vendor), "product",
                                jnonempty(f->vendor.product), "role", jnonempty(f->vendor.role), "inbox",
                                f->vendor.inbox < 0 ? json_null() : json_boolean(f->vendor.inbox))
                    : json_null());
  if (f->has_bugcheck) {
    a = json_array();
    for (int i = 0; i < 4; i++)
      json_array_append_new(a, jhex64s(f->params[i]));
    json_object_set_new(o, "bugcheck",
                        json_pack("{s:o, s:o, s:o, s:s, s:o, s:b}", "code", jhex32(f->bugcheck), "name",
                                  jnonempty(f->bugcheck_name), "params", a, "source", f->bugcheck_source,
                                  "file", jnonempty(f->source_file), "user_initiated", f->user_initiated));
  } else {
    json_object_set_new(o, "bugcheck", json_null());
  }
  json_object_set_new(o, "fault",
                      f->fault_address || f->faulting_module[0]
                          ? json_pack("{s:o, s:o, s:o, s:o, s:o, s:b, s:s}", "address",
                                      jhex64s(f->fault_address), "from", jnonempty(f->fault_address_from),
                                      "context_ip", f->context_ip ? jhex64s(f->context_ip) : json_null(),
                                      "module", jnonempty(f->faulting_module), "at",
                                      jnonempty(f->faulting_at), "in_unloaded_driver", f->fault_in_unloaded,
                                      "confidence", crash_confidence_name(f->faulting_confidence))
                          : json_null());
  json_object_set_new(o, "setup",
                      f->has_setup_result
                          ? json_pack("{s:o, s:o, s:o, s:o, s:I}", "result", jhex32(f->setup_result),
                                      "extend",
                                      f->setup_extend == UINT32_MAX ? json_null() : jhex32(f->setup_extend),
                                      "phase", jnonempty(f->phase), "file", jnonempty(f->setup_result_file),
                                      "line", (json_int_t)f->setup_result_line)
                          : json_null());
  a = json_array();
  for (uint32_t i = 0; i < f->nevidence && i < CRASH_MAX_EVIDENCE; i++)
    json_array_append_new(a, json_string(f->evidence[i]));
  json_object_set_new(o, "evidence", a);
  return o;
}

static json_t *verdict_json(const struct verdict *v) {
  json_t *o = json_object(), *a;
  json_object_set_new(o, "schema", json_string("fltblame-verdict"));
  json_object_set_new(o, "schema_version", json_string(VERDICT_SCHEMA_VERSION));
  json_object_set_new(o, "upload_id", jstr(v->upload_id));
  json_object_set_new(o, "generated_by", jstr(v->generated_by));
  json_object_set_new(o, "time_range",
                      json_pack("{s:o, s:o}", "first", jtime(v->time_first), "last", jtime(v->time_last)));
  a = json_array();
  for (size_t i = 0; i < v->ninputs; i++) {
    const struct vd_input *in = &v->inputs[i];
    json_array_append_new(a, json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:I}", "path", jstr(in->path), "type",
                                       jstr(in->type), "size", (json_int_t)in->size, "sha256",
                                       in->sha256[0] ? json_string(in->sha256) : json_null(), "status",
                                       jstr(in->status), "error", jstr(in->error), "records",
                                       (json_int_t)in->records));
  }
  json_object_set_new(o, "inputs", a);
  a = json_array();
  for (size_t i = 0; i < v->nfindings; i++)
    json_array_append_new(a, finding_json(&v->findings[i]));
  json_object_set_new(o, "findings", a);
  a = json_array();
  for (size_t i = 0; i < v->ncrashes; i++)
    json_array_append_new(a, crash_json(&v->crashes[i]));
  json_object_set_new(o, "crashes", a);
  a = json_array();
  for (size_t i = 0; i < v->ninventory; i++) {
    const struct vd_inventory_entry *e = &v->inventory[i];
    json_t *src = json_array();
    static const char *const names[] = {"fltmc", "eventlog", "image", "stack", "callback"};
    for (int b = 0; b < 5; b++)
      if (e->sources & (1u << b))
        json_array_append_new(src, json_string(names[b]));
    json_array_append_new(
        a, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "filter", filter_json(&e->filter), "sources", src,
                     "image_company", jstr(e->image_company), "image_version", jstr(e->image_version),
                     "instances", e->instances < 0 ? json_null() : json_integer(e->instances), "loaded",
                     e->loaded < 0 ? json_null() : json_boolean(e->loaded), "stack_events",
                     (json_int_t)e->stack_events));
  }
  json_object_set_new(o, "inventory", a);
  a = json_array();
  for (size_t i = 0; i < v->nfacts; i++) {
    const struct vd_fact *f = &v->facts[i];
    json_array_append_new(a, json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "kind", jstr(f->kind),
                                       "file", jstr(f->file), "index", (json_int_t)f->index, "time",
                                       jtime(f->time), "code", jhex32(f->code), "path", jstr(f->path),
                                       "subject", jstr(f->subject), "text", jstr(f->text), "finding",
                                       f->finding < 0 ? json_null() : json_integer(f->finding)));
  }
  json_object_set_new(o, "facts", a);
  a = json_array();
  for (size_t i = 0; i < v->nlimits; i++)
    json_array_append_new(a, json_string(v->limits[i]));
  json_object_set_new(o, "not_decided", a);
  json_object_set_new(
      o, "stats",
      json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "file_ops", (json_int_t)v->stats.file_ops,
                "filter_callbacks", (json_int_t)v->stats.filter_callbacks, "images",
                (json_int_t)v->stats.images, "processes", (json_int_t)v->stats.processes, "filter_infos",
                (json_int_t)v->stats.filter_infos, "facts", (json_int_t)v->stats.facts, "failures_seen",
                (json_int_t)v->stats.failures_seen, "state_evicted", (json_int_t)v->stats.state_evicted));
  return o;
}

char *verdict_json_string(const struct verdict *v) {
  json_t *o = verdict_json(v);
  char *s;
  if (o == NULL)
    return NULL;
  s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII * 0);
  json_decref(o);
  return s;
}

int verdict_write_json(const struct verdict *v, const char *path, struct fb_error *err) {
  char *s = verdict_json_string(v);
  FILE *fp;
  int rc = 0;
  if (s == NULL)
    return fb_error_set(err, FB_ENOMEM, FB_OFFSET_NONE, "cannot build the verdict JSON");
  if ((fp = fopen(path, "w")) == NULL) {
    free(s);
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot write %s: %s", path, strerror(errno));
  }
  if (fputs(s, fp) < 0 || fputc('\n', fp) == EOF)
    rc = fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot write %s: %s", path, strerror(errno));
  if (fclose(fp) != 0 && rc == 0)
    rc = fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot write %s: %s", path, strerror(errno));
  free(s);
  return rc;
}
