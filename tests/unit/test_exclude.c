/* Unit tests of src/common/exclude.c: path prefixes on whole components,
 * compared normalised, the policy's path_exclusions and process_exclusions. */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "exclude.h"
#include "log.h"
#include "policy.h"

static void load(const char *text, struct policy *p)
{
	char err[POLICY_ERR_MAX] = "";

	if (policy_load_string(text, "test.conf", p, err, sizeof(err)) != 0)
		fail_msg("policy refused: %s", err);
}

static void test_path_under_exact_and_below(void **state)
{
	(void)state;
	assert_true(path_under("/srv/cache", "/srv/cache"));
	assert_true(path_under("/srv/cache/x", "/srv/cache"));
	assert_true(path_under("/srv/cache/x/y/z", "/srv/cache"));
	assert_true(path_under("/srv/cache/", "/srv/cache"));
}

static void test_path_under_whole_components_only(void **state)
{
	(void)state;
	assert_false(path_under("/srv/cache2", "/srv/cache"));
	assert_false(path_under("/srv/cache2/x", "/srv/cache"));
	assert_false(path_under("/srv/cachex", "/srv/cache"));
	assert_false(path_under("/srv/cach", "/srv/cache"));
	assert_false(path_under("/srv", "/srv/cache"));
	assert_false(path_under("/srv/", "/srv/cache"));
	assert_false(path_under("/other/srv/cache", "/srv/cache"));
	assert_false(path_under("/SRV/cache", "/srv/cache"));
	assert_false(path_under("", "/srv/cache"));
}

static void test_path_under_prefix_trailing_slashes(void **state)
{
	(void)state;
	assert_true(path_under("/srv/cache", "/srv/cache/"));
	assert_true(path_under("/srv/cache/x", "/srv/cache/"));
	assert_true(path_under("/srv/cache/x", "/srv/cache//"));
	assert_true(path_under("/srv/cache/", "/srv/cache/"));
	assert_false(path_under("/srv/cache2", "/srv/cache/"));
	assert_false(path_under("/srv/cache2", "/srv/cache///"));
}

static void test_path_under_root_holds_all(void **state)
{
	(void)state;
	assert_true(path_under("/", "/"));
	assert_true(path_under("/etc/passwd", "/"));
	assert_true(path_under("/x", "/"));
	assert_true(path_under("/etc", "//"));
	assert_false(path_under("relative/path", "/"));
	assert_false(path_under("", "/"));
}

static void test_path_under_one_component_prefix(void **state)
{
	(void)state;
	assert_true(path_under("/a", "/a"));
	assert_false(path_under("/ab", "/a"));
	assert_false(path_under("/", "/a"));
}

static void assert_normal(const char *in, const char *want)
{
	char out[PATH_MAX];
	int r = path_normalize(in, out, sizeof(out));
	if (r != 0)
		fail_msg("path_normalize(\"%s\"): %d", in, r);
	if (strcmp(out, want) != 0)
		fail_msg("path_normalize(\"%s\"): \"%s\", expected \"%s\"", in, out, want);
}

static void test_path_normalize(void **state)
{
	(void)state;
	assert_normal("/", "/");
	assert_normal("//", "/");
	assert_normal("/proc", "/proc");
	assert_normal("//proc", "/proc");
	assert_normal("///proc//self///", "/proc/self");
	assert_normal("/./proc/.", "/proc");
	assert_normal("/x/../proc", "/proc");
	assert_normal("/x/y/../../proc/./1/..", "/proc");
	assert_normal("/..", "/");
	assert_normal("/../../proc", "/proc");
	assert_normal("/proc/..", "/");
	assert_normal("/a/...", "/a/...");  /* a name, not a step */
	assert_normal("/a/.b/..c", "/a/.b/..c");
	assert_normal("/srv/cache/", "/srv/cache");
}

