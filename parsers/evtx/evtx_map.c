/* evtx_map.c - which Windows events become evidence, and how (see evtx.h).
 * Field values are taken from the XML by their Name="..." attribute (or the
 * UserData element name), falling back to the positional strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parsers/evtx/evtx.h"

#define VAL 1024

static const char P_FLTMGR[] = "Microsoft-Windows-FilterManager";
static const char P_WU[] = "Microsoft-Windows-WindowsUpdateClient";
static const char P_WER[] = "Windows Error Reporting";
static const char P_SERVICING[] = "Microsoft-Windows-Servicing";
static const char P_POWER[] = "Microsoft-Windows-Kernel-Power";
static const char P_BUGCHECK_WER[] = "Microsoft-Windows-WER-SystemErrorReporting";
static const char P_BUGCHECK[] = "BugCheck";

int evtx_event_wanted(const char *p, uint32_t id) {
  if (p == NULL)
    return 0;
  if (strcmp(p, P_FLTMGR) == 0)
    return id >= 1 && id <= 9;
  if (strcmp(p, P_WU) == 0)
    return 1;
  if (strcmp(p, P_WER) == 0 || strcmp(p, P_BUGCHECK_WER) == 0 || strcmp(p, P_BUGCHECK) == 0)
    return id == 1001;
  if (strcmp(p, P_POWER) == 0)
    return id == 41;
  if (strcmp(p, P_SERVICING) == 0)
    return 1;
  return 0;
}

/* Copy XML text [s, s+n) into out with the five entities and &#x..; undone. */
static void xml_unescape(const char *s, size_t n, char *out, size_t size) {
  size_t o = 0, i = 0;

  while (i < n && o + 1 < size) {
    if (s[i] == '&') {
      static const struct {
        const char *ent;
        char c;
      } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      size_t k, done = 0;
      for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
        size_t l = strlen(ents[k].ent);
        if (n - i >= l && memcmp(s + i, ents[k].ent, l) == 0) {
          out[o++] = ents[k].c;
          i += l;
          done = 1;
          break;
        }
      }
      if (done)
        continue;
    }
    out[o++] = s[i++];
  }
  out[o] = '\0';
}

/* Value of <Data Name="name">value</Data> (any element name: recovered
 * records garble them), or of <name>value</name> (UserData). 1 if found. */
static int xml_value(const char *xml, const char *name, char *out, size_t size) {
  char pat[128];
  const char *p, *end;

  out[0] = '\0';
  if (xml == NULL)
    return 0;
  snprintf(pat, sizeof(pat), "Name=\"%s\"", name);
  p = strstr(xml, pat);
  if (p != NULL) {
    p += strlen(pat);
    while (*p == ' ')
      p++;
    if (p[0] == '/' && p[1] == '>')
      return 1; /* empty */
    if (*p != '>')
      return 0;
    p++;
  } else {
    snprintf(pat, sizeof(pat), "<%s>", name);
    p = strstr(xml, pat);
    if (p == NULL) {
      snprintf(pat, sizeof(pat), "<%s/>", name);
      return strstr(xml, pat) != NULL;
    }
    p += strlen(pat);
  }
  end = strchr(p, '<');
  if (end == NULL)
    return 0;
  xml_unescape(p, (size_t)(end - p), out, size);
  return 1;
}

/* Named value, else the positional string idx (when strings exist). */
static int field(const struct evtx_event *e, const char *name, int idx, char *out, size_t size) {
  if (xml_value(e->xml, name, out, size))
    return 1;
  if (e->strings != NULL && idx >= 0 && idx < e->nstrings && e->strings[idx] != NULL) {
    snprintf(out, size, "%s", e->strings[idx]);
    return 1;
  }
  out[0] = '\0';
  return 0;
}

