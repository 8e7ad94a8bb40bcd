/* picketd.h - the daemon context: the one place picketd keeps state.
 *
 * picketd.c    options, start-up, the event loop, signals, policy reload
 * health.c     re-checks every host condition and raises or clears faults
 * commands.c   answers control requests
 * events.c     turns fault transitions and daemon happenings into events
 * supervisor.c the scan service (supervisor.h); ondemand.c on-demand scans
 * scanning.c   what a verdict leads to: detection events, quarantine,
 *              definitions installs and their stability check
 * monitors.c   starts, stops and re-configures the real-time monitors
 *              (fsmon.h, procmon.h, netmon.h) and owns faults 8, 9, 22 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "checks/checks.h"
#include "core/control.h"
#include "store/defs.h"
#include "core/eventlog.h"
#include "core/faults.h"
#include "monitor/fsmon.h"
#include "hostview.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "monitor/netmon.h"
#include "health/overload.h"
#include "policy.h"
#include "monitor/procmon.h"
#include "core/proctable.h"
#include "store/quarantine.h"
#include "core/scanq.h"
#include "scan/supervisor.h"

struct ondemand;

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
	struct hostview hv;
	struct kernel_features kf;
	struct faults faults;
	struct eventlog events;
	struct control control;
	struct supervisor svc;
	struct scanq scanq;
	struct defs defs;
	struct quarantine quarantine;
	struct ondemand *sessions;
	struct proctable procs;
	struct procmon procmon;
	struct fsmon fsmon;
	struct netmon netmon;
	char ebpf_blocked[256]; /* why eBPF is not tried (faults 11, 16), "" if it is */
	char mon_error[3][256]; /* why each monitor is not running, "" if it is */
	struct overload overload;             /* fault 18 */
	struct monitor_counts mon_last[3];    /* each monitor's totals at the last second */
	struct io_source incoming; /* inotify on defs/incoming */
	char incoming_dir[PATH_MAX];
	char scan_root_reason[256]; /* why the scan service runs as root, "" if it does not */
	char metrics_path[PATH_MAX];
	time_t started_at;
	int epfd;
	struct io_source sig, timer;
	struct io_source tick; /* every second: overload, fault details to disk */
	struct io_source watch; /* inotify: the install tree and the view's /etc */
	bool stop;
};

/* health.c */
/* Re-checks every condition and re-arms the inotify watches (install tree,
 * the view's /etc) whose events trigger the next re-check at once. */
void health_recheck(struct picketd *d);
void health_apply_policy(struct picketd *d);

/* commands.c */
int commands_handle(const struct proto_request *req, struct control_client *cl, void *ud,
		    struct json_object **ret_reply);
void commands_client_gone(struct control_client *cl, void *ud);

/* scanning.c */
void scan_report_detection(struct picketd *d, struct scan_job *job, const struct verdict *v);
/* Installs definition files; the reply says what became of each. */
struct json_object *scanning_defs_install(struct picketd *d, const char *const *paths, size_t n);
struct json_object *scanning_defs_status(struct picketd *d);
/* Watches defs/incoming: files dropped there are installed, then removed. */
int scanning_incoming_setup(struct picketd *d);

/* events.c */
/* Takes ownership of ev (NULL is allowed: out of memory, logged). */
void events_emit(struct picketd *d, struct json_object *ev);
/* Retries writing events that are waiting in memory. */
void events_retry(struct picketd *d);
void events_fault(enum fault_transition t, const struct fault_state *f, void *ud);
void events_write_metrics(struct picketd *d);

/* monitors.c */
/* Brings the monitors in line with the policy: starts what it turns on, stops
 * what it turns off, re-configures the rest; raises or clears 8, 9 and 22. */
void monitors_apply(struct picketd *d);
void monitors_stop(struct picketd *d);
/* Periodic: retries monitors that failed, expires the process table. */
void monitors_tick(struct picketd *d);
/* Every second: the overload check (fault 18). */
void monitors_second(struct picketd *d);
/* Each monitor's state and counters, and the mode, for the metrics file. */
void monitors_metrics(struct picketd *d, struct metrics_extra *x);
/* One event caused by exe, for fault 18's top sources. */
void monitors_count_source(struct picketd *d, const char *exe);
struct json_object *monitors_status(struct picketd *d);
/* The process behind an event, as a JSON object (see proctable_json). */
struct json_object *monitors_process_json(struct picketd *d, pid_t pid);

/* picketd.c */
/* Loads the policy file again; on failure the old policy stays in force and
 * err says why (file:line: reason). */
int picketd_reload_policy(struct picketd *d, char *err, size_t errlen);
/* The effective install prefix: --prefix, else the policy's. */
const char *picketd_prefix(const struct picketd *d);
