/* pml_render.c - placeholder: the real renderer (Procmon's names and Detail
 * text) replaces this file. Numbers only, so the reader can be tested. */
#include "parsers/pml/pml.h"

const char *pml_class_name(uint32_t event_class) {
  static const char *const names[] = {"Unknown",     "Process",   "Registry",
                                      "File System", "Profiling", "Network"};
  return event_class < 6 ? names[event_class] : "Unknown";
}

void pml_render_operation(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  (void)f;
  fb_strbuf_printf(out, "Op%u", ev->operation);
}

void pml_render_path(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  (void)f;
  (void)ev;
  (void)out;
}

void pml_render_result(uint32_t status, struct fb_strbuf *out) {
  if (status != 0x103)
    fb_strbuf_printf(out, "0x%08X", status);
}

void pml_render_detail(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  (void)f;
  (void)ev;
  (void)out;
}

void pml_render_category(const struct pml_file *f, const struct pml_event *ev, struct fb_strbuf *out) {
  (void)f;
  (void)ev;
  (void)out;
}
