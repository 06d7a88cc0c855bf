/* cmd_pml.c - 'fltblame pml': read a Process Monitor capture and print it
 * the way Procmon's "Save as CSV" does, or as text with resolved stacks, or
 * as a summary of what the capture holds. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/commands.h"
#include "parsers/pml/pml.h"
#include "parsers/pml/pml_csv.h"

static void usage(FILE *out) {
  fputs("usage: fltblame pml FILE [options]\n"
        "\n"
        "Reads a Process Monitor capture (FILE.pml, or FILE.pml.gz) and prints its events.\n"
        "Procmon stores times in UTC; times are printed in UTC unless --tz says otherwise.\n"
        "\n"
        "output (one of):\n"
        "  (default)         one line per event: #index, time, process, PID, TID, operation,\n"
        "                    path, result, detail (tab-separated)\n"
        "  --csv             the CSV Procmon's File > Save (CSV) writes: UTF-8 with BOM, every\n"
        "                    field quoted, en-US formats; compare it with the customer's own\n"
        "                    export\n"
        "  --summary         header facts (Windows version, computer, CPUs, RAM), counts of\n"
        "                    processes and kernel modules, events per class, operation and result\n"
        "\n"
        "options:\n"
        "  --columns \"A,B,...\"  CSV columns by Procmon's names, in this order, or \"all\".\n"
        "                    Default: Time of Day,Process Name,PID,Operation,Path,Result,Detail.\n"
        "                    Names: Time of Day, Process Name, PID, Operation, Path, Result, Detail,\n"
        "                    Date & Time, Relative Time, Duration, Completion Time, Event Class,\n"
        "                    Sequence, Image Path, Company, Description, Version, User,\n"
        "                    Authentication ID, Session, Command Line, TID, Virtualized, Integrity,\n"
        "                    Category, Parent PID, Architecture; and Stack (ours, not Procmon's).\n"
        "  --tz ZONE         time zone for the times: UTC (default), +08:00, -05:30, or a zone\n"
        "                    name such as Asia/Shanghai (daylight saving applied per event).\n"
        "                    Use the zone of the machine that exported the customer's CSV.\n"
        "  --locale L        en-US (default) or es-ES number and time formats in the CSV\n"
        "  --stacks          after each event, its stack: one frame per line as module+0xoffset,\n"
        "                    innermost first, kernel frames marked 'k' (with --csv: adds the Stack\n"
        "                    column)\n"
        "  --filter KEY=VAL  keep only matching events; repeat it: the same key twice means\n"
        "                    either value, different keys must all match. KEY!=VAL excludes.\n"
        "                      path=SUBSTR    Path contains SUBSTR (case-insensitive)\n"
        "                      op=NAME        Operation is NAME (CreateFile, ReadFile, ...)\n"
        "                      result=NAME    Result is NAME (\"ACCESS DENIED\") or a status (0xC0000022)\n"
        "                      pid=N          process ID is N\n"
        "                      class=NAME     Event Class (File System, Registry, Process,\n"
        "                                     Network, Profiling)\n"
        "\n"
        "examples:\n"
        "  fltblame pml Logfile.PML --filter result=\"ACCESS DENIED\" --stacks\n"
        "  fltblame pml Logfile.PML.gz --csv --columns all --tz Asia/Shanghai > Logfile.csv\n"
        "  fltblame pml Logfile.PML --summary\n"
        "\n"
        "exit status: 0 success, 2 bad usage, 3 the capture could not be read (the message\n"
        "names the file, the byte offset and what was wrong), 4 internal error.\n",
        out);
}

enum filter_key { FK_PATH, FK_OP, FK_RESULT, FK_PID, FK_CLASS, FK_COUNT };

struct filter {
  enum filter_key key;
  int negate;
  const char *value;
  unsigned long number; /* pid, or a status for result=0x... */
  int has_number;
};

struct options {
  const char *file;
  int csv, summary, stacks;
  struct pml_csv_options csv_opt;
  struct filter *filters;
  int nfilters;
};

