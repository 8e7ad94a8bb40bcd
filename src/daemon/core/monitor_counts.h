/* monitor_counts.h - what every real-time monitor counts, for the overload
 * check (fault 18), status and the metrics file.  Totals since the monitor
 * started; the health layer takes the differences each second (fault 18).
 *
 * seen + dropped + suppressed + excluded is every event the monitor's hooks
 * fired for, so a load generator's own counts can be checked against them. */
#pragma once

#include <stdint.h>

struct monitor_counts {
	uint64_t seen;             /* events that reached picketd */
	uint64_t dropped;          /* lost: ring buffer full, fanotify queue overflow */
	uint64_t critical_dropped; /* of those, events of the critical set */
	uint64_t suppressed;       /* left out by degraded mode (not of the critical set) */
	uint64_t excluded;         /* left out by the policy's exclusions */
	uint64_t queue;            /* events waiting in user space now (fsmon: scans) */
};
