/* Unit tests of src/scand/sandbox.c: the real filter and Landlock ruleset,
 * applied in a forked child that then makes one system call directly
 * (syscall(2), so that no libc wrapper picks another call) and reports how
 * it ended.  Writes outside the temp directory must fail whatever the uid
 * (as root: the fault 5 fallback, and as nobody), renames, links, chmods,
 * chowns and truncations too; the time calls must pass (no vDSO clock);
 * a trapped call must be reported on SCAN_FD with its number. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "sandbox.h"
#include "scanproto.h"

#define NOBODY 65534
#define TRAPPED (-1) /* the child died of SIGSYS */

typedef long (*call_fn)(const char *root);

struct outcome {
	int status;    /* 0, an errno, or TRAPPED */
	int reported;  /* the syscall of the SIGSYS message, -1 without one */
};

/* Runs fn in a child sandboxed with root/tmp as its temp directory (or none
 * when no_tmpdir), as uid (0 or NOBODY). */
static struct outcome run_as(const char *root, bool no_tmpdir, uid_t uid, call_fn fn)
{
	struct outcome o = { .status = 0, .reported = -1 };
	char tmpdir[PATH_MAX];
	int sp[2], st;

	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", root);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		/* The handler's line on stderr would clutter the TAP output. */
		if (dup2(sp[1], SCAN_FD) != SCAN_FD || null < 0 || dup2(null, STDERR_FILENO) < 0)
			_exit(120);
		if (uid != 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
				 setresuid(uid, uid, uid) < 0))
			_exit(121);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(122);
		if (sandbox_apply(no_tmpdir ? NULL : tmpdir) < 0)
			_exit(123);
		long r = fn(root);
		_exit(r < 0 ? (int)(-r & 0x7f) : 0);
	}
	close(sp[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st)) {
		assert_int_equal(WTERMSIG(st), SIGSYS);
		o.status = TRAPPED;
	} else {
		assert_true(WIFEXITED(st));
		assert_true(WEXITSTATUS(st) < 120);
		o.status = WEXITSTATUS(st);
	}
	struct scan_msg m;
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	if (scan_msg_recv(sp[0], &m, NULL) == 0 && m.type == SCAN_MSG_SIGSYS)
		o.reported = m.result;
	close(sp[0]);
	return o;
}

static long ret(long r) { return r < 0 ? -errno : r; }

static const char *at(const char *root, const char *rel)
{
	return tu_path(root, rel);
}

/* ------------------------------------------------------------ the calls */

static long c_clock_gettime(const char *root)
{
	struct timespec ts;
	(void)root;
	return ret(syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts));
}

static long c_gettimeofday(const char *root)
{
	struct timeval tv;
	(void)root;
	return ret(syscall(SYS_gettimeofday, &tv, NULL));
}

static long c_time(const char *root)
{
	(void)root;
	return ret(syscall(SYS_time, NULL));
}

static long c_clock_getres(const char *root)
{
	struct timespec ts;
	(void)root;
	return ret(syscall(SYS_clock_getres, CLOCK_MONOTONIC, &ts));
}

static long c_clock_nanosleep(const char *root)
{
	struct timespec ts = { .tv_nsec = 1000 };
	(void)root;
	return ret(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL));
}

static long c_nanosleep(const char *root)
{
	struct timespec ts = { .tv_nsec = 1000 };
	(void)root;
	return ret(syscall(SYS_nanosleep, &ts, NULL));
}

static long c_getuid(const char *root)
{
	(void)root;
	return ret(syscall(SYS_getuid));
}

static long open_flags(const char *path, int flags)
{
	long fd = syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	close((int)fd);
	return 0;
}

