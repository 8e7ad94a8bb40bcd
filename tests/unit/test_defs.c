/* Unit tests of src/daemon/defs.c: the definitions store.  The definitions
 * come from tests/data/make-test-defs.sh (run once, from the group setup);
 * each test has its own state directory.  The stability check is a stub,
 * or a real in-process libclamav load where the test is about loading. */
#include "testutil.h"

#include <clamav.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "store/defs.h"

static char *data; /* the generated definitions */

static int make_data(void **state)
{
	char tmpl[] = "/tmp/picket-defs-data.XXXXXX", cmd[PATH_MAX * 2 + 64];
	(void)state;

	if (!mkdtemp(tmpl))
		return -1;
	data = strdup(tmpl);
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/data/make-test-defs.sh' '%s'", SOURCE_ROOT, data);
	if (!data || system(cmd) != 0) {
		fprintf(stderr, "# make-test-defs.sh failed\n");
		return -1;
	}
	return 0;
}

static int remove_data(void **state)
{
	(void)state;
	tu_rm_rf(data);
	free(data);
	return 0;
}

struct fixture {
	char *dir;
	struct defs d;
	struct defs_report rep;
	char active_during_check[PATH_MAX]; /* what active named while the check ran */
	char checked_dir[PATH_MAX];
	int checks;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	void *dir;

	if (!fx || tu_tmpdir_setup(&dir) < 0)
		return -1;
	fx->dir = dir;
	if (defs_open(&fx->d, fx->dir) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	void *dir = fx->dir;

	defs_close(&fx->d);
	tu_tmpdir_teardown(&dir);
	free(fx);
	return 0;
}

/* --- stability checks */

static int check_ok(const char *set_dir, char *err, size_t errlen, void *ud)
{
	struct fixture *fx = ud;
	char p[PATH_MAX];
	ssize_t k;
	(void)err;
	(void)errlen;

	fx->checks++;
	snprintf(fx->checked_dir, sizeof(fx->checked_dir), "%s", set_dir);
	snprintf(p, sizeof(p), "%s/defs/active", fx->dir);
	k = readlink(p, fx->active_during_check, sizeof(fx->active_during_check) - 1);
	fx->active_during_check[k < 0 ? 0 : k] = '\0';
	return 0;
}

static int check_fail(const char *set_dir, char *err, size_t errlen, void *ud)
{
	check_ok(set_dir, err, errlen, ud);
	snprintf(err, errlen, "test load exceeded its memory limit");
	return -ENOMEM;
}

static void clam_quiet(enum cl_msg sev, const char *full, const char *msg, void *ctx)
{
	(void)sev;
	(void)full;
	(void)msg;
	(void)ctx;
}

/* A real load of the set, in a child process as picketd does it (libclamav
 * also leaks on failed loads, which LeakSanitizer would report here). */
static int check_load(const char *set_dir, char *err, size_t errlen, void *ud)
{
	int status;
	pid_t pid;
	(void)ud;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		unsigned sigs = 0;
		cl_error_t rc;
		cl_set_clcb_msg(clam_quiet);
		if (cl_init(CL_INIT_DEFAULT) != CL_SUCCESS)
			_exit(100);
		struct cl_engine *e = cl_engine_new();
		if (!e)
			_exit(101);
		rc = cl_load(set_dir, e, &sigs, CL_DB_STDOPT);
		if (rc == CL_SUCCESS)
			rc = cl_engine_compile(e);
		if (rc == CL_SUCCESS && sigs == 0)
			_exit(102);
		_exit(rc);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status)) {
		snprintf(err, errlen, "test load crashed");
		return -EBADMSG;
	}
	if (WEXITSTATUS(status) == 0)
		return 0;
	if (WEXITSTATUS(status) < 100)
		snprintf(err, errlen, "libclamav: %s", cl_strerror((cl_error_t)WEXITSTATUS(status)));
	else
		snprintf(err, errlen, "test load failed with status %d", WEXITSTATUS(status));
	return -EBADMSG;
}

/* --- helpers */

/* libclamav's container check as nobody when the tests run as root, else
 * as their own user. */
static struct defs_install_opts opts_for(struct fixture *fx,
					 int (*fn)(const char *, char *, size_t, void *))
{
	bool root = tu_is_root();
	struct cvd_check_opts check = { .allow_unsigned = true,
					.uid = root ? 65534 : getuid(),
					.gid = root ? 65534 : getgid(),
					.timeout_ms = 60000 };
	return (struct defs_install_opts){ .check = check, .stability = fn, .ud = fx };
}

