/* monitors.c - the real-time monitors follow the policy, and their faults
 * follow the monitors: 8 (file), 9 (network), 22 (process).
 *
 * eBPF is not tried while fault 16 (kernel) or 11 (no BTF) holds: the file
 * monitor then runs on fanotify alone and names processes from /proc, and
 * the eBPF monitors report why they are not running. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "picketd.h"

enum { MON_PROC, MON_FILE, MON_NET, MON_COUNT };

static const struct {
	const char *name;
	int fault;
} monitor[MON_COUNT] = {
	[MON_PROC] = { "process", FAULT_PROC_MONITOR },
	[MON_FILE] = { "file", FAULT_FILE_MONITOR },
	[MON_NET] = { "network", FAULT_NET_MONITOR },
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

static bool wanted(const struct picketd *d, int m)
{
	switch (m) {
	case MON_PROC:
		return d->policy.monitor_process_execution;
	case MON_FILE:
		return d->policy.monitor_file_copies_moves;
	default:
		return d->policy.device_flow_correlation;
	}
}

static bool running(const struct picketd *d, int m)
{
	switch (m) {
	case MON_PROC:
		return d->procmon.running;
	case MON_FILE:
		return d->fsmon.running;
	default:
		return d->netmon.running;
	}
}

/* Why eBPF is not tried now, or "" when it is; *ret_btf is the BTF file
 * libbpf must use (NULL: the kernel's own). */
static void ebpf_gate(struct picketd *d, char *btf, size_t len, const char **ret_btf)
{
	char release[256], file[PATH_MAX];
	*ret_btf = NULL;
	d->ebpf_blocked[0] = '\0';
	if (faults_is_active(&d->faults, FAULT_KERNEL_INCOMPATIBLE)) {
		snprintf(d->ebpf_blocked, sizeof(d->ebpf_blocked), "not tried: fault 16: %.200s",
			 faults_get(&d->faults, FAULT_KERNEL_INCOMPATIBLE)->detail);
		return;
	}
	if (faults_is_active(&d->faults, FAULT_KERNEL_BTF)) {
		snprintf(d->ebpf_blocked, sizeof(d->ebpf_blocked), "not tried: fault 11: %.200s",
			 faults_get(&d->faults, FAULT_KERNEL_BTF)->detail);
		return;
	}
	if (hostview_exists(&d->hv, "/sys/kernel/btf/vmlinux"))
		return;
	/* check_btf found a BTF file for this release in the BTF directory. */
	if (hostview_kernel_release(&d->hv, release, sizeof(release)) >= 0 &&
	    snprintf(file, sizeof(file), "%s/%s.btf", d->policy.btf_dir, release) <
		    (int)sizeof(file) &&
	    hostview_path(&d->hv, file, btf, len) >= 0)
		*ret_btf = btf;
}

static int start(struct picketd *d, int m, const char *btf, char *err, size_t len)
{
	if (m != MON_FILE && d->ebpf_blocked[0]) {
		snprintf(err, len, "ebpf: %.240s", d->ebpf_blocked);
		return -EOPNOTSUPP;
	}
	switch (m) {
	case MON_PROC:
		return procmon_start(d, btf, err, len);
	case MON_FILE:
		return fsmon_start(d, err, len);
	default:
		return netmon_start(d, btf, err, len);
	}
}

static void stop(struct picketd *d, int m)
{
	switch (m) {
	case MON_PROC:
		procmon_stop(d);
		break;
	case MON_FILE:
		fsmon_stop(d);
		break;
	default:
		netmon_stop(d);
		break;
	}
}

static int reconfigure(struct picketd *d, int m, char *err, size_t len)
{
	switch (m) {
	case MON_PROC:
		return procmon_apply_policy(d, err, len);
	case MON_FILE:
		return fsmon_apply_policy(d, err, len);
	default:
		return netmon_apply_policy(d, err, len);
	}
}

/* The file monitor's fault detail also says how processes are named. */
static void file_detail(struct picketd *d, const char *err, char *out, size_t len)
{
	snprintf(out, len, "%s; process attribution: %s", err,
		 d->procmon.running ? "ebpf" : "/proc only");
}

