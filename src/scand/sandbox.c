#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "scanproto.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3, newer than some headers */
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif
#ifdef SANDBOX_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* What libclamav 1.4 needs to scan (measured under strace and under this
 * filter over all of clamav-testfiles, EICAR and a 69 MB zip, see
 * /tmp/clamav-notes.md): reading the handed descriptor (read, pread64,
 * lseek, newfstatat, mmap), its per-scan temp directory (mkdir, openat,
 * write, unlink, rmdir, getdents64, fcntl), /etc/localtime for the
 * directory's name, the allocator (brk, mmap, munmap, mprotect, mremap,
 * madvise) and the clocks: clock_gettime(CLOCK_PROCESS_CPUTIME_ID) for the
 * scan-time limit, and every time call, which is a real system call where
 * the clock source has no vDSO (Xen-clocked machines; Debian's 6.1 in
 * qemu calls gettimeofday).  openat, mkdir, unlink and rmdir take paths,
 * which seccomp cannot read: Landlock confines them to the temp directory
 * (confine_writes), or, for root without Landlock, they get EPERM
 * (path_writes, openat_rules). */
static const int allow_engine[] = {
	SCMP_SYS(read),       SCMP_SYS(write),     SCMP_SYS(pread64),    SCMP_SYS(lseek),
	SCMP_SYS(newfstatat), SCMP_SYS(close),
	SCMP_SYS(mmap),       SCMP_SYS(munmap),    SCMP_SYS(mprotect),   SCMP_SYS(mremap),
	SCMP_SYS(madvise),    SCMP_SYS(brk),       SCMP_SYS(getdents64), SCMP_SYS(fcntl),
	SCMP_SYS(futex),
};

static const int allow_time[] = {
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),    SCMP_SYS(time),
	SCMP_SYS(clock_getres),  SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
};

/* Confined by Landlock, else refused with EPERM (libclamav then reports the
 * scan as an error: fail closed). */
static const int path_writes[] = { SCMP_SYS(mkdir), SCMP_SYS(unlink), SCMP_SYS(rmdir) };

/* libclamav chmods its temp directories before removing them and carries
 * on when it cannot; Landlock does not cover chmod, and a root service
 * (fault 5) could otherwise chmod any root-owned file. */
static const int refused[] = { SCMP_SYS(chmod) };

/* The message loop and the process itself: the socket to picketd, the log
 * line's pid, exit. */
static const int allow_loop[] = {
	SCMP_SYS(recvmsg),    SCMP_SYS(sendmsg),   SCMP_SYS(getpid),
	SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
};

#ifdef SANDBOX_ASAN
/* Sanitizer builds only (-Db_sanitize=address,undefined, clang 14).  Found
 * from the kernel's audit records of this filter's kills (dmesg, type=1326)
 * over the test files and over injected ASan, LSan and UBSan errors:
 * LSan's leak check at exit stops the process from a cloned tracer (clone,
 * prctl, sigaltstack, rt_sigaction, rt_sigprocmask, getppid, gettid,
 * sched_yield, open + getdents of /proc/self/task, ptrace, wait4, exit); a
 * report asks whether stderr is a terminal (ioctl); abort_on_error raises
 * SIGABRT (tgkill).  With these, reports from inside the filter come out
 * whole and end as they would unsandboxed.  They open ptrace and clone:
 * never in a release build. */
static const int allow_asan[] = {
	SCMP_SYS(clone),        SCMP_SYS(ptrace),         SCMP_SYS(wait4),
	SCMP_SYS(prctl),        SCMP_SYS(sigaltstack),    SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(getppid),      SCMP_SYS(gettid),
	SCMP_SYS(sched_yield),  SCMP_SYS(open),           SCMP_SYS(getdents),
	SCMP_SYS(ioctl),        SCMP_SYS(tgkill),         SCMP_SYS(exit),
};

const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);

