/* monitors.c - the real-time monitors follow the policy (monitors.h).
 *
 * eBPF monitors are not tried while the gate says why not (the health
 * layer's root causes: fault 16 or 11); the file monitor then runs on
 * fanotify alone and names processes from /proc. */
#include "monitors.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmon.h"
#include "log.h"
#include "netmon.h"
#include "procmon.h"

struct monitors {
	struct monitor_ctx ctx;
	struct monitor *mon[MON_COUNT];
	char error[MON_COUNT][256]; /* why each monitor is not running, "" if it is */
	struct monitor_gate gate;   /* the last one applied */
	void (*started)(void *ud, enum monitor_kind m, int r, const char *err);
	void *ud;
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (level == LIBBPF_WARN)
		log_warning("libbpf: %s", line);
	else
		log_debug("libbpf: %s", line);
	return 0;
}

static void sync_procs(void *ud)
{
	struct monitors *ms = ud;
	if (ms->mon[MON_PROC]->ops->sync)
		ms->mon[MON_PROC]->ops->sync(ms->mon[MON_PROC]);
}

static void proc_exec(void *ud, pid_t pid)
{
	struct monitors *ms = ud;
	for (int m = 0; m < MON_COUNT; m++)
		if (ms->mon[m]->running && ms->mon[m]->ops->proc_exec)
			ms->mon[m]->ops->proc_exec(ms->mon[m], pid);
}

int monitors_new(const struct monitors_config *c, struct monitors **ret)
{
	static const monitor_new_fn builtin[MON_COUNT] = {
		[MON_PROC] = procmon_new, [MON_FILE] = fsmon_new, [MON_NET] = netmon_new,
	};
	struct monitors *ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	ms->ctx = c->ctx;
	ms->ctx.sync_procs = sync_procs;
	ms->ctx.sync_ud = ms;
	ms->ctx.proc_exec = proc_exec;
	ms->ctx.exec_ud = ms;
	ms->started = c->started;
	ms->ud = c->ud;
	for (int m = 0; m < MON_COUNT; m++)
		if (!(ms->mon[m] = (c->make[m] ? c->make[m] : builtin[m])(&ms->ctx))) {
			monitors_free(ms);
			return -ENOMEM;
		}
	libbpf_set_print(libbpf_log);
	*ret = ms;
	return 0;
}

void monitors_free(struct monitors *ms)
{
	if (!ms)
		return;
	for (int m = MON_COUNT - 1; m >= 0; m--)
		if (ms->mon[m])
			ms->mon[m]->ops->destroy(ms->mon[m]);
	free(ms);
}

const char *monitors_name(enum monitor_kind m)
{
	static const char *const names[MON_COUNT] = {
		[MON_PROC] = "process", [MON_FILE] = "file", [MON_NET] = "network",
	};
	return (unsigned)m < MON_COUNT ? names[m] : "?";
}

bool monitors_wanted(const struct monitors *ms, enum monitor_kind m)
{
	const struct policy *p = ms->ctx.policy;
	switch (m) {
	case MON_PROC:
		return p->monitor_process_execution;
	case MON_FILE:
		return p->monitor_file_copies_moves;
	default:
		return p->device_flow_correlation;
	}
}

bool monitors_running(const struct monitors *ms, enum monitor_kind m)
{
	return ms->mon[m]->running;
}

const char *monitors_error(const struct monitors *ms, enum monitor_kind m)
{
	return ms->error[m];
}

static void set_gate(struct monitors *ms, const struct monitor_gate *g)
{
	ms->gate = *g;
	ms->ctx.btf = ms->gate.btf[0] ? ms->gate.btf : NULL;
}

