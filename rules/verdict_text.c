/* verdict_text.c - verdict.txt: a short report an engineer pastes into a
 * customer mail, in English or Simplified Chinese (--lang zh-CN). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "parsers/strbuf.h"
#include "rules/verdict.h"

struct words {
  const char *title, *inputs, *range, *none, *finding, *denied, *held, *what, *by, *times, *first, *filter,
      *not_named, *confidence, *why, *candidates, *evidence, *holder, *holder_none, *inbox, *third,
      *unknown_vendor, *fs_note, *facts, *limits, *more, *unproven, *crash, *next, *altitude;
  const char *conf[4];
  const char *reason[10];
};

static const struct words en = {
    .title = "fltblame verdict",
    .altitude = "altitude",
    .inputs = "Inputs",
    .range = "Time range",
    .none = "No filter driver denied or held a file in these captures.",
    .finding = "Finding",
    .denied = "denied",
    .held = "held (sharing violation)",
    .what = "What failed",
    .by = "by",
    .times = "time(s), first at",
    .first = "first",
    .filter = "Filter",
    .not_named = "not determined from these captures",
    .confidence = "Confidence",
    .why = "Why",
    .candidates = "Candidates (most likely first)",
    .evidence = "Evidence",
    .holder = "Held by",
    .holder_none =
        "no open handle on this path was seen in the capture (it may have been opened before the capture "
        "started)",
    .inbox = "Microsoft inbox",
    .third = "third-party",
    .unknown_vendor = "unknown vendor",
    .fs_note =
        "The file system itself (an ACL or a read-only attribute) can also return this status; the capture "
        "does not rule it out.",
    .facts = "Related log entries",
    .limits = "Not decided",
    .more = "more evidence links omitted",
    .unproven = "a suspect, not proven",
    .crash = "the machine crashed (bugcheck)",
    .next =
        "To confirm: reproduce while recording a WPR trace with minifilter I/O events (the \"Minifilter I/O "
        "activity\" profile) and send the .etl.",
    .conf = {"undetermined", "suspect", "strong", "confirmed"},
    .reason =
        {
            "",
            "its minifilter callback failed this very operation (filter manager trace).",
            "its pre-operation callback was the last third-party one to run before the failure.",
            "its own code issued this I/O: its frames sit between two filter-manager runs on the failing "
            "stack.",
            "the failure status belongs to this driver.",
            "Procmon sees only results coming from below its own altitude; the failure came from a filter "
            "below it "
            "or from the file system.",
            "it is present on the machine; where the failure was observed does not narrow it down.",
            "an open of the same file was still open and its share mode does not allow this access.",
            "an open of the same file was still open (share modes not recorded).",
            "the process holding the file belongs to this product.",
        },
};

static const struct words zh = {
    .title = "fltblame 分析结论",
    /* Microsoft's Chinese documentation calls a minifilter altitude 高度 */
    .altitude = "高度",
    .inputs = "输入文件",
    .range = "时间范围",
    .none = "在这些抓取数据中，没有发现文件系统过滤驱动拒绝或占用文件。",
    .finding = "发现",
    .denied = "拒绝访问",
    .held = "文件被占用（共享冲突）",
    .what = "失败的操作",
    .by = "进程",
    .times = "次，首次于",
    .first = "首次",
    .filter = "过滤驱动",
    .not_named = "无法根据这些抓取数据确定",
    .confidence = "可信度",
    .why = "依据",
    .candidates = "候选驱动（按可能性排序）",
    .evidence = "证据",
    .holder = "占用者",
    .holder_none = "抓取数据中未看到该路径上仍打开的句柄（可能在开始抓取之前就已打开）",
    .inbox = "微软系统自带",
    .third = "第三方",
    .unknown_vendor = "厂商未知",
    .fs_note = "文件系统本身（ACL 权限或只读属性）也可能返回此状态，抓取数据无法排除这种可能。",
    .facts = "相关日志记录",
    .limits = "未能判定的内容",
    .more = "条证据未列出",
    .unproven = "仅为嫌疑，尚未证实",
    .crash = "系统崩溃（蓝屏）",
    .next = "如需确认：请在复现问题时用 WPR 录制包含 minifilter I/O 事件的跟踪（\"Minifilter I/O activity\" "
            "配置），"
            "并发送 .etl 文件。",
    .conf = {"无法确定", "可疑", "较强", "已确认"},
    .reason =
        {
            "",
            "过滤管理器跟踪显示，该驱动的回调函数使这次操作失败。",
            "失败之前最后运行的第三方预操作回调属于该驱动。",
            "该驱动自己发起了这次 I/O：失败调用栈中它的栈帧位于两段过滤管理器栈帧之间。",
            "该失败状态码属于该驱动。",
            "Procmon 只能看到来自其自身高度（altitude）以下的结果；失败来自其下方的过滤驱动或文件系统本身。",
            "该驱动存在于这台机器上，但无法根据失败的观察位置进一步缩小范围。",
            "同一文件的另一个打开句柄仍未关闭，其共享模式不允许本次访问。",
            "同一文件的另一个打开句柄仍未关闭（未记录共享模式）。",
            "占用该文件的进程属于该产品。",
        },
};

