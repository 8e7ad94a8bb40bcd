/* eventlog.c - fault 21 follows the outcome of every write to the event
 * log: raised with the path, the errno and the events waiting or lost,
 * cleared by the first write that succeeds. */
#include "health_int.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

void health_event_written(void *ud, int r)
{
	struct health *h = ud;
	const struct eventlog *el = h->c.log;

	if (r < 0) {
		char detail[FAULT_DETAIL_MAX];
		snprintf(detail, sizeof(detail), "%s: %s; %zu events waiting in memory, %llu lost",
			 el->path, strerror(-r), el->backlog_count, (unsigned long long)el->lost);
		if (faults_raise(h->c.faults, FAULT_EVENT_LOG, detail) > 0)
			log_error_errno(r, "Failed to write the event log %s", el->path);
	} else if (faults_is_active(h->c.faults, FAULT_EVENT_LOG)) {
		faults_clear(h->c.faults, FAULT_EVENT_LOG);
	}
}
