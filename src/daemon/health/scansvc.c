/* scansvc.c - faults 6 and 7 follow the scan service's hooks: 7 while it
 * cannot start, 6 when it crashed scan_crash_count times within
 * scan_crash_window, cleared after scan_calm without a crash, critical
 * once still active scan_escalate after the connector started. */
#include "health_int.h"

#include <stdio.h>
#include <string.h>

void health_scan_start_failed(void *ud, const char *detail)
{
	struct health *h = ud;
	faults_raise(h->c.faults, FAULT_SCAN_START, detail);
}

void health_scan_ready(void *ud, pid_t pid, const char *as_root)
{
	struct health *h = ud;
	(void)pid;
	snprintf(h->scan_root_reason, sizeof(h->scan_root_reason), "%s", as_root);
	faults_clear(h->c.faults, FAULT_SCAN_START);
	health_recheck(h); /* fault 5 now knows what the service runs as */
}

/* "N crashes in W s; in the engine: /a, /b", prefixed once the fault is
 * escalated, so a later crash does not drop what the escalation said. */
static void crash_detail(const struct health *h, bool escalated, char *out, size_t len)
{
	int n = snprintf(out, len, "%s%zu crashes in %u s; in the engine:",
			 escalated ? "user intervention needed: " : "", h->n_crashes,
			 h->c.policy->scan_crash_window);
	for (size_t i = 0; i < h->n_crashes && n > 0 && (size_t)n < len; i++)
		n += snprintf(out + n, len - n, "%s %s", i ? "," : "", h->crash_files[i]);
}

static bool escalated(const struct health *h)
{
	const struct fault_state *f = faults_get(h->c.faults, FAULT_SCAN_RESTARTING);
	return f && f->active && f->severity == FAULT_CRITICAL;
}

void health_scan_crashed(void *ud, const char *how, const char *path, const char *sandbox)
{
	struct health *h = ud;
	const struct policy *p = h->c.policy;
	time_t now = time(NULL);
	size_t keep = 0;
	(void)how;

	for (size_t i = 0; i < h->n_crashes; i++)
		if (now - h->crashes[i] < (time_t)p->scan_crash_window) {
			h->crashes[keep] = h->crashes[i];
			memcpy(h->crash_files[keep], h->crash_files[i], PATH_MAX);
			keep++;
		}
	if (keep == HEALTH_MAX_CRASHES) { /* the oldest goes: the newest name the suspect */
		memmove(h->crashes, h->crashes + 1, (keep - 1) * sizeof(h->crashes[0]));
		memmove(h->crash_files, h->crash_files + 1, (keep - 1) * sizeof(h->crash_files[0]));
		keep--;
	}
	h->crashes[keep] = now;
	/* A syscall its filter stopped names the cause (a new libc, a kernel
	 * without vDSO clock): the detail says which. */
	snprintf(h->crash_files[keep], PATH_MAX, "%s%s%s%s", path[0] ? path : "(idle)",
		 sandbox[0] ? " (seccomp stopped " : "", sandbox, sandbox[0] ? ")" : "");
	h->n_crashes = keep + 1;
	h->last_crash = now;
	if (h->n_crashes < p->scan_crash_count)
		return;
	char detail[FAULT_DETAIL_MAX];
	crash_detail(h, escalated(h), detail, sizeof(detail));
	faults_raise(h->c.faults, FAULT_SCAN_RESTARTING, detail);
}

void health_tick(struct health *h)
{
	const struct policy *p = h->c.policy;
	time_t now = time(NULL);

	if (!faults_is_active(h->c.faults, FAULT_SCAN_RESTARTING))
		return;
	if (now - h->last_crash >= (time_t)p->scan_calm) {
		h->n_crashes = 0;
		faults_clear(h->c.faults, FAULT_SCAN_RESTARTING);
		return;
	}
	if (now - h->c.started_at >= (time_t)p->scan_escalate && !escalated(h)) {
		char detail[FAULT_DETAIL_MAX];
		crash_detail(h, true, detail, sizeof(detail));
		faults_escalate(h->c.faults, FAULT_SCAN_RESTARTING, FAULT_CRITICAL, detail);
	}
}
