/* Unit tests of src/daemon/quarantine.c: the store's layout and modes, add
 * (copy from the descriptor, unlink only the same inode), list, restore
 * (content, owner, mode, refusals), delete, limits and id checks. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "log.h"
#include "store/quarantine.h"

#define CONTENT "picket quarantine test\n"
#define CONTENT_SHA "bc6b312923a5f92735f057ffa4fdf74afb585da5e3a2564a6af61464b03fa310"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct fixture {
	char *tmp;
	char dir[PATH_MAX];   /* tmp with symlinks resolved: restore refuses them */
	char store[PATH_MAX];
	struct quarantine q;
	bool open;
};

static void reopen(struct fixture *fx, uint64_t max_bytes, unsigned max_items)
{
	if (fx->open)
		quarantine_close(&fx->q);
	assert_int_equal(quarantine_open(&fx->q, fx->store, max_bytes, max_items), 0);
	fx->open = true;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	void *tmp;

	if (!fx || tu_tmpdir_setup(&tmp) < 0)
		return -1;
	fx->tmp = tmp;
	if (!realpath(fx->tmp, fx->dir))
		return -1;
	if (snprintf(fx->store, sizeof(fx->store), "%s/store", fx->dir) >= (int)sizeof(fx->store))
		return -1;
	*state = fx;
	reopen(fx, 16 << 20, 8);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	void *tmp = fx->tmp;

	if (fx->open)
		quarantine_close(&fx->q);
	tu_tmpdir_teardown(&tmp);
	free(fx);
	return 0;
}