static long c_open_victim_write(const char *root) { return open_flags(at(root, "out/victim"), O_WRONLY); }
static long c_open_victim_append(const char *root) { return open_flags(at(root, "out/victim"), O_WRONLY | O_APPEND); }
static long c_open_victim_trunc_ro(const char *root) { return open_flags(at(root, "out/victim"), O_RDONLY | O_TRUNC); }
static long c_open_victim_trunc_mode3(const char *root) { return open_flags(at(root, "out/victim"), O_ACCMODE | O_TRUNC); }
static long c_open_victim_trunc_rw(const char *root) { return open_flags(at(root, "out/victim"), O_RDWR | O_TRUNC); }
static long c_create_outside(const char *root) { return open_flags(at(root, "out/new"), O_WRONLY | O_CREAT | O_EXCL); }
static long c_tmpfile_outside(const char *root) { return open_flags(at(root, "out"), O_RDWR | O_TMPFILE); }
static long c_open_victim_read(const char *root) { return open_flags(at(root, "out/victim"), O_RDONLY); }
static long c_unlink(const char *root) { return ret(syscall(SYS_unlink, at(root, "out/victim"))); }
static long c_unlinkat(const char *root) { return ret(syscall(SYS_unlinkat, AT_FDCWD, at(root, "out/victim"), 0)); }
static long c_mkdir(const char *root) { return ret(syscall(SYS_mkdir, at(root, "out/newdir"), 0755)); }
static long c_rmdir(const char *root) { return ret(syscall(SYS_rmdir, at(root, "out/empty"))); }
static long c_chmod(const char *root) { return ret(syscall(SYS_chmod, at(root, "out/victim"), 04777)); }
static long c_fchmodat(const char *root) { return ret(syscall(SYS_fchmodat, AT_FDCWD, at(root, "out/victim"), 0777)); }
static long c_fchmod(const char *root) { (void)root; return ret(syscall(SYS_fchmod, 0, 0777)); }
static long c_chown(const char *root) { return ret(syscall(SYS_chown, at(root, "out/victim"), 0, 0)); }
static long c_lchown(const char *root) { return ret(syscall(SYS_lchown, at(root, "out/victim"), 0, 0)); }
static long c_fchown(const char *root) { (void)root; return ret(syscall(SYS_fchown, 0, 0, 0)); }
static long c_fchownat(const char *root) { return ret(syscall(SYS_fchownat, AT_FDCWD, at(root, "out/victim"), 0, 0, 0)); }
static long c_rename(const char *root) { return ret(syscall(SYS_rename, at(root, "out/victim"), at(root, "out/moved"))); }
static long c_renameat(const char *root) { return ret(syscall(SYS_renameat, AT_FDCWD, at(root, "out/victim"), AT_FDCWD, at(root, "out/moved"))); }
static long c_renameat2(const char *root) { return ret(syscall(SYS_renameat2, AT_FDCWD, at(root, "out/victim"), AT_FDCWD, at(root, "out/moved"), 0)); }
static long c_link(const char *root) { return ret(syscall(SYS_link, at(root, "out/victim"), at(root, "out/hard"))); }
static long c_linkat(const char *root) { return ret(syscall(SYS_linkat, AT_FDCWD, at(root, "out/victim"), AT_FDCWD, at(root, "out/hard"), 0)); }
static long c_symlink(const char *root) { return ret(syscall(SYS_symlink, "/etc/shadow", at(root, "out/sym"))); }
static long c_symlinkat(const char *root) { return ret(syscall(SYS_symlinkat, "/etc/shadow", AT_FDCWD, at(root, "out/sym"))); }
static long c_truncate(const char *root) { return ret(syscall(SYS_truncate, at(root, "out/victim"), 0)); }
static long c_ftruncate(const char *root) { (void)root; return ret(syscall(SYS_ftruncate, 0, 0)); }
static long c_creat(const char *root) { return ret(syscall(SYS_creat, at(root, "out/new"), 0644)); }
static long c_mknodat(const char *root) { return ret(syscall(SYS_mknodat, AT_FDCWD, at(root, "out/fifo"), S_IFIFO | 0666, 0)); }
static long c_utimensat(const char *root) { return ret(syscall(SYS_utimensat, AT_FDCWD, at(root, "out/victim"), NULL, 0)); }
static long c_setxattr(const char *root) { return ret(syscall(SYS_setxattr, at(root, "out/victim"), "user.x", "1", 1, 0)); }
static long c_execve(const char *root)
{
	char *const argv[] = { "true", NULL };
	(void)root;
	return ret(syscall(SYS_execve, "/bin/true", argv, NULL));
}

/* What libclamav does in its temp directory. */
static long c_tmpdir_work(const char *root)
{
	char path[PATH_MAX], dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/tmp/clamav-x", root);
	snprintf(path, sizeof(path), "%s/tmp/clamav-x/f", root);
	if (syscall(SYS_mkdir, dir, 0700) < 0)
		return -errno;
	long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	if (write((int)fd, "x", 1) != 1)
		return -EIO;
	close((int)fd);
	fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	close((int)fd);
	if (syscall(SYS_unlink, path) < 0 || syscall(SYS_rmdir, dir) < 0)
		return -errno;
	return 0;
}

/* ---------------------------------------------------------------- tests */

static int setup(void **state)
{
	if (tu_tmpdir_setup(state) < 0)
		return -1;
	const char *root = *state;
	/* Open to everybody: only the sandbox may stop nobody here. */
	chmod(root, 0755);
	tu_mkdir(root, "tmp");
	tu_mkdir(root, "out/empty");
	tu_write(root, "out/victim", "keep me\n");
	chmod(at(root, "tmp"), 0777);
	chmod(at(root, "out"), 0777);
	chmod(at(root, "out/empty"), 0777);
	chmod(at(root, "out/victim"), 0666);
	return 0;
}

