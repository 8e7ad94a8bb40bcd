/* eventlog.c - fault 21 follows the outcome of every write to the event
 * log: raised with the path of the file that fails (events.jsonl first),
 * the errno and the events waiting or lost, cleared once both files are
 * written again. */
#include "health_int.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

void health_event_written(void *ud, int r)
{
	struct health *h = ud;
	const struct eventlog_file *f = eventlog_failing(h->c.log);

	if (r < 0 && f) {
		char detail[FAULT_DETAIL_MAX];
		snprintf(detail, sizeof(detail), "%s: %s; %zu events waiting in memory, %llu lost",
			 f->path, strerror(-f->last_error), f->backlog_count, (unsigned long long)f->lost);
		if (faults_raise(h->c.faults, FAULT_EVENT_LOG, detail) > 0)
			log_error_errno(f->last_error, "Failed to write the event log %s", f->path);
	} else if (!f && faults_is_active(h->c.faults, FAULT_EVENT_LOG)) {
		faults_clear(h->c.faults, FAULT_EVENT_LOG);
	}
}
