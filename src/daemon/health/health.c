/* health.c - the health layer's front: which faults apply under the policy,
 * and the periodic re-check (health.h). */
#include "health_int.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"

int health_new(const struct health_config *c, struct health **ret)
{
	struct health *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->c = *c;
	h->crash_files = calloc(HEALTH_MAX_CRASHES, sizeof(*h->crash_files));
	if (!h->crash_files) {
		free(h);
		return -ENOMEM;
	}
	monitors_health_init(h);
	r = host_init(h);
	if (r < 0) {
		health_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	host_done(h);
	monitors_health_done(h);
	free(h->crash_files);
	free(h);
}

void health_watch(struct health *h, struct scan *scan, struct monitors *mons)
{
	h->scan = scan;
	h->mons = mons;
}

static bool feature_on(const struct policy *p, enum fault_feature f)
{
	switch (f) {
	case FEATURE_FILE_MONITOR:
		return p->monitor_file_copies_moves;
	case FEATURE_NET_MONITOR:
		return p->device_flow_correlation;
	case FEATURE_PROC_MONITOR:
		return p->monitor_process_execution;
	case FEATURE_ANY_MONITOR:
	case FEATURE_EBPF:
		return p->monitor_file_copies_moves || p->device_flow_correlation ||
		       p->monitor_process_execution;
	case FEATURE_ALWAYS:
		break;
	}
	return true;
}

void health_apply_policy(struct health *h)
{
	for (size_t i = 0; i < fault_catalog_len; i++) {
		const struct fault_def *def = &fault_catalog[i];
		faults_set_applies(h->c.faults, def->id, feature_on(h->c.policy, def->feature));
	}
}

void health_recheck(struct health *h)
{
	host_recheck(h);
	if (eventlog_failing(h->c.log))
		events_retry(h->c.sink);
	health_metrics(h);
}
