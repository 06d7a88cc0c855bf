/* job.c - one upload -> one verdict: ingest (unpack, type by content,
 * digest) -> parsers -> rules engine -> verdict.json / verdict.txt. */
#define _XOPEN_SOURCE 700
#include "daemon/job.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/ingest.h"
#include "parsers/dump/dump.h"
#include "parsers/etl/etl_decode.h"
#include "parsers/evtx/evtx.h"
#include "parsers/pml/pml.h"
#include "parsers/text/cbs.h"
#include "parsers/text/fltmc.h"
#include "parsers/text/setupapi.h"
#include "parsers/text/setuplog.h"
#include "rules/crash.h"
#include "rules/engine.h"
#include "rules/known_filters.h"
#include "rules/verdict.h"

#ifndef FLTBLAME_VERSION
#define FLTBLAME_VERSION "0.0.0"
#endif
#ifndef FB_INSTALL_DATA_DIR
#define FB_INSTALL_DATA_DIR "/etc/fltblame"
#endif
#ifndef FB_SOURCE_DATA_DIR
#define FB_SOURCE_DATA_DIR "etc"
#endif

const char *job_default_data_dir(void) {
  const char *env = getenv("FLTBLAME_DATA_DIR");
  if (env && env[0])
    return env;
  if (access(FB_INSTALL_DATA_DIR "/known-filters.tsv", R_OK) == 0)
    return FB_INSTALL_DATA_DIR;
  return FB_SOURCE_DATA_DIR;
}

/* Input statuses; "read", "unpacked" and "skipped" mean handled completely. */
static const char ST_READ[] = "read", ST_UNPACKED[] = "unpacked", ST_SKIPPED[] = "skipped";

/* Counts records on their way to the engine, per input, and names their
 * file as the verdict lists the input ("upload.zip!logs/procmon.pml"), not
 * by the job's work directory, which is gone when the verdict is read. */
struct counting_sink {
  const struct ev_sink *to;
  const struct ev_sink *also; /* the crash rules, fed the same records */
  uint64_t n;
  const char *name; /* NULL: keep the parser's */
};

#define FORWARD(kind, type)                                                                                  \
  static int count_##kind(void *ctx, const type *r) {                                                        \
    struct counting_sink *c = ctx;                                                                           \
    type named;                                                                                              \
    c->n++;                                                                                                  \
    if (c->name != NULL) {                                                                                   \
      named = *r;                                                                                            \
      named.origin.file = c->name;                                                                           \
      r = &named;                                                                                            \
    }                                                                                                        \
    if (c->also && c->also->kind && c->also->kind(c->also->ctx, r))                                          \
      return 1;                                                                                              \
    return c->to->kind ? c->to->kind(c->to->ctx, r) : 0;                                                     \
  }
FORWARD(image, struct ev_image)
FORWARD(process, struct ev_process)
FORWARD(thread, struct ev_thread)
FORWARD(file_op, struct ev_file_op)
FORWARD(filter_callback, struct ev_filter_callback)
FORWARD(filter_info, struct ev_filter_info)
FORWARD(fact, struct ev_fact)

static int read_pml(const char *path, const struct ev_sink *sink, struct fb_error *err) {
  struct pml_file *f;
  int rc = pml_open(&f, path, err);
  if (rc < 0)
    return rc;
  rc = pml_emit_evidence(f, sink, err);
  pml_close(f);
  return rc;
}

static int read_dump(const char *path, const struct ev_sink *sink, struct fb_error *err) {
  struct dump d;
  int rc = dump_open(&d, path, err);
  if (rc == 0)
    rc = dump_emit(&d, sink, err);
  dump_close(&d);
  return rc;
}

/* Parse one artifact into the engine and the crash rules; fills in->status / in->error. */
static void parse_artifact(const struct ingest_artifact *a, const struct ev_sink *engine,
                           const struct ev_sink *crash, struct vd_input *in) {
  struct counting_sink cs = {engine, crash, 0, a->chain};
  struct ev_sink sink = {&cs,           count_image,           count_process,     count_thread,
                         count_file_op, count_filter_callback, count_filter_info, count_fact};
  struct fb_error err;
  int rc = 1;

  fb_error_init(&err, a->path);
  switch (a->type) {
  case FB_FT_PML: rc = read_pml(a->path, &sink, &err); break;
  case FB_FT_EVTX: rc = evtx_read(a->path, &sink, NULL, &err); break;
  case FB_FT_CBS_LOG: rc = cbs_read(a->path, &sink, NULL, &err); break;
  case FB_FT_FLTMC: rc = fltmc_read(a->path, &sink, NULL, &err); break;
  case FB_FT_SETUPAPI: rc = setupapi_read(a->path, &sink, NULL, &err); break;
  case FB_FT_SETUP_LOG: rc = setuplog_parse_file(a->path, &sink, NULL, &err); break;
  case FB_FT_KERNEL_DUMP: rc = read_dump(a->path, &sink, &err); break;
  case FB_FT_ETL: rc = etl_emit_evidence(a->path, &sink, NULL, NULL, &err); break;
  default:
    in->status = (char *)ST_SKIPPED;
    in->error = a->type == FB_FT_OTHER ? "not a capture fltblame reads" : "not analysed by this build";
    return;
  }
  in->records = cs.n;
  if (rc == 0) {
    in->status = (char *)ST_READ;
    return;
  }
  in->status = cs.n ? "partial" : "failed";
  {
    static __thread char msg[1100];
    char buf[1100];
    if (a->chain != NULL) /* the file as the verdict lists it */
      snprintf(err.file, sizeof(err.file), "%s", a->chain);
    snprintf(msg, sizeof(msg), "%s", fb_error_format(&err, buf, sizeof(buf)));
    in->error = msg;
  }
}

