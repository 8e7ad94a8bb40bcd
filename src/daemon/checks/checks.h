/* checks.h - the host conditions behind faults 5, 11, 16 and 19.
 *
 * Each check reads the host through the host view only and fills a result:
 * whether the fault's condition holds, a one-line detail naming what was
 * found, and (where it depends on the host) a specific remediation.  Checks
 * never raise or clear anything themselves: health/host.c decides. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/faults.h"
#include "hostview.h"
#include "policy.h"

struct check_result {
	bool holds;
	char detail[FAULT_DETAIL_MAX];
	char remedy[FAULT_REMEDY_MAX]; /* "" = the catalogue's text */
};

/* Marks the condition as holding and appends "; "-separated text to its
 * detail (cut at the detail's size: a detail is one line, not a record). */
void check_note(struct check_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What the running kernel can do, probed for real (not through the view):
 * 1 supported, 0 not, a negative errno when the probe itself was refused. */
struct kernel_features {
	int bpf_syscall;
	int ringbuf;
	int raw_tp;
	int tp_btf; /* BTF-enabled tracepoints; -ENODATA without kernel BTF */
	/* Of the other map types, program types, helpers and fanotify flags the
	 * monitors use (check_kernel.c's table), bit i: entry i is missing. */
	unsigned long long missing;
};

/* check_scanuser.c: fault 5 - scan user and group, install tree modes. */
int check_scan_user(const struct hostview *hv, const struct policy *p, struct check_result *ret);
/* Every directory from prefix down: root-owned, mode 0755.  Appends what is
 * wrong to detail; at most max_dirs directories are walked.  visit, when not
 * NULL, is called with each directory walked (the daemon watches them). */
typedef void (*check_visit_fn)(const char *dir, void *ud);
int check_install_tree(const char *prefix, size_t max_dirs, check_visit_fn visit, void *ud,
		       struct check_result *ret);

/* check_btf.c: fault 11 - kernel BTF or a BTF file for this release. */
int check_btf(const struct hostview *hv, const struct policy *p, struct check_result *ret);

/* check_kernel.c: fault 16 - minimum release and required BPF features. */
void kernel_probe_features(struct kernel_features *ret);
/* Appends the missing features' names to buf ("" when none): the required
 * ones (fault 16) or the optional ones (a monitor runs without them). */
void kernel_missing_features(const struct kernel_features *kf, bool optional, char *buf,
			     size_t len);
int check_kernel(const struct hostview *hv, const struct policy *p,
		 const struct kernel_features *kf, struct check_result *ret);
/* Compares "6.1.0-13-amd64" with "5.8": <0, 0, >0; -EINVAL if unparsable. */
int kernel_release_cmp(const char *release, const char *min, int *ret_cmp);

/* check_selinux.c: fault 19 - SELinux enforcing and denying picketd's bpf()
 * (the feature probe's EACCES in kf: *ret_denied, the eBPF monitors cannot
 * start), or enforcing without the picket_bpf module installed and enabled. */
int check_selinux(const struct hostview *hv, const struct kernel_features *kf,
		  struct check_result *ret, bool *ret_denied);