/* "0x80070005", "80070005", "-2147024891" or decimal -> 32-bit code. */
static int parse_code(const char *s, uint32_t *code) {
  char *end;
  unsigned long long v;

  while (*s == ' ')
    s++;
  if (*s == '\0')
    return 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    v = strtoull(s + 2, &end, 16);
  else if (*s == '-')
    v = (unsigned long long)strtoll(s, &end, 10);
  else {
    /* bare hex as WER writes it (8024001f), or decimal */
    size_t n = strspn(s, "0123456789abcdefABCDEF");
    if (n == 8 && s[n] == '\0')
      v = strtoull(s, &end, 16);
    else
      v = strtoull(s, &end, 10);
  }
  if (end == s)
    return 0;
  *code = (uint32_t)v;
  return 1;
}

static void origin(const struct evtx_event *e, struct ev_origin *o) {
  o->file = e->file;
  o->format = e->recovered ? "evtx-recovered" : "evtx";
  o->index = e->record_id;
  o->offset = EV_UNKNOWN_U64;
}

static int emit_fact(const struct evtx_event *e, const struct ev_sink *sink, struct evtx_stats *st,
                     struct ev_fact *f) {
  origin(e, &f->origin);
  f->time = e->time;
  if (st)
    st->facts++;
  if (sink && sink->fact && sink->fact(sink->ctx, f) != 0)
    return FB_ESTOP;
  return 0;
}

/* ExtraInfoString of FilterManager event version 1, a JSON-like text:
 * { "flags" : ..., "frame" : 0 , "class_name" : "...", "instances" : [["328010","0x0"], ...] } */
static void extra_info(const char *s, int *frame, char *altitude, size_t asize, int *instances) {
  const char *p = strstr(s, "\"frame\"");

  *frame = -1;
  *instances = -1;
  altitude[0] = '\0';
  if (p != NULL) {
    p = strchr(p + 7, ':');
    if (p != NULL) {
      char *end;
      long v = strtol(p + 1, &end, 10);
      if (end != p + 1 && v >= 0 && v < 1000)
        *frame = (int)v;
    }
  }
  p = strstr(s, "\"instances\"");
  if (p != NULL && (p = strchr(p, '[')) != NULL) {
    int n = 0;
    p++;
    while (*p != '\0' && *p != ']') {
      const char *q;
      while (*p == ' ' || *p == ',')
        p++;
      if (*p != '[')
        break;
      q = strchr(p, '"');
      if (q != NULL && n == 0) {
        const char *qe = strchr(q + 1, '"');
        if (qe != NULL && (size_t)(qe - q - 1) < asize) {
          memcpy(altitude, q + 1, (size_t)(qe - q - 1));
          altitude[qe - q - 1] = '\0';
        }
      }
      n++;
      p = strchr(p, ']');
      if (p == NULL)
        break;
      p++;
    }
    *instances = n;
  }
}

static int map_filter_manager(const struct evtx_event *e, const struct ev_sink *sink, struct evtx_stats *st) {
  char name[VAL], status[64], extra[VAL * 2], altitude[64], volume[VAL];
  struct ev_filter_info fi;
  uint32_t code = 0;

  if (e->event_id == 2 || e->event_id == 8)
    return 0; /* volume notices, no filter named */
  memset(&fi, 0, sizeof(fi));
  origin(e, &fi.origin);
  fi.source = EV_FSRC_EVENTLOG;
  fi.time = e->time;
  fi.instances = -1;
  fi.frame = -1;
  field(e, "DeviceName", 4, name, sizeof(name));
  if (field(e, "FinalStatus", 0, status, sizeof(status)))
    parse_code(status, &code);
  fi.status = code;
  fi.name = name[0] ? name : NULL;
  if (field(e, "ExtraInfoString", 7, extra, sizeof(extra)) && extra[0] == '{') {
    extra_info(extra, &fi.frame, altitude, sizeof(altitude), &fi.instances);
    if (altitude[0])
      fi.altitude = altitude;
  }
  if ((e->event_id == 3 || e->event_id == 4 || e->event_id == 9) &&
      (field(e, "VolumeName", -1, volume, sizeof(volume)) ||
       field(e, "DeviceName", -1, volume, sizeof(volume))))
    fi.volume = volume[0] ? volume : NULL;
  switch (e->event_id) {
  case 6: fi.loaded = 1; break;
  case 1:
  case 4:
  case 5:
  case 7: fi.loaded = 0; break;
  default: fi.loaded = -1; break;
  }
  if (e->event_id == 3 || e->event_id == 9)
    fi.name = NULL; /* Filter Manager itself failed on a volume */
  if (st)
    st->filter_infos++;
  if (sink && sink->filter_info && sink->filter_info(sink->ctx, &fi) != 0)
    return FB_ESTOP;
  return 0;
}

