/* Unit tests of the host checks (src/daemon/check_*.c) behind faults 5, 11,
 * 16 and 19.  Each test builds a host root (or an install tree) in its own
 * mkdtemp directory and reads it through a struct hostview. */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks/checks.h"
#include "log.h"

#define PREFIX "opt/picket"

struct fixture {
	char *dir;
	struct hostview hv;
	struct policy p;
	struct check_result r;
	bool denied; /* check_selinux: bpf() denied */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[POLICY_ERR_MAX];
	void *dir;

	if (!fx || tu_tmpdir_setup(&dir) < 0)
		return -1;
	fx->dir = dir;
	if (hostview_init(&fx->hv, fx->dir) < 0 || policy_load_string("", "test", &fx->p, err, sizeof(err)) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	void *dir = fx->dir;

	policy_free(&fx->p);
	tu_tmpdir_teardown(&dir);
	free(fx);
	return 0;
}

static void assert_clean(const struct check_result *r)
{
	assert_false(r->holds);
	assert_string_equal(r->detail, "");
	assert_string_equal(r->remedy, "");
}

/* --- check_note ---------------------------------------------------------- */

static void test_note_joins_with_semicolons(void **state)
{
	(void)state;
	struct check_result r = { 0 };

	check_note(&r, "first %d", 1);
	check_note(&r, "second");
	assert_true(r.holds);
	assert_string_equal(r.detail, "first 1; second");
}

static void test_note_is_cut_at_detail_size(void **state)
{
	(void)state;
	struct check_result r = { 0 };
	char big[FAULT_DETAIL_MAX * 2];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	check_note(&r, "%s", big);
	check_note(&r, "more");
	assert_int_equal(strlen(r.detail), FAULT_DETAIL_MAX - 1);
	assert_null(strchr(r.detail, ';'));
}

/* --- fault 5: scan user and group ----------------------------------------- */

static const char passwd_ok[] = "root:x:0:0:root:/root:/bin/bash\n"
				"picket-scan:x:998:997::/nonexistent:/usr/sbin/nologin\n";
static const char group_ok[] = "root:x:0:\npicket-scan:x:997:\n";

static void test_scan_user_present_is_clean(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "etc/passwd", passwd_ok);
	tu_write(fx->dir, "etc/group", group_ok);
	assert_int_equal(check_scan_user(&fx->hv, &fx->p, &fx->r), 0);
	assert_clean(&fx->r);
}

static void test_scan_user_missing(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
	tu_write(fx->dir, "etc/group", group_ok);
	check_scan_user(&fx->hv, &fx->p, &fx->r);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail, "scan user 'picket-scan' does not exist");
}

static void test_scan_group_missing(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "etc/passwd", passwd_ok);
	tu_write(fx->dir, "etc/group", "root:x:0:\n");
	check_scan_user(&fx->hv, &fx->p, &fx->r);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail, "scan group 'picket-scan' does not exist");
}

static void test_scan_user_and_group_missing(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
	tu_write(fx->dir, "etc/group", "root:x:0:\n");
	check_scan_user(&fx->hv, &fx->p, &fx->r);
	assert_string_equal(fx->r.detail,
			    "scan user 'picket-scan' does not exist; scan group 'picket-scan' does not exist");
}

static void test_scan_user_wrong_primary_group(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "etc/passwd", "picket-scan:x:998:100::/nonexistent:/usr/sbin/nologin\n");
	tu_write(fx->dir, "etc/group", "users:x:100:\npicket-scan:x:997:\n");
	check_scan_user(&fx->hv, &fx->p, &fx->r);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail,
			    "scan user 'picket-scan' has primary group 100, not 'picket-scan' (997)");
}

static void test_scan_user_uid_0(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "etc/passwd", "picket-scan:x:0:997::/root:/bin/sh\n");
	tu_write(fx->dir, "etc/group", group_ok);
	check_scan_user(&fx->hv, &fx->p, &fx->r);
	assert_string_equal(fx->r.detail, "scan user 'picket-scan' is uid 0");
}

