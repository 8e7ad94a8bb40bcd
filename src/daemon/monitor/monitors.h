/* monitors.h - the three real-time monitors follow the policy: started
 * where it turns them on, stopped where it turns them off, re-configured
 * otherwise.  Each start attempt is told to the started hook (faults 8, 9,
 * 22 are raised and cleared by the health layer, never here). */
#pragma once

#include <limits.h>
#include <stdbool.h>

#include "monitor.h"

enum monitor_kind { MON_PROC, MON_FILE, MON_NET, MON_COUNT };

struct monitors;

typedef struct monitor *(*monitor_new_fn)(const struct monitor_ctx *ctx);

struct monitors_config {
	struct monitor_ctx ctx; /* copied; btf, sync_procs and proc_exec are filled here */
	/* Each kind's constructor; NULL: procmon_new, fsmon_new, netmon_new. */
	monitor_new_fn make[MON_COUNT];
	/* After each start attempt: err is NULL when it started. */
	void (*started)(void *ud, enum monitor_kind m, int r, const char *err);
	void *ud;
};

/* Why eBPF is not tried now ("" when it is) and the BTF file to use. */
struct monitor_gate {
	char ebpf_blocked[256];
	char btf[PATH_MAX]; /* "": the kernel's own */
};

int monitors_new(const struct monitors_config *c, struct monitors **ret);
/* Stops every monitor; NULL is allowed. */
void monitors_free(struct monitors *ms);
/* Brings the monitors in line with the policy. */
void monitors_apply(struct monitors *ms, const struct monitor_gate *g);
/* Retries the monitors that failed; running ones keep their policy. */
void monitors_retry(struct monitors *ms, const struct monitor_gate *g);
void monitors_stop(struct monitors *ms);
void monitors_set_degraded(struct monitors *ms, bool on);

const char *monitors_name(enum monitor_kind m);
bool monitors_wanted(const struct monitors *ms, enum monitor_kind m);
bool monitors_running(const struct monitors *ms, enum monitor_kind m);
/* Why m is not running ("" when it runs or is off). */
const char *monitors_error(const struct monitors *ms, enum monitor_kind m);
/* Zero for a monitor that is not running. */
void monitors_counts(const struct monitors *ms, enum monitor_kind m, struct monitor_counts *ret);
/* {"process":{..},"file":{..},"network":{..}} for status. */
struct json_object *monitors_status(const struct monitors *ms);