/* picket-scand makes no OpenSSL call of its own: libclamav does, and
 * cl_load of a .cud leaves one EVP_MD_CTX from cl_hash_init (and what hangs
 * off it) unfreed, once per process (the full stack shows with
 * ASAN_OPTIONS=fast_unwind_on_malloc=0; without it the stack ends inside
 * libcrypto, hence the module name). */
const char *__lsan_default_suppressions(void)
{
	return "leak:libcrypto.so\n";
}

/* Each run would otherwise end with the table of suppressions used. */
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

/* ASan symbolizes its reports (and LSan its suppressions) with an
 * llvm-symbolizer process that it starts on first use and then keeps,
 * talking to it over pipes.  Starting it here, before the filter, spares
 * the sandbox fork and execve; a report from inside it still comes out
 * whole instead of as a SIGSYS. */
static void asan_prepare(void)
{
	char buf[256];

	__sanitizer_symbolize_pc(__builtin_return_address(0), "%p %F %L", buf, sizeof(buf));
}
#endif

static int add_all(scmp_filter_ctx ctx, uint32_t action, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, action, calls[i], 0);
		if (r < 0) {
			char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, calls[i]);
			log_error_errno(r, "sandbox: adding a rule for %s", name ? name : "?");
			free(name);
			return r;
		}
	}
	return 0;
}

/* openat: O_TRUNC only with O_WRONLY or O_RDWR, which Landlock checks
 * (measured: libclamav opens its temp files O_RDWR or O_WRONLY with
 * O_CREAT|O_TRUNC); before Landlock ABI 3 (Linux 6.2) O_TRUNC on a
 * read-only open, or with the access mode 3, would truncate a file
 * anywhere.  With writes refused, any flag that writes gets EPERM.  Other
 * combinations trap. */
static int openat_rules(scmp_filter_ctx ctx, bool writes)
{
	const uint64_t trunc_mode = O_TRUNC | O_ACCMODE;
	const uint64_t writing[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE };
	uint64_t any_write = 0;
	int r;

	if (writes) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, O_TRUNC, 0));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
					     SCMP_A2(SCMP_CMP_MASKED_EQ, trunc_mode, O_TRUNC | O_WRONLY));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
					     SCMP_A2(SCMP_CMP_MASKED_EQ, trunc_mode, O_TRUNC | O_RDWR));
		return r < 0 ? log_error_errno(r, "sandbox: adding the rules for openat") : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(writing); i++)
		any_write |= writing[i];
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, any_write, 0));
	for (size_t i = 0; i < ARRAY_SIZE(writing) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, writing[i], writing[i]));
	return r < 0 ? log_error_errno(r, "sandbox: adding the rules for openat") : 0;
}

/* Landlock: creating, writing, truncating and removing files only beneath
 * dir, for root as for the scan user (DAC does not stop a root service from
 * writing root's files).  Reads stay open: the files arrive as descriptors
 * and libclamav reads /etc/localtime.  -EOPNOTSUPP when the kernel has no
 * Landlock (disabled, or older than 5.13). */
static int confine_writes(const char *dir)
{
	const uint64_t in_dir = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
				LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
				LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_TRUNCATE;
	uint64_t handled = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
			   LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
			   LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
			   LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
			   LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	if (abi < 0 && (errno == ENOSYS || errno == EOPNOTSUPP))
		return -EOPNOTSUPP;
	if (abi < 0)
		return log_error_errno(errno, "sandbox: Landlock ABI version");
	if (abi >= 2)
		handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
	struct landlock_ruleset_attr attr = { .handled_access_fs = handled };
	_cleanup_close_ int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr,
						   sizeof(attr), 0);
	if (ruleset < 0)
		return log_error_errno(errno, "sandbox: landlock_create_ruleset");
	_cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return log_error_errno(errno, "sandbox: %s", dir);
	struct landlock_path_beneath_attr beneath = { .allowed_access = in_dir & handled,
						      .parent_fd = dirfd };
	if (syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) < 0)
		return log_error_errno(errno, "sandbox: landlock_add_rule %s", dir);
	/* no_new_privs is already set by privdrop_caps(). */
	if (syscall(__NR_landlock_restrict_self, ruleset, 0) < 0)
		return log_error_errno(errno, "sandbox: landlock_restrict_self");
	return 0;
}