/* Writes len bytes to <dir>/<rel> (parents created) with exactly mode. */
static const char *put(struct fixture *fx, const char *rel, const void *data, size_t len,
		       mode_t mode)
{
	const char *slash = strrchr(rel, '/');
	if (slash) {
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
		tu_mkdir(fx->dir, parent);
	}
	const char *path = tu_path(fx->dir, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	return path;
}

static int open_ro(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* Opens path read-only (as picketd would for the scan) and quarantines it. */
static int add_path(struct fixture *fx, const char *path, char id[QUARANTINE_ID_LEN + 1])
{
	int fd = open_ro(path);
	int r = quarantine_add(&fx->q, fd, path, "Test.Sig-1", id);
	close(fd);
	return r;
}

static const char *entry(struct fixture *fx, const char *id, const char *ext)
{
	static char buf[4][PATH_MAX];
	static unsigned next;
	char *b = buf[next++ % 4];
	assert_true(snprintf(b, PATH_MAX, "%s/%s.%s", fx->store, id, ext) < PATH_MAX);
	return b;
}

static struct json_object *read_meta(struct fixture *fx, const char *id)
{
	char *text = tu_read(entry(fx, id, "json"));
	assert_non_null(text);
	struct json_object *o = json_tokener_parse(text);
	free(text);
	assert_non_null(o);
	return o;
}

static void write_meta(struct fixture *fx, const char *id, struct json_object *o)
{
	FILE *f = fopen(entry(fx, id, "json"), "we");
	assert_non_null(f);
	assert_true(fputs(json_object_to_json_string(o), f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static int64_t int_of(struct json_object *o, const char *key)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static bool bool_of(struct json_object *o, const char *key)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_boolean));
	return json_object_get_boolean(v);
}

static void overwrite(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, data, len), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &n), 1);
	EVP_MD_CTX_free(ctx);
	assert_int_equal(n, 32);
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void test_open_creates_store_0700(void **state)
{
	struct fixture *fx = *state;
	struct stat st;

	assert_int_equal(stat(fx->store, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(tu_count_entries(fx->store), 0);
}

static void test_open_tightens_mode(void **state)
{
	struct fixture *fx = *state;
	struct stat st;

	assert_int_equal(chmod(fx->store, 0755), 0);
	reopen(fx, 1024, 1);
	assert_int_equal(stat(fx->store, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_open_refuses_symlink_and_bad_limits(void **state)
{
	struct fixture *fx = *state;
	struct quarantine q;

	assert_int_equal(symlink(fx->store, tu_path(fx->dir, "link")), 0);
	assert_int_equal(quarantine_open(&q, tu_path(fx->dir, "link"), 1024, 1), -ELOOP);
	quarantine_close(&q); /* harmless after a failed open */
	assert_int_equal(quarantine_open(&q, fx->store, 0, 1), -EINVAL);
	assert_int_equal(quarantine_open(&q, fx->store, 1024, 0), -EINVAL);
	put(fx, "file", "x", 1, 0644);
	assert_int_equal(quarantine_open(&q, tu_path(fx->dir, "file"), 1024, 1), -ENOTDIR);
}

static void test_add_moves_file_into_store(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	struct stat orig, st;
	const char *path = put(fx, "evil.sh", CONTENT, strlen(CONTENT), 0755);
	time_t before = time(NULL);

	assert_int_equal(stat(path, &orig), 0);
	int fd = open_ro(path);
	assert_int_equal(lseek(fd, 5, SEEK_SET), 5);
	assert_int_equal(quarantine_add(&fx->q, fd, path, "Test.Sig-1", id), 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 5); /* a shared offset is left alone */
	close(fd);

	assert_true(quarantine_id_valid(id));
	assert_false(exists(path));
	assert_int_equal(tu_count_entries(fx->store), 2);
	assert_int_equal(lstat(entry(fx, id, "data"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lstat(entry(fx, id, "json"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	char *data = tu_read(entry(fx, id, "data"));
	assert_string_equal(data, CONTENT);
	free(data);

	_cleanup_json_ struct json_object *m = read_meta(fx, id);
	assert_string_equal(str_of(m, "id"), id);
	assert_string_equal(str_of(m, "original_path"), path);
	assert_int_equal(int_of(m, "uid"), orig.st_uid);
	assert_int_equal(int_of(m, "gid"), orig.st_gid);
	assert_int_equal(int_of(m, "mode"), 0755);
	assert_int_equal(int_of(m, "size"), strlen(CONTENT));
	assert_string_equal(str_of(m, "sha256"), CONTENT_SHA);
	assert_string_equal(str_of(m, "signature"), "Test.Sig-1");
	assert_in_range(int_of(m, "quarantined_at"), before, time(NULL));
	assert_false(json_object_object_get_ex(m, "detected_by", NULL));
	/* the directory it was taken from, seen from here */
	struct stat dir;
	assert_int_equal(stat(fx->dir, &dir), 0);
	assert_true(bool_of(m, "path_on_host"));
	assert_true((uint64_t)int_of(m, "dir_dev") == (uint64_t)dir.st_dev);
	assert_true((uint64_t)int_of(m, "dir_ino") == (uint64_t)dir.st_ino);
	assert_true(strchr(str_of(m, "dir_handle"), ':') != NULL);
}

static void test_add_records_detected_by(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "a", CONTENT, strlen(CONTENT), 0644);
	int fd = open_ro(path);

	assert_int_equal(quarantine_add_detected(&fx->q, fd, path, "Sig", "on-access: /usr/bin/cp", id),
			 0);
	close(fd);
	_cleanup_json_ struct json_object *m = read_meta(fx, id);
	assert_string_equal(str_of(m, "detected_by"), "on-access: /usr/bin/cp");
}

static void test_add_refuses_bad_arguments(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "a", CONTENT, strlen(CONTENT), 0644);
	int fd = open_ro(path);
	int dfd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *long_sig = calloc(1, QUARANTINE_TEXT_MAX + 1);

	assert_non_null(long_sig);
	memset(long_sig, 'S', QUARANTINE_TEXT_MAX);
	assert_int_equal(quarantine_add(&fx->q, fd, "a", "Sig", id), -EINVAL);
	assert_int_equal(quarantine_add(&fx->q, fd, "/", "Sig", id), -EINVAL);
	assert_int_equal(quarantine_add(&fx->q, fd, tu_path(fx->dir, ".."), "Sig", id), -EINVAL);
	assert_int_equal(quarantine_add(&fx->q, fd, path, NULL, id), -EINVAL);
	assert_int_equal(quarantine_add(&fx->q, fd, path, long_sig, id), -EINVAL);
	assert_int_equal(quarantine_add(&fx->q, -1, path, "Sig", id), -EINVAL);
	assert_int_equal(quarantine_add(&fx->q, dfd, fx->dir, "Sig", id), -EINVAL);
	free(long_sig);
	close(dfd);
	close(fd);
	assert_true(exists(path));
	assert_int_equal(tu_count_entries(fx->store), 0);
}

static void test_list_returns_entries_oldest_first(void **state)
{
	struct fixture *fx = *state;
	char a[QUARANTINE_ID_LEN + 1], b[QUARANTINE_ID_LEN + 1];
	struct json_object *list = NULL;

	assert_int_equal(add_path(fx, put(fx, "a", "A", 1, 0644), a), 0);
	assert_int_equal(add_path(fx, put(fx, "b", "B", 1, 0644), b), 0);
	/* Make a the newer one, whatever the ids' order. */
	_cleanup_json_ struct json_object *m = read_meta(fx, a);
	json_object_object_add(m, "quarantined_at", json_object_new_int64(time(NULL) + 100));
	write_meta(fx, a, m);

	assert_int_equal(quarantine_list(&fx->q, &list), 0);
	assert_int_equal(json_object_array_length(list), 2);
	struct json_object *first = json_object_array_get_idx(list, 0);
	assert_string_equal(str_of(first, "id"), b);
	assert_string_equal(str_of(first, "original_path"), tu_path(fx->dir, "b"));
	assert_string_equal(str_of(json_object_array_get_idx(list, 1), "id"), a);
	json_object_put(list);
}

static void test_list_skips_corrupt_entries(void **state)
{
	struct fixture *fx = *state;
	char good[QUARANTINE_ID_LEN + 1], other[QUARANTINE_ID_LEN + 1];
	struct json_object *list = NULL;

	assert_int_equal(add_path(fx, put(fx, "a", "A", 1, 0644), good), 0);
	assert_int_equal(add_path(fx, put(fx, "b", "B", 1, 0644), other), 0);
	/* Metadata naming another id, garbage, a missing field, no data. */
	_cleanup_json_ struct json_object *m = read_meta(fx, other);
	json_object_object_add(m, "id", json_object_new_string("0000000000000000"));
	write_meta(fx, other, m);
	tu_write(fx->store, "1111111111111111.json", "{ not json");
	tu_write(fx->store, "1111111111111111.data", "x");
	json_object_object_add(m, "id", json_object_new_string("2222222222222222"));
	json_object_object_del(m, "sha256");
	write_meta(fx, "2222222222222222", m);
	tu_write(fx->store, "2222222222222222.data", "B");
	json_object_object_add(m, "id", json_object_new_string("3333333333333333"));
	json_object_object_add(m, "sha256", json_object_new_string(CONTENT_SHA));
	write_meta(fx, "3333333333333333", m);
	tu_write(fx->store, "notes.txt", "{}");
	tu_write(fx->store, "ABCDEF0123456789.json", "{}");

	assert_int_equal(quarantine_list(&fx->q, &list), 0);
	assert_int_equal(json_object_array_length(list), 1);
	assert_string_equal(str_of(json_object_array_get_idx(list, 0), "id"), good);
	json_object_put(list);
}

static void test_restore_puts_file_back(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "sub/doc.txt", CONTENT, strlen(CONTENT), 0640);
	struct stat before, after;

	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(add_path(fx, path, id), 0);
	assert_false(exists(path));
	assert_int_equal(quarantine_restore(&fx->q, id, false), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_mode & 07777, 0640);
	assert_int_equal(after.st_uid, before.st_uid);
	assert_int_equal(after.st_gid, before.st_gid);
	char *data = tu_read(path);
	assert_string_equal(data, CONTENT);
	free(data);
	assert_int_equal(tu_count_entries(fx->store), 0);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "sub")), 1); /* no temp file left */
	assert_int_equal(quarantine_restore(&fx->q, id, false), -ENOENT);
}

static void test_restore_refuses_existing_path_unless_forced(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "a", CONTENT, strlen(CONTENT), 0644);

	assert_int_equal(add_path(fx, path, id), 0);
	put(fx, "a", "newer", 5, 0600);
	assert_int_equal(quarantine_restore(&fx->q, id, false), -EEXIST);
	char *data = tu_read(path);
	assert_string_equal(data, "newer");
	free(data);
	assert_int_equal(tu_count_entries(fx->store), 2);

	assert_int_equal(quarantine_restore(&fx->q, id, true), 0);
	data = tu_read(path);
	assert_string_equal(data, CONTENT);
	free(data);
	assert_int_equal(tu_count_entries(fx->store), 0);
	assert_int_equal(tu_count_entries(fx->dir), 2); /* store and a */
}

static void test_restore_needs_parent(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];

	assert_int_equal(add_path(fx, put(fx, "gone/a", "A", 1, 0644), id), 0);
	tu_rm_rf(tu_path(fx->dir, "gone"));
	assert_int_equal(quarantine_restore(&fx->q, id, false), -ENOENT);
	assert_int_equal(quarantine_restore(&fx->q, id, true), -ENOENT);
	assert_int_equal(tu_count_entries(fx->store), 2);
}

static void test_restore_refuses_symlinked_parent(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];

	assert_int_equal(add_path(fx, put(fx, "d/a", "A", 1, 0644), id), 0);
	assert_int_equal(rename(tu_path(fx->dir, "d"), tu_path(fx->dir, "elsewhere")), 0);
	assert_int_equal(symlink("elsewhere", tu_path(fx->dir, "d")), 0);
	assert_int_equal(quarantine_restore(&fx->q, id, true), -ELOOP);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "elsewhere")), 0);
	assert_int_equal(tu_count_entries(fx->store), 2);
}