static int parse_filter(struct options *o, const char *spec) {
  static const char *const keys[FK_COUNT] = {"path", "op", "result", "pid", "class"};
  const char *eq = strchr(spec, '=');
  struct filter fl;
  size_t klen;

  memset(&fl, 0, sizeof(fl));
  if (eq == NULL || eq == spec)
    goto bad;
  klen = (size_t)(eq - spec);
  if (spec[klen - 1] == '!') {
    fl.negate = 1;
    klen--;
  }
  for (fl.key = 0; fl.key < FK_COUNT; fl.key++)
    if (strlen(keys[fl.key]) == klen && strncasecmp(spec, keys[fl.key], klen) == 0)
      break;
  if (fl.key == FK_COUNT)
    goto bad;
  fl.value = eq + 1;
  if (fl.key == FK_PID || (fl.key == FK_RESULT && strncasecmp(fl.value, "0x", 2) == 0)) {
    char *end;
    errno = 0;
    fl.number = strtoul(fl.value, &end, 0);
    if (errno || *end || end == fl.value)
      goto bad;
    fl.has_number = 1;
  }
  o->filters = realloc(o->filters, (size_t)(o->nfilters + 1) * sizeof(*o->filters));
  if (o->filters == NULL)
    return -1;
  o->filters[o->nfilters++] = fl;
  return 0;
bad:
  fprintf(stderr, "fltblame pml: bad --filter '%s' (path=, op=, result=, pid=, class=; != to exclude)\n",
          spec);
  return -1;
}

/* Scratch for filtering: the rendered words are computed once per event. */
struct render {
  struct fb_strbuf op, path, result;
};

static int filter_one(const struct filter *fl, struct pml_file *f, const struct pml_event *ev,
                      struct render *r) {
  switch (fl->key) {
  case FK_PATH:
    fb_strbuf_reset(&r->path);
    pml_render_path(f, ev, &r->path);
    return r->path.s != NULL && strcasestr(r->path.s, fl->value) != NULL;
  case FK_OP:
    fb_strbuf_reset(&r->op);
    pml_render_operation(f, ev, &r->op);
    return strcasecmp(r->op.s ? r->op.s : "", fl->value) == 0;
  case FK_RESULT:
    if (fl->has_number)
      return ev->result == fl->number;
    fb_strbuf_reset(&r->result);
    pml_render_result(ev->result, &r->result);
    return strcasecmp(r->result.s ? r->result.s : "", fl->value) == 0;
  case FK_PID: return ev->process != NULL && ev->process->pid == fl->number;
  case FK_CLASS: return strcasecmp(pml_class_name(ev->event_class), fl->value) == 0;
  default: return 0;
  }
}

/* Same key: any positive value matches (OR), every negative must hold.
 * Different keys: all must match (AND). */
static int filter_match(const struct options *o, struct pml_file *f, const struct pml_event *ev,
                        struct render *r) {
  for (int k = 0; k < FK_COUNT; k++) {
    int positives = 0, hit = 0;
    for (int i = 0; i < o->nfilters; i++) {
      const struct filter *fl = &o->filters[i];
      if ((int)fl->key != k)
        continue;
      if (fl->negate) {
        if (filter_one(fl, f, ev, r))
          return 0;
      } else {
        positives++;
        if (!hit && filter_one(fl, f, ev, r))
          hit = 1;
      }
    }
    if (positives > 0 && !hit)
      return 0;
  }
  return 1;
}

static int flush_out(struct fb_strbuf *b, int force) {
  if (b->len == 0 || (!force && b->len < (1u << 16)))
    return 0;
  if (fwrite(b->s, 1, b->len, stdout) != b->len)
    return -1;
  fb_strbuf_reset(b);
  return 0;
}

static void put_stack(struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  for (uint32_t i = 0; i < ev->stack_depth; i++) {
    struct ev_frame fr;
    pml_frame_resolve(f, ev, i, &fr);
    fb_strbuf_printf(out, "    %2u %c ", i, fr.kernel ? 'k' : 'u');
    if (fr.module)
      fb_strbuf_printf(out, "%s+0x%llx", fr.module, (unsigned long long)fr.offset);
    else
      fb_strbuf_puts(out, "?");
    fb_strbuf_printf(out, "  (0x%llx)\n", (unsigned long long)fr.addr);
  }
}

