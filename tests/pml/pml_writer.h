/* pml_writer.h - writes synthetic Process Monitor captures (.pml, version 9)
 * in the layout of ../shared/docs/pml-format.md: header, events, offsets
 * array, process table (with modules), string table, icon table, hosts and
 * ports. For the bundled example, tests, fuzz seeds and the 1 GB benchmark
 * file (events are streamed to disk; only the 5-byte offsets stay in memory).
 */
#ifndef FB_TESTS_PML_WRITER_H
#define FB_TESTS_PML_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct pmlw;

struct pmlw_system {
  int is_64bit;
  const char *computer;    /* UTF-8 */
  const char *system_root; /* "C:\\Windows" */
  uint32_t os_major, os_minor, os_build;
  const char *service_pack; /* "" or "Service Pack 1" */
  uint32_t cpus;
  uint64_t memory;
};

struct pmlw_process {
  uint32_t pid, parent_pid;
  uint64_t auth_id;
  uint32_t session;
  uint64_t start_time, end_time;
  int virtualized, is_64bit;
  const char *integrity, *user, *name, *image_path, *command_line, *company, *version, *description;
  int set_index;  /* 1: write index below (Procmon's process sequence number); */
  uint32_t index; /* 0: the position of the process in the table */
};

struct pmlw_event {
  uint32_t process; /* what pmlw_add_process returned (the writer puts the process's index) */
  uint32_t tid;
  uint32_t event_class;
  uint16_t operation;
  uint64_t duration;
  uint64_t time; /* FILETIME */
  uint32_t result;
  const uint64_t *stack; /* innermost first */
  uint16_t stack_depth;
  const uint8_t *detail;
  uint32_t detail_size;
  const uint8_t *extra; /* NULL: no extra detail */
  uint16_t extra_size;
  int spare_byte; /* write one byte after the event (as Procmon does after odd extras) */
};

/* Start a capture written to path (streamed), or to memory when path is NULL
 * (take it with pmlw_finish). NULL on failure. */
struct pmlw *pmlw_new(const char *path, const struct pmlw_system *sys);
/* Intern a UTF-8 string in the string table; returns its index. */
uint32_t pmlw_string(struct pmlw *w, const char *utf8);
uint32_t pmlw_add_process(struct pmlw *w, const struct pmlw_process *p);
void pmlw_add_module(struct pmlw *w, uint32_t process, uint64_t base, uint32_t size, const char *path,
                     const char *version, const char *company, const char *description);
void pmlw_add_host(struct pmlw *w, const uint8_t addr[16], const char *name);
void pmlw_add_port(struct pmlw *w, uint16_t port, int is_tcp, const char *name);
int pmlw_add_event(struct pmlw *w, const struct pmlw_event *e);
/* Write the tables and the header. For a memory capture, *data (malloc'd)
 * and *size receive it; for a file they may be NULL. Frees w. 0 or -1. */
int pmlw_finish(struct pmlw *w, uint8_t **data, size_t *size);

/* File System detail blocks (pml-format.md §7.2); return the size written
 * into out (at most out_size; 0 if it does not fit). */
size_t pmlw_detail_createfile(uint8_t *out, size_t out_size, int is_64bit, const char *path,
                              uint32_t desired_access, uint32_t disposition, uint32_t options,
                              uint16_t attributes, uint16_t share);
size_t pmlw_detail_readwrite(uint8_t *out, size_t out_size, int is_64bit, const char *path, uint32_t length,
                             uint64_t offset);
size_t pmlw_detail_path_only(uint8_t *out, size_t out_size, int is_64bit, uint8_t sub_op, const char *path);

/* The bundled example: a Windows 10 x64 capture where TiWorker.exe's open of
 * a file under C:\Windows\SoftwareDistribution\Download fails with ACCESS
 * DENIED, with a third-party minifilter (ContosoFlt.sys) issuing nested I/O
 * between two FltMgr runs. The facts tests assert are in pml_writer.c. */
int pmlw_build_example(const char *path, uint8_t **data, size_t *size);

/* A large capture for benchmarks: the example's events repeated until the
 * file reaches about target_bytes. Streams to path. */
int pmlw_build_bulk(const char *path, uint64_t target_bytes);

/* The first n events of the capture at in, with the processes they use and
 * the System process (modules included), written to out (or to memory when
 * out is NULL, as pmlw_finish). Event bytes, stacks and strings are copied
 * as read. Hosts and ports are not copied. 0 or -1. */
int pmlw_shrink(const char *in, const char *out, uint64_t n, uint8_t **data, size_t *size);

/* Facts of the example (for tests). */
#define PMLW_EXAMPLE_EVENTS 9u
#define PMLW_EXAMPLE_DENIED_EVENT 3u

#endif