static void test_scan_user_policy_names_used(void **state)
{
	struct fixture *fx = *state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX];

	assert_int_equal(policy_load_string("scan_user = \"av\";\nscan_group = \"avg\";", "t", &p, err,
					    sizeof(err)),
			 0);
	tu_write(fx->dir, "etc/passwd", passwd_ok);
	tu_write(fx->dir, "etc/group", "avg:x:50:\n");
	check_scan_user(&fx->hv, &p, &fx->r);
	assert_string_equal(fx->r.detail, "scan user 'av' does not exist");
	policy_free(&p);
}

/* --- fault 5: install tree ------------------------------------------------ */

static const char *make_tree(struct fixture *fx)
{
	static const char *const dirs[] = { PREFIX, PREFIX "/bin", PREFIX "/lib", PREFIX "/lib/btf" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		tu_mkdir(fx->dir, dirs[i]);
		assert_int_equal(chmod(tu_path(fx->dir, dirs[i]), 0755), 0);
	}
	tu_write(fx->dir, PREFIX "/bin/picketd", "#!/bin/sh\n");
	return tu_path(fx->dir, PREFIX);
}

struct visits {
	int n;
	char first[PATH_MAX];
};

static void on_visit(const char *dir, void *ud)
{
	struct visits *v = ud;
	if (v->n++ == 0)
		snprintf(v->first, sizeof(v->first), "%s", dir);
}

static void test_install_tree_root_0755_is_clean(void **state)
{
	struct fixture *fx = *state;
	struct visits v = { 0 };

	char prefix[PATH_MAX];
	snprintf(prefix, sizeof(prefix), "%s", make_tree(fx));
	assert_int_equal(check_install_tree(prefix, 100, on_visit, &v, &fx->r), 0);
	assert_clean(&fx->r);
	assert_int_equal(v.n, 4);
	assert_string_equal(v.first, prefix);
}

static void test_install_tree_0777_dir_named(void **state)
{
	struct fixture *fx = *state;
	char prefix[PATH_MAX], want[PATH_MAX + 128];

	snprintf(prefix, sizeof(prefix), "%s", make_tree(fx));
	assert_int_equal(chmod(tu_path(fx->dir, PREFIX "/lib"), 0777), 0);
	check_install_tree(prefix, 100, NULL, NULL, &fx->r);
	assert_true(fx->r.holds);
	if (tu_is_root()) {
		snprintf(want, sizeof(want),
			 "install directory %s/lib is mode 0777 owner 0:0, must be 0755 root:root", prefix);
		assert_string_equal(fx->r.detail, want);
	} else {
		snprintf(want, sizeof(want), "install directory %s/lib is mode 0777 owner", prefix);
		assert_non_null(strstr(fx->r.detail, want));
	}
}

static void test_install_tree_foreign_owner_named(void **state)
{
	struct fixture *fx = *state;
	char prefix[PATH_MAX], want[PATH_MAX + 128];

	snprintf(prefix, sizeof(prefix), "%s", make_tree(fx));
	assert_int_equal(chown(tu_path(fx->dir, PREFIX "/lib/btf"), 1000, 0), 0);
	check_install_tree(prefix, 100, NULL, NULL, &fx->r);
	snprintf(want, sizeof(want),
		 "install directory %s/lib/btf is mode 0755 owner 1000:0, must be 0755 root:root", prefix);
	assert_string_equal(fx->r.detail, want);
}

static void test_install_tree_missing_prefix(void **state)
{
	struct fixture *fx = *state;
	char want[PATH_MAX + 64];
	const char *prefix = tu_path(fx->dir, "opt/missing");

	check_install_tree(prefix, 100, NULL, NULL, &fx->r);
	assert_true(fx->r.holds);
	snprintf(want, sizeof(want), "install prefix %s: No such file or directory", prefix);
	assert_string_equal(fx->r.detail, want);
}

