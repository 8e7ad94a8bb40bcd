#include "cvd.h"

#include <clamav.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define MAGIC "ClamAV-VDB:"
#define NFIELDS 9
#define CVD_VERIFY_CPU_SECONDS 300

enum cvd_kind { KIND_CVD, KIND_CLD, KIND_CUD };

static const char *const field_name[NFIELDS + 1] = {
	[1] = "magic",  [2] = "build time", [3] = "version", [4] = "sigs",   [5] = "flevel",
	[6] = "md5",    [7] = "dsig",       [8] = "builder", [9] = "stime",
};

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

#define BAD(...) fail(err, errlen, -EBADMSG, __VA_ARGS__)

struct field {
	const char *s;
	size_t len;
};

static int parse_uint(const struct field *f, int i, uint64_t max, uint64_t *ret, char *err,
		      size_t errlen)
{
	uint64_t v = 0;

	if (f->len == 0)
		return BAD("header: field %d (%s) is empty", i, field_name[i]);
	for (size_t k = 0; k < f->len; k++)
		if (f->s[k] < '0' || f->s[k] > '9')
			return BAD("header: field %d (%s) is not a number", i, field_name[i]);
	for (size_t k = 0; k < f->len; k++) {
		v = v * 10 + (uint64_t)(f->s[k] - '0');
		if (v > max)
			return BAD("header: field %d (%s) is out of range (at most %llu)", i,
				   field_name[i], (unsigned long long)max);
	}
	*ret = v;
	return 0;
}

static int copy_text(const struct field *f, int i, char *dst, size_t dstlen, bool spaces,
		     char *err, size_t errlen)
{
	if (f->len == 0)
		return BAD("header: field %d (%s) is empty", i, field_name[i]);
	if (f->len >= dstlen)
		return BAD("header: field %d (%s) is too long (at most %zu characters)", i,
			   field_name[i], dstlen - 1);
	if (!spaces && memchr(f->s, ' ', f->len))
		return BAD("header: field %d (%s) contains a space", i, field_name[i]);
	memcpy(dst, f->s, f->len);
	dst[f->len] = '\0';
	return 0;
}

static int parse_md5(const struct field *f, char dst[33], char *err, size_t errlen)
{
	if (f->len == 1 && f->s[0] == 'X') {
		dst[0] = '\0';
		return 0;
	}
	if (f->len != 32)
		return BAD("header: field 6 (md5) is not 32 hex digits");
	for (size_t k = 0; k < 32; k++) {
		char c = f->s[k];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return BAD("header: field 6 (md5) is not 32 hex digits");
		dst[k] = c;
	}
	dst[32] = '\0';
	return 0;
}

int cvd_header_parse(const char *buf, size_t len, struct cvd_header *ret, char *err, size_t errlen)
{
	struct field f[NFIELDS + 1];
	struct cvd_header h = { 0 };
	size_t end = CVD_HEADER_SIZE, start = 0;
	int n = 0, r;

	if (len < CVD_HEADER_SIZE)
		return BAD("file shorter than the 512-byte header");
	for (size_t k = 0; k < CVD_HEADER_SIZE; k++) {
		unsigned char c = (unsigned char)buf[k];
		if (c < 0x20 || c > 0x7e)
			return BAD("header: control or non-ASCII byte 0x%02x at offset %zu", c, k);
	}
	if (memcmp(buf, MAGIC, strlen(MAGIC)) != 0)
		return BAD("header: no \"ClamAV-VDB:\" magic");
	while (end > 0 && buf[end - 1] == ' ')
		end--;
	for (size_t k = 0; k <= end; k++) {
		if (k < end && buf[k] != ':')
			continue;
		if (++n > NFIELDS)
			return BAD("header: more than %d ':'-separated fields", NFIELDS);
		f[n] = (struct field){ buf + start, k - start };
		start = k + 1;
	}
	if (n < NFIELDS)
		return BAD("header: %d ':'-separated fields instead of %d", n, NFIELDS);

	uint64_t version, sigs, flevel, stime;
	if ((r = copy_text(&f[2], 2, h.build_time, sizeof(h.build_time), true, err, errlen)) < 0 ||
	    (r = parse_uint(&f[3], 3, UINT_MAX, &version, err, errlen)) < 0 ||
	    (r = parse_uint(&f[4], 4, CVD_SIGS_MAX, &sigs, err, errlen)) < 0 ||
	    (r = parse_uint(&f[5], 5, CVD_FLEVEL_MAX, &flevel, err, errlen)) < 0 ||
	    (r = parse_md5(&f[6], h.md5, err, errlen)) < 0 ||
	    (r = copy_text(&f[7], 7, h.dsig, sizeof(h.dsig), false, err, errlen)) < 0 ||
	    (r = copy_text(&f[8], 8, h.builder, sizeof(h.builder), true, err, errlen)) < 0 ||
	    (r = parse_uint(&f[9], 9, UINT32_MAX, &stime, err, errlen)) < 0)
		return r;
	if (h.build_time[0] == ' ' || h.build_time[strlen(h.build_time) - 1] == ' ')
		return BAD("header: field 2 (build time) has leading or trailing spaces");
	h.version = (unsigned)version;
	h.sigs = (unsigned)sigs;
	h.flevel = (unsigned)flevel;
	h.stime = stime;
	*ret = h;
	return 0;
}