/* defs_install of paths[0..n), each opened by the store. */
static int install_paths(struct fixture *fx, const struct defs_install_opts *o,
			 const char *const *paths, size_t n)
{
	struct defs_input in[DEFS_FILES_MAX + 1];
	assert_true(n <= DEFS_FILES_MAX + 1);
	for (size_t i = 0; i < n; i++)
		in[i] = (struct defs_input){ .path = paths[i], .fd = -1 };
	return defs_install(&fx->d, in, n, o, &fx->rep);
}

static int install1(struct fixture *fx, const char *rel, int (*fn)(const char *, char *, size_t, void *))
{
	const char *paths[] = { tu_path(data, rel) };
	struct defs_install_opts o = opts_for(fx, fn);
	return install_paths(fx, &o, paths, 1);
}

/* The target of <state>/defs/<link>, "" if there is none. */
static const char *link_of(struct fixture *fx, const char *link)
{
	static char buf[4][PATH_MAX];
	static unsigned next;
	char *b = buf[next++ % 4];
	ssize_t k = readlink(tu_path(fx->dir, link), b, PATH_MAX - 1);

	b[k < 0 ? 0 : k] = '\0';
	return b;
}

/* active names an existing set directory. */
static void assert_active_valid(struct fixture *fx)
{
	const char *t = link_of(fx, "defs/active");
	struct stat st;
	char p[PATH_MAX];

	assert_true(strncmp(t, "sets/", 5) == 0);
	snprintf(p, sizeof(p), "%s/defs/%s", fx->dir, t);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* The reason line of rejected/<name>.reason. */
static void assert_rejected(struct fixture *fx, const char *name, bool kept, const char *reason)
{
	char p[PATH_MAX], line[700];

	snprintf(p, sizeof(p), "defs/rejected/%s", name);
	assert_int_equal(exists(tu_path(fx->dir, p)), kept);
	snprintf(p, sizeof(p), "defs/rejected/%s.reason", name);
	char *text = tu_read(tu_path(fx->dir, p));
	assert_non_null(text);
	assert_non_null(strstr(text, "time: "));
	snprintf(line, sizeof(line), "\nreason: %s\n", reason);
	if (!strstr(text, line))
		fail_msg("%s: no '%s' in:\n%s", p, reason, text);
	free(text);
}

static size_t find_result(struct fixture *fx, const char *name)
{
	for (size_t i = 0; i < fx->rep.n; i++)
		if (strcmp(fx->rep.files[i].name, name) == 0)
			return i;
	fail_msg("no result for %s", name);
	return 0;
}

/* --- layout */

static void test_open_layout(void **state)
{
	struct fixture *fx = *state;
	struct defs_status st;
	char want[PATH_MAX];

	assert_int_equal(mode_of(tu_path(fx->dir, "defs")), 0755);
	assert_int_equal(mode_of(tu_path(fx->dir, "defs/sets")), 0755);
	assert_int_equal(mode_of(tu_path(fx->dir, "defs/staging")), 0700);
	assert_int_equal(mode_of(tu_path(fx->dir, "defs/rejected")), 0700);
	assert_int_equal(mode_of(tu_path(fx->dir, "defs/incoming")), 0700);
	snprintf(want, sizeof(want), "%s/defs/active", fx->dir);
	assert_string_equal(defs_active_dir(&fx->d), want);
	assert_int_equal(defs_status(&fx->d, &st), -ENOENT);
	assert_int_equal(defs_rollback(&fx->d, "x"), -ENOENT);

	/* idempotent, and it puts modes back */
	assert_int_equal(chmod(tu_path(fx->dir, "defs/incoming"), 0777), 0);
	struct defs again;
	assert_int_equal(defs_open(&again, fx->dir), 0);
	defs_close(&again);
	assert_int_equal(mode_of(tu_path(fx->dir, "defs/incoming")), 0700);
}

static void test_open_removes_leftovers(void **state)
{
	struct fixture *fx = *state;
	struct defs again;

	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	tu_write(fx->dir, "defs/staging/in/half-copied.cud", "x");
	tu_write(fx->dir, "defs/sets/20000101T000000Z-1/picket.cud", "x");
	defs_close(&fx->d);
	assert_int_equal(defs_open(&again, fx->dir), 0);
	fx->d = again;
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/staging")), 0);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/sets")), 1);
	assert_active_valid(fx);
}