/* Replace tabs and line breaks so one event stays one line. */
static void put_flat(struct fb_strbuf *out, const struct fb_strbuf *s) {
  size_t start = out->len;

  if (s->s == NULL)
    return;
  fb_strbuf_add(out, s->s, s->len);
  for (size_t i = start; i < out->len; i++)
    if (out->s[i] == '\t' || out->s[i] == '\n' || out->s[i] == '\r')
      out->s[i] = ' ';
}

static void text_row(struct pml_file *f, struct pml_csv *csv, const struct pml_event *ev,
                     struct fb_strbuf *tmp, struct fb_strbuf *out) {
  const struct pml_process *p = ev->process;

  fb_strbuf_printf(out, "#%llu\t", (unsigned long long)ev->index);
  pml_csv_time_of_day(csv, ev->time, out);
  fb_strbuf_printf(out, "\t%s\t%u\t%u\t", p ? p->name : "?", p ? p->pid : 0, ev->tid);
  fb_strbuf_reset(tmp);
  pml_render_operation(f, ev, tmp);
  put_flat(out, tmp);
  fb_strbuf_putc(out, '\t');
  fb_strbuf_reset(tmp);
  pml_render_path(f, ev, tmp);
  put_flat(out, tmp);
  fb_strbuf_putc(out, '\t');
  fb_strbuf_reset(tmp);
  pml_render_result(ev->result, tmp);
  put_flat(out, tmp);
  fb_strbuf_putc(out, '\t');
  fb_strbuf_reset(tmp);
  pml_render_detail(f, ev, tmp);
  put_flat(out, tmp);
  fb_strbuf_putc(out, '\n');
}

/* ---- summary ---- */

struct tally {
  char *name;
  uint64_t count;
};

struct tallies {
  struct tally *v;
  size_t n, cap;
};

static void tally_add(struct tallies *t, const char *name) {
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->v[i].name, name) == 0) {
      t->v[i].count++;
      return;
    }
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 32;
    struct tally *v = realloc(t->v, cap * sizeof(*v));
    if (v == NULL)
      return;
    t->v = v;
    t->cap = cap;
  }
  t->v[t->n].name = strdup(name);
  if (t->v[t->n].name == NULL)
    return;
  t->v[t->n++].count = 1;
}

static int tally_cmp(const void *a, const void *b) {
  const struct tally *x = a, *y = b;
  if (x->count != y->count)
    return x->count < y->count ? 1 : -1;
  return strcmp(x->name, y->name);
}

static void tally_print(const char *title, struct tallies *t) {
  qsort(t->v, t->n, sizeof(*t->v), tally_cmp);
  printf("%s:\n", title);
  for (size_t i = 0; i < t->n; i++) {
    printf("  %10llu  %s\n", (unsigned long long)t->v[i].count, t->v[i].name[0] ? t->v[i].name : "(empty)");
    free(t->v[i].name);
  }
  free(t->v);
  memset(t, 0, sizeof(*t));
}

static void summary_header(struct pml_file *f) {
  const struct pml_header *h = pml_header(f);
  const struct pml_process *sys = pml_system_process(f);

  printf("file:              %s\n", pml_file_name(f));
  printf("computer:          %s\n", h->computer);
  printf("windows:           %u.%u.%u%s%s (%u-bit)\n", h->os_major, h->os_minor, h->os_build,
         h->service_pack[0] ? " " : "", h->service_pack, h->ptr_size * 8);
  printf("system root:       %s\n", h->system_root);
  printf("logical cpus:      %u\n", h->cpus);
  printf("memory:            %llu bytes\n", (unsigned long long)h->memory);
  printf("max user address:  0x%llx\n", (unsigned long long)h->max_user_address);
  printf("events:            %u\n", h->event_count);
  printf("processes:         %u\n", pml_process_count(f));
  printf("kernel modules:    %u\n", sys ? sys->module_count : 0);
}

