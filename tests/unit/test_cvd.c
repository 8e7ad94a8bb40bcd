/* Unit tests of src/common/cvd.c: the header parser on a good header and on
 * every kind of bad one (exact reasons), and cvd_check_file on the
 * definitions tests/data/make-test-defs.sh builds with sigtool (into a
 * mkdtemp directory, from the group setup). */
#include "testutil.h"

#include <clamav.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "store/cvd.h"

#define GOOD "ClamAV-VDB:25 Nov 2026 13-00 +0000:1:3:216:1d20ca3d8bb9cbb59f055f020aec09c8:X:picket:1795611646"

static char *data; /* the generated definitions */

static int make_data(void **state)
{
	char tmpl[] = "/tmp/picket-cvd-data.XXXXXX", cmd[PATH_MAX * 3 + 64];
	(void)state;

	if (!mkdtemp(tmpl))
		return -1;
	data = strdup(tmpl);
	/* a+r: libclamav's check reopens them as another user */
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/data/make-test-defs.sh' '%s' && chmod -R a+r '%s'",
		 SOURCE_ROOT, data, data);
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

/* The header text padded with spaces to 512 bytes. */
static void pad(char out[CVD_HEADER_SIZE], const char *text)
{
	size_t len = strlen(text);
	assert_true(len <= CVD_HEADER_SIZE);
	memset(out, ' ', CVD_HEADER_SIZE);
	memcpy(out, text, len);
}

/* GOOD with ':'-field n (1 = the magic) replaced by value. */
static const char *with_field(int n, const char *value)
{
	static char buf[1024];
	char copy[sizeof(GOOD)];
	int i = 1;

	memcpy(copy, GOOD, sizeof(GOOD));
	buf[0] = '\0';
	for (char *save, *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save), i++) {
		if (i > 1)
			strcat(buf, ":");
		strcat(buf, i == n ? value : tok);
	}
	return buf;
}

static int parse_text(const char *text, struct cvd_header *h, char *err, size_t errlen)
{
	char b[CVD_HEADER_SIZE];
	pad(b, text);
	return cvd_header_parse(b, sizeof(b), h, err, errlen);
}

