/* host.c - faults 5, 11, 16, 19 and 20: the host checks (checks/), and the
 * eBPF gate that faults 11 and 16 close. */
#include "health_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define INSTALL_TREE_MAX_DIRS 4096

static void on_watch(struct io_source *src, uint32_t events)
{
	struct health *h = src->obj;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t n;
	(void)events;
	while ((n = read(src->fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			/* IN_IGNORED only says a watched directory went away. */
			if (!(ev->mask & IN_IGNORED))
				changed = true;
			p += sizeof(*ev) + ev->len;
		}
	if (changed)
		health_recheck(h);
}

int host_init(struct health *h)
{
	kernel_probe_features(&h->kf);
	h->watch = (struct io_source){ inotify_init1(IN_NONBLOCK | IN_CLOEXEC), on_watch, h };
	if (h->watch.fd < 0)
		return log_error_errno(errno, "Failed to create the health watch");
	int r = loop_add(h->c.epfd, &h->watch, EPOLLIN);
	if (r < 0)
		return log_error_errno(r, "epoll_ctl failed");
	return 0;
}

void host_done(struct health *h)
{
	if (h->watch.fd >= 0)
		loop_del(h->c.epfd, &h->watch);
	closep(&h->watch.fd);
}

static void apply(struct health *h, int id, const struct check_result *r)
{
	if (r->holds)
		faults_raise_remedy(h->c.faults, id, r->detail, r->remedy);
	else
		faults_clear(h->c.faults, id);
}

/* Adding a watch that exists only returns its descriptor again, so the
 * walk re-arms everything without removing anything: a removal would queue
 * IN_IGNORED, wake us, and re-check in a loop. */
static void watch_dir(const char *dir, void *ud)
{
	struct health *h = ud;
	if (inotify_add_watch(h->watch.fd, dir,
			      IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
				      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0)
		log_debug("inotify: cannot watch %s: %s", dir, strerror(errno));
}

/* Fault 20: the newest file of the active set is older than the policy
 * allows.  No definitions at all is fault 7's concern, not this one's. */
static void check_defs_age(struct health *h)
{
	_cleanup_free_ struct defs_status *st = calloc(1, sizeof(*st));
	if (!st)
		return;
	int r = defs_status(h->c.defs, st);
	if (r < 0 || st->newest_stime == 0 || st->age <= (int64_t)h->c.policy->defs_max_age) {
		if (r < 0 && r != -ENOENT)
			log_warning_errno(r, "Cannot read the definitions status");
		faults_clear(h->c.faults, FAULT_DEFS_OUTDATED);
		return;
	}
	char detail[FAULT_DETAIL_MAX];
	snprintf(detail, sizeof(detail),
		 "definitions set %s was built %s, %lld h ago; the policy's defs_max_age is %u h",
		 st->set_id, st->newest_build_time, (long long)st->age / 3600,
		 h->c.policy->defs_max_age / 3600);
	faults_raise(h->c.faults, FAULT_DEFS_OUTDATED, detail);
}

/* The root cause's detail names the monitors it keeps from starting (their
 * own faults are listed under it, not raised). */
static void note_taken_down(const struct policy *p, struct check_result *r)
{
	bool proc = p->monitor_process_execution, net = p->device_flow_correlation;
	if (!proc && !net)
		return;
	check_note(r, "not started: %s%s%s%s", proc ? "the process monitor (22)" : "",
		   proc && net ? " and " : "", net ? "the network monitor (9)" : "",
		   p->monitor_file_copies_moves ? "; the file monitor names processes from /proc"
						: "");
}

void host_recheck(struct health *h)
{
	const struct policy *p = h->c.policy;
	struct check_result r = { 0 };
	char etc[PATH_MAX];

	/* The walk of the install tree re-arms its watches, so new directories
	 * are watched too. */
	/* useradd/groupadd replace /etc/passwd and /etc/group by rename. */
	if (hostview_path(h->c.hv, "/etc", etc, sizeof(etc)) == 0)
		watch_dir(etc, h);
	check_scan_user(h->c.hv, p, &r);
	if (h->scan_root_reason[0])
		check_note(&r, "the scan service runs as root: %s", h->scan_root_reason);
	check_install_tree(h->c.prefix ? h->c.prefix : p->install_prefix, INSTALL_TREE_MAX_DIRS,
			   watch_dir, h, &r);
	apply(h, FAULT_SCAN_USER, &r);
	struct check_result btf = { 0 }, kernel = { 0 };
	check_btf(h->c.hv, p, &btf);
	check_kernel(h->c.hv, p, &h->kf, &kernel);
	/* One cause, one fault: 16 before 11, as the gate reads them. */
	if (kernel.holds)
		note_taken_down(p, &kernel);
	else if (btf.holds)
		note_taken_down(p, &btf);
	apply(h, FAULT_KERNEL_BTF, &btf);
	apply(h, FAULT_KERNEL_INCOMPATIBLE, &kernel);
	r = (struct check_result){ 0 };
	check_selinux(h->c.hv, &h->kf, &r, &h->selinux_denies_bpf);
	if (h->selinux_denies_bpf && !kernel.holds && !btf.holds)
		note_taken_down(p, &r);
	apply(h, FAULT_SELINUX, &r);
	if (h->c.defs->fd >= 0)
		check_defs_age(h);
}

/* One cause, one fault: while 16 or 11 holds, or SELinux denies bpf() (19),
 * the eBPF monitors are not tried and say why. */
static bool selinux_blocks(const struct health *h)
{
	return h->selinux_denies_bpf && faults_is_active(h->c.faults, FAULT_SELINUX);
}

void health_gate(struct health *h, struct monitor_gate *ret)
{
	char release[256], file[PATH_MAX];
	const struct faults *fs = h->c.faults;

	*ret = (struct monitor_gate){ 0 };
	h->gate_cause = faults_is_active(fs, FAULT_KERNEL_INCOMPATIBLE) ? FAULT_KERNEL_INCOMPATIBLE
			: faults_is_active(fs, FAULT_KERNEL_BTF)        ? FAULT_KERNEL_BTF
			: selinux_blocks(h)                             ? FAULT_SELINUX
									: 0;
	if (h->gate_cause) {
		snprintf(ret->ebpf_blocked, sizeof(ret->ebpf_blocked), "not tried: fault %d: %.200s",
			 h->gate_cause, faults_get(fs, h->gate_cause)->detail);
		return;
	}
	if (hostview_exists(h->c.hv, "/sys/kernel/btf/vmlinux"))
		return;
	/* check_btf found a BTF file for this release in the BTF directory. */
	if (hostview_kernel_release(h->c.hv, release, sizeof(release)) >= 0 &&
	    snprintf(file, sizeof(file), "%s/%s.btf", h->c.policy->btf_dir, release) <
		    (int)sizeof(file) &&
	    hostview_path(h->c.hv, file, ret->btf, sizeof(ret->btf)) < 0)
		ret->btf[0] = '\0';
}

void health_kernel_missing(const struct health *h, bool optional, char *buf, size_t len)
{
	kernel_missing_features(&h->kf, optional, buf, len);
}