static int map_wu(const struct evtx_event *e, const struct ev_sink *sink, struct evtx_stats *st) {
  char code_s[64], title[VAL], text[VAL * 2];
  struct ev_fact f;
  uint32_t code = 0;

  if (!field(e, "errorCode", 0, code_s, sizeof(code_s)) || !parse_code(code_s, &code) || code == 0)
    return 0;
  if (e->event_id != 20 && e->event_id != 31 && !(e->level >= 1 && e->level <= 2))
    return 0;
  field(e, "updateTitle", 1, title, sizeof(title));
  memset(&f, 0, sizeof(f));
  f.kind = EV_FACT_WU_FAILURE;
  f.code = code;
  f.subject = title[0] ? title : NULL;
  snprintf(text, sizeof(text), "Windows Update event %u: error 0x%08x%s%s", e->event_id, code,
           title[0] ? " installing " : "", title);
  f.text = text;
  return emit_fact(e, sink, st, &f);
}

/* Application "Windows Error Reporting" 1001: strings are Bucket, BucketType,
 * EventName, Response, CabId, then P1..P10. */
static int map_wer(const struct evtx_event *e, const struct ev_sink *sink, struct evtx_stats *st) {
  char name[VAL], p1[VAL], p2[VAL], p3[VAL], p4[VAL], text[VAL * 6];
  struct ev_fact f;
  uint32_t code = 0;

  if (!field(e, "EventName", 2, name, sizeof(name)) || strncmp(name, "WindowsUpdateFailure", 20) != 0)
    return 0;
  field(e, "P1", 5, p1, sizeof(p1));
  field(e, "P2", 6, p2, sizeof(p2));
  field(e, "P3", 7, p3, sizeof(p3));
  field(e, "P4", 8, p4, sizeof(p4));
  if (!parse_code(p2, &code))
    return 0;
  memset(&f, 0, sizeof(f));
  f.kind = EV_FACT_WU_FAILURE;
  f.code = code;
  f.subject = p3[0] ? p3 : NULL; /* update id */
  snprintf(text, sizeof(text), "Windows Error Reporting %s: client %s, error 0x%08x, update %s, %s", name, p1,
           code, p3, p4);
  f.text = text;
  return emit_fact(e, sink, st, &f);
}

/* "0x0000009f (0x0000000000000003, 0xffff..., 0x..., 0x...)" */
static int parse_bugcheck_text(const char *s, struct ev_fact *f) {
  const char *p = strstr(s, "0x");
  char *end;
  int i;

  if (p == NULL)
    return 0;
  f->code = (uint32_t)strtoull(p + 2, &end, 16);
  p = strchr(end, '(');
  for (i = 0; p != NULL && i < 4; i++) {
    const char *h = strstr(p, "0x");
    if (h == NULL)
      break;
    f->params[i] = strtoull(h + 2, &end, 16);
    p = end;
  }
  return 1;
}

static int map_bugcheck(const struct evtx_event *e, const struct ev_sink *sink, struct evtx_stats *st) {
  char s0[VAL], text[VAL * 2];
  struct ev_fact f;

  memset(&f, 0, sizeof(f));
  f.kind = EV_FACT_BUGCHECK;
  if (!field(e, "param1", 0, s0, sizeof(s0)) || !parse_bugcheck_text(s0, &f))
    return 0;
  snprintf(text, sizeof(text), "rebooted from a bugcheck: %s", s0);
  f.text = text;
  return emit_fact(e, sink, st, &f);
}

