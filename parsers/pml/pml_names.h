/* pml_names.h - value -> name tables used by the PML renderer (pml_render*.c).
 * Internal to parsers/pml. */
#ifndef FB_PML_NAMES_H
#define FB_PML_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct pml_name {
  uint32_t value;
  const char *name;
};

/* Tables sorted by value (pml_names.c). */
extern const struct pml_name pml_status_names[];
extern const size_t pml_status_names_count;
extern const struct pml_name pml_ioctl_names[];
extern const size_t pml_ioctl_names_count;
extern const struct pml_name pml_file_info_class_names[];
extern const size_t pml_file_info_class_names_count;
extern const struct pml_name pml_query_volume_names[];
extern const size_t pml_query_volume_names_count;
extern const struct pml_name pml_set_volume_names[];
extern const size_t pml_set_volume_names_count;
extern const struct pml_name pml_query_info_names[];
extern const size_t pml_query_info_names_count;
extern const struct pml_name pml_set_info_names[];
extern const size_t pml_set_info_names_count;
extern const struct pml_name pml_pnp_names[];
extern const size_t pml_pnp_names_count;

/* Binary search; NULL when value has no name. */
const char *pml_name_find(const struct pml_name *table, size_t count, uint32_t value);

#endif
