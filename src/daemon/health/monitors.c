/* monitors.c - faults 8, 9 and 22 follow each monitor's start; fault 18
 * follows what the monitors counted in the last second (overload.c
 * decides), and switches degraded mode on and off. */
#include "health_int.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static const int monitor_fault[MON_COUNT] = {
	[MON_PROC] = FAULT_PROC_MONITOR,
	[MON_FILE] = FAULT_FILE_MONITOR,
	[MON_NET] = FAULT_NET_MONITOR,
};

static double now_s(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

void monitors_health_init(struct health *h) { overload_init(&h->overload, now_s()); }

void monitors_health_done(struct health *h) { overload_done(&h->overload); }

void health_monitor_started(void *ud, enum monitor_kind m, int r, const char *err)
{
	struct health *h = ud;
	char detail[FAULT_DETAIL_MAX];

	if (r >= 0) {
		faults_clear(h->c.faults, monitor_fault[m]);
		return;
	}
	/* Not tried behind the gate: the root cause names it (host.c). */
	if (r == -EOPNOTSUPP && h->gate_cause) {
		faults_set_cause(h->c.faults, monitor_fault[m], h->gate_cause);
		return;
	}
	/* The file monitor's detail also says how processes are named. */
	if (m == MON_FILE)
		snprintf(detail, sizeof(detail), "%s; process attribution: %s", err,
			 h->mons && monitors_running(h->mons, MON_PROC) ? "ebpf" : "/proc only");
	else
		snprintf(detail, sizeof(detail), "%s", err);
	faults_raise(h->c.faults, monitor_fault[m], detail);
}

void health_count_source(void *ud, const char *exe)
{
	struct health *h = ud;
	overload_count(&h->overload, exe);
}

/* What happened in the last second, over every monitor.  A monitor that
 * restarted counts from zero again: its totals only grow while it runs. */
static void sample(struct health *h, struct overload_sample *s)
{
	*s = (struct overload_sample){ .queue = h->scan ? scan_queue_len(h->scan) : 0 };
	for (int m = 0; m < MON_COUNT; m++) {
		struct monitor_counts now, *last = &h->mon_last[m];
		monitors_counts(h->mons, m, &now);
		if (now.seen < last->seen || now.dropped < last->dropped)
			*last = (struct monitor_counts){ 0 };
		s->seen += now.seen - last->seen;
		s->dropped += now.dropped - last->dropped;
		s->critical_dropped += now.critical_dropped - last->critical_dropped;
		s->suppressed += now.suppressed - last->suppressed;
		*last = now;
	}
}

static void mode_event(struct health *h, const char *type)
{
	struct json_object *ev = events_new(h->c.sink, type);
	if (ev) {
		char detail[FAULT_DETAIL_MAX];
		overload_detail(&h->overload, detail, sizeof(detail));
		json_object_object_add(ev, "detail", json_object_new_string(detail));
	}
	events_emit(h->c.sink, ev);
}

void health_second(struct health *h)
{
	const struct policy *p = h->c.policy;
	struct overload_config c = {
		.grace = p->overload_grace,
		.calm = p->overload_calm,
		.queue_high = p->queue_high_water,
		.queue_low = p->queue_low_water,
		.rate_low = p->rate_low_water,
	};
	struct overload_sample s;
	char detail[FAULT_DETAIL_MAX];

	if (!h->mons)
		return;
	sample(h, &s);
	switch (overload_tick(&h->overload, &c, now_s(), &s)) {
	case OVERLOAD_ENTERED:
		overload_detail(&h->overload, detail, sizeof(detail));
		health_metrics(h);
		log_warning("Event monitoring overloaded: degraded mode (%s)", detail);
		monitors_set_degraded(h->mons, true);
		faults_raise(h->c.faults, FAULT_OVERLOAD, detail);
		mode_event(h, "mode_degraded");
		break;
	case OVERLOAD_CRITICAL:
		overload_detail(&h->overload, detail, sizeof(detail));
		faults_escalate(h->c.faults, FAULT_OVERLOAD, FAULT_CRITICAL, detail);
		break;
	case OVERLOAD_LEFT:
		log_notice("Event monitoring calm again: full mode");
		monitors_set_degraded(h->mons, false);
		faults_clear(h->c.faults, FAULT_OVERLOAD);
		mode_event(h, "mode_full");
		break;
	case OVERLOAD_SAME:
		break;
	}
}

bool health_degraded(const struct health *h) { return h->overload.degraded; }

struct json_object *health_overload_status(const struct health *h)
{
	const struct overload *o = &h->overload;
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
	json_object_object_add(j, "scan_queue",
			       json_object_new_uint64(h->scan ? scan_queue_len(h->scan) : 0));
	json_object_object_add(j, "scan_queue_high_water", json_object_new_uint64(o->queue_hwm));
	json_object_object_add(j, "top_sources", top);
	return j;
}
