#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
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
	if (ret->holds && cmp >= 0)
		check_note(ret, "kernel %s", release);
	return 0;
}
