#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include "checks.h"
#include "cleanup.h"

int kernel_release_cmp(const char *release, const char *min, int *ret_cmp)
{
	unsigned a, b, x, y;
	if (sscanf(release, "%u.%u", &a, &b) != 2 || sscanf(min, "%u.%u", &x, &y) != 2)
		return -EINVAL;
	*ret_cmp = a != x ? (a > x ? 1 : -1) : (b != y ? (b > y ? 1 : -1) : 0);
	return 0;
}

/* 1 supported, 0 not, -errno when the kernel refused to say (no privilege). */
static int probe_bpf_syscall(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "picket_probe", 4, 4, 1, NULL);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return fd == -ENOSYS ? 0 : fd;
}

/* A BTF-enabled tracepoint program: the load needs the kernel's own BTF. */
static int probe_tp_btf(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct btf *vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return -ENODATA;
	int id = btf__find_by_name_kind(vmlinux, "btf_trace_sched_process_exec", BTF_KIND_TYPEDEF);
	btf__free(vmlinux);
	if (id < 0)
		return 0;
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP,
		    .attach_btf_id = id);
	int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "picket_probe", "GPL", insns, 2, &opts);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return fd == -EINVAL || fd == -EOPNOTSUPP ? 0 : fd;
}

/* fanotify_init with flags, and one mark of mask with mflags on /: 1 when
 * the kernel takes both, 0 when it refuses them (EINVAL), -errno else. */
static int probe_fanotify(unsigned flags, unsigned mflags, uint64_t mask)
{
	_cleanup_close_ int fd = fanotify_init(flags | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY);
	if (fd < 0)
		return errno == EINVAL ? 0 : -errno;
	if (fanotify_mark(fd, FAN_MARK_ADD | mflags, mask, AT_FDCWD, "/") < 0)
		return errno == EINVAL ? 0 : -errno;
	return 1;
}

enum probe_kind { PROBE_MAP, PROBE_PROG, PROBE_HELPER, PROBE_FANOTIFY };

/* What the monitors use beyond the four features of struct kernel_features,
 * probed one by one so that fault 16 names exactly what is missing.  The
 * helpers of the tp_btf programs are probed on raw tracepoints, which get
 * the same ones (a tracing program cannot be probed without a BTF target). */
