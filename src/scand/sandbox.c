#include "sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>

#include "cleanup.h"
#include "log.h"

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
 * lseek, newfstatat, mmap), its per-scan temp directory (mkdir, chmod,
 * openat, write, unlink, rmdir, getdents64, fcntl), /etc/localtime for the
 * directory's name, the allocator (brk, mmap, munmap, mprotect, mremap,
 * madvise) and clock_gettime(CLOCK_PROCESS_CPUTIME_ID) for the scan-time
 * limit.  openat/mkdir/unlink take paths: confining them to the temp
 * directory would need Landlock or a mount namespace, not seccomp. */
static const int allow_engine[] = {
	SCMP_SYS(read),       SCMP_SYS(write),         SCMP_SYS(pread64),    SCMP_SYS(lseek),
	SCMP_SYS(newfstatat), SCMP_SYS(openat),        SCMP_SYS(close),
	SCMP_SYS(mmap),       SCMP_SYS(munmap),        SCMP_SYS(mprotect),   SCMP_SYS(mremap),
	SCMP_SYS(madvise),    SCMP_SYS(brk),           SCMP_SYS(mkdir),      SCMP_SYS(rmdir),
	SCMP_SYS(unlink),     SCMP_SYS(chmod),         SCMP_SYS(getdents64), SCMP_SYS(fcntl),
	SCMP_SYS(futex),      SCMP_SYS(clock_gettime),
};

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

static int add_all(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
		if (r < 0) {
			char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, calls[i]);
			log_error_errno(r, "sandbox: allowing %s", name ? name : "?");
			free(name);
			return r;
		}
	}
	return 0;
}

int sandbox_apply(void)
{
	scmp_filter_ctx ctx;
	int r;

#ifdef SANDBOX_ASAN
	asan_prepare();
#endif
	/* Anything not listed kills the whole process, not just the thread. */
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return log_error_errno(ENOMEM, "sandbox: seccomp_init");
	r = add_all(ctx, allow_engine, ARRAY_SIZE(allow_engine));
	if (r == 0)
		r = add_all(ctx, allow_loop, ARRAY_SIZE(allow_loop));
#ifdef SANDBOX_ASAN
	if (r == 0)
		r = add_all(ctx, allow_asan, ARRAY_SIZE(allow_asan));
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
