/* health.h - the connector's self-health: the only layer that raises and
 * clears faults (FAULTS.md; docs/faults.md maps each to its files).
 *
 * Fed by the layers below through their hooks and counters, one family a
 * file:
 *   host.c      5, 11, 16, 19, 20: host checks (checks/), re-run on a timer
 *               and at once on inotify events from the install tree and
 *               the view's /etc; the eBPF gate derived from 11 and 16
 *   monitors.c  8, 9, 22 from each monitor's start; 18 from the counts,
 *               with overload.c's decisions and degraded mode
 *   scansvc.c   6 (the crash window, calm clear, escalation) and 7
 *   eventlog.c  21, from the outcome of every event log write */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "core/eventlog.h"
#include "core/events.h"
#include "core/faults.h"
#include "hostview.h"
#include "monitor/monitors.h"
#include "policy.h"
#include "scan/scan.h"
#include "store/defs.h"

struct health;

struct health_config {
	const struct policy *policy; /* the policy in force, followed on reload */
	const struct hostview *hv;
	int epfd;
	struct faults *faults;
	struct event_sink *sink;
	struct eventlog *log;
	struct defs *defs;
	const char *prefix; /* --prefix, or NULL: the policy's install_prefix */
	time_t started_at;
	/* The metrics file must be written again (a mode or fault changed). */
	void (*metrics)(void *ud);
	void *ud;
};

/* Probes the kernel's features and sets up the inotify watch. */
int health_new(const struct health_config *c, struct health **ret);
void health_free(struct health *h);
/* The layers watched, once they exist (either may be NULL before). */
void health_watch(struct health *h, struct scan *scan, struct monitors *mons);

/* Which faults apply under the policy in force (a feature turned off
 * clears its fault). */
void health_apply_policy(struct health *h);
/* Re-runs every host check and retries events waiting in memory. */
void health_recheck(struct health *h);
/* Fault 6's calm clear and escalation (the re-check timer). */
void health_tick(struct health *h);
/* Every second: fault 18. */
void health_second(struct health *h);
/* Why eBPF is not tried (fault 16, 11) and the BTF file to use. */
void health_gate(struct health *h, struct monitor_gate *ret);
/* The kernel features the monitors use and this kernel lacks, by name
 * ("" when none): required (fault 16) or optional. */
void health_kernel_missing(const struct health *h, bool optional, char *buf, size_t len);

/* Hooks, with the struct health as ud. */
void health_event_written(void *ud, int r);                              /* event_sink */
void health_scan_ready(void *ud, pid_t pid, const char *as_root);        /* scan_hooks */
void health_scan_crashed(void *ud, const char *how, const char *path,
			 const char *sandbox); /* scan_hooks */
void health_scan_start_failed(void *ud, const char *detail);             /* scan_hooks */
void health_monitor_started(void *ud, enum monitor_kind m, int r, const char *err);
void health_count_source(void *ud, const char *exe);                     /* monitor_ctx */

/* Fault 18's degraded mode is on. */
bool health_degraded(const struct health *h);
/* {"mode":..,"rate":..,"dropped":..,"top_sources":[..]} for status. */
struct json_object *health_overload_status(const struct health *h);