static const char *status_text(uint32_t status, char *buf, size_t size) {
  const char *n = vd_status_name(status);
  if (n)
    snprintf(buf, size, "%s (0x%08X)", n, status);
  else
    snprintf(buf, size, "0x%08X", status);
  return buf;
}

static void put_filter(FILE *out, const struct words *w, const struct vd_filter *f) {
  fprintf(out, "%s", f->name ? f->name : "?");
  fprintf(out, " (%s", f->vendor ? f->vendor : w->unknown_vendor);
  if (f->product)
    fprintf(out, ", %s", f->product);
  if (f->altitude)
    fprintf(out, ", %s %s", w->altitude, f->altitude);
  else if (f->allocated)
    fprintf(out, ", %s %s", w->altitude, f->allocated);
  if (f->group && (f->altitude || !f->allocated || !strchr(f->allocated, ',')))
    fprintf(out, ", %s", f->group);
  fprintf(out, ", %s)", f->inbox ? w->inbox : w->third);
}

static void put_finding(FILE *out, const struct words *w, const struct vd_finding *f, size_t n) {
  char t1[40], st[96];
  fprintf(out, "\n%s %zu: %s, %s\n", w->finding, n, f->kind == VD_HELD ? w->held : w->denied,
          status_text(f->status, st, sizeof(st)));
  fprintf(out, "  %s: %s %s, %s %s (PID %u), %u %s %s UTC\n", w->what, f->operation ? f->operation : "?",
          f->path ? f->path : "?", w->by, f->process ? f->process : "?", f->pid, f->occurrences, w->times,
          vd_time_iso(f->first_time, t1, sizeof(t1)));
  if (f->kind == VD_HELD) {
    fprintf(out, "  %s: ", w->holder);
    if (f->has_holder)
      fprintf(out, "%s (PID %u), %s\n", f->holder_process ? f->holder_process : "?", f->holder_pid,
              vd_time_iso(f->holder_time, t1, sizeof(t1)));
    else
      fprintf(out, "%s\n", w->holder_none);
  }
  fprintf(out, "  %s: ", w->filter);
  if (f->has_filter) {
    put_filter(out, w, &f->filter);
    if (f->confidence <= VD_SUSPECT)
      fprintf(out, " - %s", w->unproven);
  } else
    fprintf(out, "%s", w->not_named);
  fprintf(out, "\n  %s: %s\n", w->confidence, w->conf[f->confidence]);
  if (f->reason != VD_R_NONE)
    fprintf(out, "  %s: %s\n", w->why, w->reason[f->reason]);
  if (f->fs_possible)
    fprintf(out, "  %s\n", w->fs_note);
  if (f->kind == VD_DENIED && f->confidence < VD_CONFIRMED && f->observed_by &&
      strcmp(f->observed_by, "minifilter"))
    fprintf(out, "  %s\n", w->next);
  if (f->ncandidates) {
    fprintf(out, "  %s:\n", w->candidates);
    for (size_t i = 0; i < f->ncandidates; i++) {
      fprintf(out, "    %d. ", f->candidates[i].rank);
      put_filter(out, w, &f->candidates[i].filter);
      fprintf(out, "\n");
    }
  }
  if (f->nevidence) {
    fprintf(out, "  %s:\n", w->evidence);
    for (size_t i = 0; i < f->nevidence; i++) {
      const struct vd_evidence *l = &f->evidence[i];
      fprintf(out, "    - [%s] %s #%llu %s: %s\n", l->kind, l->file ? l->file : "?",
              (unsigned long long)l->index, vd_time_iso(l->time, t1, sizeof(t1)), l->text ? l->text : "");
    }
    if (f->evidence_dropped)
      fprintf(out, "    (%u %s)\n", f->evidence_dropped, w->more);
  }
}