static void bring_up(struct monitors *ms, enum monitor_kind m)
{
	struct monitor *mon = ms->mon[m];
	char err[sizeof(ms->error[0])] = "";
	int r;

	if (mon->ops->ebpf && ms->gate.ebpf_blocked[0]) {
		snprintf(err, sizeof(err), "ebpf: %.240s", ms->gate.ebpf_blocked);
		r = -EOPNOTSUPP;
	} else {
		r = mon->ops->start(mon, err, sizeof(err));
	}
	if (r >= 0) {
		if (ms->error[m][0])
			log_notice("%s monitor started", monitors_name(m));
		ms->error[m][0] = '\0';
	} else {
		bool gated = r == -EOPNOTSUPP && ms->gate.ebpf_blocked[0];
		if (strcmp(err, ms->error[m]) != 0 && gated)
			log_notice("%s monitor not started: %s", monitors_name(m), err);
		else if (strcmp(err, ms->error[m]) != 0)
			log_error_errno(r, "%s monitor failed to start: %s", monitors_name(m), err);
		snprintf(ms->error[m], sizeof(ms->error[m]), "%s", err);
	}
	if (ms->started)
		ms->started(ms->ud, m, r, r >= 0 ? NULL : ms->error[m]);
}

void monitors_apply(struct monitors *ms, const struct monitor_gate *g)
{
	char err[256];

	set_gate(ms, g);
	for (int m = 0; m < MON_COUNT; m++) {
		struct monitor *mon = ms->mon[m];
		if (!monitors_wanted(ms, m)) {
			if (mon->running) {
				mon->ops->stop(mon);
				log_notice("%s monitor stopped: the policy turns it off",
					   monitors_name(m));
			}
			ms->error[m][0] = '\0';
			continue;
		}
		if (!mon->running) {
			bring_up(ms, m);
			continue;
		}
		int r = mon->ops->apply_policy(mon, err, sizeof(err));
		if (r < 0)
			log_error_errno(r, "%s monitor: the new policy is not fully in force: %s",
					monitors_name(m), err);
	}
}

/* Those running keep their policy (a reload re-applies it), so a monitor
 * that keeps failing does not rewrite the others' marks, blocklist and
 * exclusions at every tick. */
void monitors_retry(struct monitors *ms, const struct monitor_gate *g)
{
	set_gate(ms, g);
	for (int m = 0; m < MON_COUNT; m++)
		if (monitors_wanted(ms, m) && !ms->mon[m]->running)
			bring_up(ms, m);
}

void monitors_stop(struct monitors *ms)
{
	for (int m = MON_COUNT - 1; m >= 0; m--)
		if (ms->mon[m]->running)
			ms->mon[m]->ops->stop(ms->mon[m]);
}

void monitors_set_degraded(struct monitors *ms, bool on)
{
	static const enum monitor_kind order[] = { MON_PROC, MON_NET, MON_FILE };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		ms->mon[order[i]]->ops->set_degraded(ms->mon[order[i]], on);
}

void monitors_counts(const struct monitors *ms, enum monitor_kind m, struct monitor_counts *ret)
{
	*ret = (struct monitor_counts){ 0 };
	if (ms->mon[m]->running)
		ms->mon[m]->ops->counts(ms->mon[m], ret);
}

struct json_object *monitors_status(const struct monitors *ms)
{
	struct json_object *o = json_object_new_object();
	for (int m = 0; m < MON_COUNT; m++) {
		struct monitor *mon = ms->mon[m];
		struct json_object *s = NULL;
		const char *state = !monitors_wanted(ms, m) ? "off"
				    : mon->running          ? "running"
							    : "failed";
		if (mon->running)
			s = mon->ops->status(mon);
		if (!s)
			s = json_object_new_object();
		json_object_object_add(s, "state", json_object_new_string(state));
		if (ms->error[m][0])
			json_object_object_add(s, "error", json_object_new_string(ms->error[m]));
		if (m == MON_FILE)
			json_object_object_add(s, "attribution",
					       json_object_new_string(ms->mon[MON_PROC]->running
									      ? "ebpf"
									      : "proc"));
		if (mon->ops->ebpf && ms->gate.ebpf_blocked[0])
			json_object_object_add(s, "ebpf",
					       json_object_new_string(ms->gate.ebpf_blocked));
		json_object_object_add(o, monitors_name(m), s);
	}
	return o;
}
