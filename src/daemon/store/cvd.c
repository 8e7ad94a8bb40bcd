#include "cvd.h"

#include <clamav.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define MAGIC "ClamAV-VDB:"
#define NFIELDS 9

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

/* What the child reports.  rc is libclamav's, unless setup names the step
 * of the sandbox that failed (then rc is its errno). */
struct verdict {
	int rc;
	bool setup_failed;
	uint32_t uid, gid; /* the ids the check ran with */
	char error[256];
};

/* libclamav's messages in the child: the first error only, never logged
 * (the seccomp filter lets the child write to the verdict pipe alone). */
static void child_msg(enum cl_msg sev, const char *fullmsg, const char *msg, void *ctx)
{
	(void)fullmsg;
	(void)ctx;
	if (msg && sev == CL_MSG_ERROR && !clam_first_error[0]) {
		snprintf(clam_first_error, sizeof(clam_first_error), "%s", msg);
		clam_first_error[strcspn(clam_first_error, "\n")] = '\0';
	}
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Closes every descriptor from 3 up but the n in keep: what picketd holds
 * (the control socket, fanotify groups, BPF maps) stays out of reach. */
static int keep_only(int *keep, size_t n)
{
	unsigned next = 3;

	qsort(keep, n, sizeof(*keep), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)keep[i] > next && close_range(next, (unsigned)keep[i] - 1, 0) < 0)
			return -errno;
		if ((unsigned)keep[i] >= next)
			next = (unsigned)keep[i] + 1;
	}
	return close_range(next, ~0U, 0) < 0 ? -errno : 0;
}

/* To o's ids for good: a root caller switches, another must be them. */
static int drop_ids(const struct cvd_check_opts *o)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(o->gid, o->gid, o->gid) < 0 ||
			       setresuid(o->uid, o->uid, o->uid) < 0))
		return -errno;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != o->uid || eu != o->uid || su != o->uid || rg != o->gid || eg != o->gid ||
	    sg != o->gid)
		return -EPERM;
	return 0;
}

/* What libclamav needs to check a container (measured with strace over
 * .cvd, .cld and .cud files, good and refused): read the file it opens by
 * path (openat read-only, read, lseek, dup, fstat, access for a sibling
 * .cld/.cvd), memory, futex, clock and random numbers for OpenSSL; write
 * to the verdict pipe only. */
static const int verify_calls[] = {
	SCMP_SYS(read),       SCMP_SYS(pread64),       SCMP_SYS(readv),      SCMP_SYS(lseek),
	SCMP_SYS(newfstatat), SCMP_SYS(fstat),         SCMP_SYS(statx),      SCMP_SYS(access),
	SCMP_SYS(faccessat),  SCMP_SYS(faccessat2),    SCMP_SYS(close),      SCMP_SYS(dup),
	SCMP_SYS(fcntl),      SCMP_SYS(mmap),          SCMP_SYS(munmap),     SCMP_SYS(mremap),
	SCMP_SYS(mprotect),   SCMP_SYS(madvise),       SCMP_SYS(brk),        SCMP_SYS(futex),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(getrandom), SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn),
};

static int confine(int wfd)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(verify_calls); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, verify_calls[i], 0);
	/* openat(dirfd, path, flags): flags masked to the access mode and O_CREAT,
	 * O_TRUNC must say O_RDONLY; write(fd, ...): fd the pipe. */
	const struct scmp_arg_cmp read_only = { .arg = 2, .op = SCMP_CMP_MASKED_EQ,
						.datum_a = O_ACCMODE | O_CREAT | O_TRUNC,
						.datum_b = O_RDONLY };
	const struct scmp_arg_cmp to_pipe = { .arg = 0, .op = SCMP_CMP_EQ,
					      .datum_a = (scmp_datum_t)wfd, .datum_b = 0 };
	if (r == 0)
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, &read_only);
	if (r == 0)
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, &to_pipe);
#ifdef PICKET_SANITIZED
	/* A sanitizer's report goes to stderr; ASan asks sigaltstack where the
	 * stack is before every call of a noreturn function. */
	const struct scmp_arg_cmp to_stderr = { .arg = 0, .op = SCMP_CMP_EQ,
						.datum_a = STDERR_FILENO, .datum_b = 0 };
	if (r == 0)
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, &to_stderr);
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sigaltstack), 0);
#endif
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