/* --- install */

static void test_install_good(void **state)
{
	struct fixture *fx = *state;
	struct defs_status st;
	time_t before = time(NULL);

	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	assert_int_equal(fx->rep.n, 1);
	assert_string_equal(fx->rep.files[0].name, "picket.cud");
	assert_true(fx->rep.files[0].accepted);
	assert_string_equal(fx->rep.files[0].reason, "");
	assert_int_equal(fx->checks, 1);

	char want[128];
	snprintf(want, sizeof(want), "sets/%s", fx->rep.set_id);
	assert_string_equal(link_of(fx, "defs/active"), want);
	assert_true(exists(tu_path(fx->dir, "defs/active/picket.cud")));
	assert_false(exists(tu_path(fx->dir, "defs/last-known-good")));
	/* the check ran on the complete set, before it became active */
	snprintf(want, sizeof(want), "%s/defs/sets/%s", fx->dir, fx->rep.set_id);
	assert_string_equal(fx->checked_dir, want);
	assert_string_equal(fx->active_during_check, "");

	assert_int_equal(defs_status(&fx->d, &st), 0);
	assert_string_equal(st.set_id, fx->rep.set_id);
	assert_int_equal(st.n_files, 1);
	assert_string_equal(st.files[0].name, "picket.cud");
	assert_true(st.files[0].header_ok);
	assert_int_equal(st.files[0].version, 1);
	assert_int_equal(st.files[0].sigs, 2);
	assert_true(st.files[0].build_time[0] != '\0');
	assert_int_equal(st.total_sigs, 2);
	assert_int_equal(st.newest_stime, st.files[0].stime);
	assert_string_equal(st.newest_build_time, st.files[0].build_time);
	assert_int_equal(st.age, (int64_t)time(NULL) - (int64_t)st.files[0].stime);
	assert_true(st.installed_at >= before && st.installed_at <= time(NULL));
	assert_false(st.has_last_known_good);
	/* the input stays where it was; staging is empty */
	assert_true(exists(tu_path(data, "picket.cud")));
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/staging")), 0);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/rejected")), 0);
}

static void test_install_bad_files(void **state)
{
	static const struct {
		const char *name, *reason;
	} bad[] = {
		{ "wrong-md5.cud", NULL },
		{ "truncated-header.cud", "file shorter than the 512-byte header" },
		{ "empty.cud", "file shorter than the 512-byte header" },
		{ "huge-sigs.cud", "header: field 4 (sigs) is out of range (at most 50000000)" },
	};
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	const char *paths[4];
	char before[PATH_MAX], rel[64];

	/* on an empty store */
	assert_int_equal(install1(fx, "bad/empty.cud", check_ok), -EBADMSG);
	assert_false(exists(tu_path(fx->dir, "defs/active")));
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/sets")), 0);
	tu_rm_rf(tu_path(fx->dir, "defs/rejected"));
	tu_mkdir(fx->dir, "defs/rejected");

	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	snprintf(before, sizeof(before), "%s", link_of(fx, "defs/active"));
	fx->checks = 0;
	for (size_t i = 0; i < 4; i++) {
		snprintf(rel, sizeof(rel), "bad/%s", bad[i].name);
		paths[i] = strdup(tu_path(data, rel));
	}
	assert_int_equal(install_paths(fx, &o, paths, 4), -EBADMSG);
	assert_int_equal(fx->checks, 0); /* nothing to test-load */
	assert_int_equal(fx->rep.n, 4);
	assert_string_equal(fx->rep.set_id, "");
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(fx->rep.files[i].name, bad[i].name);
		assert_false(fx->rep.files[i].accepted);
		if (bad[i].reason)
			assert_string_equal(fx->rep.files[i].reason, bad[i].reason);
		else
			assert_true(strncmp(fx->rep.files[i].reason, "body MD5 ", 9) == 0);
		assert_rejected(fx, bad[i].name, true, fx->rep.files[i].reason);
		free((char *)paths[i]);
	}
	assert_string_equal(link_of(fx, "defs/active"), before);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/sets")), 1);

	/* the same file again: it goes aside under another name */
	assert_int_equal(install1(fx, "bad/empty.cud", check_ok), -EBADMSG);
	assert_rejected(fx, "empty.cud.1", true, "file shorter than the 512-byte header");
	char *reason = tu_read(tu_path(fx->dir, "defs/rejected/empty.cud.1.reason"));
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "\nsource: %s\nfile: empty.cud.1\n", tu_path(data, "bad/empty.cud"));
	assert_non_null(strstr(reason, want));
	free(reason);
}

