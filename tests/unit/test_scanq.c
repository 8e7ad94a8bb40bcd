/* Unit tests of src/daemon/core/scanq.c's verdict cache: verdicts found by
 * the file's identity only, none cached nor believed for a key that is
 * distrusted; scan_key_of distrusts a file open for writing (a shared
 * writable mapping included) and a filesystem where ctime does not follow
 * every change (tmpfs), and a writer racing the probe does not kill it;
 * scan_writers sees a writer on any filesystem. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/scanq.h"

static const struct verdict CLEAN = { .result = SCAN_CLEAN };

static struct scan_key key(uint64_t ino, int64_t ctime_nsec, int32_t distrust)
{
	struct scan_key k;
	memset(&k, 0, sizeof(k));
	k.dev = 2049;
	k.ino = ino;
	k.ctime_sec = 1700000000;
	k.ctime_nsec = ctime_nsec;
	k.size = 68;
	k.distrust = distrust;
	return k;
}

static void test_cache_by_identity(void **state)
{
	struct scanq q;
	struct verdict v;
	struct scan_key k = key(12, 5, 0);
	(void)state;
	assert_int_equal(scanq_init(&q, 16, 16), 0);
	scanq_cache_put(&q, &k, &CLEAN);
	assert_int_equal(scanq_cached(&q, &k, &v), 1);
	assert_int_equal(v.result, SCAN_CLEAN);
	/* Another ctime is another content. */
	struct scan_key later = key(12, 6, 0);
	assert_int_equal(scanq_cached(&q, &later, &v), 0);
	/* The same file with a writer now: not believed. */
	struct scan_key busy = key(12, 5, -EBUSY);
	assert_int_equal(scanq_cached(&q, &busy, &v), 0);
	assert_int_equal(q.hits, 1);
	assert_int_equal(q.misses, 2);
	scanq_done(&q);
}

static void test_distrusted_never_cached(void **state)
{
	struct scanq q;
	struct verdict v;
	(void)state;
	assert_int_equal(scanq_init(&q, 16, 16), 0);
	struct scan_key tmpfs = key(13, 5, -EOPNOTSUPP);
	scanq_cache_put(&q, &tmpfs, &CLEAN);
	assert_int_equal(q.cache_len, 0);
	/* Not under its identity either. */
	struct scan_key k = key(13, 5, 0);
	assert_int_equal(scanq_cached(&q, &k, &v), 0);
	scanq_done(&q);
}

static bool trusted_dir(const char *dir)
{
	struct statfs sfs;
	assert_int_equal(statfs(dir, &sfs), 0);
	return sfs.f_type == EXT4_SUPER_MAGIC || sfs.f_type == XFS_SUPER_MAGIC ||
	       sfs.f_type == BTRFS_SUPER_MAGIC;
}

static void test_key_distrusts_tmpfs(void **state)
{
	struct statfs sfs;
	struct scan_key k;
	(void)state;
	if (statfs("/dev/shm", &sfs) < 0 || sfs.f_type != TMPFS_MAGIC) {
		print_message("# no tmpfs at /dev/shm: not checked\n");
		return;
	}
	char path[] = "/dev/shm/picket-test-scanq.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(scan_key_of(fd, &k), 0);
	assert_int_equal(k.distrust, -EOPNOTSUPP);
	close(fd);
	unlink(path);
}

/* On any filesystem (tmpfs too): a writer is seen, and gone once closed. */
static void test_writers_on_tmpfs(void **state)
{
	(void)state;
	char path[] = "/dev/shm/picket-test-writers.XXXXXX";
	int wfd = mkstemp(path);
	if (wfd < 0) {
		print_message("# no /dev/shm: not checked\n");
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(scan_writers(fd), -EBUSY);
	close(wfd);
	assert_int_equal(scan_writers(fd), 0);
	close(fd);
	unlink(path);
}

/* A file of 4096 bytes in the scratch directory, opened read-only. */
static int scratch_file(const char *dir, const char *name)
{
	char text[4097];
	memset(text, 'A', 4096);
	text[4096] = '\0';
	tu_write(dir, name, text);
	int fd = open(tu_path(dir, name), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void test_key_distrusts_writers(void **state)
{
	const char *dir = *state;
	struct scan_key k;
	if (!trusted_dir(dir)) {
		print_message("# %s is not on ext4, xfs or btrfs: writers not checked\n", dir);
		return;
	}
	int fd = scratch_file(dir, "f");
	assert_int_equal(scan_key_of(fd, &k), 0);
	assert_int_equal(k.distrust, 0);
	/* A shared writable mapping, its descriptor closed, holds the file
	 * open for writing. */
	int wfd = open(tu_path(dir, "f"), O_RDWR | O_CLOEXEC);
	assert_true(wfd >= 0);
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	assert_true(m != MAP_FAILED);
	close(wfd);
	assert_int_equal(scan_key_of(fd, &k), 0);
	assert_int_equal(k.distrust, -EBUSY);
	munmap(m, 4096);
	assert_int_equal(scan_key_of(fd, &k), 0);
	assert_int_equal(k.distrust, 0);
	close(fd);
}

/* A writer opening the file while the probe holds its lease: the kernel
 * signals the holder, which must survive it (SIGIO would end it). */
static void test_probe_survives_racing_writers(void **state)
{
	const char *dir = *state;
	struct scan_key k;
	if (!trusted_dir(dir)) {
		print_message("# %s is not on ext4, xfs or btrfs: not checked\n", dir);
		return;
	}
	int fd = scratch_file(dir, "g");
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* the test may die of it */
		for (;;)
			close(open(tu_path(dir, "g"), O_WRONLY | O_CLOEXEC));
	}
	size_t busy = 0;
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(scan_key_of(fd, &k), 0);
		busy += k.distrust == -EBUSY;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(fd);
	assert_true(busy > 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_tmpdir_setup, tu_tmpdir_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_by_identity),
		cmocka_unit_test(test_distrusted_never_cached),
		cmocka_unit_test(test_key_distrusts_tmpfs),
		cmocka_unit_test(test_writers_on_tmpfs),
		T(test_key_distrusts_writers),
		T(test_probe_survives_racing_writers),
	};
	return cmocka_run_group_tests_name("scanq", tests, NULL, NULL);
}