/* The crash block in Simplified Chinese, from the finding's fields; the
 * English one is the crash rules' own (crash_finding_text). Evidence lines
 * stay as the rules wrote them (English), under a heading that says so. */
static const char *zh_crash_conf(enum crash_confidence c) {
  switch (c) {
  case CRASH_CONF_HIGH: return "高";
  case CRASH_CONF_MEDIUM: return "中";
  case CRASH_CONF_LOW: return "低";
  default: return "无";
  }
}

static const char *zh_bugcheck_source(const char *src) {
  if (!strcmp(src, "dump"))
    return "内存转储文件";
  if (!strcmp(src, "setup log"))
    return "安装日志";
  if (!strcmp(src, "event log"))
    return "事件日志";
  return src;
}

static void zh_crash_reason(const struct crash_finding *f, struct fb_strbuf *b) {
  switch (f->reason_code) {
  case CRASH_R_USER_INITIATED:
    fb_strbuf_printf(b, "错误检查 0x%X 由用户或固件主动触发（%s），并非驱动故障：不认定任何驱动。",
                     f->bugcheck, f->bugcheck_name[0] ? f->bugcheck_name : "手动触发的崩溃");
    break;
  case CRASH_R_FAULT_IN_DRIVER:
    fb_strbuf_printf(b, "CPU 在 %s 内部出错，而它不是核心转发模块%s。", f->blamed,
                     f->confidence == CRASH_CONF_HIGH ? "；栈上最先出现的驱动栈帧也属于它" : "");
    break;
  case CRASH_R_FAULT_IN_UNLOADED:
    fb_strbuf_printf(b, "出错地址位于 %s 卸载前所占的地址范围内：已卸载驱动的代码仍被执行。", f->blamed);
    break;
  case CRASH_R_FIRST_ABOVE_CORE:
    if (f->faulting_module[0])
      fb_strbuf_printf(b, "故障发生在 %s 中，它是核心转发模块；", f->faulting_module);
    else
      fb_strbuf_puts(b, "无法确定出错模块；");
    fb_strbuf_printf(b, "%s 是栈上%s第一个其他模块（%u 个栈槽）。", f->blamed,
                     f->stack_from_sp ? "从保存的栈指针往上" : "", f->reason_hits);
    break;
  case CRASH_R_CORE_ONLY:
    fb_strbuf_printf(b, "复制的调用栈上只有核心转发模块（%s）：不认定任何驱动。",
                     f->stack_modules[0] ? f->stack_modules : "没有匹配的模块");
    break;
  case CRASH_R_LOG_BLOCK_ONLY:
    fb_strbuf_puts(b, "仅由回滚日志中的崩溃记录指出；没有可用于核实的内存转储文件。");
    break;
  case CRASH_R_LOG_ONLY:
    fb_strbuf_printf(b, "错误检查 0x%X 仅见于%s；没有内存转储中的模块列表和调用栈，无法认定驱动。",
                     f->bugcheck, zh_bugcheck_source(f->bugcheck_source));
    break;
  case CRASH_R_SETUP_RESULT_ONLY:
    fb_strbuf_printf(b, "安装程序在 %s 阶段回滚；未找到内存转储或崩溃记录，无法认定驱动。", f->phase);
    break;
  default: fb_strbuf_puts(b, f->reason); break;
  }
}