static int map_kernel_power(const struct evtx_event *e, const struct ev_sink *sink, struct evtx_stats *st) {
  char v[64], text[512];
  struct ev_fact f;
  uint32_t code = 0;

  static const char *const names[4] = {"BugcheckParameter1", "BugcheckParameter2", "BugcheckParameter3",
                                       "BugcheckParameter4"};
  int i;

  memset(&f, 0, sizeof(f));
  if (!field(e, "BugcheckCode", 0, v, sizeof(v)) || !parse_code(v, &code))
    code = 0;
  f.kind = code != 0 ? EV_FACT_BUGCHECK : EV_FACT_OTHER;
  f.code = code;
  for (i = 0; i < 4; i++) {
    if (field(e, names[i], i + 1, v, sizeof(v)))
      f.params[i] = strtoull(v, NULL, 0);
  }

  if (code != 0)
    snprintf(text, sizeof(text),
             "Kernel-Power 41: unexpected reboot after bugcheck 0x%08x (0x%llx, 0x%llx, 0x%llx, 0x%llx)",
             code, (unsigned long long)f.params[0], (unsigned long long)f.params[1],
             (unsigned long long)f.params[2], (unsigned long long)f.params[3]);
  else
    snprintf(text, sizeof(text), "Kernel-Power 41: the system rebooted without cleanly shutting down");
  f.text = text;
  return emit_fact(e, sink, st, &f);
}

/* Servicing 1-4 (CbsPackage*) and 7-10 (CbsUpdateChangeState) in the Setup
 * channel: UserData values PackageIdentifier/UpdateName, ErrorCode, Client. */
static int map_servicing(const struct evtx_event *e, const struct ev_sink *sink, struct evtx_stats *st) {
  char code_s[64], pkg[VAL], update[VAL], state[VAL], client[VAL], text[VAL * 6];
  struct ev_fact f;
  uint32_t code = 0;

  if (!xml_value(e->xml, "ErrorCode", code_s, sizeof(code_s)) || !parse_code(code_s, &code) || code == 0)
    return 0;
  xml_value(e->xml, "PackageIdentifier", pkg, sizeof(pkg));
  xml_value(e->xml, "UpdateName", update, sizeof(update));
  xml_value(e->xml, "IntendedPackageState", state, sizeof(state));
  xml_value(e->xml, "Client", client, sizeof(client));
  memset(&f, 0, sizeof(f));
  f.kind = EV_FACT_CBS_FAILURE;
  f.code = code;
  f.subject = update[0] ? update : pkg[0] ? pkg : NULL;
  snprintf(text, sizeof(text), "Servicing event %u: %s%s%s to state %s failed with 0x%08x (client %s)",
           e->event_id, pkg, update[0] ? " / " : "", update, state[0] ? state : "?", code,
           client[0] ? client : "?");
  f.text = text;
  return emit_fact(e, sink, st, &f);
}

int evtx_event_emit(const struct evtx_event *e, const struct ev_sink *sink, struct evtx_stats *st) {
  const char *p = e->provider;

  if (!evtx_event_wanted(p, e->event_id))
    return 0;
  if (strcmp(p, P_FLTMGR) == 0)
    return map_filter_manager(e, sink, st);
  if (strcmp(p, P_WU) == 0)
    return map_wu(e, sink, st);
  if (strcmp(p, P_WER) == 0)
    return map_wer(e, sink, st);
  if (strcmp(p, P_BUGCHECK_WER) == 0 || strcmp(p, P_BUGCHECK) == 0)
    return map_bugcheck(e, sink, st);
  if (strcmp(p, P_POWER) == 0)
    return map_kernel_power(e, sink, st);
  if (strcmp(p, P_SERVICING) == 0)
    return map_servicing(e, sink, st);
  return 0;
}
