/* dump_private.h - shared between the files of parsers/dump only. */
#ifndef FB_DUMP_PRIVATE_H
#define FB_DUMP_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/dump/dump.h"

/* Read the triage area that follows a 64-bit header (DumpType 4). */
int dump_read_triage(struct dump *d, const uint8_t *p, size_t size, struct fb_error *err);

/* Decode the CONTEXT record at off for d->machine; 0 if not decodable. */
int dump_read_context(struct dump *d, const uint8_t *p, size_t size, uint64_t off);

/* Free the driver/unloaded arrays and the string arena. */
void dump_strings_reset(struct dump *d);

#endif