/* The child's end: the verdict, then exit_group itself, not _exit: a
 * sanitizer's exit hook (LeakSanitizer's check) needs system calls the
 * filter refuses, and libclamav's known leaks go with the child anyway. */
static void __attribute__((noreturn)) child_exit(int wfd, const struct verdict *v)
{
	int status = write(wfd, v, sizeof(*v)) == (ssize_t)sizeof(*v) ? 0 : 1;
	for (;;)
		syscall(SYS_exit_group, status);
}

static void __attribute__((noreturn)) child_fail(int wfd, struct verdict *v, int r,
						 const char *step)
{
	v->setup_failed = true;
	v->rc = -r;
	snprintf(v->error, sizeof(v->error), "%s: %s", step, strerror(-r));
	child_exit(wfd, v);
}

/* The child: nothing but fd, dfd and wfd, o's ids, no_new_privs, the
 * filter; then cl_cvdverify(path), its verdict written to wfd. */
static void __attribute__((noreturn)) verify_child(int fd, int dfd, int wfd, const char *path,
						   const struct cvd_check_opts *o)
{
	struct verdict v = { 0 };
	int keep[] = { fd, dfd, wfd };
	sigset_t none;
	int r;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(wfd, &v, -errno, "PR_SET_PDEATHSIG");
	if ((r = keep_only(keep, ARRAY_SIZE(keep))) < 0)
		child_fail(wfd, &v, r, "close_range");
#ifndef PICKET_SANITIZED
	/* A sanitized build's shadow memory alone is terabytes of address space. */
	struct rlimit as = { o->mem_bytes, o->mem_bytes };
	if (o->mem_bytes && setrlimit(RLIMIT_AS, &as) < 0)
		child_fail(wfd, &v, -errno, "RLIMIT_AS");
#endif
	if ((r = drop_ids(o)) < 0)
		child_fail(wfd, &v, r, "switching ids");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(wfd, &v, -errno, "PR_SET_NO_NEW_PRIVS");
	v.uid = (uint32_t)geteuid();
	v.gid = (uint32_t)getegid();
	clam_first_error[0] = '\0';
	cl_set_clcb_msg(child_msg);
	if ((r = confine(wfd)) < 0)
		child_fail(wfd, &v, r, "seccomp");
	v.rc = cl_cvdverify(path);
	snprintf(v.error, sizeof(v.error), "%s", clam_first_error);
	child_exit(wfd, &v);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the verdict until it is whole, the child closes the pipe, or the
 * deadline: -ETIME then. */
static int read_verdict(int rfd, struct verdict *v, unsigned timeout_ms, size_t *ret_got)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t got = 0;

	while (got < sizeof(*v)) {
		int64_t left = deadline - now_ms();
		struct pollfd p = { .fd = rfd, .events = POLLIN };
		if (left <= 0)
			return -ETIME;
		int k = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ETIME;
		ssize_t n = read(rfd, (char *)v + got, sizeof(*v) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*ret_got = got;
	return 0;
}

static void limit_text(unsigned ms, char out[32])
{
	if (ms % 1000 == 0)
		snprintf(out, 32, "%u s", ms / 1000);
	else
		snprintf(out, 32, "%u ms", ms);
}

/* The verdict of a child that has been reaped with status. */
static int judge(const struct verdict *v, size_t got, int status, const char *base, char *err,
		 size_t errlen)
{
	if (got != sizeof(*v)) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
			return BAD("libclamav made a system call outside its sandbox checking the "
				   "container (signal %d)", SIGSYS);
		if (WIFSIGNALED(status))
			return BAD("libclamav crashed checking the container (signal %d)",
				   WTERMSIG(status));
		return BAD("libclamav did not finish checking the container");
	}
	if (v->setup_failed)
		return BAD("the sandbox of libclamav's check failed: %s", v->error);
	log_debug("cvd: %s: libclamav checked it as uid %u gid %u (no_new_privs, seccomp): %s",
		  base, v->uid, v->gid, v->rc == CL_SUCCESS ? "ok" : cl_strerror(v->rc));
	if (v->rc == CL_SUCCESS)
		return 0;
	if (v->error[0])
		return BAD("libclamav refused the container: %s (%s)", cl_strerror(v->rc), v->error);
	return BAD("libclamav refused the container: %s", cl_strerror(v->rc));
}

/* libclamav's check runs in a child: it parses untrusted bytes, and in 1.4.6
 * leaks memory on some refusals (seen with LeakSanitizer), which a
 * long-running daemon must not accumulate. */
static int run_verify(int fd, int dfd, const char *path, const char *base,
		      const struct cvd_check_opts *o, char *err, size_t errlen)
{
	struct verdict v = { 0 };
	char limit[32];
	size_t got = 0;
	int p[2], status = 0, r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return fail(err, errlen, -errno, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		close(p[0]);
		close(p[1]);
		return fail(err, errlen, r, "fork: %s", strerror(-r));
	}
	if (pid == 0) {
		close(p[0]);
		verify_child(fd, dfd, p[1], path, o);
	}
	close(p[1]);
	r = read_verdict(p[0], &v, o->timeout_ms, &got);
	close(p[0]);
	if (r < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == -ETIME) {
		limit_text(o->timeout_ms, limit);
		return BAD("libclamav did not finish checking the container within %s", limit);
	}
	if (r < 0)
		return fail(err, errlen, r, "reading libclamav's verdict: %s", strerror(-r));
	v.error[sizeof(v.error) - 1] = '\0';
	return judge(&v, got, status, base, err, errlen);
}

/* cl_cvdverify takes a path and decides .cvd/.cld by its ending: the child
 * gets /proc/self/fd/<dfd>/<base>, dfd a private directory (0711, so that
 * the unprivileged child may look up the name, whatever the modes above it)
 * holding the symlink <base> -> /proc/self/fd/<a read-only reopening of fd>. */
static int verify_signed(int fd, const char *base, const struct cvd_check_opts *o, char *err,
			 size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], path[PATH_MAX], target[64];
	int r;

	if ((r = clam_setup()) < 0)
		return fail(err, errlen, r, "libclamav initialisation failed");
	if (snprintf(dir, sizeof(dir), "%s/picket-cvd.XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
	    (int)sizeof(dir))
		return fail(err, errlen, -ENAMETOOLONG, "temporary directory name too long");
	if (!mkdtemp(dir))
		return fail(err, errlen, -errno, "mkdtemp %s: %s", dir, strerror(errno));
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	/* The child gets a read-only descriptor, whatever fd's mode. */
	_cleanup_close_ int rofd = open(target, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (rofd >= 0)
		snprintf(target, sizeof(target), "/proc/self/fd/%d", rofd);
	if (dfd < 0 || rofd < 0 || fchmod(dfd, 0711) < 0 || symlinkat(target, dfd, base) < 0) {
		r = -errno;
		if (dfd >= 0)
			unlinkat(dfd, base, 0);
		rmdir(dir);
		return fail(err, errlen, r, "private directory %s: %s", dir, strerror(-r));
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dfd, base);
	r = run_verify(rofd, dfd, path, base, o, err, errlen);
	unlinkat(dfd, base, 0);
	rmdir(dir);
	return r;
}

int cvd_check_file(int fd, const char *name, const struct cvd_check_opts *o,
		   struct cvd_header *ret, char *err, size_t errlen)
{
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	char head[CVD_HEADER_SIZE], md5[33];
	struct cvd_header h;
	struct stat st;
	ssize_t got = 0;
	int kind = kind_of(base), r;

	if (!o || o->timeout_ms == 0 || (geteuid() == 0 && (o->uid == 0 || o->gid == 0)))
		return fail(err, errlen, -EINVAL, "libclamav's check needs an unprivileged user "
						  "and a time limit");
	if (kind < 0)
		return fail(err, errlen, -EINVAL, "unsupported definitions file type");
	if (kind == KIND_CUD && !o->allow_unsigned)
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
	if (kind != KIND_CUD && (r = verify_signed(fd, base, o, err, errlen)) < 0)
		return r;
	*ret = h;
	return 0;
}
