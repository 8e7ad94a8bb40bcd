/* Unit tests of src/common/fileio.c: atomic writes, mkdir_p, read_file_all. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "fileio.h"

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_write_atomic_content_and_mode(void **state)
{
	const char *path = tu_path(*state, "state.json");

	assert_int_equal(write_file_atomic(path, "hello\n", 6, 0640), 0);
	char *text = tu_read(path);
	assert_string_equal(text, "hello\n");
	free(text);
	assert_int_equal(mode_of(path), 0640);
}

static void test_write_atomic_leaves_no_temp_file(void **state)
{
	assert_int_equal(write_file_atomic(tu_path(*state, "a"), "1", 1, 0600), 0);
	assert_int_equal(write_file_atomic(tu_path(*state, "a"), "2", 1, 0600), 0);
	assert_int_equal(tu_count_entries(*state), 1);
}

static void test_write_atomic_replaces_content_and_mode(void **state)
{
	const char *path = tu_path(*state, "m.prom");

	tu_write(*state, "m.prom", "old content that is longer\n");
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(write_file_atomic(path, "new", 3, 0644), 0);
	char *text = tu_read(path);
	assert_string_equal(text, "new");
	free(text);
	assert_int_equal(mode_of(path), 0644);
}

static void test_write_atomic_mode_ignores_umask(void **state)
{
	const char *path = tu_path(*state, "f");
	mode_t old = umask(077);

	int r = write_file_atomic(path, "", 0, 0644);
	umask(old);
	assert_int_equal(r, 0);
	assert_int_equal(mode_of(path), 0644);
}

static void test_write_atomic_missing_dir_fails_cleanly(void **state)
{
	assert_int_equal(write_file_atomic(tu_path(*state, "no/such/file"), "x", 1, 0600), -ENOENT);
	assert_int_equal(tu_count_entries(*state), 0);
}

static void test_write_atomic_onto_directory_fails_cleanly(void **state)
{
	tu_mkdir(*state, "d/sub");
	assert_int_equal(write_file_atomic(tu_path(*state, "d"), "x", 1, 0600), -EISDIR);
	assert_int_equal(tu_count_entries(*state), 1);
}

static void test_mkdir_p_nested(void **state)
{
	mode_t old = umask(022);
	int r = mkdir_p(tu_path(*state, "a/b/c"), 0750);

	umask(old);
	assert_int_equal(r, 0);
	assert_int_equal(mode_of(tu_path(*state, "a")), 0750);
	assert_int_equal(mode_of(tu_path(*state, "a/b/c")), 0750);
}

static void test_mkdir_p_existing_untouched(void **state)
{
	tu_mkdir(*state, "a/b");
	assert_int_equal(chmod(tu_path(*state, "a"), 0711), 0);
	assert_int_equal(mkdir_p(tu_path(*state, "a/b/c/"), 0700), 0);
	assert_int_equal(mode_of(tu_path(*state, "a")), 0711);
	assert_int_equal(mode_of(tu_path(*state, "a/b/c")), 0700);
	assert_int_equal(mkdir_p(tu_path(*state, "a/b/c"), 0700), 0);
}

static void test_mkdir_p_through_file_is_enotdir(void **state)
{
	tu_write(*state, "f", "x");
	assert_int_equal(mkdir_p(tu_path(*state, "f/g"), 0755), -ENOTDIR);
}

static void test_read_all_content_and_length(void **state)
{
	char *buf = NULL;
	size_t len = 0;

	tu_write(*state, "f", "line one\nline two\n");
	assert_int_equal(read_file_all(tu_path(*state, "f"), 100, &buf, &len), 0);
	assert_int_equal(len, 18);
	assert_string_equal(buf, "line one\nline two\n");
	free(buf);
}

static void test_read_all_empty_file(void **state)
{
	char *buf = NULL;

	tu_write(*state, "f", "");
	assert_int_equal(read_file_all(tu_path(*state, "f"), 100, &buf, NULL), 0);
	assert_string_equal(buf, "");
	free(buf);
}

static void test_read_all_exactly_max(void **state)
{
	char *buf = NULL;
	size_t len = 0;

	tu_write(*state, "f", "12345");
	assert_int_equal(read_file_all(tu_path(*state, "f"), 5, &buf, &len), 0);
	assert_int_equal(len, 5);
	free(buf);
}

static void test_read_all_too_big_is_efbig(void **state)
{
	char *buf = (char *)"untouched";
	size_t len = 42;

	tu_write(*state, "f", "123456");
	assert_int_equal(read_file_all(tu_path(*state, "f"), 5, &buf, &len), -EFBIG);
	assert_string_equal(buf, "untouched");
	assert_int_equal(len, 42);
}

static void test_read_all_missing_is_enoent(void **state)
{
	char *buf = NULL;
	assert_int_equal(read_file_all(tu_path(*state, "nope"), 5, &buf, NULL), -ENOENT);
	assert_null(buf);
}

/* A closed source must read as closed to the next handler of the same
 * wakeup (the supervisor's message loop checks sock.fd < 0). */
static void test_closep_leaves_minus_one(void **state)
{
	int fd = open(tu_path(*state, "."), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	closep(&fd);
	assert_int_equal(fd, -1);
	closep(&fd); /* again: nothing to close, still -1 */
	assert_int_equal(fd, -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_tmpdir_setup, tu_tmpdir_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_write_atomic_content_and_mode),
		T(test_write_atomic_leaves_no_temp_file),
		T(test_write_atomic_replaces_content_and_mode),
		T(test_write_atomic_mode_ignores_umask),
		T(test_write_atomic_missing_dir_fails_cleanly),
		T(test_write_atomic_onto_directory_fails_cleanly),
		T(test_mkdir_p_nested),
		T(test_mkdir_p_existing_untouched),
		T(test_mkdir_p_through_file_is_enotdir),
		T(test_read_all_content_and_length),
		T(test_read_all_empty_file),
		T(test_read_all_exactly_max),
		T(test_read_all_too_big_is_efbig),
		T(test_read_all_missing_is_enoent),
		T(test_closep_leaves_minus_one),
	};
	return cmocka_run_group_tests_name("fileio", tests, NULL, NULL);
}