static int run_summary(struct options *o, struct pml_file *f, struct pml_csv *csv, struct render *r) {
  struct tallies classes = {0}, ops = {0}, results = {0};
  struct fb_strbuf tmp, name;
  struct pml_event ev;
  struct fb_error err;
  uint64_t shown = 0, first = 0, last = 0;
  int rc = 0;

  fb_strbuf_init(&tmp);
  fb_strbuf_init(&name);
  summary_header(f);
  for (uint64_t i = 0; i < pml_header(f)->event_count; i++) {
    if (pml_event_read(f, i, &ev, &err) < 0) {
      char buf[1200];
      fprintf(stderr, "fltblame pml: %s\n", fb_error_format(&err, buf, sizeof(buf)));
      rc = FB_EXIT_INPUT;
      break;
    }
    if (!filter_match(o, f, &ev, r))
      continue;
    if (shown++ == 0)
      first = ev.time;
    last = ev.time;
    tally_add(&classes, pml_class_name(ev.event_class));
    fb_strbuf_reset(&name);
    fb_strbuf_printf(&name, "%s / ", pml_class_name(ev.event_class));
    pml_render_operation(f, &ev, &name);
    tally_add(&ops, name.s);
    fb_strbuf_reset(&name);
    fb_strbuf_printf(&name, "%s / ", pml_class_name(ev.event_class));
    pml_render_result(ev.result, &name);
    if (ev.result != 0x103 && strstr(name.s, "0x") == NULL)
      fb_strbuf_printf(&name, " (0x%08X)", ev.result);
    else if (ev.result == 0x103)
      fb_strbuf_puts(&name, "(pending)");
    tally_add(&results, name.s);
  }
  if (shown > 0) {
    fb_strbuf_reset(&tmp);
    pml_csv_date_time(csv, first, &tmp);
    fb_strbuf_puts(&tmp, " / ");
    pml_csv_time_of_day(csv, first, &tmp);
    printf("first event:       %s\n", tmp.s);
    fb_strbuf_reset(&tmp);
    pml_csv_date_time(csv, last, &tmp);
    fb_strbuf_puts(&tmp, " / ");
    pml_csv_time_of_day(csv, last, &tmp);
    printf("last event:        %s\n", tmp.s);
  }
  printf("events shown:      %llu\n\n", (unsigned long long)shown);
  tally_print("events per class", &classes);
  tally_print("events per operation", &ops);
  tally_print("events per result", &results);
  fb_strbuf_free(&tmp);
  fb_strbuf_free(&name);
  return rc;
}

/* ---- events ---- */

static int run_events(struct options *o, struct pml_file *f, struct pml_csv *csv, struct render *r) {
  struct fb_strbuf out, tmp;
  struct pml_event ev;
  struct fb_error err;
  int rc = FB_EXIT_OK;

  fb_strbuf_init(&out);
  fb_strbuf_init(&tmp);
  if (o->csv)
    pml_csv_header(csv, &out);
  for (uint64_t i = 0; i < pml_header(f)->event_count; i++) {
    if (pml_event_read(f, i, &ev, &err) < 0) {
      char buf[1200];
      flush_out(&out, 1);
      fflush(stdout);
      fprintf(stderr, "fltblame pml: %s\n", fb_error_format(&err, buf, sizeof(buf)));
      rc = FB_EXIT_INPUT;
      break;
    }
    if (o->nfilters > 0 && !filter_match(o, f, &ev, r))
      continue;
    if (o->csv) {
      pml_csv_row(csv, &ev, &out);
    } else {
      text_row(f, csv, &ev, &tmp, &out);
      if (o->stacks)
        put_stack(f, &ev, &out);
    }
    if (out.oom || flush_out(&out, 0) < 0) {
      fprintf(stderr, "fltblame pml: cannot write the output\n");
      rc = FB_EXIT_INTERNAL;
      break;
    }
  }
  if (rc == FB_EXIT_OK && (flush_out(&out, 1) < 0 || fflush(stdout) != 0)) {
    fprintf(stderr, "fltblame pml: cannot write the output\n");
    rc = FB_EXIT_INTERNAL;
  }
  fb_strbuf_free(&out);
  fb_strbuf_free(&tmp);
  return rc;
}