static void bring_up(struct picketd *d, int m, const char *btf)
{
	char err[sizeof(d->mon_error[0])] = "", detail[FAULT_DETAIL_MAX];
	int r = start(d, m, btf, err, sizeof(err));
	if (r >= 0) {
		if (d->mon_error[m][0])
			log_notice("%s monitor started", monitor[m].name);
		d->mon_error[m][0] = '\0';
		faults_clear(&d->faults, monitor[m].fault);
		return;
	}
	if (strcmp(err, d->mon_error[m]) != 0)
		log_error_errno(r, "%s monitor failed to start: %s", monitor[m].name, err);
	snprintf(d->mon_error[m], sizeof(d->mon_error[m]), "%s", err);
	if (m == MON_FILE)
		file_detail(d, err, detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "%s", err);
	faults_raise(&d->faults, monitor[m].fault, detail);
}

void monitors_apply(struct picketd *d)
{
	char btfbuf[PATH_MAX], err[256];
	const char *btf;

	libbpf_set_print(libbpf_log);
	ebpf_gate(d, btfbuf, sizeof(btfbuf), &btf);
	for (int m = 0; m < MON_COUNT; m++) {
		if (!wanted(d, m)) {
			if (running(d, m)) {
				stop(d, m);
				log_notice("%s monitor stopped: the policy turns it off",
					   monitor[m].name);
			}
			d->mon_error[m][0] = '\0';
			continue;
		}
		if (!running(d, m)) {
			bring_up(d, m, btf);
			continue;
		}
		int r = reconfigure(d, m, err, sizeof(err));
		if (r < 0)
			log_error_errno(r, "%s monitor: the new policy is not fully in force: %s",
					monitor[m].name, err);
	}
}

void monitors_stop(struct picketd *d)
{
	for (int m = MON_COUNT - 1; m >= 0; m--)
		if (running(d, m))
			stop(d, m);
}

/* Retries the monitors that failed; those running keep their policy (a
 * reload re-applies it), so a monitor that keeps failing does not rewrite
 * the others' marks, blocklist and exclusions at every tick. */
void monitors_tick(struct picketd *d)
{
	char btfbuf[PATH_MAX];
	const char *btf;
	bool gated = false;

	proctable_expire(&d->procs, time(NULL));
	for (int m = 0; m < MON_COUNT; m++) {
		if (!wanted(d, m) || running(d, m))
			continue;
		if (!gated) {
			ebpf_gate(d, btfbuf, sizeof(btfbuf), &btf);
			gated = true;
		}
		bring_up(d, m, btf);
	}
}

void monitors_count_source(struct picketd *d, const char *exe)
{
	overload_count(&d->overload, exe);
}

static void counts(struct picketd *d, int m, struct monitor_counts *ret)
{
	*ret = (struct monitor_counts){ 0 };
	if (!running(d, m))
		return;
	switch (m) {
	case MON_PROC:
		procmon_counts(d, ret);
		break;
	case MON_FILE:
		fsmon_counts(d, ret);
		break;
	default:
		netmon_counts(d, ret);
		break;
	}
}

static void set_degraded(struct picketd *d, bool on)
{
	procmon_set_degraded(d, on);
	netmon_set_degraded(d, on);
	fsmon_set_degraded(d, on);
}

/* What happened in the last second, over every monitor.  A monitor that
 * restarted counts from zero again: its totals only grow while it runs. */
static void sample(struct picketd *d, struct overload_sample *s)
{
	*s = (struct overload_sample){ .queue = d->scanq.len };
	for (int m = 0; m < MON_COUNT; m++) {
		struct monitor_counts now, *last = &d->mon_last[m];
		counts(d, m, &now);
		if (now.seen < last->seen || now.dropped < last->dropped)
			*last = (struct monitor_counts){ 0 };
		s->seen += now.seen - last->seen;
		s->dropped += now.dropped - last->dropped;
		s->critical_dropped += now.critical_dropped - last->critical_dropped;
		s->suppressed += now.suppressed - last->suppressed;
		*last = now;
	}
}

static void overload_event(struct picketd *d, const char *type)
{
	struct json_object *ev = eventlog_new(&d->events, type);
	if (ev) {
		char detail[FAULT_DETAIL_MAX];
		overload_detail(&d->overload, detail, sizeof(detail));
		json_object_object_add(ev, "detail", json_object_new_string(detail));
	}
	events_emit(d, ev);
}