static void test_install_tree_many_bad_dirs_summarised(void **state)
{
	struct fixture *fx = *state;
	char prefix[PATH_MAX];

	snprintf(prefix, sizeof(prefix), "%s", make_tree(fx));
	for (int i = 0; i < 5; i++) {
		char d[64];
		snprintf(d, sizeof(d), PREFIX "/share%d", i);
		tu_mkdir(fx->dir, d);
		assert_int_equal(chmod(tu_path(fx->dir, d), 0775), 0);
	}
	check_install_tree(prefix, 100, NULL, NULL, &fx->r);
	int notes = 0;
	for (const char *s = fx->r.detail; (s = strstr(s, "install directory ")); s++)
		notes++;
	assert_int_equal(notes, 3);
	const char *tail = "; and 2 more directories";
	size_t n = strlen(fx->r.detail);
	assert_true(n > strlen(tail));
	assert_string_equal(fx->r.detail + n - strlen(tail), tail);
}

static void test_install_tree_max_dirs_reported(void **state)
{
	struct fixture *fx = *state;
	char prefix[PATH_MAX], want[PATH_MAX + 128];

	snprintf(prefix, sizeof(prefix), "%s", make_tree(fx));
	check_install_tree(prefix, 2, NULL, NULL, &fx->r);
	assert_true(fx->r.holds);
	snprintf(want, sizeof(want),
		 "install tree %s has more than 2 directories; not all were checked", prefix);
	assert_non_null(strstr(fx->r.detail, want));
}

static void test_install_tree_symlink_not_followed(void **state)
{
	struct fixture *fx = *state;
	char prefix[PATH_MAX];

	snprintf(prefix, sizeof(prefix), "%s", make_tree(fx));
	tu_mkdir(fx->dir, "elsewhere");
	assert_int_equal(chmod(tu_path(fx->dir, "elsewhere"), 0777), 0);
	assert_int_equal(symlink(tu_path(fx->dir, "elsewhere"), tu_path(fx->dir, PREFIX "/link")), 0);
	check_install_tree(prefix, 100, NULL, NULL, &fx->r);
	assert_clean(&fx->r);
}

/* --- fault 11: BTF ---------------------------------------------------------- */

#define RELEASE "6.1.0-13-amd64"

static void test_btf_vmlinux_present_not_raised(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	tu_write(fx->dir, "sys/kernel/btf/vmlinux", "BTF");
	assert_int_equal(check_btf(&fx->hv, &fx->p, &fx->r), 0);
	assert_clean(&fx->r);
}

static void test_btf_file_for_release_not_raised(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	tu_write(fx->dir, "opt/picket/lib/btf/" RELEASE ".btf", "BTF");
	assert_int_equal(check_btf(&fx->hv, &fx->p, &fx->r), 0);
	assert_clean(&fx->r);
}

static void test_btf_file_for_other_release_raised(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	tu_write(fx->dir, "opt/picket/lib/btf/6.1.0-12-amd64.btf", "BTF");
	check_btf(&fx->hv, &fx->p, &fx->r);
	assert_true(fx->r.holds);
}

static void test_btf_missing_debian_remedy(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	tu_write(fx->dir, "etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n");
	assert_int_equal(check_btf(&fx->hv, &fx->p, &fx->r), 0);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail,
			    "kernel " RELEASE " exposes no BTF (/sys/kernel/btf/vmlinux) and "
			    "/opt/picket/lib/btf/" RELEASE ".btf does not exist; os debian");
	assert_string_equal(fx->r.remedy,
			    "Debian family: install linux-headers-" RELEASE " and the matching debug image "
			    "(apt-get install linux-headers-$(uname -r) linux-image-$(uname -r)-dbg), or "
			    "place a BTF file for this release at /opt/picket/lib/btf/" RELEASE
			    ".btf. Then restart the connector.");
}

static void test_btf_missing_ubuntu_like_debian(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", "5.15.0-91-generic\n");
	tu_write(fx->dir, "etc/os-release", "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n");
	check_btf(&fx->hv, &fx->p, &fx->r);
	assert_non_null(strstr(fx->r.remedy, "linux-headers-5.15.0-91-generic"));
}

static void test_btf_missing_rhel_remedy(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", "5.14.0-362.8.1.el9_3.x86_64\n");
	tu_write(fx->dir, "etc/os-release", "ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\n");
	check_btf(&fx->hv, &fx->p, &fx->r);
	assert_true(fx->r.holds);
	assert_non_null(strstr(fx->r.detail, "; os rhel"));
	assert_non_null(strstr(fx->r.remedy, "Red Hat family: install kernel-devel and kernel-debuginfo "
					     "for 5.14.0-362.8.1.el9_3.x86_64"));
	assert_null(strstr(fx->r.remedy, "kernel-uek-devel"));
}

