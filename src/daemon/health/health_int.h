/* health_int.h - the health layer's state, shared by its family files. */
#pragma once

#include <limits.h>

#include "checks/checks.h"
#include "core/loop.h"
#include "health.h"
#include "overload.h"

#define HEALTH_MAX_CRASHES 64

struct health {
	struct health_config c;
	struct scan *scan;     /* NULL until health_watch */
	struct monitors *mons; /* NULL until health_watch */
	/* host.c */
	struct kernel_features kf;
	struct io_source watch; /* inotify: the install tree and the view's /etc */
	char scan_root_reason[256]; /* why the scan service runs as root, "" if it does not */
	int gate_cause; /* the fault that keeps eBPF off (16, 11, 19), 0 when none does */
	bool selinux_denies_bpf; /* the feature probe's bpf() was refused: EACCES */
	/* scansvc.c: fault 6's window of recent crashes */
	time_t crashes[HEALTH_MAX_CRASHES];
	char (*crash_files)[PATH_MAX]; /* HEALTH_MAX_CRASHES of them */
	size_t n_crashes;
	time_t last_crash;
	/* monitors.c */
	struct overload overload;
	struct monitor_counts mon_last[MON_COUNT]; /* each monitor's totals at the last second */
};

static inline void health_metrics(struct health *h)
{
	if (h->c.metrics)
		h->c.metrics(h->c.ud);
}

/* host.c */
int host_init(struct health *h);
void host_done(struct health *h);
void host_recheck(struct health *h);

/* monitors.c */
void monitors_health_init(struct health *h);
void monitors_health_done(struct health *h);
