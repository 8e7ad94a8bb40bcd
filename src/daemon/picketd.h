/* picketd.h - the daemon context: the one place picketd keeps state, seen
 * by picketd.c (start, loop, reload) and commands.c (control requests)
 * only.  Every layer below gets what it works with through its own config
 * struct, never this one.
 *
 *   core/     loop, control socket, event sink and log, fault registry,
 *             metrics, process table, scan queue
 *   store/    definitions store, CVD headers, quarantine
 *   scan/     the scan service, on-demand sessions, detections, installs
 *   monitor/  the real-time monitors
 *   health/   every fault raised and cleared */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <time.h>

#include "core/control.h"
#include "core/eventlog.h"
#include "core/events.h"
#include "core/faults.h"
#include "core/loop.h"
#include "core/proctable.h"
#include "health/health.h"
#include "hostview.h"
#include "monitor/monitors.h"
#include "policy.h"
#include "scan/scan.h"
#include "store/defs.h"
#include "store/quarantine.h"

struct picketd_options {
	const char *policy_path;
	const char *state_dir;
	const char *run_dir;
	const char *log_dir;
	const char *prefix; /* overrides the policy's install_prefix */
	const char *host_root;
	const char *metrics_path;
	const char *scand_path;
	bool foreground;
	bool verbose;
};

struct picketd {
	struct picketd_options opt;
	struct policy policy;
	time_t policy_loaded_at;
	time_t started_at;
	struct hostview hv;
	struct faults faults;
	struct eventlog events;
	struct event_sink sink;
	struct control control;
	struct defs defs;
	struct quarantine quarantine;
	struct proctable procs;
	struct health *health;
	struct scan *scan;
	struct monitors *mons;
	char metrics_path[PATH_MAX];
	int epfd;
	struct io_source sig, timer;
	struct io_source tick; /* every second: overload, fault details to disk */
	bool stop;
};

/* commands.c */
int commands_handle(const struct proto_request *req, struct control_client *cl, void *ud,
		    struct json_object **ret_reply);
void commands_client_gone(struct control_client *cl, void *ud);

/* picketd.c */
/* Loads the policy file again; on failure the old policy stays in force and
 * err says why (file:line: reason). */
int picketd_reload_policy(struct picketd *d, char *err, size_t errlen);
