/* metrics.h - the Prometheus text-format metrics file, for node_exporter's
 * textfile collector.  Rewritten whole and atomically at each change. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "faults.h"

struct metrics_extra {
	time_t started_at;
	uint64_t events_total;
	uint64_t events_lost;
};

/* The file's text, as a new string the caller frees. */
int metrics_render(const struct faults *fs, const struct metrics_extra *x, char **ret);
int metrics_write(const char *path, const struct faults *fs, const struct metrics_extra *x);