static void test_install_v2(void **state)
{
	struct fixture *fx = *state;
	struct defs_status st;
	char v1[PATH_MAX], v2[PATH_MAX];

	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	snprintf(v1, sizeof(v1), "%s", link_of(fx, "defs/active"));
	assert_int_equal(install1(fx, "v2/picket.cud", check_ok), 0);
	snprintf(v2, sizeof(v2), "%s", link_of(fx, "defs/active"));
	assert_string_not_equal(v1, v2);
	assert_string_equal(link_of(fx, "defs/last-known-good"), v1);
	assert_string_equal(fx->active_during_check, v1);

	assert_int_equal(defs_status(&fx->d, &st), 0);
	assert_int_equal(st.n_files, 1);
	assert_int_equal(st.files[0].version, 2);
	assert_int_equal(st.files[0].sigs, 3);
	assert_int_equal(st.total_sigs, 3);
	assert_true(st.has_last_known_good);
	assert_string_equal(st.last_known_good_id, v1 + 5);

	/* the same version again is allowed; the v1 set is then unreferenced and removed */
	assert_int_equal(install1(fx, "v2/picket.cud", check_ok), 0);
	assert_string_equal(link_of(fx, "defs/last-known-good"), v2);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/sets")), 2);
	char p[PATH_MAX + 8];
	snprintf(p, sizeof(p), "defs/%s", v1);
	assert_false(exists(tu_path(fx->dir, p)));
}

static void test_install_older_refused(void **state)
{
	struct fixture *fx = *state;
	char before[PATH_MAX];

	assert_int_equal(install1(fx, "v2/picket.cud", check_ok), 0);
	snprintf(before, sizeof(before), "%s", link_of(fx, "defs/active"));
	assert_int_equal(install1(fx, "picket.cud", check_ok), -EBADMSG);
	assert_string_equal(fx->rep.files[0].reason,
			    "version 1 is older than the active version 2 of this database");
	assert_rejected(fx, "picket.cud", true, fx->rep.files[0].reason);
	assert_string_equal(link_of(fx, "defs/active"), before);
}

static void test_install_mixed(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	struct defs_status st;
	char v2[PATH_MAX], bad[PATH_MAX];

	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	snprintf(v2, sizeof(v2), "%s", tu_path(data, "v2/picket.cud"));
	snprintf(bad, sizeof(bad), "%s", tu_path(data, "bad/wrong-md5.cud"));
	const char *paths[] = { bad, v2 };
	assert_int_equal(install_paths(fx, &o, paths, 2), 0);
	assert_false(fx->rep.files[find_result(fx, "wrong-md5.cud")].accepted);
	assert_true(fx->rep.files[find_result(fx, "picket.cud")].accepted);
	assert_rejected(fx, "wrong-md5.cud", true, fx->rep.files[0].reason);
	assert_int_equal(defs_status(&fx->d, &st), 0);
	assert_int_equal(st.n_files, 1);
	assert_int_equal(st.files[0].version, 2);
}

