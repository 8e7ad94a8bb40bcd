/* Unit tests of src/daemon/monitor/fdpath.c: the path of an open file or
 * directory, in full when the kernel can say it, else its end rebuilt one
 * directory up at a time (past PATH_MAX), cut at a '/' and marked with
 * FDPATH_ELIDED; a file's name found in a directory that holds it. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "monitor/fdpath.h"

#define DEPTH 17
#define NAME_LEN 250

static char *root;

/* Level i's directory name: 250 times one letter. */
static const char *level(int i)
{
	static char name[NAME_LEN + 1];
	memset(name, 'a' + i, NAME_LEN);
	name[NAME_LEN] = '\0';
	return name;
}

/* The chain's full path (about 4,300 bytes), in a new string. */
static char *deep_path(void)
{
	size_t n = strlen(root) + DEPTH * (NAME_LEN + 1) + 1;
	char *p = malloc(n);
	assert_non_null(p);
	strcpy(p, root);
	for (int i = 0; i < DEPTH; i++) {
		strcat(p, "/");
		strcat(p, level(i));
	}
	return p;
}

/* Creates the chain below root one directory at a time; the deepest one's
 * descriptor (O_RDONLY). */
static int make_deep(void)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	for (int i = 0; i < DEPTH; i++) {
		assert_int_equal(mkdirat(fd, level(i), 0755), 0);
		int next = openat(fd, level(i), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	return fd;
}

/* Removes what make_deep made (and a file "f" at the bottom): tu_rm_rf
 * cannot reach that deep by path. */
static void remove_deep(void)
{
	int fds[DEPTH + 1];
	/* A test that made no chain stops at level 0: the rest must not be
	 * garbage, or it closes whatever they happen to hold (stdout). */
	for (int i = 0; i <= DEPTH; i++)
		fds[i] = -1;
	fds[0] = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < DEPTH && fds[i] >= 0; i++)
		fds[i + 1] = openat(fds[i], level(i), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fds[DEPTH] >= 0) {
		unlinkat(fds[DEPTH], "f", 0);
		unlinkat(fds[DEPTH], "g", 0);
	}
	for (int i = DEPTH - 1; i >= 0; i--) {
		if (fds[i + 1] >= 0)
			close(fds[i + 1]);
		if (fds[i] >= 0)
			unlinkat(fds[i], level(i), AT_REMOVEDIR);
	}
	if (fds[0] >= 0)
		close(fds[0]);
}

static int setup(void **state)
{
	(void)state;
	return tu_tmpdir_setup((void **)&root);
}

static int teardown(void **state)
{
	(void)state;
	remove_deep();
	return tu_tmpdir_teardown((void **)&root);
}

static bool ends_with(const char *s, const char *end)
{
	size_t n = strlen(s), m = strlen(end);
	return n >= m && strcmp(s + n - m, end) == 0;
}

/* p is FDPATH_ELIDED, then the end of full from a '/' on. */
static void assert_tail(const char *p, const char *full)
{
	size_t e = strlen(FDPATH_ELIDED);
	assert_memory_equal(p, FDPATH_ELIDED, e);
	assert_int_equal(p[e], '/');
	assert_true(ends_with(full, p + e));
}

static void test_short_path_complete(void **state)
{
	char buf[PATH_MAX];
	bool complete = false;
	(void)state;
	tu_write(root, "dir/file", "x");
	int dfd = open(tu_path(root, "dir"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(fdpath_dir(dfd, "file", buf, sizeof(buf), &complete), 0);
	assert_true(complete);
	assert_string_equal(buf, tu_path(root, "dir/file"));
	assert_int_equal(fdpath_dir(dfd, NULL, buf, sizeof(buf), &complete), 0);
	assert_string_equal(buf, tu_path(root, "dir"));
	close(dfd);

	int fd = open(tu_path(root, "dir/file"), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fdpath_file(fd, -1, buf, sizeof(buf), &complete), 0);
	assert_true(complete);
	assert_string_equal(buf, tu_path(root, "dir/file"));
	close(fd);
}

static void test_root_directory(void **state)
{
	char buf[64];
	bool complete = false;
	(void)state;
	int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(fdpath_dir(dfd, "etc", buf, sizeof(buf), &complete), 0);
	assert_true(complete);
	assert_string_equal(buf, "/etc");
	assert_int_equal(fdpath_dir(dfd, NULL, buf, sizeof(buf), &complete), 0);
	assert_string_equal(buf, "/");
	close(dfd);
}

static void test_directory_past_path_max(void **state)
{
	char buf[PATH_MAX];
	bool complete = true;
	(void)state;
	int dfd = make_deep();
	_cleanup_free_ char *full = deep_path();
	assert_true(strlen(full) >= PATH_MAX);
	assert_int_equal(fdpath_dir(dfd, "f", buf, sizeof(buf), &complete), 0);
	assert_false(complete);
	char *want = malloc(strlen(full) + 3);
	assert_non_null(want);
	sprintf(want, "%s/f", full);
	assert_tail(buf, want);
	/* As much of the end as fits in PATH_MAX, cut at a '/'. */
	assert_true(strlen(buf) < PATH_MAX);
	assert_true(strlen(buf) > PATH_MAX - NAME_LEN - 8);
	free(want);
	close(dfd);
}

static void test_small_buffer_keeps_the_end(void **state)
{
	char buf[300];
	bool complete = true;
	(void)state;
	int dfd = make_deep();
	assert_int_equal(fdpath_dir(dfd, "f", buf, sizeof(buf), &complete), 0);
	assert_false(complete);
	/* Only the last directory and the name fit. */
	char want[NAME_LEN + 16];
	snprintf(want, sizeof(want), "%s/%s/f", FDPATH_ELIDED, level(DEPTH - 1));
	assert_string_equal(buf, want);
	/* A name longer than the buffer: its end only. */
	char small[16];
	assert_int_equal(fdpath_dir(dfd, level(3), small, sizeof(small), &complete), 0);
	assert_false(complete);
	assert_string_equal(small, FDPATH_ELIDED);
	assert_int_equal(fdpath_dir(dfd, "f", buf, 8, &complete), -ENOBUFS);
	close(dfd);
}

static void test_file_past_path_max_found_in_hint(void **state)
{
	char buf[PATH_MAX];
	bool complete = true;
	(void)state;
	int dfd = make_deep();
	int fd = openat(dfd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	/* The kernel cannot say it, and without a directory to look in nor can we. */
	assert_int_equal(fdpath_file(fd, -1, buf, sizeof(buf), &complete), -ENAMETOOLONG);
	/* A directory that does not hold it. */
	int other = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(fdpath_file(fd, other, buf, sizeof(buf), &complete), -ENAMETOOLONG);
	close(other);
	/* The one that does: found by its inode, under another name too. */
	assert_int_equal(linkat(dfd, "f", dfd, "g", 0), 0);
	assert_int_equal(unlinkat(dfd, "f", 0), 0);
	assert_int_equal(fdpath_file(fd, dfd, buf, sizeof(buf), &complete), 0);
	assert_false(complete);
	_cleanup_free_ char *full = deep_path();
	char *want = malloc(strlen(full) + 3);
	assert_non_null(want);
	sprintf(want, "%s/g", full);
	assert_tail(buf, want);
	free(want);
	close(fd);
	close(dfd);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_short_path_complete),
		T(test_root_directory),
		T(test_directory_past_path_max),
		T(test_small_buffer_keeps_the_end),
		T(test_file_past_path_max_found_in_hint),
	};
	return cmocka_run_group_tests_name("fdpath", tests, NULL, NULL);
}