void monitors_second(struct picketd *d)
{
	struct overload_config c = {
		.grace = d->policy.overload_grace,
		.calm = d->policy.overload_calm,
		.queue_high = d->policy.queue_high_water,
		.queue_low = d->policy.queue_low_water,
		.rate_low = d->policy.rate_low_water,
	};
	struct overload_sample s;
	struct timespec now;
	char detail[FAULT_DETAIL_MAX];

	clock_gettime(CLOCK_MONOTONIC, &now);
	sample(d, &s);
	switch (overload_tick(&d->overload, &c, now.tv_sec + now.tv_nsec / 1e9, &s)) {
	case OVERLOAD_ENTERED:
		overload_detail(&d->overload, detail, sizeof(detail));
		events_write_metrics(d);
		log_warning("Event monitoring overloaded: degraded mode (%s)", detail);
		set_degraded(d, true);
		faults_raise(&d->faults, FAULT_OVERLOAD, detail);
		overload_event(d, "mode_degraded");
		break;
	case OVERLOAD_CRITICAL:
		overload_detail(&d->overload, detail, sizeof(detail));
		faults_escalate(&d->faults, FAULT_OVERLOAD, FAULT_CRITICAL, detail);
		break;
	case OVERLOAD_LEFT:
		log_notice("Event monitoring calm again: full mode");
		set_degraded(d, false);
		faults_clear(&d->faults, FAULT_OVERLOAD);
		overload_event(d, "mode_full");
		break;
	case OVERLOAD_SAME:
		break;
	}
}

void monitors_metrics(struct picketd *d, struct metrics_extra *x)
{
	x->degraded = d->overload.degraded;
	x->n_mon = MON_COUNT;
	for (int m = 0; m < MON_COUNT; m++) {
		x->mon[m].name = monitor[m].name;
		x->mon[m].running = running(d, m);
		counts(d, m, &x->mon[m].c);
	}
}

/* {"mode":..,"rate":..,"dropped":..,"top":[..]} for status. */
static struct json_object *overload_status(struct picketd *d)
{
	const struct overload *o = &d->overload;
	struct json_object *j = json_object_new_object();
	struct json_object *top = json_object_new_array();
	for (size_t i = 0; i < o->n_top; i++) {
		struct json_object *t = json_object_new_object();
		json_object_object_add(t, "exe", json_object_new_string(o->top[i].exe));
		json_object_object_add(t, "rate", json_object_new_double(o->top[i].rate));
		json_object_array_add(top, t);
	}
	json_object_object_add(j, "mode", json_object_new_string(o->degraded ? "degraded" : "full"));
	json_object_object_add(j, "rate", json_object_new_double(o->rate));
	json_object_object_add(j, "seen", json_object_new_uint64(o->seen_total));
	json_object_object_add(j, "dropped", json_object_new_uint64(o->dropped_total));
	json_object_object_add(j, "suppressed", json_object_new_uint64(o->suppressed_total));
	json_object_object_add(j, "scan_queue", json_object_new_uint64(d->scanq.len));
	json_object_object_add(j, "scan_queue_high_water", json_object_new_uint64(o->queue_hwm));
	json_object_object_add(j, "top_sources", top);
	return j;
}

struct json_object *monitors_status(struct picketd *d)
{
	struct json_object *o = json_object_new_object();
	for (int m = 0; m < MON_COUNT; m++) {
		struct json_object *s = NULL;
		const char *state = !wanted(d, m) ? "off" : running(d, m) ? "running" : "failed";
		if (running(d, m))
			s = m == MON_PROC ? procmon_status(d)
			    : m == MON_FILE ? fsmon_status(d)
					    : netmon_status(d);
		if (!s)
			s = json_object_new_object();
		json_object_object_add(s, "state", json_object_new_string(state));
		if (d->mon_error[m][0])
			json_object_object_add(s, "error", json_object_new_string(d->mon_error[m]));
		if (m == MON_FILE)
			json_object_object_add(
				s, "attribution",
				json_object_new_string(d->procmon.running ? "ebpf" : "proc"));
		if (m != MON_FILE && d->ebpf_blocked[0])
			json_object_object_add(s, "ebpf", json_object_new_string(d->ebpf_blocked));
		json_object_object_add(o, monitor[m].name, s);
	}
	json_object_object_add(o, "overload", overload_status(d));
	return o;
}

struct json_object *monitors_process_json(struct picketd *d, pid_t pid)
{
	return proctable_json(&d->procs, pid);
}
