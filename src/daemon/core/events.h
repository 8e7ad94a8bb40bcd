/* events.h - the event sink: every event picketd makes goes through it.
 *
 * An event is a JSON object from events_new (its type, seq and time filled
 * in); events_emit hands it to the followers on the control socket and
 * appends it to the event log.  The outcome of each write is told to the
 * wrote hook (fault 21 is raised and cleared by whoever set it).  Fault
 * transitions become events, system log records and a metrics rewrite
 * through events_fault. */
#pragma once

#include <json-c/json.h>

#include "control.h"
#include "eventlog.h"
#include "faults.h"

struct event_sink {
	struct eventlog *log;
	struct control *control; /* NULL: no followers */
	/* After every write to the log: 0 or the negative errno of the write. */
	void (*wrote)(void *ud, int r);
	void *ud;
};

/* A new event of type, or NULL (out of memory: pass it on to events_emit,
 * which counts it as lost). */
struct json_object *events_new(struct event_sink *s, const char *type);
/* Takes ownership of ev; NULL counts one lost event. */
void events_emit(struct event_sink *s, struct json_object *ev);
/* Retries writing events that wait in memory. */
void events_retry(struct event_sink *s);
/* One fault transition: a log record with PICKET_FAULT_* fields and a
 * fault_raised / fault_cleared event. */
void events_fault(struct event_sink *s, enum fault_transition t, const struct fault_state *f);
