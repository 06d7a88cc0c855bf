/* filetype.h - what an uploaded file is, decided by its content, never by its name.
 *
 * Customers rename files ("log.txt" holding an ETL, "fltmc.log" holding
 * UTF-16 text), so every rule looks at the first bytes only. Give
 * fb_filetype_detect() the first FB_FILETYPE_HEAD bytes of the file (fewer if
 * the file is shorter).
 */
#ifndef FB_FILETYPE_H
#define FB_FILETYPE_H

#include <stddef.h>
#include <stdint.h>

#define FB_FILETYPE_HEAD 65536

enum fb_filetype {
  FB_FT_OTHER = 0,   /* kept and listed, not analysed */
  FB_FT_ETL,         /* WPR/xperf trace: WMI_BUFFER_HEADER of a header buffer */
  FB_FT_PML,         /* Procmon log: "PML_" */
  FB_FT_EVTX,        /* Windows event log: "ElfFile\0" */
  FB_FT_CBS_LOG,     /* CBS.log / CbsPersist: timestamp, level, component CBS/CSI */
  FB_FT_SETUPAPI,    /* setupapi.dev.log / setupapi.app.log: ">>>  [" sections */
  FB_FT_SETUP_LOG,   /* Panther setupact.log / setuperr.log: timestamp, level, component */
  FB_FT_FLTMC,       /* fltmc filters / instances text (UTF-16LE, UTF-8 or ANSI/GBK) */
  FB_FT_KERNEL_DUMP, /* "PAGEDU64" / "PAGEDUMP" (MEMORY.DMP, kernel minidumps) */
  FB_FT_MINIDUMP,    /* user-mode minidump "MDMP" */
  FB_FT_ZIP,
  FB_FT_7Z,
  FB_FT_CAB,
  FB_FT_RAR,
  FB_FT_TAR,
  FB_FT_GZIP, /* a compressed stream: tar inside, or one single file */
  FB_FT_XZ,
  FB_FT_BZIP2,
  FB_FT_ZSTD,
  FB_FT_COUNT
};

/* Type of a file whose first n bytes are head. */
enum fb_filetype fb_filetype_detect(const uint8_t *head, size_t n);

/* Short stable name: "etl", "pml", "evtx", "cbs", "setupapi", "setupact",
 * "fltmc", "kernel-dump", "minidump", "zip", "7z", "cab", "rar", "tar", "gzip",
 * "xz", "bzip2", "zstd", "other". */
const char *fb_filetype_name(enum fb_filetype t);

/* 1 for containers the unpacker opens (zip .. zstd). */
int fb_filetype_is_archive(enum fb_filetype t);

/* 1 for a bare compressed stream (gzip, xz, bzip2, zstd): it may hold a tar
 * or one single file. */
int fb_filetype_is_compressed_stream(enum fb_filetype t);

/* Text encoding guess for log files: 2 = UTF-16LE (BOM FF FE or ASCII with
 * zero high bytes), 1 = UTF-8 with BOM, 0 = 8-bit (ASCII / UTF-8 / GBK).
 * *skip receives the BOM length. */
int fb_text_encoding(const uint8_t *head, size_t n, size_t *skip);

#endif
