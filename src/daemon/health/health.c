#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>

#include "cleanup.h"
#include "log.h"
#include "picketd.h"

#define INSTALL_TREE_MAX_DIRS 4096

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

void health_apply_policy(struct picketd *d)
{
	for (size_t i = 0; i < fault_catalog_len; i++) {
		const struct fault_def *def = &fault_catalog[i];
		faults_set_applies(&d->faults, def->id, feature_on(&d->policy, def->feature));
	}
}

static void apply(struct picketd *d, int id, const struct check_result *r)
{
	if (r->holds)
		faults_raise_remedy(&d->faults, id, r->detail, r->remedy);
	else
		faults_clear(&d->faults, id);
}

/* Adding a watch that exists only returns its descriptor again, so the
 * walk re-arms everything without removing anything: a removal would queue
 * IN_IGNORED, wake us, and re-check in a loop. */
static void watch_dir(const char *dir, void *ud)
{
	struct picketd *d = ud;
	if (inotify_add_watch(d->watch.fd, dir,
			      IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
				      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0)
		log_debug("inotify: cannot watch %s: %s", dir, strerror(errno));
}

/* Fault 20: the newest file of the active set is older than the policy
 * allows.  No definitions at all is fault 7's concern, not this one's. */
static void check_defs_age(struct picketd *d)
{
	_cleanup_free_ struct defs_status *st = calloc(1, sizeof(*st));
	if (!st)
		return;
	int r = defs_status(&d->defs, st);
	if (r < 0 || st->newest_stime == 0 || st->age <= (int64_t)d->policy.defs_max_age) {
		if (r < 0 && r != -ENOENT)
			log_warning_errno(r, "Cannot read the definitions status");
		faults_clear(&d->faults, FAULT_DEFS_OUTDATED);
		return;
	}
	char detail[FAULT_DETAIL_MAX];
	snprintf(detail, sizeof(detail),
		 "definitions set %s was built %s, %lld h ago; the policy's defs_max_age is %u h",
		 st->set_id, st->newest_build_time, (long long)st->age / 3600,
		 d->policy.defs_max_age / 3600);
	faults_raise(&d->faults, FAULT_DEFS_OUTDATED, detail);
}

void health_recheck(struct picketd *d)
{
	struct check_result r = { 0 };
	char etc[PATH_MAX];

	/* The walk of the install tree re-arms its watches, so new directories
	 * are watched too. */
	/* useradd/groupadd replace /etc/passwd and /etc/group by rename. */
	if (hostview_path(&d->hv, "/etc", etc, sizeof(etc)) == 0)
		watch_dir(etc, d);
	check_scan_user(&d->hv, &d->policy, &r);
	if (d->scan_root_reason[0])
		check_note(&r, "the scan service runs as root: %s", d->scan_root_reason);
	check_install_tree(picketd_prefix(d), INSTALL_TREE_MAX_DIRS, watch_dir, d, &r);
	apply(d, FAULT_SCAN_USER, &r);
	r = (struct check_result){ 0 };
	check_btf(&d->hv, &d->policy, &r);
	apply(d, FAULT_KERNEL_BTF, &r);
	r = (struct check_result){ 0 };
	check_kernel(&d->hv, &d->policy, &d->kf, &r);
	apply(d, FAULT_KERNEL_INCOMPATIBLE, &r);
	r = (struct check_result){ 0 };
	check_selinux(&d->hv, &r);
	apply(d, FAULT_SELINUX, &r);
	if (d->defs.fd >= 0)
		check_defs_age(d);
	if (d->events.backlog_count > 0)
		events_retry(d);
	events_write_metrics(d);
}