static void test_install_adds_databases(void **state)
{
	struct fixture *fx = *state;
	struct defs_status st;

	/* a second database joins the set; the first is carried over */
	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	assert_int_equal(install1(fx, "bad/bad-sigline.cud", check_ok), 0);
	assert_int_equal(defs_status(&fx->d, &st), 0);
	assert_int_equal(st.n_files, 2);
	assert_string_equal(st.files[0].name, "bad-sigline.cud");
	assert_string_equal(st.files[1].name, "picket.cud");
	assert_int_equal(st.total_sigs, 4);
	/* carried over as the same file (a hard link), not a copy */
	struct stat a, b;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "defs/%s/picket.cud", link_of(fx, "defs/last-known-good"));
	assert_int_equal(stat(tu_path(fx->dir, p), &a), 0);
	assert_int_equal(stat(tu_path(fx->dir, "defs/active/picket.cud"), &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
}

static void test_install_same_database_twice(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	char v1[PATH_MAX], v2[PATH_MAX];
	struct defs_status st;

	snprintf(v1, sizeof(v1), "%s", tu_path(data, "picket.cud"));
	snprintf(v2, sizeof(v2), "%s", tu_path(data, "v2/picket.cud"));
	const char *paths[] = { v2, v1 };
	assert_int_equal(install_paths(fx, &o, paths, 2), 0);
	assert_true(fx->rep.files[0].accepted);
	assert_false(fx->rep.files[1].accepted);
	assert_string_equal(fx->rep.files[1].reason, "another file of this update is the same database");
	assert_int_equal(defs_status(&fx->d, &st), 0);
	assert_int_equal(st.files[0].version, 2);
}

static void test_stability_failure(void **state)
{
	struct fixture *fx = *state;
	char before[PATH_MAX];

	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	snprintf(before, sizeof(before), "%s", link_of(fx, "defs/active"));
	assert_int_equal(install1(fx, "v2/picket.cud", check_fail), -EBADMSG);
	assert_false(fx->rep.files[0].accepted);
	assert_string_equal(fx->rep.files[0].reason, "test load failed: test load exceeded its memory limit");
	assert_rejected(fx, "picket.cud", true, fx->rep.files[0].reason);
	assert_string_equal(link_of(fx, "defs/active"), before);
	assert_string_equal(fx->active_during_check, before);
	assert_false(exists(tu_path(fx->dir, "defs/last-known-good")));
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/sets")), 1);
	assert_false(exists(fx->checked_dir));

	struct defs_status st;
	assert_int_equal(defs_status(&fx->d, &st), 0);
	assert_int_equal(st.files[0].version, 1);
}

static void test_stability_real_load(void **state)
{
	struct fixture *fx = *state;
	char before[PATH_MAX];

	assert_int_equal(install1(fx, "picket.cud", check_load), 0);
	snprintf(before, sizeof(before), "%s", link_of(fx, "defs/active"));
	/* these pass every integrity check; only loading them fails */
	assert_int_equal(install1(fx, "bad/garbage-body.cud", check_load), -EBADMSG);
	assert_string_equal(fx->rep.files[0].reason, "test load failed: libclamav: Malformed database");
	assert_rejected(fx, "garbage-body.cud", true, fx->rep.files[0].reason);
	assert_int_equal(install1(fx, "bad/bad-sigline.cud", check_load), -EBADMSG);
	assert_string_equal(fx->rep.files[0].reason, "test load failed: libclamav: Malformed database");
	assert_rejected(fx, "bad-sigline.cud", true, fx->rep.files[0].reason);
	assert_string_equal(link_of(fx, "defs/active"), before);
	assert_int_equal(install1(fx, "v2/picket.cud", check_load), 0);
	/* what picket-scand will load: the active symlink itself */
	char err[256] = "";
	assert_int_equal(check_load(defs_active_dir(&fx->d), err, sizeof(err), NULL), 0);
}

static void test_unsigned_refused(void **state)
{
	struct fixture *fx = *state;
	const char *paths[] = { tu_path(data, "picket.cud") };
	struct defs_install_opts o = opts_for(fx, check_ok);

	o.check.allow_unsigned = false;
	assert_int_equal(install_paths(fx, &o, paths, 1), -EBADMSG);
	assert_string_equal(fx->rep.files[0].reason,
			    "unsigned .cud definitions are not allowed by the policy (allow_unsigned_defs)");
	assert_rejected(fx, "picket.cud", true, fx->rep.files[0].reason);
	assert_false(exists(tu_path(fx->dir, "defs/active")));
}

/* An inotify watch of path's opens and reads. */
static int watch_opens(const char *path)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(inotify_add_watch(fd, path, IN_OPEN | IN_ACCESS) >= 0);
	return fd;
}