/* Restoring makes no privileged program: set-uid, set-gid and sticky bits
 * stay in the metadata, not on the file. */
static void test_restore_drops_setuid_setgid_sticky(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *name;
		mode_t mode, restored;
	} cases[] = { { "suid", 04755, 0755 }, { "sgid", 02750, 0750 }, { "both", 06711, 0711 },
		      { "sticky", 01644, 0644 } };
	char id[QUARANTINE_ID_LEN + 1];
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *path = put(fx, cases[i].name, CONTENT, strlen(CONTENT), cases[i].mode);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, cases[i].mode);
		assert_int_equal(add_path(fx, path, id), 0);
		_cleanup_json_ struct json_object *m = read_meta(fx, id);
		assert_int_equal(int_of(m, "mode"), cases[i].mode);
		assert_int_equal(quarantine_restore(&fx->q, id, false), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, cases[i].restored);
	}
}

/* The directory at the path is not the one the file was taken from: a new
 * one under the old name gets nothing, with or without force. */
static void test_restore_refuses_replaced_directory(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];

	assert_int_equal(add_path(fx, put(fx, "d/a", CONTENT, strlen(CONTENT), 0644), id), 0);
	assert_int_equal(rename(tu_path(fx->dir, "d"), tu_path(fx->dir, "old")), 0);
	tu_mkdir(fx->dir, "d");
	assert_int_equal(quarantine_restore(&fx->q, id, false), -ESTALE);
	assert_int_equal(quarantine_restore(&fx->q, id, true), -ESTALE);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "d")), 0);
	assert_int_equal(tu_count_entries(tu_path(fx->dir, "old")), 0);
	assert_int_equal(tu_count_entries(fx->store), 2);
	/* the directory it came from, back under its name */
	assert_int_equal(rmdir(tu_path(fx->dir, "d")), 0);
	assert_int_equal(rename(tu_path(fx->dir, "old"), tu_path(fx->dir, "d")), 0);
	assert_int_equal(quarantine_restore(&fx->q, id, false), 0);
	char *data = tu_read(tu_path(fx->dir, "d/a"));
	assert_string_equal(data, CONTENT);
	free(data);
}

