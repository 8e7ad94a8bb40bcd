#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "picketd.h"

void events_write_metrics(struct picketd *d)
{
	struct metrics_extra x = {
		.started_at = d->started_at,
		.events_total = d->events.seq,
		.events_lost = d->events.lost,
	};
	monitors_metrics(d, &x);
	int r = metrics_write(d->metrics_path, &d->faults, &x);
	if (r < 0)
		log_error_errno(r, "Failed to write metrics file %s", d->metrics_path);
}

/* Fault 21 follows the outcome of every write to the event log. */
static void note_write(struct picketd *d, int r)
{
	if (r < 0) {
		char detail[FAULT_DETAIL_MAX];
		snprintf(detail, sizeof(detail), "%s: %s; %zu events waiting in memory, %llu lost",
			 d->events.path, strerror(-r), d->events.backlog_count,
			 (unsigned long long)d->events.lost);
		if (faults_raise(&d->faults, FAULT_EVENT_LOG, detail) > 0)
			log_error_errno(r, "Failed to write the event log %s", d->events.path);
	} else if (faults_is_active(&d->faults, FAULT_EVENT_LOG)) {
		faults_clear(&d->faults, FAULT_EVENT_LOG);
	}
}

void events_emit(struct picketd *d, struct json_object *ev)
{
	if (!ev) {
		log_error("Out of memory: an event was lost");
		d->events.lost++;
		return;
	}
	control_broadcast(&d->control, ev);
	note_write(d, eventlog_append(&d->events, ev));
}

void events_retry(struct picketd *d) { note_write(d, eventlog_flush(&d->events)); }

void events_fault(enum fault_transition t, const struct fault_state *f, void *ud)
{
	struct picketd *d = ud;
	const char *type = t == FAULT_RAISED ? "fault_raised" : "fault_cleared";
	const char *sev = fault_severity_name(f->severity);
	char msg[1024], fid[32], fsev[48], fstate[48];

	snprintf(msg, sizeof(msg), "Fault %d (%s) %s: %s%s%s", f->def->id, sev,
		 t == FAULT_RAISED ? "raised" : "cleared", f->def->name,
		 t == FAULT_RAISED && f->detail[0] ? ": " : "",
		 t == FAULT_RAISED ? f->detail : "");
	snprintf(fid, sizeof(fid), "PICKET_FAULT_ID=%d", f->def->id);
	snprintf(fsev, sizeof(fsev), "PICKET_FAULT_SEVERITY=%s", sev);
	snprintf(fstate, sizeof(fstate), "PICKET_FAULT_STATE=%s", f->active ? "active" : "cleared");
	const char *fields[] = { fid, fsev, fstate };
	log_fields(t == FAULT_RAISED ? LOG_WARNING : LOG_NOTICE, msg, fields, 3);

	struct json_object *ev = eventlog_new(&d->events, type);
	if (ev) {
		struct json_object *fo = json_object_new_object();
		json_object_object_add(fo, "id", json_object_new_int(f->def->id));
		json_object_object_add(fo, "name", json_object_new_string(f->def->name));
		json_object_object_add(fo, "severity", json_object_new_string(sev));
		json_object_object_add(fo, "detail", json_object_new_string(f->detail));
		json_object_object_add(ev, "fault", fo);
		events_emit(d, ev);
	}
	events_write_metrics(d);
}
