/* setupapi.h - setupapi.dev.log / setupapi.app.log sections as evidence.
 *
 * Each section (">>>  [Title - subject]", ">>>  Section start <time>", body,
 * "<<<  Section end <time>", "<<<  [Exit status: ...]") becomes one
 * EV_FACT_DRIVER_INSTALL:
 *   time     = section start (the log's local time, taken as UTC),
 *   code     = 0 for SUCCESS, the hex code of FAILURE(0x...), or
 *              0xFFFFFFFF when the section has no exit status (cut log),
 *   extra_code = 1 when the status says REBOOT_REQUIRED,
 *   subject  = the bracketed header ("Device Install (DiInstallDriver) - C:\...\x.inf"),
 *   path     = the first service "Image Path" of the section (the driver
 *              file), else the header's subject when it is a path,
 *   text     = "<header>: <exit status>" plus warning/error line counts.
 * origin.index = line number of the header, origin.offset = its byte offset.
 */
#ifndef FB_SETUPAPI_H
#define FB_SETUPAPI_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/error.h"
#include "parsers/evidence.h"

struct setupapi_stats {
  uint64_t lines;
  uint32_t boot_sessions;
  uint32_t sections;   /* facts emitted */
  uint32_t succeeded;  /* exit status SUCCESS (with or without REBOOT_REQUIRED) */
  uint32_t reboot;     /* ... REBOOT_REQUIRED */
  uint32_t failed;     /* any other exit status */
  uint32_t unfinished; /* no exit status before the next section / end */
  uint32_t warnings;   /* body lines starting "!    " */
  uint32_t errors;     /* body lines starting "!!!  " */
};

int setupapi_parse(const uint8_t *data, size_t size, const char *file, const struct ev_sink *sink,
                   struct setupapi_stats *st, struct fb_error *err);

int setupapi_read(const char *path, const struct ev_sink *sink, struct setupapi_stats *st,
                  struct fb_error *err);

#endif