/* An entry that does not say which directory it came from (written by an
 * older picketd, or edited) is listed but not restored. */
static void test_restore_refuses_entry_without_directory(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	struct json_object *list = NULL;
	const char *path = put(fx, "a", CONTENT, strlen(CONTENT), 0644);

	assert_int_equal(add_path(fx, path, id), 0);
	_cleanup_json_ struct json_object *m = read_meta(fx, id);
	json_object_object_del(m, "dir_dev");
	json_object_object_del(m, "dir_ino");
	json_object_object_del(m, "dir_handle");
	json_object_object_del(m, "path_on_host");
	write_meta(fx, id, m);
	assert_int_equal(quarantine_list(&fx->q, &list), 0);
	assert_int_equal(json_object_array_length(list), 1);
	json_object_put(list);
	assert_int_equal(quarantine_restore(&fx->q, id, true), -ESTALE);
	assert_false(exists(path));
	/* half a record is a corrupt entry */
	json_object_object_add(m, "dir_dev", json_object_new_int64(1));
	write_meta(fx, id, m);
	assert_int_equal(quarantine_list(&fx->q, &list), 0);
	assert_int_equal(json_object_array_length(list), 0);
	json_object_put(list);
	assert_int_equal(quarantine_restore(&fx->q, id, true), -EBADMSG);
}

