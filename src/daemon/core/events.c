#include "events.h"

#include <stdio.h>

#include "log.h"

struct json_object *events_new(struct event_sink *s, const char *type)
{
	return eventlog_new(s->log, type);
}

static void wrote(struct event_sink *s, int r)
{
	if (s->wrote)
		s->wrote(s->ud, r);
}

void events_emit(struct event_sink *s, struct json_object *ev)
{
	if (!ev) {
		log_error("Out of memory: an event was lost");
		s->log->lost++;
		return;
	}
	if (s->control)
		control_broadcast(s->control, ev);
	wrote(s, eventlog_append(s->log, ev));
}

void events_retry(struct event_sink *s) { wrote(s, eventlog_flush(s->log)); }

void events_fault(struct event_sink *s, enum fault_transition t, const struct fault_state *f)
{
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

	struct json_object *ev = events_new(s, type);
	if (ev) {
		struct json_object *fo = json_object_new_object();
		json_object_object_add(fo, "id", json_object_new_int(f->def->id));
		json_object_object_add(fo, "name", json_object_new_string(f->def->name));
		json_object_object_add(fo, "severity", json_object_new_string(sev));
		json_object_object_add(fo, "detail", json_object_new_string(f->detail));
		json_object_object_add(ev, "fault", fo);
	}
	events_emit(s, ev);
}