static void test_btf_missing_oracle_uek_remedy(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", "5.15.0-200.131.27.el9uek.x86_64\n");
	tu_write(fx->dir, "etc/os-release", "ID=\"ol\"\nID_LIKE=\"fedora\"\n");
	check_btf(&fx->hv, &fx->p, &fx->r);
	assert_non_null(strstr(fx->r.remedy, "Oracle Linux UEK: install kernel-uek-devel and "
					     "kernel-uek-debuginfo for 5.15.0-200.131.27.el9uek.x86_64"));
}

static void test_btf_missing_oracle_rhck_is_red_hat(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", "5.14.0-362.el9.x86_64\n");
	tu_write(fx->dir, "etc/os-release", "ID=\"ol\"\nID_LIKE=\"fedora\"\n");
	check_btf(&fx->hv, &fx->p, &fx->r);
	assert_non_null(strstr(fx->r.remedy, "Red Hat family: install kernel-devel"));
}

static void test_btf_missing_unknown_os_generic_remedy(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	check_btf(&fx->hv, &fx->p, &fx->r);
	assert_non_null(strstr(fx->r.detail, "; os unknown"));
	assert_string_equal(fx->r.remedy,
			    "install the kernel debug information for " RELEASE " from your "
			    "distribution, or place a BTF file for this release at /opt/picket/lib/btf/" RELEASE
			    ".btf. Then restart the connector.");
}

static void test_btf_dir_from_policy(void **state)
{
	struct fixture *fx = *state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX];

	assert_int_equal(policy_load_string("install_prefix = \"/usr/local/picket\";", "t", &p, err,
					    sizeof(err)),
			 0);
	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	tu_write(fx->dir, "usr/local/picket/lib/btf/" RELEASE ".btf", "BTF");
	check_btf(&fx->hv, &p, &fx->r);
	assert_clean(&fx->r);
	policy_free(&p);
}

/* --- fault 16: kernel ------------------------------------------------------- */

static void test_release_cmp_newer(void **state)
{
	(void)state;
	int cmp = 0;
	assert_int_equal(kernel_release_cmp("6.1.0-13-amd64", "5.8", &cmp), 0);
	assert_int_equal(cmp, 1);
	assert_int_equal(kernel_release_cmp("5.15.0", "5.8", &cmp), 0);
	assert_int_equal(cmp, 1);
}

static void test_release_cmp_older(void **state)
{
	(void)state;
	int cmp = 0;
	assert_int_equal(kernel_release_cmp("4.14.0", "5.8", &cmp), 0);
	assert_int_equal(cmp, -1);
	assert_int_equal(kernel_release_cmp("5.4.0-150-generic", "5.8", &cmp), 0);
	assert_int_equal(cmp, -1);
}

static void test_release_cmp_equal(void **state)
{
	(void)state;
	int cmp = 7;
	assert_int_equal(kernel_release_cmp("5.8", "5.8", &cmp), 0);
	assert_int_equal(cmp, 0);
	assert_int_equal(kernel_release_cmp("5.8.0-rc1", "5.8", &cmp), 0);
	assert_int_equal(cmp, 0);
}

static void test_release_cmp_garbage_is_einval(void **state)
{
	(void)state;
	int cmp = 7;
	assert_int_equal(kernel_release_cmp("garbage", "5.8", &cmp), -EINVAL);
	assert_int_equal(kernel_release_cmp("6", "5.8", &cmp), -EINVAL);
	assert_int_equal(kernel_release_cmp("6.1", "five", &cmp), -EINVAL);
	assert_int_equal(cmp, 7);
}

static const struct kernel_features all_ok = { 1, 1, 1, 1, 0 };

static void test_kernel_new_with_features_not_held(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	assert_int_equal(check_kernel(&fx->hv, &fx->p, &all_ok, &fx->r), 0);
	assert_clean(&fx->r);
}

