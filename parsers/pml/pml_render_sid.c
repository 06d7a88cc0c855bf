/* pml_render_sid.c - the "Impersonating:" account of a CreateFile.
 *
 * The PML holds only the SID; Procmon shows the account name, which it
 * looks up when it displays the log. We cannot ask Windows, so we name what
 * the capture itself supports:
 *   - the service accounts S-1-5-18/19/20, spelled as the capture's own
 *     process table spells them (a Polish capture says "ZARZĄDZANIE NT\SYSTEM"),
 *     else "NT AUTHORITY\...";
 *   - a local account S-1-5-21-...-RID (RID >= 1000) when the process table
 *     holds exactly one user of the capturing computer ("PC\name"): that is
 *     the only local account the capture shows;
 *   - anything else as the SID string (S-1-5-21-...), never a guess.
 * docs/pml-render.md counts the rows where this differs from Procmon. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "parsers/pml/pml_render_int.h"

/* The account part ("SYSTEM") of "DOMAIN\SYSTEM". */
static const char *account_part(const char *user) {
  const char *bs = user ? strrchr(user, '\\') : NULL;
  return bs ? bs + 1 : user;
}

static const char *service_account(const struct pml_file *f, const char *name) {
  uint32_t n = f ? pml_process_count(f) : 0;

  for (uint32_t i = 0; i < n; i++) {
    const struct pml_process *p = pml_process_at(f, i);
    const char *acc = p ? account_part(p->user) : NULL;
    if (acc && acc != p->user && strcasecmp(acc, name) == 0)
      return p->user;
  }
  return NULL;
}

/* The one "COMPUTER\name" user of the process table, NULL if none or several. */
static const char *only_local_user(const struct pml_file *f) {
  const struct pml_header *h = f ? pml_header(f) : NULL;
  size_t clen = h ? strlen(h->computer) : 0;
  uint32_t n = f ? pml_process_count(f) : 0;
  const char *found = NULL;

  if (!clen)
    return NULL;
  for (uint32_t i = 0; i < n; i++) {
    const struct pml_process *p = pml_process_at(f, i);
    const char *u = p ? p->user : NULL;
    if (!u || strncasecmp(u, h->computer, clen) != 0 || u[clen] != '\\' || !u[clen + 1])
      continue;
    if (found && strcmp(found, u) != 0)
      return NULL;
    found = u;
  }
  return found;
}

void pml_put_account(const struct pml_file *f, struct fb_strbuf *b, const uint8_t *sid, size_t len) {
  static const char *const services[] = {"SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE"};
  uint64_t auth = 0;
  unsigned count;
  const char *name;

  if (!sid || len < 8 || sid[0] != 1)
    return;
  count = sid[1];
  if (len < 8 + 4 * (size_t)count)
    return;
  for (int i = 2; i < 8; i++)
    auth = (auth << 8) | sid[i];
  if (auth == 5 && count == 1) {
    uint32_t rid = fb_le32(sid + 8);
    if (rid >= 18 && rid <= 20) {
      name = service_account(f, services[rid - 18]);
      if (name)
        fb_strbuf_puts(b, name);
      else
        fb_strbuf_printf(b, "NT AUTHORITY\\%s", services[rid - 18]);
      return;
    }
  }
  if (auth == 5 && count == 5 && fb_le32(sid + 8) == 21 && fb_le32(sid + 8 + 16) >= 1000 &&
      (name = only_local_user(f)) != NULL) {
    fb_strbuf_puts(b, name);
    return;
  }
  fb_strbuf_printf(b, "S-1-%llu", (unsigned long long)auth);
  for (unsigned i = 0; i < count; i++)
    fb_strbuf_printf(b, "-%u", fb_le32(sid + 8 + 4 * i));
}