/* The filter's verdict on a call: SIGSYS, with the syscall in siginfo.
 * KILL_PROCESS would leave picketd with a bare "killed by signal 31";
 * the number is known only here.  So this handler, async-signal-safe and
 * run once (SA_RESETHAND), tells picketd which syscall it was over the
 * socket and stderr, then makes the kernel kill the process: kill is not
 * allowed, so the filter raises SIGSYS again, now with the default action.
 * The denied call never ran either way; a taken-over process could lie
 * here, but only about the number, and picketd believes it only when the
 * kernel then reports death by SIGSYS. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct scan_msg m = { .type = SCAN_MSG_SIGSYS, .result = si->si_syscall,
			      .code = (int32_t)si->si_arch };
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	char line[64] = "picket-scand: seccomp stopped syscall ", digits[12];
	unsigned nr = si->si_syscall < 0 ? 0 : (unsigned)si->si_syscall;
	size_t n = strlen(line), k = 0;

	(void)uc;
	sendmsg(SCAN_FD, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	do
		digits[k++] = (char)('0' + nr % 10);
	while ((nr /= 10) && k < sizeof(digits));
	while (k)
		line[n++] = digits[--k];
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w; /* nothing left to tell it with */
	syscall(SYS_kill, getpid(), sig);
	_exit(128 + sig);
}

int sandbox_apply(const char *tmpdir)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_RESETHAND };
	scmp_filter_ctx ctx;
	bool writes = false;
	int r;

#ifdef SANDBOX_ASAN
	asan_prepare();
#endif
	if (tmpdir) {
		r = confine_writes(tmpdir);
		if (r == 0)
			writes = true;
		else if (r != -EOPNOTSUPP)
			return r;
		else if (geteuid() != 0) {
			/* Only DAC keeps the scan user to its temp directory. */
			log_warning("sandbox: no Landlock on this kernel: writes are confined by "
				    "file permissions only");
			writes = true;
		} else {
			log_warning("sandbox: no Landlock on this kernel and running as root: "
				    "every write is refused, archives cannot be unpacked");
		}
	}
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return log_error_errno(errno, "sandbox: sigaction(SIGSYS)");
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return log_error_errno(ENOMEM, "sandbox: seccomp_init");
	/* A call of another architecture (int 0x80) is not trapped: killed. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		log_error_errno(r, "sandbox: the action for other architectures");
	if (r == 0)
		r = add_all(ctx, SCMP_ACT_ALLOW, allow_engine, ARRAY_SIZE(allow_engine));
	if (r == 0)
		r = add_all(ctx, SCMP_ACT_ALLOW, allow_time, ARRAY_SIZE(allow_time));
	if (r == 0)
		r = add_all(ctx, SCMP_ACT_ALLOW, allow_loop, ARRAY_SIZE(allow_loop));
	if (r == 0)
		r = add_all(ctx, writes ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EPERM), path_writes,
			    ARRAY_SIZE(path_writes));
	if (r == 0)
		r = add_all(ctx, SCMP_ACT_ERRNO(EPERM), refused, ARRAY_SIZE(refused));
	if (r == 0)
		r = openat_rules(ctx, writes);
#ifdef SANDBOX_ASAN
	if (r == 0)
		r = add_all(ctx, SCMP_ACT_ALLOW, allow_asan, ARRAY_SIZE(allow_asan));
#endif
	if (r == 0) {
		/* no_new_privs is already set by privdrop_caps(). */
		r = seccomp_load(ctx);
		if (r < 0)
			log_error_errno(r, "sandbox: seccomp_load");
	}
	seccomp_release(ctx);
	return r;
}