static int status_is_complete(const char *status) {
  return status == ST_READ || status == ST_UNPACKED || status == ST_SKIPPED;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static int make_dirs(const char *dir) {
  char buf[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof(buf))
    return -1;
  memcpy(buf, dir, n + 1);
  for (size_t i = 1; i <= n; i++)
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -1;
      buf[i] = c;
    }
  return 0;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s && s[1] ? s + 1 : p;
}

/* The known-filter database answers the crash rules' vendor questions. */
static int crash_vendor(void *arg, const char *module, struct crash_vendor *out) {
  const struct kf_entry *k = kf_lookup(arg, module, NULL);
  if (k == NULL)
    return 0;
  snprintf(out->vendor, sizeof(out->vendor), "%s", k->vendor);
  snprintf(out->product, sizeof(out->product), "%s", k->product);
  snprintf(out->role, sizeof(out->role), "a file-system minifilter (%s)", k->group);
  out->inbox = k->inbox;
  return 1;
}

static void summarise(const struct verdict *v, struct job_summary *sum) {
  sum->findings = (int)(v->nfindings + v->ncrashes);
  for (size_t i = 0; i < v->ncrashes; i++)
    if (vd_crash_confidence(&v->crashes[i]) == VD_CONFIRMED)
      sum->confirmed++;
  for (size_t i = 0; i < v->nfindings; i++)
    if (v->findings[i].confidence == VD_CONFIRMED)
      sum->confirmed++;
  for (size_t i = 0; i < v->nfindings; i++)
    if (v->findings[i].has_filter && v->findings[i].filter.name) {
      snprintf(sum->top_filter, sizeof(sum->top_filter), "%s", v->findings[i].filter.name);
      break;
    }
}

static int write_outputs(const struct verdict *v, const struct job_options *opt, struct job_summary *sum) {
  struct fb_error err;
  char path[4200];
  int print = opt->print;

  fb_error_init(&err, NULL);
  if (opt->out_dir) {
    if (make_dirs(opt->out_dir) < 0) {
      snprintf(sum->error, sizeof(sum->error), "cannot create %s: %s", opt->out_dir, strerror(errno));
      return FB_EIO;
    }
    snprintf(path, sizeof(path), "%s/verdict.json", opt->out_dir);
    if (verdict_write_json(v, path, &err) < 0)
      goto fail;
    snprintf(path, sizeof(path), "%s/verdict.txt", opt->out_dir);
    if (verdict_write_text_file(v, opt->lang, path, &err) < 0)
      goto fail;
  }
  if (print == JOB_PRINT_DEFAULT)
    print = opt->out_dir ? JOB_PRINT_NONE : JOB_PRINT_TEXT;
  if (print == JOB_PRINT_TEXT)
    verdict_write_text(v, opt->lang, stdout);
  else if (print == JOB_PRINT_JSON) {
    char *s = verdict_json_string(v);
    if (s == NULL) {
      snprintf(sum->error, sizeof(sum->error), "cannot build the verdict JSON");
      return FB_ENOMEM;
    }
    printf("%s\n", s);
    free(s);
  }
  fflush(stdout);
  return 0;
fail:
  snprintf(sum->error, sizeof(sum->error), "%s", err.msg);
  return err.code ? err.code : FB_EIO;
}