static void test_kernel_too_old_held(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "proc/sys/kernel/osrelease", "4.14.0\n");
	check_kernel(&fx->hv, &fx->p, &all_ok, &fx->r);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail, "kernel 4.14.0 is older than the minimum 5.8");
}

static void test_kernel_min_from_policy(void **state)
{
	struct fixture *fx = *state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX];

	assert_int_equal(policy_load_string("min_kernel = \"6.2\";", "t", &p, err, sizeof(err)), 0);
	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	check_kernel(&fx->hv, &p, &all_ok, &fx->r);
	assert_string_equal(fx->r.detail, "kernel " RELEASE " is older than the minimum 6.2");
	policy_free(&p);
}

static void test_kernel_missing_ringbuf_held(void **state)
{
	struct fixture *fx = *state;
	const struct kernel_features kf = { .bpf_syscall = 1, .ringbuf = 0, .raw_tp = 1, .tp_btf = 1 };

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	check_kernel(&fx->hv, &fx->p, &kf, &fx->r);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail, "missing ring buffer map; kernel " RELEASE);
}

static void test_kernel_missing_everything_listed(void **state)
{
	struct fixture *fx = *state;
	const struct kernel_features none = { 0, 0, 0, 0, 0 };

	tu_write(fx->dir, "proc/sys/kernel/osrelease", "5.4.0\n");
	check_kernel(&fx->hv, &fx->p, &none, &fx->r);
	assert_string_equal(fx->r.detail, "kernel 5.4.0 is older than the minimum 5.8; missing BPF "
					  "syscall; missing ring buffer map; missing raw tracepoints; "
					  "missing BTF-enabled tracepoints");
}

static void test_kernel_probe_refused_not_held(void **state)
{
	struct fixture *fx = *state;
	const struct kernel_features kf = { -EPERM, -EPERM, -EPERM, -EPERM, 0 };

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	check_kernel(&fx->hv, &fx->p, &kf, &fx->r);
	assert_clean(&fx->r);
}

static void test_kernel_no_btf_tracepoints_enodata_not_missing(void **state)
{
	struct fixture *fx = *state;
	const struct kernel_features kf = { 1, 1, 1, -ENODATA, 0 };

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	check_kernel(&fx->hv, &fx->p, &kf, &fx->r);
	assert_clean(&fx->r);
}

/* Each missing feature is named; the optional ones do not hold the fault. */
static void test_kernel_missing_features_named(void **state)
{
	struct fixture *fx = *state;
	struct kernel_features kf = all_ok;
	char optional[512];

	tu_write(fx->dir, "proc/sys/kernel/osrelease", RELEASE "\n");
	kf.missing = 1ULL << 4 | 1ULL << 5; /* the LPM trie map, cgroup sock_addr programs */
	check_kernel(&fx->hv, &fx->p, &kf, &fx->r);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail, "missing LPM trie map; kernel " RELEASE);
	kernel_missing_features(&kf, true, optional, sizeof(optional));
	assert_string_equal(optional, "cgroup sock_addr programs (blocklist, UDP sends)");

	fx->r = (struct check_result){ 0 };
	kf.missing = 1ULL << 5;
	check_kernel(&fx->hv, &fx->p, &kf, &fx->r);
	assert_clean(&fx->r);
}

static void test_kernel_release_unreadable_held(void **state)
{
	struct fixture *fx = *state;

	check_kernel(&fx->hv, &fx->p, &all_ok, &fx->r);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail, "kernel release unreadable: No such file or directory");
}

static void test_kernel_probe_values_in_range(void **state)
{
	(void)state;
	struct kernel_features kf = { 9, 9, 9, 9, ~0ULL };
	char names[1024];

	kernel_probe_features(&kf);
	/* This machine's kernel (6.18) has everything the monitors use. */
	kernel_missing_features(&kf, false, names, sizeof(names));
	if (geteuid() == 0 && kf.bpf_syscall == 1)
		assert_string_equal(names, "");
	kernel_missing_features(&kf, true, names, sizeof(names));
	if (geteuid() == 0 && kf.bpf_syscall == 1)
		assert_string_equal(names, "");
	assert_true(kf.bpf_syscall <= 1);
	assert_true(kf.ringbuf <= 1);
	assert_true(kf.raw_tp <= 1);
	assert_true(kf.tp_btf <= 1);
	if (kf.bpf_syscall != 1) {
		assert_int_equal(kf.ringbuf, kf.bpf_syscall);
		assert_int_equal(kf.tp_btf, kf.bpf_syscall);
	}
}