static void test_restore_refuses_tampered_data(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "a", CONTENT, strlen(CONTENT), 0644);
	char *bad = strdup(CONTENT);

	assert_int_equal(add_path(fx, path, id), 0);
	bad[0] ^= 1; /* same length, other content */
	overwrite(entry(fx, id, "data"), bad);
	free(bad);
	assert_int_equal(quarantine_restore(&fx->q, id, true), -EBADMSG);
	assert_false(exists(path));
	overwrite(entry(fx, id, "data"), "short");
	assert_int_equal(quarantine_restore(&fx->q, id, false), -EBADMSG);
	assert_int_equal(unlink(entry(fx, id, "data")), 0);
	assert_int_equal(quarantine_restore(&fx->q, id, false), -EBADMSG);
	assert_false(exists(path));
	assert_int_equal(tu_count_entries(fx->dir), 1); /* only the store */
}

static void test_bad_ids_refused(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = {
		"../x", "ABC", "0123456789abcde", "0123456789abcdef0", "0123456789ABCDEF",
		"0123456789abcdeg", "../../etc/passw", "/etc/passwd/0000", "", "0123456789abcde\n",
	};
	char id[QUARANTINE_ID_LEN + 1];

	assert_int_equal(add_path(fx, put(fx, "a", "A", 1, 0644), id), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_false(quarantine_id_valid(bad[i]));
		assert_int_equal(quarantine_restore(&fx->q, bad[i], true), -EINVAL);
		assert_int_equal(quarantine_delete(&fx->q, bad[i]), -EINVAL);
	}
	assert_int_equal(quarantine_restore(&fx->q, NULL, false), -EINVAL);
	assert_int_equal(quarantine_delete(&fx->q, NULL), -EINVAL);
	assert_int_equal(tu_count_entries(fx->store), 2);
}

static void test_add_leaves_replaced_path_alone(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1] = "";
	const char *path = put(fx, "a", CONTENT, strlen(CONTENT), 0755);
	struct stat fresh, after;

	int fd = open_ro(path);
	put(fx, "a.new", "innocent", 8, 0644);
	assert_int_equal(stat(tu_path(fx->dir, "a.new"), &fresh), 0);
	assert_int_equal(rename(tu_path(fx->dir, "a.new"), path), 0);
	assert_int_equal(quarantine_add(&fx->q, fd, path, "Sig", id), -ESTALE);
	close(fd);
	assert_string_equal(id, ""); /* not written on failure */
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_ino, fresh.st_ino);
	char *data = tu_read(path);
	assert_string_equal(data, "innocent");
	free(data);
	assert_int_equal(tu_count_entries(fx->store), 0);
}