/* How many opens and reads the watch saw; closes it. */
static int opens_seen(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int n = 0;
	ssize_t k;

	while ((k = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + k; p += sizeof(struct inotify_event) +
						       ((struct inotify_event *)p)->len)
			n++;
	close(fd);
	return n;
}

static void test_not_regular_refused(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	char link[PATH_MAX], dir[PATH_MAX], fifo[PATH_MAX], missing[PATH_MAX], txt[PATH_MAX];

	snprintf(link, sizeof(link), "%s", tu_path(fx->dir, "in/picket.cud"));
	snprintf(dir, sizeof(dir), "%s", tu_path(fx->dir, "in/dir.cud"));
	snprintf(fifo, sizeof(fifo), "%s", tu_path(fx->dir, "in/fifo.cud"));
	snprintf(missing, sizeof(missing), "%s", tu_path(fx->dir, "in/missing.cud"));
	snprintf(txt, sizeof(txt), "%s", tu_path(fx->dir, "in/notes.txt"));
	tu_mkdir(fx->dir, "in/dir.cud");
	tu_write(fx->dir, "in/notes.txt", "hello\n");
	assert_int_equal(symlink(tu_path(data, "picket.cud"), link), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	int w_fifo = watch_opens(fifo), w_dir = watch_opens(dir);
	const char *paths[] = { link, dir, fifo, missing, txt };
	assert_int_equal(install_paths(fx, &o, paths, 5), -EBADMSG);
	assert_string_equal(fx->rep.files[0].reason, "is a symbolic link");
	assert_string_equal(fx->rep.files[1].reason, "not a regular file: a directory");
	assert_string_equal(fx->rep.files[2].reason, "not a regular file: a FIFO");
	assert_string_equal(fx->rep.files[3].reason, "cannot open: No such file or directory");
	assert_string_equal(fx->rep.files[4].reason, "unsupported definitions file type");
	/* neither was opened, let alone read */
	assert_int_equal(opens_seen(w_fifo), 0);
	assert_int_equal(opens_seen(w_dir), 0);
	assert_rejected(fx, "picket.cud", false, "is a symbolic link");
	assert_rejected(fx, "dir.cud", false, "not a regular file: a directory");
	assert_rejected(fx, "fifo.cud", false, "not a regular file: a FIFO");
	assert_rejected(fx, "notes.txt", true, "unsupported definitions file type");
	assert_false(exists(tu_path(fx->dir, "defs/active")));
	/* the symlink itself is left alone */
	assert_true(exists(link));
}

/* Device nodes are refused from their inode: never opened. */
static void test_root_devices_never_opened(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	char chr[PATH_MAX], blk[PATH_MAX];

	tu_mkdir(fx->dir, "in");
	snprintf(chr, sizeof(chr), "%s", tu_path(fx->dir, "in/zero.cvd"));
	snprintf(blk, sizeof(blk), "%s", tu_path(fx->dir, "in/loop.cvd"));
	assert_int_equal(mknod(chr, S_IFCHR | 0600, makedev(1, 5)), 0);
	assert_int_equal(mknod(blk, S_IFBLK | 0600, makedev(7, 0)), 0);
	int w_chr = watch_opens(chr), w_blk = watch_opens(blk);
	const char *paths[] = { chr, blk };
	assert_int_equal(install_paths(fx, &o, paths, 2), -EBADMSG);
	assert_string_equal(fx->rep.files[0].reason, "not a regular file: a character device");
	assert_string_equal(fx->rep.files[1].reason, "not a regular file: a block device");
	assert_int_equal(opens_seen(w_chr), 0);
	assert_int_equal(opens_seen(w_blk), 0);
}

/* Regular files of kernel interfaces: refused before they are read. */
static void test_kernel_files_refused(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	const char *paths[] = { "/proc/self/status", "/sys/kernel/uevent_seqnum" };

	assert_int_equal(install_paths(fx, &o, paths, 2), -EBADMSG);
	assert_string_equal(fx->rep.files[0].reason, "on proc, a kernel interface filesystem");
	assert_string_equal(fx->rep.files[1].reason, "on sysfs, a kernel interface filesystem");
}

/* Over the size limit: refused from its size, nothing read. */
static void test_size_limit(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	char big[PATH_MAX];

	snprintf(big, sizeof(big), "%s", tu_path(fx->dir, "big.cud"));
	tu_write(fx->dir, "big.cud", "");
	assert_int_equal(truncate(big, DEFS_FILE_SIZE_MAX + 1), 0);
	int w = watch_opens(big);
	const char *paths[] = { big };
	assert_int_equal(install_paths(fx, &o, paths, 1), -EBADMSG);
	assert_string_equal(fx->rep.files[0].reason, "larger than the 2 GiB limit");
	assert_int_equal(opens_seen(w), 0);
}

/* A descriptor from the caller: read as it is (its offset untouched, still
 * the caller's), refused unless it is open for reading a regular file. */
static void test_caller_descriptors(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	const char *good = tu_path(data, "picket.cud");
	char fifo[PATH_MAX];

	snprintf(fifo, sizeof(fifo), "%s", tu_path(fx->dir, "fifo.cud"));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	int rd = open(good, O_RDONLY | O_CLOEXEC), path = open(good, O_PATH | O_CLOEXEC);
	int wr = open(tu_path(fx->dir, "w.cud"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	int ff = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(rd >= 0 && path >= 0 && wr >= 0 && ff >= 0);
	off_t end = lseek(rd, 0, SEEK_END);
	assert_true(end > 0);

	struct defs_input in[] = {
		{ .path = "/elsewhere/a.cud", .fd = path },
		{ .path = "/elsewhere/b.cud", .fd = wr },
		{ .path = "/elsewhere/c.cud", .fd = ff },
		{ .path = "/elsewhere/picket.cud", .fd = rd },
	};
	assert_int_equal(defs_install(&fx->d, in, ARRAY_SIZE(in), &o, &fx->rep), 0);
	assert_string_equal(fx->rep.files[0].reason, "the descriptor is not open for reading");
	assert_string_equal(fx->rep.files[1].reason, "the descriptor is not open for reading");
	assert_string_equal(fx->rep.files[2].reason, "not a regular file: a FIFO");
	assert_true(fx->rep.files[3].accepted);
	assert_int_equal(lseek(rd, 0, SEEK_CUR), end);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/defs/active/picket.cud", fx->dir);
	char *copy = tu_read(p), *orig = tu_read(good);
	assert_non_null(copy);
	assert_string_equal(copy, orig);
	free(copy);
	free(orig);
	struct defs_status st;
	assert_int_equal(defs_status(&fx->d, &st), 0);
	assert_string_equal(st.files[0].source, "/elsewhere/picket.cud");
	for (size_t i = 0; i < ARRAY_SIZE(in); i++)
		assert_int_equal(close(in[i].fd), 0); /* still the caller's */
}

static void test_bad_names(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	char hidden[PATH_MAX];

	snprintf(hidden, sizeof(hidden), "%s", tu_path(fx->dir, "in/.hidden.cud"));
	tu_write(fx->dir, "in/.hidden.cud", "x");
	const char *paths[] = { hidden };
	assert_int_equal(install_paths(fx, &o, paths, 1), -EBADMSG);
	assert_string_equal(fx->rep.files[0].reason, "invalid file name");
	assert_rejected(fx, "_.hidden.cud", false, "invalid file name");
}

static void test_limits(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	const char *paths[DEFS_FILES_MAX + 1];

	for (size_t i = 0; i <= DEFS_FILES_MAX; i++)
		paths[i] = "/nonexistent.cud";
	assert_int_equal(install_paths(fx, &o, paths, DEFS_FILES_MAX + 1), -E2BIG);
	assert_int_equal(install_paths(fx, &o, paths, 0), -EBADMSG);
	o.stability = NULL;
	assert_int_equal(install_paths(fx, &o, paths, 1), -EINVAL);
}

static void test_rejected_is_bounded(void **state)
{
	struct fixture *fx = *state;
	struct defs_install_opts o = opts_for(fx, check_ok);
	const char *paths[DEFS_FILES_MAX];
	char names[DEFS_FILES_MAX][64];

	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < DEFS_FILES_MAX; i++) {
			snprintf(names[i], sizeof(names[i]), "/nonexistent/r%d-%zu.cud", round, i);
			paths[i] = names[i];
		}
		assert_int_equal(install_paths(fx, &o, paths, DEFS_FILES_MAX), -EBADMSG);
	}
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/rejected")), DEFS_REJECTED_MAX);
	/* the newest are kept */
	assert_true(exists(tu_path(fx->dir, "defs/rejected/r1-63.cud.reason")));
}

/* --- rollback */

static void test_rollback(void **state)
{
	struct fixture *fx = *state;
	struct defs_status st;
	char v1[PATH_MAX];

	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	assert_int_equal(defs_rollback(&fx->d, "no"), -ENOENT); /* no last-known-good */
	snprintf(v1, sizeof(v1), "%s", link_of(fx, "defs/active"));
	assert_int_equal(install1(fx, "v2/picket.cud", check_ok), 0);

	assert_int_equal(defs_rollback(&fx->d, "scan service failed to start: Malformed database"), 0);
	assert_string_equal(link_of(fx, "defs/active"), v1);
	assert_string_equal(link_of(fx, "defs/last-known-good"), v1);
	assert_rejected(fx, "picket.cud", true, "rollback: scan service failed to start: Malformed database");
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/sets")), 1);
	assert_int_equal(defs_status(&fx->d, &st), 0);
	assert_int_equal(st.files[0].version, 1);
	assert_true(st.has_last_known_good);
	assert_int_equal(defs_rollback(&fx->d, "again"), -ENOENT);
	assert_active_valid(fx);
}

static void test_rollback_moves_only_new_files(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	assert_int_equal(install1(fx, "bad/garbage-body.cud", check_ok), 0);
	assert_int_equal(defs_rollback(&fx->d, "Malformed database"), 0);
	assert_rejected(fx, "garbage-body.cud", true, "rollback: Malformed database");
	assert_false(exists(tu_path(fx->dir, "defs/rejected/picket.cud")));
	assert_true(exists(tu_path(fx->dir, "defs/active/picket.cud")));
	assert_false(exists(tu_path(fx->dir, "defs/active/garbage-body.cud")));
}

/* --- atomicity and permissions */

static void test_active_always_valid(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(install1(fx, "picket.cud", check_ok), 0);
	assert_active_valid(fx);
	for (int i = 0; i < 3; i++) {
		char before[PATH_MAX];
		snprintf(before, sizeof(before), "%s", link_of(fx, "defs/active"));
		assert_int_equal(install1(fx, "v2/picket.cud", check_ok), 0);
		/* during the check, active still named the old, complete set */
		assert_string_equal(fx->active_during_check, before);
		assert_active_valid(fx);
		assert_int_equal(install1(fx, "v2/picket.cud", check_fail), -EBADMSG);
		assert_active_valid(fx);
		assert_int_equal(install1(fx, "bad/wrong-md5.cud", check_ok), -EBADMSG);
		assert_active_valid(fx);
	}
	/* only the two links, the directories, no temporary links */
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs")), 6);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/staging")), 0);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "defs/sets")), 2);
}