/* --- fault 19: SELinux -------------------------------------------------------- */

#define STORE "var/lib/selinux/targeted/active/modules"

static void enforcing(struct fixture *fx)
{
	tu_write(fx->dir, "sys/fs/selinux/enforce", "1");
	tu_write(fx->dir, "etc/selinux/config", "SELINUX=enforcing\nSELINUXTYPE=targeted\n");
}

/* check_selinux with the feature probe's bpf() answer (1: allowed). */
static int selinux(struct fixture *fx, int bpf_syscall)
{
	struct kernel_features kf = { .bpf_syscall = bpf_syscall };
	return check_selinux(&fx->hv, &kf, &fx->r, &fx->denied);
}

static void test_selinux_absent_not_held(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(selinux(fx, 1), 0);
	assert_clean(&fx->r);
}

static void test_selinux_permissive_not_held(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "sys/fs/selinux/enforce", "0");
	tu_write(fx->dir, "etc/selinux/config", "SELINUX=permissive\nSELINUXTYPE=targeted\n");
	selinux(fx, 1);
	assert_clean(&fx->r);
}

static void test_selinux_enforcing_without_module_held(void **state)
{
	struct fixture *fx = *state;

	enforcing(fx);
	tu_mkdir(fx->dir, STORE "/100/base");
	selinux(fx, 1);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail, "SELinux is enforcing (policy targeted) and module picket_bpf "
					  "is not installed in /var/lib/selinux/targeted/active/modules");
}

static void test_selinux_enforcing_no_store_held(void **state)
{
	struct fixture *fx = *state;

	enforcing(fx);
	selinux(fx, 1);
	assert_true(fx->r.holds);
}

static void test_selinux_module_installed_not_held(void **state)
{
	struct fixture *fx = *state;

	enforcing(fx);
	tu_mkdir(fx->dir, STORE "/400/picket_bpf");
	selinux(fx, 1);
	assert_clean(&fx->r);
}

static void test_selinux_module_disabled_held(void **state)
{
	struct fixture *fx = *state;

	enforcing(fx);
	tu_mkdir(fx->dir, STORE "/400/picket_bpf");
	tu_write(fx->dir, STORE "/disabled/picket_bpf", "");
	selinux(fx, 1);
	assert_true(fx->r.holds);
	assert_string_equal(fx->r.detail,
			    "SELinux is enforcing (policy targeted) and module picket_bpf is disabled "
			    "(/var/lib/selinux/targeted/active/modules/disabled/picket_bpf)");
}

static void test_selinux_module_in_other_store_held(void **state)
{
	struct fixture *fx = *state;

	tu_write(fx->dir, "sys/fs/selinux/enforce", "1\n");
	tu_write(fx->dir, "etc/selinux/config", "SELINUX=enforcing\nSELINUXTYPE=mls\n");
	tu_mkdir(fx->dir, STORE "/400/picket_bpf");
	selinux(fx, 1);
	assert_true(fx->r.holds);
	assert_non_null(strstr(fx->r.detail, "(policy mls)"));
	assert_non_null(strstr(fx->r.detail, "/var/lib/selinux/mls/active/modules"));
}

static void test_selinux_denial_held_and_named(void **state)
{
	struct fixture *fx = *state;

	enforcing(fx);
	tu_write(fx->dir, "proc/self/attr/current", "system_u:system_r:initrc_t:s0");
	selinux(fx, -EACCES);
	assert_true(fx->r.holds);
	assert_true(fx->denied);
	assert_string_equal(fx->r.detail,
			    "SELinux denies picketd's bpf() in domain system_u:system_r:initrc_t:s0: "
			    "Permission denied; SELinux is enforcing (policy targeted) and module "
			    "picket_bpf is not installed in /var/lib/selinux/targeted/active/modules");
}

