/* monitor.h - the real-time monitors' contract: one ops table each (fsmon,
 * procmon, netmon) and the context they work in.
 *
 * A monitor is started, stopped and re-configured by the policy; start
 * returns why it could not start ("fanotify: step: reason", "ebpf: step:
 * reason").  monitors.c (monitors.h) drives all three; faults 8, 9, 22 and
 * 18 are the health layer's, fed by the started hook and the counts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/events.h"
#include "core/monitor_counts.h"
#include "core/proctable.h"
#include "policy.h"
#include "scan/scan.h"

struct json_object;
struct monitor;

/* What every monitor works with; owned by monitors.c, outlives them all. */
struct monitor_ctx {
	const struct policy *policy; /* the policy in force, followed on reload */
	int epfd;
	struct event_sink *sink;
	struct proctable *procs;
	struct scan *scan;
	const char *own_dirs[3]; /* state, log, run: picketd's own files */
	const char *btf;         /* BTF file for libbpf, NULL for the kernel's own */
	/* One event caused by exe ("" when unknown), for fault 18's top sources. */
	void (*count_source)(void *ud, const char *exe);
	void *ud;
	/* Reads the process monitor's queue now, so the table knows a process
	 * that has just started (before another monitor names it); set by
	 * monitors.c. */
	void (*sync_procs)(void *sync_ud);
	void *sync_ud;
	/* The process monitor saw pid execute a program: the other monitors
	 * hear of it through their proc_exec op; set by monitors.c. */
	void (*proc_exec)(void *exec_ud, pid_t pid);
	void *exec_ud;
};

struct monitor_ops {
	const char *name; /* "process", "file", "network" */
	bool ebpf;        /* needs eBPF: not tried while the kernel cannot run it */
	int (*start)(struct monitor *m, char *err, size_t errlen);
	/* Undoes start; also after a failed start. */
	void (*stop)(struct monitor *m);
	/* The policy changed while running; err says what is not in force. */
	int (*apply_policy)(struct monitor *m, char *err, size_t errlen);
	/* Fault 18: only the critical set; kept while stopped, for the next start. */
	void (*set_degraded)(struct monitor *m, bool on);
	/* Totals since the monitor started (monitor_counts.h). */
	void (*counts)(struct monitor *m, struct monitor_counts *ret);
	/* The monitor's own part of status (backend, events, losses). */
	struct json_object *(*status)(struct monitor *m);
	/* Optional: reads what the kernel has queued now (procmon). */
	void (*sync)(struct monitor *m);
	/* Optional, while running: pid has just executed a program. */
	void (*proc_exec)(struct monitor *m, pid_t pid);
	void (*destroy)(struct monitor *m);
};

/* The first member of every monitor's own struct. */
struct monitor {
	const struct monitor_ops *ops;
	const struct monitor_ctx *ctx;
	bool running;
	bool degraded;
};

static inline void monitor_count_source(const struct monitor_ctx *c, const char *exe)
{
	if (c->count_source)
		c->count_source(c->ud, exe);
}