static void test_set_permissions(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	char p[PATH_MAX];

	mode_t old = umask(077);
	int r = install1(fx, "picket.cud", check_ok);
	umask(old);
	assert_int_equal(r, 0);
	assert_int_equal(install1(fx, "bad/bad-sigline.cud", check_ok), 0);
	snprintf(p, sizeof(p), "defs/sets/%s", fx->rep.set_id);
	assert_int_equal(mode_of(tu_path(fx->dir, p)), 0755);
	assert_int_equal(lstat(tu_path(fx->dir, p), &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	snprintf(p, sizeof(p), "defs/sets/%s/picket.cud", fx->rep.set_id);
	assert_int_equal(mode_of(tu_path(fx->dir, p)), 0644);
	assert_int_equal(lstat(tu_path(fx->dir, p), &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	snprintf(p, sizeof(p), "defs/sets/%s/bad-sigline.cud", fx->rep.set_id);
	assert_int_equal(mode_of(tu_path(fx->dir, p)), 0644);
	assert_int_equal(mode_of(tu_path(fx->dir, "defs/sets")), 0755);
	assert_int_equal(mode_of(tu_path(fx->dir, "defs")), 0755);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	log_setup("test_defs", LOG_TARGET_STDERR, LOG_WARNING);
	const struct CMUnitTest tests[] = {
		T(test_open_layout),
		T(test_open_removes_leftovers),
		T(test_install_good),
		T(test_install_bad_files),
		T(test_install_v2),
		T(test_install_older_refused),
		T(test_install_mixed),
		T(test_install_adds_databases),
		T(test_install_same_database_twice),
		T(test_stability_failure),
		T(test_stability_real_load),
		T(test_unsigned_refused),
		T(test_not_regular_refused),
		T(test_kernel_files_refused),
		T(test_size_limit),
		T(test_caller_descriptors),
		T(test_bad_names),
		T(test_limits),
		T(test_rejected_is_bounded),
		T(test_rollback),
		T(test_rollback_moves_only_new_files),
		T(test_active_always_valid),
		T(test_set_permissions),
	};
	const struct CMUnitTest root_only[] = {
		T(test_root_devices_never_opened),
	};
	if (make_data(NULL) < 0)
		return 1;
	int r = TU_RUN("defs", tests, root_only);
	remove_data(NULL);
	return r;
}
