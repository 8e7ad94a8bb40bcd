/* overload.h - fault 18: whether event monitoring is overloaded, and when
 * it is calm again.
 *
 * Fed once a tick with what the monitors counted since the last tick, and
 * per event with the executable that caused it (the top sources).  Overload
 * is events lost (ring buffers full, fanotify overflow, scan queue full) or
 * the scan queue above its high-water mark, for longer than the grace
 * period; then the connector degrades to the critical set.  It is calm when,
 * for the calm period, nothing was lost, the queue stayed below its
 * low-water mark and the rate of events (those the kernel left out in
 * degraded mode included) stayed below the rate low-water mark. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OVERLOAD_TOP 5           /* sources named in the detail */
#define OVERLOAD_MAX_SOURCES 4096 /* distinct executables counted per window */

struct overload_sample {
	uint64_t seen;             /* events that reached picketd */
	uint64_t suppressed;       /* non-critical events the kernel left out (degraded) */
	uint64_t dropped;          /* events lost */
	uint64_t critical_dropped; /* of those, events of the critical set */
	uint64_t queue;            /* scan queue depth now */
};

struct overload_config {
	unsigned grace, calm; /* seconds */
	uint64_t queue_high, queue_low;
	uint64_t rate_low; /* events per second */
};

struct overload_source {
	char exe[256];
	double rate; /* events per second over the last window */
};

struct overload_count;

struct overload {
	bool degraded;
	bool critical;        /* degraded, and critical-set events are still lost */
	bool hot, calm;       /* in an overloaded stretch; degraded: in a calm one */
	double hot_since;     /* start of the current overloaded stretch */
	double calm_since;    /* degraded: start of the current calm stretch */
	double last_tick;
	double window_start;  /* of the per-source counts */
	double rate;          /* events per second in the last interval */
	uint64_t queue_hwm;   /* highest scan queue depth seen */
	uint64_t dropped_total, suppressed_total, seen_total;
	struct overload_count *counts; /* uthash by exe, this window */
	size_t n_counts;
	struct overload_source top[OVERLOAD_TOP]; /* of the last full window */
	size_t n_top;
};

enum overload_change {
	OVERLOAD_SAME,
	OVERLOAD_ENTERED,  /* raise fault 18, degrade */
	OVERLOAD_CRITICAL, /* still degraded, critical-set events lost: escalate */
	OVERLOAD_LEFT,     /* clear fault 18, full mode */
};

void overload_init(struct overload *o, double now);
void overload_done(struct overload *o);
/* One event caused by exe ("" when not known). */
void overload_count(struct overload *o, const char *exe);
/* The tick: the sample covers the time since the last tick. */
enum overload_change overload_tick(struct overload *o, const struct overload_config *c, double now,
				   const struct overload_sample *s);
/* "N events lost, queue Q; top sources: /usr/bin/x 1200/s, ..." */
void overload_detail(const struct overload *o, char *buf, size_t len);