static void test_path_normalize_refuses(void **state)
{
	(void)state;
	char out[8];
	assert_int_equal(path_normalize("proc", out, sizeof(out)), -EINVAL);
	assert_int_equal(path_normalize("", out, sizeof(out)), -EINVAL);
	assert_int_equal(path_normalize("./proc", out, sizeof(out)), -EINVAL);
	assert_int_equal(path_normalize(NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(path_normalize("/1234567", out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(path_normalize("/123456", out, sizeof(out)), 0);
	assert_string_equal(out, "/123456");
	assert_int_equal(path_normalize("/", out, 1), -ENAMETOOLONG);
}

/* A path spelled another way is the same path, on both sides. */
static void test_path_under_normalised(void **state)
{
	(void)state;
	assert_true(path_under("//proc/x", "/proc"));
	assert_true(path_under("/./proc/x", "/proc"));
	assert_true(path_under("/tmp/../proc/x", "/proc"));
	assert_true(path_under("/proc/x", "//proc"));
	assert_true(path_under("/proc/x", "/./proc/"));
	assert_true(path_under("/proc/x", "/sys/../proc"));
	assert_false(path_under("/proc/../tmp/x", "/proc"));
	assert_false(path_under("/proc/x/../../tmp", "/proc"));
	assert_false(path_under("//procx", "/proc"));
	assert_false(path_under("/tmp/x", "//proc"));
	assert_false(path_under("proc/x", "/proc"));
}

static void test_exclude_path_from_policy(void **state)
{
	(void)state;
	struct policy p = { 0 };

	load("path_exclusions = [ \"/proc\", \"/srv/cache/\", \"/var/lib/docker\" ];", &p);
	assert_true(exclude_path(&p, "/proc"));
	assert_true(exclude_path(&p, "/proc/1/stat"));
	assert_false(exclude_path(&p, "/procfs"));
	assert_true(exclude_path(&p, "/srv/cache"));
	assert_true(exclude_path(&p, "/srv/cache/a/b"));
	assert_false(exclude_path(&p, "/srv/cache2"));
	assert_false(exclude_path(&p, "/srv/cache2/a"));
	assert_true(exclude_path(&p, "/var/lib/docker/overlay2/x"));
	assert_false(exclude_path(&p, "/var/lib/dockerd"));
	assert_false(exclude_path(&p, "/var/lib"));
	assert_false(exclude_path(&p, "/sys/kernel")); /* the list replaced the defaults */
	assert_false(exclude_path(&p, "/home/user/file"));
	assert_true(exclude_path(&p, "//proc/1/stat"));
	assert_true(exclude_path(&p, "/srv//cache/./a"));
	assert_false(exclude_path(&p, "/srv/cache/../cache2/a"));
	policy_free(&p);
}

/* Entries are compared normalised too. */
static void test_exclude_path_entries_normalised(void **state)
{
	(void)state;
	struct policy p = { 0 };

	load("path_exclusions = [ \"//proc\", \"/srv/./cache\", \"/var/x/../lib/docker\" ];", &p);
	assert_true(exclude_path(&p, "/proc/1/stat"));
	assert_true(exclude_path(&p, "/srv/cache/a"));
	assert_true(exclude_path(&p, "/var/lib/docker/overlay2"));
	assert_false(exclude_path(&p, "/var/x/lib/docker"));
	assert_false(exclude_path(&p, "/tmp/proc"));
	policy_free(&p);
}

static void test_exclude_path_defaults(void **state)
{
	(void)state;
	struct policy p = { 0 };

	load("", &p);
	assert_true(exclude_path(&p, "/proc/self/maps"));
	assert_true(exclude_path(&p, "/sys/kernel/btf/vmlinux"));
	assert_false(exclude_path(&p, "/system"));
	assert_false(exclude_path(&p, "/dev/shm/x"));
	assert_false(exclude_path(&p, "/run/x"));
	policy_free(&p);
}

static void test_exclude_path_empty_list_excludes_nothing(void **state)
{
	(void)state;
	struct policy p = { 0 };

	load("path_exclusions = [ ];", &p);
	assert_int_equal(p.n_path_exclusions, 0);
	assert_false(exclude_path(&p, "/proc/1/stat"));
	assert_false(exclude_path(&p, "/"));
	policy_free(&p);
}

static void test_exclude_path_root_excludes_all(void **state)
{
	(void)state;
	struct policy p = { 0 };

	load("path_exclusions = [ \"/\" ];", &p);
	assert_true(exclude_path(&p, "/"));
	assert_true(exclude_path(&p, "/home/user/file"));
	policy_free(&p);
}

static void test_exclude_process_exact_match(void **state)
{
	(void)state;
	struct policy p = { 0 };

	load("process_exclusions = [ \"/usr/bin/rsync\", \"/usr/sbin/backupd\" ];", &p);
	assert_true(exclude_process(&p, "/usr/bin/rsync"));
	assert_true(exclude_process(&p, "/usr/sbin/backupd"));
	assert_false(exclude_process(&p, "/usr/bin/rsync2"));
	assert_false(exclude_process(&p, "/usr/bin/rsyn"));
	assert_false(exclude_process(&p, "/usr/bin/rsync/"));
	assert_false(exclude_process(&p, "/usr/bin"));                 /* not a prefix match */
	assert_false(exclude_process(&p, "/usr/bin/../bin/rsync"));    /* not normalized */
	assert_false(exclude_process(&p, "/USR/BIN/RSYNC"));
	assert_false(exclude_process(&p, "rsync"));
	policy_free(&p);
}

static void test_exclude_process_empty_or_null_exe(void **state)
{
	(void)state;
	struct policy p = { 0 };

	load("process_exclusions = [ \"/usr/bin/rsync\" ];", &p);
	assert_false(exclude_process(&p, NULL));
	assert_false(exclude_process(&p, ""));
	policy_free(&p);
}

static void test_exclude_process_none_configured(void **state)
{
	(void)state;
	struct policy p = { 0 };

	load("", &p);
	assert_int_equal(p.n_process_exclusions, 0);
	assert_false(exclude_process(&p, "/usr/bin/rsync"));
	assert_false(exclude_process(&p, NULL));
	policy_free(&p);
}

static void test_exclude_process_does_not_exclude_paths(void **state)
{
	(void)state;
	struct policy p = { 0 };

	/* The two lists are separate: a process path is not a path exclusion. */
	load("process_exclusions = [ \"/usr/bin/rsync\" ];\npath_exclusions = [ \"/srv\" ];", &p);
	assert_false(exclude_path(&p, "/usr/bin/rsync"));
	assert_false(exclude_process(&p, "/srv"));
	assert_false(exclude_process(&p, "/srv/bin/tool"));
	policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_under_exact_and_below),
		cmocka_unit_test(test_path_under_whole_components_only),
		cmocka_unit_test(test_path_under_prefix_trailing_slashes),
		cmocka_unit_test(test_path_under_root_holds_all),
		cmocka_unit_test(test_path_under_one_component_prefix),
		cmocka_unit_test(test_path_normalize),
		cmocka_unit_test(test_path_normalize_refuses),
		cmocka_unit_test(test_path_under_normalised),
		cmocka_unit_test(test_exclude_path_from_policy),
		cmocka_unit_test(test_exclude_path_entries_normalised),
		cmocka_unit_test(test_exclude_path_defaults),
		cmocka_unit_test(test_exclude_path_empty_list_excludes_nothing),
		cmocka_unit_test(test_exclude_path_root_excludes_all),
		cmocka_unit_test(test_exclude_process_exact_match),
		cmocka_unit_test(test_exclude_process_empty_or_null_exe),
		cmocka_unit_test(test_exclude_process_none_configured),
		cmocka_unit_test(test_exclude_process_does_not_exclude_paths),
	};
	log_set_level(LOG_CRIT);
	return cmocka_run_group_tests_name("exclude", tests, NULL, NULL);
}