static void test_add_stale_when_path_moved_or_symlinked(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "a", CONTENT, strlen(CONTENT), 0755);
	char link[64];

	int fd = open_ro(path);
	assert_int_equal(rename(path, tu_path(fx->dir, "moved")), 0);
	assert_int_equal(quarantine_add(&fx->q, fd, path, "Sig", id), -ESTALE);
	assert_int_equal(symlink("moved", path), 0);
	assert_int_equal(quarantine_add(&fx->q, fd, path, "Sig", id), -ESTALE);
	assert_int_equal(quarantine_add(&fx->q, fd, tu_path(fx->dir, "no/such/a"), "Sig", id), -ESTALE);
	close(fd);
	assert_int_equal(readlink(path, link, sizeof(link)), 5);
	assert_true(exists(tu_path(fx->dir, "moved")));
	assert_int_equal(tu_count_entries(fx->store), 0);
}

static void test_add_size_cap(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *big = put(fx, "big", "01234567890", 11, 0644);

	reopen(fx, 10, 8);
	assert_int_equal(add_path(fx, big, id), -EFBIG);
	assert_true(exists(big));
	assert_int_equal(tu_count_entries(fx->store), 0);
	assert_int_equal(add_path(fx, put(fx, "fits", "0123456789", 10, 0644), id), 0);
}

static void test_add_item_cap(void **state)
{
	struct fixture *fx = *state;
	char a[QUARANTINE_ID_LEN + 1], b[QUARANTINE_ID_LEN + 1], c[QUARANTINE_ID_LEN + 1];

	reopen(fx, 1024, 2);
	assert_int_equal(add_path(fx, put(fx, "a", "A", 1, 0644), a), 0);
	assert_int_equal(add_path(fx, put(fx, "b", "B", 1, 0644), b), 0);
	assert_int_equal(add_path(fx, put(fx, "c", "C", 1, 0644), c), -ENOSPC);
	assert_true(exists(tu_path(fx->dir, "c")));
	assert_int_equal(quarantine_delete(&fx->q, a), 0);
	assert_int_equal(add_path(fx, tu_path(fx->dir, "c"), c), 0);
}

static void test_delete(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	struct json_object *list = NULL;

	assert_int_equal(add_path(fx, put(fx, "a", "A", 1, 0644), id), 0);
	assert_int_equal(quarantine_delete(&fx->q, id), 0);
	assert_int_equal(tu_count_entries(fx->store), 0);
	assert_int_equal(quarantine_delete(&fx->q, id), -ENOENT);
	assert_int_equal(quarantine_delete(&fx->q, "0123456789abcdef"), -ENOENT);
	assert_int_equal(quarantine_list(&fx->q, &list), 0);
	assert_int_equal(json_object_array_length(list), 0);
	json_object_put(list);
}

static void test_open_sweeps_leftovers(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];

	assert_int_equal(add_path(fx, put(fx, "a", "A", 1, 0644), id), 0);
	tu_write(fx->store, "0123456789abcdef.data", "orphan");
	tu_write(fx->store, "0123456789abcdef.json.tmpAbC123", "{");
	tu_write(fx->store, "keep.me", "");
	reopen(fx, 1024, 8);
	assert_int_equal(tu_count_entries(fx->store), 3);
	assert_true(exists(entry(fx, id, "data")));
	assert_true(exists(entry(fx, id, "json")));
}

static void test_odd_names_round_trip(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "we\nird \xff\"name\\", CONTENT, strlen(CONTENT), 0600);
	char saved[PATH_MAX];
	struct json_object *list = NULL;

	snprintf(saved, sizeof(saved), "%s", path);
	assert_int_equal(add_path(fx, saved, id), 0);
	assert_int_equal(quarantine_list(&fx->q, &list), 0);
	assert_string_equal(str_of(json_object_array_get_idx(list, 0), "original_path"), saved);
	json_object_put(list);
	assert_int_equal(quarantine_restore(&fx->q, id, false), 0);
	char *data = tu_read(saved);
	assert_string_equal(data, CONTENT);
	free(data);
}