static int parse_args(struct options *o, int argc, char **argv) {
  char msg[256];

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    int takes =
        !strcmp(a, "--columns") || !strcmp(a, "--tz") || !strcmp(a, "--filter") || !strcmp(a, "--locale");
    if (takes && val == NULL) {
      fprintf(stderr, "fltblame pml: %s needs a value (see fltblame pml --help)\n", a);
      return -1;
    }
    if (!strcmp(a, "--csv")) {
      o->csv = 1;
    } else if (!strcmp(a, "--summary")) {
      o->summary = 1;
    } else if (!strcmp(a, "--stacks")) {
      o->stacks = 1;
    } else if (!strcmp(a, "--columns")) {
      if (pml_csv_columns_parse(&o->csv_opt, val, msg, sizeof(msg)) < 0)
        goto bad;
      i++;
    } else if (!strcmp(a, "--tz")) {
      if (pml_csv_tz_parse(&o->csv_opt, val, msg, sizeof(msg)) < 0)
        goto bad;
      i++;
    } else if (!strcmp(a, "--locale")) {
      if (pml_csv_locale_parse(&o->csv_opt, val, msg, sizeof(msg)) < 0)
        goto bad;
      i++;
    } else if (!strcmp(a, "--filter")) {
      if (parse_filter(o, val) < 0)
        return -1;
      i++;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "fltblame pml: unknown option '%s' (see fltblame pml --help)\n", a);
      return -1;
    } else if (o->file == NULL) {
      o->file = a;
    } else {
      fprintf(stderr, "fltblame pml: one capture at a time ('%s' and '%s')\n", o->file, a);
      return -1;
    }
  }
  if (o->file == NULL) {
    fprintf(stderr, "fltblame pml: which capture? (fltblame pml FILE; see --help)\n");
    return -1;
  }
  if (o->csv && o->stacks) {
    int n = o->csv_opt.ncolumns;
    if (n < (int)(sizeof(o->csv_opt.columns) / sizeof(o->csv_opt.columns[0])))
      o->csv_opt.columns[o->csv_opt.ncolumns++] = PML_COL_STACK;
  }
  return 0;
bad:
  fprintf(stderr, "fltblame pml: %s\n", msg);
  return -1;
}

int cmd_pml(int argc, char **argv) {
  struct options o;
  struct pml_file *f = NULL;
  struct pml_csv *csv = NULL;
  struct fb_error err;
  struct render r;
  int rc;

  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return FB_EXIT_OK;
    }
  memset(&o, 0, sizeof(o));
  pml_csv_options_default(&o.csv_opt);
  if (parse_args(&o, argc, argv) < 0) {
    free(o.filters);
    return FB_EXIT_USAGE;
  }
  if (pml_open(&f, o.file, &err) < 0) {
    char buf[1200];
    fprintf(stderr, "fltblame pml: %s\n", fb_error_format(&err, buf, sizeof(buf)));
    free(o.filters);
    return err.code == FB_ENOMEM ? FB_EXIT_INTERNAL : FB_EXIT_INPUT;
  }
  csv = pml_csv_new(f, &o.csv_opt);
  memset(&r, 0, sizeof(r));
  fb_strbuf_init(&r.op);
  fb_strbuf_init(&r.path);
  fb_strbuf_init(&r.result);
  if (csv == NULL) {
    fprintf(stderr, "fltblame pml: out of memory\n");
    rc = FB_EXIT_INTERNAL;
  } else if (o.summary) {
    rc = run_summary(&o, f, csv, &r);
  } else {
    rc = run_events(&o, f, csv, &r);
  }
  fb_strbuf_free(&r.op);
  fb_strbuf_free(&r.path);
  fb_strbuf_free(&r.result);
  pml_csv_free(csv);
  pml_close(f);
  free(o.filters);
  return rc;
}
