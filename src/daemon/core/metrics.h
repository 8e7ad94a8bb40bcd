/* metrics.h - the Prometheus text-format metrics file, for node_exporter's
 * textfile collector.  Rewritten whole and atomically at each change. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "eventlog.h"
#include "faults.h"
#include "monitor_counts.h"

#define METRICS_MONITORS 3

struct metrics_monitor {
	const char *name; /* "file", "process", "network" */
	bool running;
	struct monitor_counts c;
};

struct metrics_extra {
	time_t started_at;
	uint64_t events_total;
	uint64_t events_lost;
	uint64_t events_rotated[EVENTLOG_FILES][EVENTLOG_CLASSES]; /* eventlog_file.rotated */
	bool degraded; /* fault 18's degraded mode */
	struct metrics_monitor mon[METRICS_MONITORS];
	size_t n_mon;
};

/* The file's text, as a new string the caller frees. */
int metrics_render(const struct faults *fs, const struct metrics_extra *x, char **ret);
int metrics_write(const char *path, const struct faults *fs, const struct metrics_extra *x);
