#include "metrics.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fileio.h"

/* Label values escape backslash, quote and newline (exposition format). */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

/* Per monitor: running, and what became of the events its hooks fired for. */
static void render_monitors(FILE *f, const struct metrics_extra *x)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{ "seen", "Events that reached picketd.", offsetof(struct monitor_counts, seen) },
		{ "dropped", "Events lost (kernel buffer full, queue overflow).",
		  offsetof(struct monitor_counts, dropped) },
		{ "suppressed", "Events left out in degraded mode.",
		  offsetof(struct monitor_counts, suppressed) },
		{ "excluded", "Events left out by the policy's exclusions.",
		  offsetof(struct monitor_counts, excluded) },
	};
	if (!x->n_mon)
		return;
	fputs("# HELP picket_monitor_running Whether a real-time monitor runs.\n"
	      "# TYPE picket_monitor_running gauge\n", f);
	for (size_t m = 0; m < x->n_mon; m++)
		fprintf(f, "picket_monitor_running{monitor=\"%s\"} %d\n", x->mon[m].name,
			x->mon[m].running);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		fprintf(f, "# HELP picket_monitor_events_%s_total %s\n"
			   "# TYPE picket_monitor_events_%s_total counter\n",
			counters[i].name, counters[i].help, counters[i].name);
		for (size_t m = 0; m < x->n_mon; m++)
			fprintf(f, "picket_monitor_events_%s_total{monitor=\"%s\"} %llu\n",
				counters[i].name, x->mon[m].name,
				(unsigned long long)*(const uint64_t *)((const char *)&x->mon[m].c +
									counters[i].off));
	}
}

int metrics_render(const struct faults *fs, const struct metrics_extra *x, char **ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -errno;

	fputs("# HELP picket_fault_active Whether a connector fault is active (1) or not (0).\n"
	      "# TYPE picket_fault_active gauge\n", f);
	for (size_t i = 0; i < fs->n; i++) {
		const struct fault_state *s = &fs->st[i];
		fprintf(f, "picket_fault_active{id=\"%d\",name=\"", s->def->id);
		put_label(f, s->def->name);
		fprintf(f, "\",severity=\"%s\"} %d\n", fault_severity_name(s->severity), s->active);
	}
	fputs("# HELP picket_fault_raised_total Times a fault was raised.\n"
	      "# TYPE picket_fault_raised_total counter\n", f);
	for (size_t i = 0; i < fs->n; i++)
		fprintf(f, "picket_fault_raised_total{id=\"%d\"} %u\n", fs->st[i].def->id,
			fs->st[i].raise_count);
	unsigned counts[3];
	faults_count(fs, counts);
	fputs("# HELP picket_faults_active Active faults by severity.\n"
	      "# TYPE picket_faults_active gauge\n", f);
	for (int s = FAULT_CRITICAL; s >= FAULT_MINOR; s--)
		fprintf(f, "picket_faults_active{severity=\"%s\"} %u\n", fault_severity_name(s),
			counts[s]);
	fprintf(f,
		"# HELP picket_start_time_seconds When picketd started (Unix time).\n"
		"# TYPE picket_start_time_seconds gauge\n"
		"picket_start_time_seconds %lld\n"
		"# HELP picket_events_total Events written to the event log.\n"
		"# TYPE picket_events_total counter\n"
		"picket_events_total %llu\n"
		"# HELP picket_events_lost_total Events lost because the event log could not be written.\n"
		"# TYPE picket_events_lost_total counter\n"
		"picket_events_lost_total %llu\n",
		(long long)x->started_at, (unsigned long long)x->events_total,
		(unsigned long long)x->events_lost);
	fprintf(f,
		"# HELP picket_mode_degraded Whether monitoring is degraded to the critical set (fault 18).\n"
		"# TYPE picket_mode_degraded gauge\n"
		"picket_mode_degraded %d\n",
		x->degraded);
	fputs("# HELP picket_events_rotated_total Events in the log files that rotation removed.\n"
	      "# TYPE picket_events_rotated_total counter\n", f);
	for (int i = 0; i < EVENTLOG_FILES; i++)
		for (int c = 0; c < EVENTLOG_CLASSES; c++)
			if (i == EVENTLOG_EVENTS || c == EVENTLOG_ALERT) /* alerts.jsonl: alerts only */
				fprintf(f, "picket_events_rotated_total{log=\"%s\",class=\"%s\"} %llu\n",
					i == EVENTLOG_EVENTS ? "events" : "alerts",
					c == EVENTLOG_ALERT ? "alert" : "activity",
					(unsigned long long)x->events_rotated[i][c]);
	render_monitors(f, x);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

int metrics_write(const char *path, const struct faults *fs, const struct metrics_extra *x)
{
	_cleanup_free_ char *text = NULL;
	int r = metrics_render(fs, x, &text);
	if (r < 0)
		return r;
	return write_file_atomic(path, text, strlen(text), 0644);
}