int job_analyze_verdict(const char *const *paths, size_t npaths, const struct job_options *optin,
                        struct job_summary *sum, struct verdict **out) {
  struct job_options opt = optin ? *optin : (struct job_options){0};
  struct kf_db *db = NULL;
  struct verdict *v = NULL;
  struct rules_engine *e = NULL;
  struct crash_ctx *crash = NULL;
  struct ev_sink crash_sink_v;
  struct crash_finding cf;
  struct ingest_result res;
  struct fb_error err;
  char dbpath[4200], tmpl[4200];
  const char *work = opt.work_dir;
  int made_work = 0, rc = 0;

  memset(sum, 0, sizeof(*sum));
  if (out)
    *out = NULL;
  ingest_result_init(&res);
  if (npaths == 0) {
    snprintf(sum->error, sizeof(sum->error), "nothing to analyze");
    return FB_EUNSUP;
  }
  v = verdict_new();
  if (v == NULL)
    goto oom;
  v->upload_id = strdup(opt.upload_id ? opt.upload_id : base_name(paths[0]));
  v->generated_by = strdup("fltblame " FLTBLAME_VERSION);
  snprintf(dbpath, sizeof(dbpath), "%s/known-filters.tsv",
           opt.data_dir ? opt.data_dir : job_default_data_dir());
  if (kf_db_load(&db, dbpath, &err) < 0) {
    verdict_add_limit(
        v, "known-filter database not loaded (%s): vendors and altitudes come only from the upload", err.msg);
    db = kf_db_new_empty();
  }
  e = rules_engine_new(db, NULL);
  crash = crash_new();
  if (db == NULL || e == NULL || crash == NULL)
    goto oom;
  snprintf(dbpath, sizeof(dbpath), "%s/passthrough-modules.txt",
           opt.data_dir ? opt.data_dir : job_default_data_dir());
  if (access(dbpath, R_OK) == 0 && crash_passthrough_load(crash, dbpath, &err) < 0)
    verdict_add_limit(v, "pass-through module list not loaded (%s): the built-in list is used", err.msg);
  crash_set_vendor_lookup(crash, crash_vendor, db);
  crash_sink(crash, &crash_sink_v);
  if (work == NULL) {
    const char *t = getenv("TMPDIR");
    snprintf(tmpl, sizeof(tmpl), "%s/fltblame-job-XXXXXX", t && t[0] ? t : "/tmp");
    if (mkdtemp(tmpl) == NULL) {
      snprintf(sum->error, sizeof(sum->error), "cannot create a work directory under %.200s: %s", tmpl,
               strerror(errno));
      rc = FB_EIO;
      goto done;
    }
    work = tmpl;
    made_work = 1;
  }
  for (size_t i = 0; i < npaths; i++) {
    size_t before = res.count;
    if (ingest_run(paths[i], work, NULL, &res) < 0 && res.count == before) {
      struct vd_input in = {0};
      in.path = (char *)paths[i];
      in.type = "unknown";
      in.status = "failed";
      in.error = res.error;
      verdict_add_input(v, &in);
      sum->inputs++;
      sum->inputs_failed++;
    }
  }
  /* The daemon keys uploads by their digest: ingestion made it already. */
  if (npaths == 1 && res.count > 0 && res.items[0].path && !strcmp(res.items[0].path, paths[0]))
    memcpy(sum->upload_sha256, res.items[0].sha256, sizeof(sum->upload_sha256));
  for (size_t i = 0; i < res.count; i++) {
    const struct ingest_artifact *a = &res.items[i];
    struct vd_input in = {0};
    in.path = a->chain ? a->chain : a->path;
    in.type = (char *)fb_filetype_name(a->type);
    in.size = a->size;
    memcpy(in.sha256, a->sha256, sizeof(in.sha256));
    if (fb_filetype_is_archive(a->type) && a->status == INGEST_OK) {
      in.status = (char *)ST_UNPACKED;
    } else if (!ingest_artifact_readable(a)) {
      in.status = a->status == INGEST_REFUSED ? "refused" : "failed";
      in.error = a->error;
    } else {
      const char *status, *error;
      struct vd_input tmp = {0};
      parse_artifact(a, rules_engine_sink(e), &crash_sink_v, &tmp);
      status = tmp.status;
      error = tmp.error;
      if (a->status == INGEST_PARTIAL) {
        status = "partial";
        error = a->error;
      }
      in.status = (char *)status;
      in.error = (char *)error;
      in.records = tmp.records;
    }
    if (!status_is_complete(in.status))
      sum->inputs_failed++;
    sum->inputs++;
    if (verdict_add_input(v, &in) < 0)
      goto oom;
  }
  if (rules_engine_finish(e, v) < 0)
    goto oom;
  if (crash_decide(crash, &cf) == 1 && verdict_add_crash(v, &cf) < 0)
    goto oom;
  summarise(v, sum);
  rc = write_outputs(v, &opt, sum);
  goto done;
oom:
  snprintf(sum->error, sizeof(sum->error), "out of memory");
  rc = FB_ENOMEM;
done:
  if (made_work)
    nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  ingest_result_free(&res);
  rules_engine_free(e);
  crash_free(crash);
  kf_db_free(db);
  if (out && rc == 0)
    *out = v;
  else
    verdict_free(v);
  return rc;
}

int job_analyze(const char *const *paths, size_t npaths, const struct job_options *opt,
                struct job_summary *sum) {
  return job_analyze_verdict(paths, npaths, opt, sum, NULL);
}