static void expect_bad(const char *text, const char *reason)
{
	struct cvd_header h;
	char err[256] = "";

	memset(&h, 0x5a, sizeof(h));
	assert_int_equal(parse_text(text, &h, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, reason);
	assert_int_equal(((unsigned char *)&h)[0], 0x5a); /* untouched on failure */
}

/* --- cvd_header_parse ---------------------------------------------------- */

static void test_parse_good(void **state)
{
	struct cvd_header h;
	char err[256];
	(void)state;

	assert_int_equal(parse_text(GOOD, &h, err, sizeof(err)), 0);
	assert_string_equal(h.build_time, "25 Nov 2026 13-00 +0000");
	assert_int_equal(h.version, 1);
	assert_int_equal(h.sigs, 3);
	assert_int_equal(h.flevel, 216);
	assert_string_equal(h.md5, "1d20ca3d8bb9cbb59f055f020aec09c8");
	assert_string_equal(h.dsig, "X");
	assert_string_equal(h.builder, "picket");
	assert_int_equal(h.stime, 1795611646);
}

static void test_parse_ignores_body(void **state)
{
	char b[2048];
	struct cvd_header h;
	(void)state;

	pad(b, GOOD);
	memset(b + CVD_HEADER_SIZE, 0, sizeof(b) - CVD_HEADER_SIZE);
	assert_int_equal(cvd_header_parse(b, sizeof(b), &h, NULL, 0), 0);
	assert_int_equal(h.version, 1);
}

static void test_parse_md5_uppercase_and_x(void **state)
{
	struct cvd_header h;
	(void)state;

	assert_int_equal(parse_text(with_field(6, "1D20CA3D8BB9CBB59F055F020AEC09C8"), &h, NULL, 0), 0);
	assert_string_equal(h.md5, "1d20ca3d8bb9cbb59f055f020aec09c8");
	assert_int_equal(parse_text(with_field(6, "X"), &h, NULL, 0), 0);
	assert_string_equal(h.md5, "");
}

static void test_parse_limits_inclusive(void **state)
{
	struct cvd_header h;
	char text[1024];
	(void)state;

	snprintf(text, sizeof(text), "%s", with_field(4, "50000000"));
	assert_int_equal(parse_text(text, &h, NULL, 0), 0);
	assert_int_equal(h.sigs, CVD_SIGS_MAX);
	assert_int_equal(parse_text(with_field(5, "1000"), &h, NULL, 0), 0);
	assert_int_equal(h.flevel, CVD_FLEVEL_MAX);
	assert_int_equal(parse_text(with_field(3, "4294967295"), &h, NULL, 0), 0);
	assert_int_equal(h.version, 4294967295u);
	assert_int_equal(parse_text(with_field(9, "4294967295"), &h, NULL, 0), 0);
	assert_int_equal(h.stime, 4294967295u);
	assert_int_equal(parse_text(with_field(3, "0007"), &h, NULL, 0), 0);
	assert_int_equal(h.version, 7);
}

static void test_parse_short(void **state)
{
	char b[CVD_HEADER_SIZE];
	struct cvd_header h;
	char err[128];
	(void)state;

	pad(b, GOOD);
	assert_int_equal(cvd_header_parse(b, 511, &h, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "file shorter than the 512-byte header");
	assert_int_equal(cvd_header_parse(b, 0, &h, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "file shorter than the 512-byte header");
}

static void test_parse_control_bytes(void **state)
{
	char b[CVD_HEADER_SIZE];
	struct cvd_header h;
	char err[128];
	size_t len = strlen(GOOD);
	(void)state;

	pad(b, GOOD);
	b[CVD_HEADER_SIZE - 1] = '\0'; /* NUL padding */
	assert_int_equal(cvd_header_parse(b, sizeof(b), &h, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "header: control or non-ASCII byte 0x00 at offset 511");
	pad(b, GOOD);
	b[len] = '\n';
	assert_int_equal(cvd_header_parse(b, sizeof(b), &h, err, sizeof(err)), -EBADMSG);
	snprintf(b, sizeof(b), "header: control or non-ASCII byte 0x0a at offset %zu", len);
	assert_string_equal(err, b);
	pad(b, GOOD);
	b[20] = (char)0xe9;
	assert_int_equal(cvd_header_parse(b, sizeof(b), &h, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "header: control or non-ASCII byte 0xe9 at offset 20");
}

static void test_parse_structure(void **state)
{
	(void)state;
	expect_bad("ClamAV-VDX:25 Nov 2026 13-00 +0000:1:3:216:1d20ca3d8bb9cbb59f055f020aec09c8:X:picket:1795611646",
		   "header: no \"ClamAV-VDB:\" magic");
	expect_bad("", "header: no \"ClamAV-VDB:\" magic");
	expect_bad("ClamAV-VDB:25 Nov 2026 13-00 +0000:1:3:216:1d20ca3d8bb9cbb59f055f020aec09c8:X:picket",
		   "header: 8 ':'-separated fields instead of 9");
	expect_bad("ClamAV-VDB:", "header: 2 ':'-separated fields instead of 9");
	expect_bad(GOOD ":1", "header: more than 9 ':'-separated fields");
	expect_bad(GOOD "   junk", "header: field 9 (stime) is not a number");
}

static void test_parse_text_fields(void **state)
{
	char long64[65], long256[257];
	(void)state;

	memset(long64, 'a', 64);
	long64[64] = '\0';
	memset(long256, 'Q', 256);
	long256[256] = '\0';
	expect_bad(with_field(2, ""), "header: field 2 (build time) is empty");
	expect_bad(with_field(2, long64), "header: field 2 (build time) is too long (at most 63 characters)");
	expect_bad(with_field(2, " 25 Nov 2026"), "header: field 2 (build time) has leading or trailing spaces");
	expect_bad(with_field(7, ""), "header: field 7 (dsig) is empty");
	expect_bad(with_field(7, "ab cd"), "header: field 7 (dsig) contains a space");
	expect_bad(with_field(7, long256), "header: field 7 (dsig) is too long (at most 255 characters)");
	expect_bad(with_field(8, ""), "header: field 8 (builder) is empty");
	expect_bad(with_field(8, long64), "header: field 8 (builder) is too long (at most 63 characters)");
}

static void test_parse_numbers(void **state)
{
	(void)state;
	expect_bad(with_field(3, ""), "header: field 3 (version) is empty");
	expect_bad(with_field(3, "1a"), "header: field 3 (version) is not a number");
	expect_bad(with_field(3, "-1"), "header: field 3 (version) is not a number");
	expect_bad(with_field(3, "+1"), "header: field 3 (version) is not a number");
	expect_bad(with_field(3, "4294967296"), "header: field 3 (version) is out of range (at most 4294967295)");
	expect_bad(with_field(4, "x"), "header: field 4 (sigs) is not a number");
	expect_bad(with_field(4, " 3"), "header: field 4 (sigs) is not a number");
	expect_bad(with_field(4, "50000001"), "header: field 4 (sigs) is out of range (at most 50000000)");
	expect_bad(with_field(4, "4294967295"), "header: field 4 (sigs) is out of range (at most 50000000)");
	expect_bad(with_field(4, "99999999999999999999999"),
		   "header: field 4 (sigs) is out of range (at most 50000000)");
	expect_bad(with_field(5, "1001"), "header: field 5 (flevel) is out of range (at most 1000)");
	expect_bad(with_field(5, "0x10"), "header: field 5 (flevel) is not a number");
	expect_bad(with_field(9, "4294967296"), "header: field 9 (stime) is out of range (at most 4294967295)");
	expect_bad(with_field(9, "17956e4"), "header: field 9 (stime) is not a number");
}

static void test_parse_md5(void **state)
{
	(void)state;
	expect_bad(with_field(6, "1d20ca3d8bb9cbb59f055f020aec09c"), "header: field 6 (md5) is not 32 hex digits");
	expect_bad(with_field(6, "1d20ca3d8bb9cbb59f055f020aec09c8a"), "header: field 6 (md5) is not 32 hex digits");
	expect_bad(with_field(6, "1d20ca3d8bb9cbb59f055f020aec09cg"), "header: field 6 (md5) is not 32 hex digits");
	expect_bad(with_field(6, ""), "header: field 6 (md5) is not 32 hex digits");
	expect_bad(with_field(6, "x"), "header: field 6 (md5) is not 32 hex digits");
}

static void test_parse_null_err(void **state)
{
	struct cvd_header h;
	(void)state;
	assert_int_equal(parse_text(with_field(4, "x"), &h, NULL, 0), -EBADMSG);
}

/* --- cvd_check_file ------------------------------------------------------ */

/* libclamav's check as nobody when the tests run as root, else as the
 * tests' own user (the only one they can be). */
static struct cvd_check_opts opts(bool allow_unsigned)
{
	bool root = tu_is_root();
	return (struct cvd_check_opts){ .allow_unsigned = allow_unsigned,
					.uid = root ? 65534 : getuid(),
					.gid = root ? 65534 : getgid(),
					.timeout_ms = 60000,
					.mem_bytes = 1ULL << 30 };
}

static int check(const char *rel, const char *name, bool allow_unsigned, struct cvd_header *h,
		 char *err, size_t errlen)
{
	int fd = open(tu_path(data, rel), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct cvd_check_opts o = opts(allow_unsigned);
	int r = cvd_check_file(fd, name ? name : rel, &o, h, err, errlen);
	close(fd);
	return r;
}

static void expect_file(const char *rel, const char *name, bool allow_unsigned, int want,
			 const char *reason)
{
	struct cvd_header h;
	char err[512] = "";

	memset(&h, 0x5a, sizeof(h));
	assert_int_equal(check(rel, name, allow_unsigned, &h, err, sizeof(err)), want);
	if (reason)
		assert_string_equal(err, reason);
	assert_int_equal(((unsigned char *)&h)[0], 0x5a);
}

/* Writes <dir>/<name>: the file rel with header field n set to value
 * (n = 0: an unchanged copy). */
static void variant(const char *dir, const char *name, const char *rel, int n, const char *value)
{
	char *all = tu_read(tu_path(data, rel));
	assert_non_null(all);
	struct stat st;
	assert_int_equal(stat(tu_path(data, rel), &st), 0);

	char text[CVD_HEADER_SIZE + 1], out[1024] = "", hdr[CVD_HEADER_SIZE];
	memcpy(text, all, CVD_HEADER_SIZE);
	text[CVD_HEADER_SIZE] = '\0';
	for (size_t k = CVD_HEADER_SIZE; k > 0 && text[k - 1] == ' '; k--)
		text[k - 1] = '\0';
	int i = 1;
	for (char *save, *tok = strtok_r(text, ":", &save); tok; tok = strtok_r(NULL, ":", &save), i++) {
		if (i > 1)
			strcat(out, ":");
		strcat(out, i == n ? value : tok);
	}
	pad(hdr, out);
	FILE *f = fopen(tu_path(dir, name), "we");
	assert_non_null(f);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	assert_int_equal(fwrite(all + CVD_HEADER_SIZE, 1, st.st_size - CVD_HEADER_SIZE, f),
			 (size_t)st.st_size - CVD_HEADER_SIZE);
	assert_int_equal(fchmod(fileno(f), 0644), 0);
	assert_int_equal(fclose(f), 0);
	free(all);
}

static int check_at(const char *dir, const char *name, bool allow_unsigned, char *err, size_t errlen)
{
	struct cvd_header h;
	int fd = open(tu_path(dir, name), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct cvd_check_opts o = opts(allow_unsigned);
	int r = cvd_check_file(fd, name, &o, &h, err, errlen);
	close(fd);
	return r;
}

static void test_check_good(void **state)
{
	struct cvd_header h;
	char err[256];
	(void)state;

	assert_int_equal(check("picket.cud", NULL, true, &h, err, sizeof(err)), 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.sigs, 2);
	assert_true(h.flevel <= cl_retflevel());
	assert_string_equal(h.builder, "picket");
	assert_int_equal(strlen(h.md5), 32);
	assert_int_equal(check("v2/picket.cud", NULL, true, &h, err, sizeof(err)), 0);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.sigs, 3);
}

static void test_check_ignores_offset_and_path(void **state)
{
	struct cvd_header h;
	int fd = open(tu_path(data, "picket.cud"), O_RDONLY | O_CLOEXEC);
	(void)state;

	assert_true(fd >= 0);
	assert_true(lseek(fd, 0, SEEK_END) > 0);
	struct cvd_check_opts o = opts(true);
	assert_int_equal(cvd_check_file(fd, "/some/where/picket.cud", &o, &h, NULL, 0), 0);
	close(fd);
}

static void test_check_unsigned_refused(void **state)
{
	(void)state;
	expect_file("picket.cud", NULL, false, -EBADMSG,
		     "unsigned .cud definitions are not allowed by the policy (allow_unsigned_defs)");
}

static void test_check_file_type(void **state)
{
	(void)state;
	expect_file("picket.cud", "picket.txt", true, -EINVAL, "unsupported definitions file type");
	expect_file("picket.cud", "picket.CUD", true, -EINVAL, "unsupported definitions file type");
	expect_file("picket.cud", ".cud", true, -EINVAL, "unsupported definitions file type");
	expect_file("picket.cud", "picket", true, -EINVAL, "unsupported definitions file type");
	expect_file("picket.cud", "dir.cud/picket", true, -EINVAL, "unsupported definitions file type");
}

static void test_check_bad_files(void **state)
{
	(void)state;
	expect_file("bad/truncated-header.cud", NULL, true, -EBADMSG, "file shorter than the 512-byte header");
	expect_file("bad/empty.cud", NULL, true, -EBADMSG, "file shorter than the 512-byte header");
	expect_file("bad/huge-sigs.cud", NULL, true, -EBADMSG,
		     "header: field 4 (sigs) is out of range (at most 50000000)");
}

static void test_check_wrong_md5(void **state)
{
	char err[256], want[256];
	char *good = tu_read(tu_path(data, "picket.cud"));
	(void)state;

	assert_non_null(good);
	assert_int_equal(check("bad/wrong-md5.cud", NULL, true, NULL, err, sizeof(err)), -EBADMSG);
	/* the real MD5 is the one in the good file's header */
	snprintf(want, sizeof(want), "body MD5 %.32s does not match the header's 00000000000000000000000000000000",
		 strstr(good, ":216:") + 5);
	assert_string_equal(err, want);
	free(good);
}

static void test_check_passes_but_would_not_load(void **state)
{
	struct cvd_header h;
	(void)state;
	/* consistent containers whose content libclamav cannot load: only a
	 * test load catches these */
	assert_int_equal(check("bad/garbage-body.cud", NULL, true, &h, NULL, 0), 0);
	assert_int_equal(check("bad/bad-sigline.cud", NULL, true, &h, NULL, 0), 0);
}

static void test_check_header_only(void **state)
{
	char err[128];
	char *all = tu_read(tu_path(data, "picket.cud"));

	assert_non_null(all);
	all[CVD_HEADER_SIZE] = '\0';
	tu_write(*state, "h.cud", all);
	free(all);
	assert_int_equal(check_at(*state, "h.cud", true, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "no body after the 512-byte header");
}

static void test_check_flevel_above_engine(void **state)
{
	char err[256], want[256], fl[16];

	snprintf(fl, sizeof(fl), "%u", cl_retflevel() + 1);
	variant(*state, "f.cud", "picket.cud", 5, fl);
	assert_int_equal(check_at(*state, "f.cud", true, err, sizeof(err)), -EBADMSG);
	snprintf(want, sizeof(want), "header: needs engine functionality level %u, this engine has %u",
		 cl_retflevel() + 1, cl_retflevel());
	assert_string_equal(err, want);
}

static void test_check_md5_x_only_for_cld(void **state)
{
	char err[256];

	variant(*state, "x.cud", "picket.cud", 6, "X");
	assert_int_equal(check_at(*state, "x.cud", true, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "header: field 6 (md5) is X: only a .cld may leave out the body MD5");
	variant(*state, "x.cvd", "picket.cud", 6, "X");
	assert_int_equal(check_at(*state, "x.cvd", true, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "header: field 6 (md5) is X: only a .cld may leave out the body MD5");
	/* a .cld without MD5 is left to libclamav, which wants a signed .info */
	variant(*state, "x.cld", "picket.cud", 6, "X");
	assert_int_equal(check_at(*state, "x.cld", false, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "libclamav refused the container: Malformed database "
				 "(cli_loadinfo: Digital signature not found)");
}

static void test_check_signature_enforced(void **state)
{
	char err[256];

	/* the unsigned container under a signed name: MD5 fine, no signature */
	variant(*state, "picket.cvd", "picket.cud", 0, NULL);
	assert_int_equal(check_at(*state, "picket.cvd", false, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "libclamav refused the container: Can't verify database integrity "
				 "(cli_decodesig: Resulting signature too large (128 vs 16).)");
	/* libclamav does not check a .cld's header signature (only that of its
	 * .info, which must be signed) */
	variant(*state, "picket.cld", "picket.cud", 0, NULL);
	assert_int_equal(check_at(*state, "picket.cld", false, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "libclamav refused the container: Malformed database "
				 "(cli_loadinfo: Digital signature not found)");
	/* our MD5 check runs first */
	variant(*state, "w.cvd", "bad/wrong-md5.cud", 0, NULL);
	assert_int_equal(check_at(*state, "w.cvd", false, err, sizeof(err)), -EBADMSG);
	assert_true(strncmp(err, "body MD5 ", 9) == 0);
}

static void test_check_not_regular(void **state)
{
	char err[128];
	struct cvd_header h;
	int fd = open(*state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	struct cvd_check_opts o = opts(true);
	assert_int_equal(cvd_check_file(fd, "dir.cud", &o, &h, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "not a regular file");
	close(fd);
}

/* A file only root may read: the check reopens it as opts()'s user, not
 * root, so libclamav cannot open it; readable by all, the same file gets as
 * far as its (missing) signature. */
static void test_root_check_runs_unprivileged(void **state)
{
	const char *want = "libclamav refused the container: Can't open file or directory";
	char err[256];

	variant(*state, "picket.cvd", "picket.cud", 0, NULL);
	assert_int_equal(chmod(tu_path(*state, "picket.cvd"), 0600), 0);
	assert_int_equal(check_at(*state, "picket.cvd", false, err, sizeof(err)), -EBADMSG);
	assert_memory_equal(err, want, strlen(want));
	assert_int_equal(chmod(tu_path(*state, "picket.cvd"), 0644), 0);
	assert_int_equal(check_at(*state, "picket.cvd", false, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "libclamav refused the container: Can't verify database integrity "
				 "(cli_decodesig: Resulting signature too large (128 vs 16).)");
}

static void test_root_check_never_as_root(void **state)
{
	const char *want = "libclamav's check needs an unprivileged user and a time limit";
	int fd = open(tu_path(data, "picket.cud"), O_RDONLY | O_CLOEXEC);
	struct cvd_check_opts o[3] = { opts(true), opts(true), opts(true) };
	struct cvd_header h;
	char err[128];
	(void)state;

	assert_true(fd >= 0);
	o[0].uid = 0;
	o[1].gid = 0;
	o[2].timeout_ms = 0;
	for (size_t i = 0; i < ARRAY_SIZE(o); i++) {
		assert_int_equal(cvd_check_file(fd, "picket.cvd", &o[i], &h, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, want);
	}
	close(fd);
}

/* A 256 MiB hole as the body, its MD5 in the header: picketd's own MD5
 * passes, libclamav's takes longer than the 100 ms it is given. */
static void test_check_time_limit(void **state)
{
	const off_t body = 256 << 20;
	static const char zeros[64 * 1024];
	unsigned char digest[16];
	char md5[33], err[256];
	void *ctx = cl_hash_init("md5");

	assert_non_null(ctx);
	for (off_t off = 0; off < body; off += sizeof(zeros))
		assert_int_equal(cl_update_hash(ctx, zeros, sizeof(zeros)), 0);
	assert_int_equal(cl_finish_hash(ctx, digest), 0);
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(md5 + 2 * i, 3, "%02x", digest[i]);
	variant(*state, "slow.cvd", "picket.cud", 6, md5);
	assert_int_equal(truncate(tu_path(*state, "slow.cvd"), CVD_HEADER_SIZE + body), 0);
	int fd = open(tu_path(*state, "slow.cvd"), O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	/* the original body out, the hole in */
	assert_int_equal(ftruncate(fd, CVD_HEADER_SIZE), 0);
	assert_int_equal(ftruncate(fd, CVD_HEADER_SIZE + body), 0);

	struct cvd_check_opts o = opts(false);
	struct cvd_header h;
	o.timeout_ms = 100;
	assert_int_equal(cvd_check_file(fd, "slow.cvd", &o, &h, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "libclamav did not finish checking the container within 100 ms");
	close(fd);
}

int main(void)
{
	log_setup("test_cvd", LOG_TARGET_STDERR, LOG_WARNING);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_ignores_body),
		cmocka_unit_test(test_parse_md5_uppercase_and_x),
		cmocka_unit_test(test_parse_limits_inclusive),
		cmocka_unit_test(test_parse_short),
		cmocka_unit_test(test_parse_control_bytes),
		cmocka_unit_test(test_parse_structure),
		cmocka_unit_test(test_parse_text_fields),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_parse_md5),
		cmocka_unit_test(test_parse_null_err),
		cmocka_unit_test(test_check_good),
		cmocka_unit_test(test_check_ignores_offset_and_path),
		cmocka_unit_test(test_check_unsigned_refused),
		cmocka_unit_test(test_check_file_type),
		cmocka_unit_test(test_check_bad_files),
		cmocka_unit_test(test_check_wrong_md5),
		cmocka_unit_test(test_check_passes_but_would_not_load),
		cmocka_unit_test_setup_teardown(test_check_header_only, tu_tmpdir_setup, tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_check_flevel_above_engine, tu_tmpdir_setup, tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_check_md5_x_only_for_cld, tu_tmpdir_setup, tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_check_signature_enforced, tu_tmpdir_setup, tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_check_not_regular, tu_tmpdir_setup, tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_check_time_limit, tu_tmpdir_setup, tu_tmpdir_teardown),
	};
	const struct CMUnitTest root_only[] = {
		cmocka_unit_test_setup_teardown(test_root_check_runs_unprivileged, tu_tmpdir_setup,
						tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_root_check_never_as_root, tu_tmpdir_setup,
						tu_tmpdir_teardown),
	};
	if (make_data(NULL) < 0)
		return 1;
	int r = TU_RUN("cvd", tests, root_only);
	remove_data(NULL);
	return r;
}