static const struct kernel_probe {
	const char *name;
	enum probe_kind kind;
	int type;          /* map type, program type, or the helper's program type */
	int helper;        /* PROBE_HELPER */
	unsigned fan_init; /* PROBE_FANOTIFY */
	unsigned fan_mark;
	uint64_t fan_mask;
	bool optional; /* a monitor runs without it (and says so) */
} probes[] = {
#define MAP(what, t) { .name = what " map", .kind = PROBE_MAP, .type = BPF_MAP_TYPE_##t }
	MAP("hash", HASH),
	MAP("array", ARRAY),
	MAP("per-CPU array", PERCPU_ARRAY),
	MAP("LRU hash", LRU_HASH),
	MAP("LPM trie", LPM_TRIE),
#undef MAP
	{ .name = "cgroup sock_addr programs (blocklist, UDP sends)", .kind = PROBE_PROG,
	  .type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR, .optional = true },
#define HELPER(h, prog, where, opt)                                               \
	{ .name = "helper " #h " for " where, .kind = PROBE_HELPER,                \
	  .type = BPF_PROG_TYPE_##prog, .helper = BPF_FUNC_##h, .optional = opt }
	HELPER(get_current_task, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(get_current_pid_tgid, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(get_current_uid_gid, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(get_current_comm, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(get_current_cgroup_id, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(ktime_get_ns, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(probe_read_kernel_str, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(probe_read_user, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(ringbuf_reserve, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(ringbuf_submit, RAW_TRACEPOINT, "tracepoints", false),
	HELPER(get_current_task, CGROUP_SOCK_ADDR, "cgroup sock_addr programs", true),
	HELPER(get_current_pid_tgid, CGROUP_SOCK_ADDR, "cgroup sock_addr programs", true),
	HELPER(get_current_uid_gid, CGROUP_SOCK_ADDR, "cgroup sock_addr programs", true),
	HELPER(get_current_comm, CGROUP_SOCK_ADDR, "cgroup sock_addr programs", true),
	HELPER(get_current_cgroup_id, CGROUP_SOCK_ADDR, "cgroup sock_addr programs", true),
	HELPER(ringbuf_reserve, CGROUP_SOCK_ADDR, "cgroup sock_addr programs", true),
#undef HELPER
#define FAN(what, init, mask)                                                       \
	{ .name = "fanotify " what, .kind = PROBE_FANOTIFY, .fan_init = (init),      \
	  .fan_mark = FAN_MARK_FILESYSTEM, .fan_mask = (mask) }
	FAN("FAN_MARK_FILESYSTEM", FAN_CLASS_NOTIF, FAN_CLOSE_WRITE),
	FAN("FAN_REPORT_DFID_NAME (moves)", FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME,
	    FAN_MOVED_TO | FAN_CREATE | FAN_ONDIR),
	FAN("FAN_OPEN_EXEC_PERM (on_execute)", FAN_CLASS_CONTENT, FAN_OPEN_EXEC_PERM),
#undef FAN
};
_Static_assert(ARRAY_SIZE(probes) <= 64, "kernel_features.missing holds 64 bits");

static int probe_one(const struct kernel_probe *p)
{
	switch (p->kind) {
	case PROBE_MAP:
		return libbpf_probe_bpf_map_type(p->type, NULL);
	case PROBE_PROG:
		return libbpf_probe_bpf_prog_type(p->type, NULL);
	case PROBE_HELPER:
		return libbpf_probe_bpf_helper(p->type, p->helper, NULL);
	case PROBE_FANOTIFY:
		return probe_fanotify(p->fan_init, p->fan_mark, p->fan_mask);
	}
	return -EINVAL;
}

void kernel_missing_features(const struct kernel_features *kf, bool optional, char *buf,
			     size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		if (!(kf->missing & (1ULL << i)) || probes[i].optional != optional)
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", probes[i].name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += n;
	}
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

void kernel_probe_features(struct kernel_features *ret)
{
	/* Probing is expected to fail on old kernels: keep libbpf quiet. */
	libbpf_print_fn_t old = libbpf_set_print(silent_print);
	ret->bpf_syscall = probe_bpf_syscall();
	if (ret->bpf_syscall == 1) {
		ret->ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
		ret->raw_tp = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL);
		ret->tp_btf = probe_tp_btf();
	} else {
		/* Without the syscall, or without the right to use it, nothing more is known. */
		ret->ringbuf = ret->raw_tp = ret->tp_btf =
			ret->bpf_syscall == 0 ? 0 : ret->bpf_syscall;
	}
	/* Only what the kernel says it lacks is missing: a refused probe (no
	 * privilege) says nothing. */
	ret->missing = 0;
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		bool bpf = probes[i].kind != PROBE_FANOTIFY;
		if ((!bpf || ret->bpf_syscall == 1) && probe_one(&probes[i]) == 0)
			ret->missing |= 1ULL << i;
	}
	libbpf_set_print(old);
}

static void missing(struct check_result *r, int value, const char *name)
{
	if (value == 0)
		check_note(r, "missing %s", name);
}

int check_kernel(const struct hostview *hv, const struct policy *p,
		 const struct kernel_features *kf, struct check_result *ret)
{
	char release[256];
	int cmp = 0;
	int r = hostview_kernel_release(hv, release, sizeof(release));

	if (r < 0) {
		check_note(ret, "kernel release unreadable: %s", strerror(-r));
		return 0;
	}
	if (kernel_release_cmp(release, p->min_kernel, &cmp) < 0) {
		check_note(ret, "kernel release '%s' cannot be parsed", release);
		return 0;
	}
	if (cmp < 0)
		check_note(ret, "kernel %s is older than the minimum %s", release, p->min_kernel);
	missing(ret, kf->bpf_syscall, "BPF syscall");
	missing(ret, kf->ringbuf, "ring buffer map");
	missing(ret, kf->raw_tp, "raw tracepoints");
	missing(ret, kf->tp_btf, "BTF-enabled tracepoints");
	char more[FAULT_DETAIL_MAX];
	kernel_missing_features(kf, false, more, sizeof(more));
	if (more[0])
		check_note(ret, "missing %s", more);
	if (ret->holds && cmp >= 0)
		check_note(ret, "kernel %s", release);
	return 0;
}