/* --- whole-file checks */

/* The first libclamav error since the last reset: usually the cause. */
static _Thread_local char clam_first_error[256];

static void clam_msg(enum cl_msg sev, const char *fullmsg, const char *msg, void *ctx)
{
	(void)fullmsg;
	(void)ctx;
	if (!msg)
		return;
	if (sev == CL_MSG_ERROR && !clam_first_error[0]) {
		snprintf(clam_first_error, sizeof(clam_first_error), "%s", msg);
		clam_first_error[strcspn(clam_first_error, "\n")] = '\0';
	}
	log_debug("libclamav: %.*s", (int)strcspn(msg, "\n"), msg);
}

static int clam_setup(void)
{
	static bool done;
	cl_error_t rc;

	if (done)
		return 0;
	cl_set_clcb_msg(clam_msg);
	rc = cl_init(CL_INIT_DEFAULT);
	if (rc != CL_SUCCESS)
		return -EIO;
	done = true;
	return 0;
}

static int kind_of(const char *base)
{
	const char *dot = strrchr(base, '.');

	if (!dot || dot == base)
		return -EINVAL;
	if (strcmp(dot, ".cvd") == 0)
		return KIND_CVD;
	if (strcmp(dot, ".cld") == 0)
		return KIND_CLD;
	if (strcmp(dot, ".cud") == 0)
		return KIND_CUD;
	return -EINVAL;
}