static void test_large_and_empty_files(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1], hex[65];
	size_t len = (3 << 20) + 123;
	unsigned char *buf = malloc(len);
	uint32_t x = 2463534242u;

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
	sha256_hex(buf, len, hex);
	const char *path = put(fx, "big.bin", buf, len, 0644);
	assert_int_equal(add_path(fx, path, id), 0);
	struct json_object *m = read_meta(fx, id);
	assert_string_equal(str_of(m, "sha256"), hex);
	assert_int_equal(int_of(m, "size"), len);
	json_object_put(m);
	assert_int_equal(quarantine_restore(&fx->q, id, false), 0);
	int fd = open_ro(path);
	unsigned char *back = malloc(len + 1);
	assert_non_null(back);
	assert_int_equal(read(fd, back, len + 1), (ssize_t)len);
	close(fd);
	assert_memory_equal(back, buf, len);
	free(back);
	free(buf);

	path = put(fx, "empty", "", 0, 0644);
	assert_int_equal(add_path(fx, path, id), 0);
	m = read_meta(fx, id);
	assert_string_equal(str_of(m, "sha256"), EMPTY_SHA);
	json_object_put(m);
	assert_int_equal(quarantine_restore(&fx->q, id, false), 0);
	assert_true(exists(path));
}

static void test_add_keeps_other_hard_links(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "a", CONTENT, strlen(CONTENT), 0644);

	assert_int_equal(link(path, tu_path(fx->dir, "a.link")), 0);
	assert_int_equal(add_path(fx, path, id), 0);
	assert_false(exists(path));
	assert_true(exists(tu_path(fx->dir, "a.link"))); /* documented: one path is removed */
}

/* The unlink fails (read-only directory, or immutable as root): the store
 * must not keep a copy of a file that is still in place. */
static void test_add_rolls_back_when_unlink_fails(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "ro/a", CONTENT, strlen(CONTENT), 0644);
	const char *ro = tu_path(fx->dir, "ro");
	int dfd = open(ro, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int flags = 0, r;

	assert_true(dfd >= 0);
	if (tu_is_root()) {
		assert_int_equal(ioctl(dfd, FS_IOC_GETFLAGS, &flags), 0);
		flags |= FS_IMMUTABLE_FL;
		assert_int_equal(ioctl(dfd, FS_IOC_SETFLAGS, &flags), 0);
	} else {
		assert_int_equal(chmod(ro, 0555), 0);
	}
	r = add_path(fx, path, id);
	if (tu_is_root()) {
		flags &= ~FS_IMMUTABLE_FL;
		ioctl(dfd, FS_IOC_SETFLAGS, &flags);
	}
	close(dfd);
	assert_int_equal(r, tu_is_root() ? -EPERM : -EACCES);
	assert_true(exists(path));
	assert_int_equal(tu_count_entries(fx->store), 0);
}