static void assert_victim_intact(const char *root)
{
	struct stat st;
	char *text = tu_read(at(root, "out/victim"));

	assert_non_null(text);
	assert_string_equal(text, "keep me\n");
	free(text);
	assert_int_equal(stat(at(root, "out/victim"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(tu_count_entries(at(root, "out")), 2);
}

struct expect {
	const char *name;
	call_fn fn;
	int status; /* 0, errno or TRAPPED */
};

static void check_all(const char *root, uid_t uid, const struct expect *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct outcome o = run_as(root, false, uid, e[i].fn);
		if (o.status != e[i].status)
			fail_msg("%s as uid %u: got %d, expected %d", e[i].name, (unsigned)uid,
				 o.status, e[i].status);
		assert_victim_intact(root);
	}
}

#define E(fn, st) { #fn, c_##fn, st }

static const struct expect time_calls[] = {
	E(clock_gettime, 0), E(gettimeofday, 0), E(time, 0),
	E(clock_getres, 0),  E(clock_nanosleep, 0), E(nanosleep, 0),
};

/* Landlock answers EACCES, the filter EPERM or SIGSYS. */
static const struct expect outside[] = {
	E(open_victim_write, EACCES),  E(open_victim_append, EACCES),
	E(open_victim_trunc_ro, TRAPPED), E(open_victim_trunc_mode3, TRAPPED),
	E(open_victim_trunc_rw, EACCES), E(create_outside, EACCES),
	E(tmpfile_outside, EACCES),   E(unlink, EACCES),           E(unlinkat, TRAPPED),
	E(mkdir, EACCES),              E(rmdir, EACCES),            E(chmod, EPERM),
	E(fchmodat, TRAPPED),          E(fchmod, TRAPPED),          E(chown, TRAPPED),
	E(lchown, TRAPPED),            E(fchown, TRAPPED),          E(fchownat, TRAPPED),
	E(rename, TRAPPED),            E(renameat, TRAPPED),        E(renameat2, TRAPPED),
	E(link, TRAPPED),              E(linkat, TRAPPED),          E(symlink, TRAPPED),
	E(symlinkat, TRAPPED),         E(truncate, TRAPPED),        E(ftruncate, TRAPPED),
	E(creat, TRAPPED),             E(mknodat, TRAPPED),         E(utimensat, TRAPPED),
	E(setxattr, TRAPPED),          E(execve, TRAPPED),
	E(open_victim_read, 0),        E(tmpdir_work, 0),
};

static void test_time_calls_allowed(void **state)
{
	check_all(*state, getuid(), time_calls, ARRAY_SIZE(time_calls));
}

static void test_writes_outside_tmpdir_refused(void **state)
{
	check_all(*state, getuid(), outside, ARRAY_SIZE(outside));
}

/* The fault 5 fallback is root: the same must hold as for the scan user. */
static void test_writes_outside_tmpdir_refused_as_root_and_nobody(void **state)
{
	check_all(*state, 0, outside, ARRAY_SIZE(outside));
	check_all(*state, NOBODY, outside, ARRAY_SIZE(outside));
	check_all(*state, NOBODY, time_calls, ARRAY_SIZE(time_calls));
}

/* No temp directory: no write anywhere, refused with EPERM (libclamav then
 * reports an error), reading still works. */
static void test_no_tmpdir_refuses_every_write(void **state)
{
	const char *root = *state;
	static const struct expect none[] = {
		E(tmpdir_work, EPERM), E(create_outside, EPERM), E(open_victim_write, EPERM),
		E(unlink, EPERM),      E(mkdir, EPERM),          E(rmdir, EPERM),
		E(open_victim_read, 0),
	};
	for (size_t i = 0; i < ARRAY_SIZE(none); i++) {
		struct outcome o = run_as(root, true, getuid(), none[i].fn);
		if (o.status != none[i].status)
			fail_msg("%s: got %d, expected %d", none[i].name, o.status, none[i].status);
		assert_victim_intact(root);
	}
}

static void test_trapped_call_is_reported_with_its_number(void **state)
{
	struct outcome o = run_as(*state, false, getuid(), c_getuid);

	assert_int_equal(o.status, TRAPPED);
	assert_int_equal(o.reported, SYS_getuid);
	o = run_as(*state, false, getuid(), c_rename);
	assert_int_equal(o.status, TRAPPED);
	assert_int_equal(o.reported, SYS_rename);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_time_calls_allowed, setup, tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_writes_outside_tmpdir_refused, setup,
						tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_no_tmpdir_refuses_every_write, setup,
						tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_trapped_call_is_reported_with_its_number, setup,
						tu_tmpdir_teardown),
	};
	const struct CMUnitTest root_only[] = {
		cmocka_unit_test_setup_teardown(test_writes_outside_tmpdir_refused_as_root_and_nobody,
						setup, tu_tmpdir_teardown),
	};
	return TU_RUN("sandbox", tests, root_only);
}
