/* job.c - placeholder until the verdict engine lands: says nothing was analysed. */
#include "daemon/job.h"

#include <stdio.h>
#include <string.h>

int job_analyze(const char *const *paths, size_t npaths, const struct job_options *opt,
                struct job_summary *sum) {
  (void)paths;
  (void)opt;
  memset(sum, 0, sizeof(*sum));
  sum->inputs = (int)npaths;
  snprintf(sum->error, sizeof(sum->error), "analysis is not available in this build");
  return -1;
}