/* The MD5 of bytes [off, size) of fd, as 32 lowercase hex digits. */
static int body_md5(int fd, off_t off, off_t size, char hex[33])
{
	void *ctx = cl_hash_init("md5");
	unsigned char digest[16];
	char buf[64 * 1024];

	if (!ctx)
		return -ENOSYS;
	while (off < size) {
		size_t want = size - off < (off_t)sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		ssize_t k = pread(fd, buf, want, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int e = k < 0 ? -errno : -EIO; /* 0: the file shrank under us */
			cl_hash_destroy(ctx);
			return e;
		}
		if (cl_update_hash(ctx, buf, (size_t)k) != 0) {
			cl_hash_destroy(ctx);
			return -EIO;
		}
		off += k;
	}
	if (cl_finish_hash(ctx, digest) != 0) /* frees ctx */
		return -EIO;
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

struct verdict {
	int rc; /* cl_error_t */
	char error[256];
};

/* The child: cl_cvdverify(link), its verdict written to wfd. */
static void __attribute__((noreturn)) verify_child(const char *link, int wfd)
{
	struct rlimit cpu = { CVD_VERIFY_CPU_SECONDS, CVD_VERIFY_CPU_SECONDS };
	struct verdict v = { 0 };

	setrlimit(RLIMIT_CPU, &cpu);
	clam_first_error[0] = '\0';
	v.rc = cl_cvdverify(link);
	snprintf(v.error, sizeof(v.error), "%s", clam_first_error);
	if (write(wfd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		_exit(1);
	_exit(0);
}

/* libclamav's check runs in a child: it parses untrusted bytes, and in 1.4.6
 * leaks memory on some refusals (seen with LeakSanitizer), which a
 * long-running daemon must not accumulate. */
static int run_verify(const char *link, char *err, size_t errlen)
{
	struct verdict v;
	size_t got = 0;
	int p[2], status = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return fail(err, errlen, -errno, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(p[0]);
		close(p[1]);
		return fail(err, errlen, r, "fork: %s", strerror(-r));
	}
	if (pid == 0) {
		close(p[0]);
		verify_child(link, p[1]);
	}
	close(p[1]);
	while (got < sizeof(v)) {
		ssize_t k = read(p[0], (char *)&v + got, sizeof(v) - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(v)) {
		if (WIFSIGNALED(status))
			return BAD("libclamav crashed checking the container (signal %d)",
				   WTERMSIG(status));
		return BAD("libclamav did not finish checking the container");
	}
	v.error[sizeof(v.error) - 1] = '\0';
	if (v.rc == CL_SUCCESS)
		return 0;
	if (v.error[0])
		return BAD("libclamav refused the container: %s (%s)", cl_strerror(v.rc), v.error);
	return BAD("libclamav refused the container: %s", cl_strerror(v.rc));
}

/* cl_cvdverify takes a path and decides .cvd/.cld by its ending, so it gets a
 * private directory holding a symlink named base to /proc/self/fd/<fd>. */
static int verify_signed(int fd, const char *base, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], link[PATH_MAX], target[64];
	int r;

	if ((r = clam_setup()) < 0)
		return fail(err, errlen, r, "libclamav initialisation failed");
	if (snprintf(dir, sizeof(dir), "%s/picket-cvd.XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
	    (int)sizeof(dir))
		return fail(err, errlen, -ENAMETOOLONG, "temporary directory name too long");
	if (!mkdtemp(dir))
		return fail(err, errlen, -errno, "mkdtemp %s: %s", dir, strerror(errno));
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	if (snprintf(link, sizeof(link), "%s/%s", dir, base) >= (int)sizeof(link)) {
		rmdir(dir);
		return fail(err, errlen, -ENAMETOOLONG, "file name too long");
	}
	if (symlink(target, link) < 0) {
		r = -errno;
		rmdir(dir);
		return fail(err, errlen, r, "symlink %s: %s", link, strerror(-r));
	}
	r = run_verify(link, err, errlen);
	unlink(link);
	rmdir(dir);
	return r;
}

int cvd_check_file(int fd, const char *name, bool allow_unsigned, struct cvd_header *ret,
		   char *err, size_t errlen)
{
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	char head[CVD_HEADER_SIZE], md5[33];
	struct cvd_header h;
	struct stat st;
	ssize_t got = 0;
	int kind = kind_of(base), r;

	if (kind < 0)
		return fail(err, errlen, -EINVAL, "unsupported definitions file type");
	if (kind == KIND_CUD && !allow_unsigned)
		return BAD("unsigned .cud definitions are not allowed by the policy "
			   "(allow_unsigned_defs)");
	if (fstat(fd, &st) < 0)
		return fail(err, errlen, -errno, "fstat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return BAD("not a regular file");
	while (got < CVD_HEADER_SIZE) {
		ssize_t k = pread(fd, head + got, sizeof(head) - got, got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return fail(err, errlen, -errno, "read: %s", strerror(errno));
		if (k == 0)
			break;
		got += k;
	}
	if ((r = cvd_header_parse(head, (size_t)got, &h, err, errlen)) < 0)
		return r;
	if (h.flevel > cl_retflevel())
		return BAD("header: needs engine functionality level %u, this engine has %u",
			   h.flevel, cl_retflevel());
	if (st.st_size <= CVD_HEADER_SIZE)
		return BAD("no body after the 512-byte header");
	if (h.md5[0] == '\0' && kind != KIND_CLD)
		return BAD("header: field 6 (md5) is X: only a .cld may leave out the body MD5");
	if (h.md5[0]) {
		r = body_md5(fd, CVD_HEADER_SIZE, st.st_size, md5);
		if (r < 0)
			return fail(err, errlen, r, "computing the body MD5: %s", strerror(-r));
		if (strcmp(md5, h.md5) != 0)
			return BAD("body MD5 %s does not match the header's %s", md5, h.md5);
	}
	if (kind != KIND_CUD && (r = verify_signed(fd, base, err, errlen)) < 0)
		return r;
	*ret = h;
	return 0;
}