static void zh_crash_text(const struct crash_finding *f, struct fb_strbuf *b) {
  fb_strbuf_printf(b, "崩溃分析（%s）\n", f->rule);
  if (f->has_bugcheck)
    fb_strbuf_printf(b, "  错误检查代码: 0x%08X %s (0x%llX, 0x%llX, 0x%llX, 0x%llX)，来源：%s\n", f->bugcheck,
                     f->bugcheck_name, (unsigned long long)f->params[0], (unsigned long long)f->params[1],
                     (unsigned long long)f->params[2], (unsigned long long)f->params[3],
                     zh_bugcheck_source(f->bugcheck_source));
  if (f->has_setup_result && f->setup_extend != EV_UNKNOWN_U32) {
    fb_strbuf_printf(b, "  安装结果: 0x%08X - 0x%X\n", f->setup_result, f->setup_extend);
    fb_strbuf_printf(b, "  失败阶段: %s\n", f->phase);
  }
  if (f->faulting_module[0])
    fb_strbuf_printf(b, "  出错模块: %s [%s]\n", f->faulting_at, zh_crash_conf(f->faulting_confidence));
  if (f->blamed[0])
    fb_strbuf_printf(b, "  肇事驱动: %s，位于 %s [%s]%s%s\n", f->blamed, f->blamed_at[0] ? f->blamed_at : "?",
                     zh_crash_conf(f->confidence), f->has_vendor ? " - " : "",
                     f->has_vendor ? (f->vendor.product[0] ? f->vendor.product : f->vendor.vendor) : "");
  else
    fb_strbuf_puts(b, "  肇事驱动: 无\n");
  fb_strbuf_puts(b, "  依据: ");
  zh_crash_reason(f, b);
  fb_strbuf_puts(b, "\n");
  if (f->stack_modules[0])
    fb_strbuf_printf(b, "  栈上模块: %s\n", f->stack_modules);
  if (f->nevidence) {
    fb_strbuf_puts(b, "  证据（分析规则的英文原文）:\n");
    for (uint32_t i = 0; i < f->nevidence; i++)
      fb_strbuf_printf(b, "  - %s\n", f->evidence[i]);
  }
}

int verdict_write_text(const struct verdict *v, const char *lang, FILE *out) {
  const struct words *w = lang && !strcmp(lang, "zh-CN") ? &zh : &en;
  char t1[40], t2[40];
  fprintf(out, "%s: %s\n", w->title, v->upload_id ? v->upload_id : "");
  fprintf(out, "%s:\n", w->inputs);
  for (size_t i = 0; i < v->ninputs; i++) {
    const struct vd_input *in = &v->inputs[i];
    fprintf(out, "  %s [%s, %s]%s%s\n", in->path ? in->path : "?", in->type ? in->type : "?",
            in->status ? in->status : "?", in->error ? ": " : "", in->error ? in->error : "");
  }
  if (v->time_first)
    fprintf(out, "%s: %s - %s UTC\n", w->range, vd_time_iso(v->time_first, t1, sizeof(t1)),
            vd_time_iso(v->time_last, t2, sizeof(t2)));
  if (v->nfindings == 0 && v->ncrashes == 0)
    fprintf(out, "\n%s\n", w->none);
  for (size_t i = 0; i < v->nfindings; i++)
    put_finding(out, w, &v->findings[i], i + 1);
  for (size_t i = 0; i < v->ncrashes; i++) {
    struct fb_strbuf b;
    fb_strbuf_init(&b);
    if (w == &zh)
      zh_crash_text(&v->crashes[i], &b);
    else
      crash_finding_text(&v->crashes[i], &b); /* the crash rules' own block */
    fprintf(out, "\n%s %zu: %s\n%s  %s: %s\n", w->finding, v->nfindings + i + 1, w->crash, b.s ? b.s : "",
            w->confidence, w->conf[vd_crash_confidence(&v->crashes[i])]);
    fb_strbuf_free(&b);
  }
  if (v->nfacts) {
    fprintf(out, "\n%s:\n", w->facts);
    for (size_t i = 0; i < v->nfacts && i < 10; i++) {
      fprintf(out, "  - %s 0x%08X %s %s", vd_time_iso(v->facts[i].time, t1, sizeof(t1)), v->facts[i].code,
              v->facts[i].subject ? v->facts[i].subject : "", v->facts[i].path ? v->facts[i].path : "");
      if (v->facts[i].finding >= 0)
        fprintf(out, " (%s %d)", w->finding, v->facts[i].finding + 1);
      fprintf(out, "\n");
    }
  }
  if (v->nlimits) {
    fprintf(out, "\n%s:\n", w->limits);
    for (size_t i = 0; i < v->nlimits; i++)
      fprintf(out, "  - %s\n", v->limits[i]);
  }
  return ferror(out) ? FB_EIO : 0;
}

int verdict_write_text_file(const struct verdict *v, const char *lang, const char *path,
                            struct fb_error *err) {
  FILE *fp = fopen(path, "w");
  int rc;
  if (fp == NULL)
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot write %s: %s", path, strerror(errno));
  rc = verdict_write_text(v, lang, fp);
  if (fclose(fp) != 0 || rc < 0)
    return fb_error_set(err, FB_EIO, FB_OFFSET_NONE, "cannot write %s: %s", path, strerror(errno));
  return 0;
}