/* Installed, yet denied: the module does not name the domain picketd runs in. */
static void test_selinux_denial_with_module_held(void **state)
{
	struct fixture *fx = *state;

	enforcing(fx);
	tu_mkdir(fx->dir, STORE "/400/picket_bpf");
	selinux(fx, -EACCES);
	assert_true(fx->r.holds);
	assert_true(fx->denied);
	assert_string_equal(fx->r.detail,
			    "SELinux denies picketd's bpf() in domain (unknown): Permission denied; "
			    "module picket_bpf is installed but does not cover this domain");
}

/* EPERM is capabilities or lockdown, not SELinux; permissive denies nothing. */
static void test_selinux_eperm_or_permissive_not_denied(void **state)
{
	struct fixture *fx = *state;

	enforcing(fx);
	tu_mkdir(fx->dir, STORE "/400/picket_bpf");
	selinux(fx, -EPERM);
	assert_clean(&fx->r);
	assert_false(fx->denied);
	tu_write(fx->dir, "sys/fs/selinux/enforce", "0");
	selinux(fx, -EACCES);
	assert_clean(&fx->r);
	assert_false(fx->denied);
}

static void test_selinux_only_disabled_entry_held(void **state)
{
	struct fixture *fx = *state;

	enforcing(fx);
	tu_write(fx->dir, STORE "/disabled/picket_bpf", "");
	selinux(fx, 1);
	assert_true(fx->r.holds);
	assert_non_null(strstr(fx->r.detail, "is not installed"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_note_joins_with_semicolons),
		T(test_note_is_cut_at_detail_size),
		T(test_scan_user_present_is_clean),
		T(test_scan_user_missing),
		T(test_scan_group_missing),
		T(test_scan_user_and_group_missing),
		T(test_scan_user_wrong_primary_group),
		T(test_scan_user_uid_0),
		T(test_scan_user_policy_names_used),
		T(test_install_tree_0777_dir_named),
		T(test_install_tree_missing_prefix),
		T(test_install_tree_max_dirs_reported),
		T(test_btf_vmlinux_present_not_raised),
		T(test_btf_file_for_release_not_raised),
		T(test_btf_file_for_other_release_raised),
		T(test_btf_missing_debian_remedy),
		T(test_btf_missing_ubuntu_like_debian),
		T(test_btf_missing_rhel_remedy),
		T(test_btf_missing_oracle_uek_remedy),
		T(test_btf_missing_oracle_rhck_is_red_hat),
		T(test_btf_missing_unknown_os_generic_remedy),
		T(test_btf_dir_from_policy),
		T(test_release_cmp_newer),
		T(test_release_cmp_older),
		T(test_release_cmp_equal),
		T(test_release_cmp_garbage_is_einval),
		T(test_kernel_new_with_features_not_held),
		T(test_kernel_too_old_held),
		T(test_kernel_min_from_policy),
		T(test_kernel_missing_ringbuf_held),
		T(test_kernel_missing_everything_listed),
		T(test_kernel_probe_refused_not_held),
		T(test_kernel_no_btf_tracepoints_enodata_not_missing),
		T(test_kernel_missing_features_named),
		T(test_kernel_release_unreadable_held),
		T(test_kernel_probe_values_in_range),
		T(test_selinux_denial_held_and_named),
		T(test_selinux_denial_with_module_held),
		T(test_selinux_eperm_or_permissive_not_denied),
		T(test_selinux_absent_not_held),
		T(test_selinux_permissive_not_held),
		T(test_selinux_enforcing_without_module_held),
		T(test_selinux_enforcing_no_store_held),
		T(test_selinux_module_installed_not_held),
		T(test_selinux_module_disabled_held),
		T(test_selinux_module_in_other_store_held),
		T(test_selinux_only_disabled_entry_held),
	};
	/* Exact ownership (root:root) needs the tests to create files as root. */
	const struct CMUnitTest root_only[] = {
		T(test_install_tree_root_0755_is_clean),
		T(test_install_tree_foreign_owner_named),
		T(test_install_tree_many_bad_dirs_summarised),
		T(test_install_tree_symlink_not_followed),
	};
	log_set_level(LOG_CRIT);
	return TU_RUN("checks", tests, root_only);
}
