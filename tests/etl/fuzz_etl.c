/* fuzz_etl.c - libFuzzer target for the ETL reader: open, read every record
 * in time order and in file order, walk the extended data items and stacks. */
#include <stddef.h>
#include <stdint.h>

#include "parsers/etl/etl.h"
#include "parsers/etl/etl_stats.h"

static void read_all(const struct fb_view *view, enum etl_order order) {
  struct etl_reader *r;
  struct etl_reader_options opts = {.order = order, .max_problems_kept = 8};
  struct fb_error err;
  struct etl_record rec;
  struct etl_stats st;
  volatile uint64_t sink = 0;

  fb_error_init(&err, NULL);
  if (etl_reader_open(&r, view, "fuzz", &opts, &err) < 0)
    return;
  etl_stats_init(&st);
  while (etl_reader_next(r, &rec, &err) == 1) {
    struct etl_ext_iter it;
    struct etl_ext_item item;
    struct etl_stack stack;
    etl_stats_add(&st, &rec);
    for (uint32_t i = 0; i < rec.payload_size; i += 64)
      sink += rec.payload[i];
    etl_ext_iter_init(&it, &rec);
    while (etl_ext_next(&it, &item) == 1) {
      if (etl_ext_stack(&item, &stack))
        for (size_t i = 0; i < stack.count; i++)
          sink += etl_stack_frame(&stack, i);
      else if (item.size)
        sink += item.data[item.size - 1];
    }
  }
  for (size_t i = 0; i < etl_reader_problem_count(r); i++)
    sink += etl_reader_problem(r, i)->offset;
  etl_stats_free(&st);
  etl_reader_close(r);
  (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fb_view view;

  fb_view_from_memory(&view, data, size);
  read_all(&view, ETL_ORDER_TIME);
  read_all(&view, ETL_ORDER_FILE);
  return 0;
}