static void test_root_restore_owner_not_setuid(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1];
	const char *path = put(fx, "suid", CONTENT, strlen(CONTENT), 0644);
	struct stat st;

	assert_int_equal(chown(path, 1234, 5678), 0);
	assert_int_equal(chmod(path, 04750), 0);
	assert_int_equal(add_path(fx, path, id), 0);
	assert_int_equal(lstat(entry(fx, id, "data"), &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	_cleanup_json_ struct json_object *m = read_meta(fx, id);
	assert_int_equal(int_of(m, "uid"), 1234);
	assert_int_equal(int_of(m, "gid"), 5678);
	assert_int_equal(int_of(m, "mode"), 04750);

	assert_int_equal(quarantine_restore(&fx->q, id, false), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(st.st_mode & 07777, 0750); /* a set-uid 1234 program no more */
	char *data = tu_read(path);
	assert_string_equal(data, CONTENT);
	free(data);
	assert_int_equal(tu_count_entries(fx->store), 0);
}

/* A file reached through another mount namespace: there a tmpfs hides
 * <dir>/victim and holds a "passwd"; /proc/<pid>/root/<dir>/victim/passwd
 * is that file, and the kernel names it <dir>/victim/passwd, the host's
 * path of another file.  Quarantined, it is never restored over the host's. */
static void test_root_namespace_view_not_restored(void **state)
{
	struct fixture *fx = *state;
	char id[QUARANTINE_ID_LEN + 1], victim[PATH_MAX], seen[PATH_MAX + 64];
	int ready[2], hold[2];

	const char *host = put(fx, "victim/passwd", "root:x:0:0\n", 11, 0644);
	snprintf(victim, sizeof(victim), "%s", tu_path(fx->dir, "victim"));
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c = 0, p[PATH_MAX + 16];
		snprintf(p, sizeof(p), "%s/passwd", victim);
		close(ready[0]);
		close(hold[1]);
		alarm(60); /* gone even if the parent fails before it lets go */
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("none", victim, "tmpfs", 0, NULL) < 0)
			_exit(1);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, CONTENT, strlen(CONTENT)) != (ssize_t)strlen(CONTENT) ||
		    write(ready[1], &c, 1) != 1)
			_exit(2);
		(void)!read(hold[0], &c, 1); /* until the parent is done */
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	snprintf(seen, sizeof(seen), "/proc/%d/root%s/passwd", (int)pid, victim);

	assert_int_equal(add_path(fx, seen, id), 0);
	struct stat st;
	assert_int_equal(stat(seen, &st), -1); /* gone from the namespace */
	_cleanup_json_ struct json_object *m = read_meta(fx, id);
	assert_string_equal(str_of(m, "original_path"), host);
	assert_false(bool_of(m, "path_on_host"));
	assert_int_equal(quarantine_restore(&fx->q, id, false), -EXDEV);
	assert_int_equal(quarantine_restore(&fx->q, id, true), -EXDEV);
	char *text = tu_read(host);
	assert_string_equal(text, "root:x:0:0\n");
	free(text);
	assert_int_equal(tu_count_entries(fx->store), 2);

	close(hold[1]);
	close(ready[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_root_refuses_store_of_other_owner(void **state)
{
	struct fixture *fx = *state;
	struct quarantine q;

	assert_int_equal(chown(fx->store, 1234, 1234), 0);
	assert_int_equal(quarantine_open(&q, fx->store, 1024, 1), -EPERM);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_creates_store_0700),
		T(test_open_tightens_mode),
		T(test_open_refuses_symlink_and_bad_limits),
		T(test_add_moves_file_into_store),
		T(test_add_records_detected_by),
		T(test_add_refuses_bad_arguments),
		T(test_list_returns_entries_oldest_first),
		T(test_list_skips_corrupt_entries),
		T(test_restore_puts_file_back),
		T(test_restore_refuses_existing_path_unless_forced),
		T(test_restore_needs_parent),
		T(test_restore_refuses_symlinked_parent),
		T(test_restore_refuses_tampered_data),
		T(test_restore_drops_setuid_setgid_sticky),
		T(test_restore_refuses_replaced_directory),
		T(test_restore_refuses_entry_without_directory),
		T(test_bad_ids_refused),
		T(test_add_leaves_replaced_path_alone),
		T(test_add_stale_when_path_moved_or_symlinked),
		T(test_add_size_cap),
		T(test_add_item_cap),
		T(test_delete),
		T(test_open_sweeps_leftovers),
		T(test_odd_names_round_trip),
		T(test_large_and_empty_files),
		T(test_add_keeps_other_hard_links),
		T(test_add_rolls_back_when_unlink_fails),
	};
	const struct CMUnitTest root_only[] = {
		T(test_root_restore_owner_not_setuid),
		T(test_root_namespace_view_not_restored),
		T(test_root_refuses_store_of_other_owner),
	};
	log_set_level(LOG_CRIT);
	return TU_RUN("quarantine", tests, root_only);
}
