// SPDX-License-Identifier: GPL-2.0-only
/* procmon.bpf.c - exec, fork and exit of every process, from BTF-enabled
 * tracepoints (tp_btf: no tracefs needed, arguments typed by the kernel's
 * BTF).  Threads are not processes: only thread group leaders are reported. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "exclude.bpf.h"
#include "procmon_event.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROCMON_TYPE_MAX);
	__type(key, __u32);
	__type(value, struct kstats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct procmon_config);
} settings SEC(".maps");

/* Events lost, by the process that caused them (the parent of an exec or a
 * fork, the process itself for an exit): who floods, and exact accounting. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct procmon_lost_key);
	__type(value, __u64);
} lost_by_source SEC(".maps");

static __always_inline struct kstats *stats_of(__u32 type)
{
	return bpf_map_lookup_elem(&stats, &type);
}

/* Whether an event of this type is wanted: not excluded, and in degraded
 * mode of the critical set (exec); what is left out is counted. */
static __always_inline bool wanted(__u32 type, bool excluded)
{
	__u32 zero = 0;
	struct procmon_config *c = bpf_map_lookup_elem(&settings, &zero);
	struct kstats *st = stats_of(type);
	if (excluded) {
		if (st)
			st->excluded++;
		return false;
	}
	if (c && c->degraded && type != PROCMON_EXEC) {
		if (st)
			st->suppressed++;
		return false;
	}
	return true;
}

static __always_inline struct procmon_event *reserve(__u32 type, __u32 source)
{
	struct procmon_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		struct kstats *st = stats_of(type);
		struct procmon_lost_key k = { .pid = source, .type = type };
		__u64 one = 1, *n;
		if (st)
			st->dropped++;
		n = bpf_map_lookup_elem(&lost_by_source, &k);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			bpf_map_update_elem(&lost_by_source, &k, &one, BPF_NOEXIST);
		return NULL;
	}
	e->type = type;
	e->flags = 0;
	e->exe_dev = 0;
	e->exe_ino = 0;
	e->exit_code = 0;
	e->args_len = 0;
	e->filename[0] = '\0';
	return e;
}

static __always_inline void fill_task(struct procmon_event *e, struct task_struct *t)
{
	e->pid = BPF_CORE_READ(t, tgid);
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->uid = BPF_CORE_READ(t, real_cred, uid.val);
	e->start_ns = BPF_CORE_READ(t, start_boottime);
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	/* An execution is judged by the program it starts, not by its parent:
	 * a trusted, excluded program that starts a shell still shows it. */
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u64 cg = bpf_get_current_cgroup_id();
	bool excluded = bpf_map_lookup_elem(&excl_uid, &uid) ||
			bpf_map_lookup_elem(&excl_cgroup, &cg) ||
			excluded_file(BPF_CORE_READ(bprm, file));
	/* Counted as excluded, yet sent flagged: the process table must learn
	 * the new program, or the process would keep its parent's identity. */
	wanted(PROCMON_EXEC, excluded);
	struct procmon_event *e = reserve(PROCMON_EXEC, BPF_CORE_READ(p, real_parent, tgid));
	if (!e)
		return 0;
	e->flags = excluded ? PROCMON_F_EXCLUDED : 0;
	fill_task(e, p);
	struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
	e->exe_dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->exe_ino = BPF_CORE_READ(inode, i_ino);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));

	/* The new image's argv was just copied onto its stack: it is resident. */
	unsigned long start = BPF_CORE_READ(p, mm, arg_start);
	unsigned long end = BPF_CORE_READ(p, mm, arg_end);
	unsigned long len = end > start ? end - start : 0;
	if (len > PROCMON_ARGS_LEN)
		len = PROCMON_ARGS_LEN;
	if (bpf_probe_read_user(e->args, len & (PROCMON_ARGS_LEN * 2 - 1), (void *)start) == 0)
		e->args_len = len;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a new thread */
	if (!wanted(PROCMON_FORK, excluded_current()))
		return 0;
	struct procmon_event *e = reserve(PROCMON_FORK, BPF_CORE_READ(parent, tgid));
	if (!e)
		return 0;
	fill_task(e, child);
	e->ppid = BPF_CORE_READ(parent, tgid);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	if (BPF_CORE_READ(p, pid) != BPF_CORE_READ(p, tgid))
		return 0; /* a thread, not the process */
	if (!wanted(PROCMON_EXIT, excluded_current()))
		return 0;
	struct procmon_event *e = reserve(PROCMON_EXIT, BPF_CORE_READ(p, tgid));
	if (!e)
		return 0;
	fill_task(e, p);
	e->exit_code = BPF_CORE_READ(p, exit_code);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
