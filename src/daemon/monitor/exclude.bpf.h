/* exclude.bpf.h - the policy's process exclusions, applied in the kernel
 * before an event is reserved: by executable (device and inode), by user id
 * and by cgroup-v2 id.  Each eBPF object that includes this has its own
 * copy of the three maps; the daemon fills each from the policy. */
#ifndef PICKET_EXCLUDE_BPF_H
#define PICKET_EXCLUDE_BPF_H

#include "exclude_key.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EXCLUDE_MAX);
	__type(key, struct exclude_exe_key);
	__type(value, __u8);
} excl_exe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EXCLUDE_MAX);
	__type(key, __u32);
	__type(value, __u8);
} excl_uid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EXCLUDE_MAX);
	__type(key, __u64);
	__type(value, __u8);
} excl_cgroup SEC(".maps");

static __always_inline bool excluded_file(struct file *f)
{
	struct exclude_exe_key k = {};
	struct inode *inode;
	if (!f)
		return false;
	inode = BPF_CORE_READ(f, f_inode);
	k.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	k.ino = BPF_CORE_READ(inode, i_ino);
	return bpf_map_lookup_elem(&excl_exe, &k) != NULL;
}

/* Whether the current task's process is excluded: its executable, its real
 * uid, or its cgroup. */
static __always_inline bool excluded_current(void)
{
	/* Not bpf_get_current_task_btf(): cgroup programs have it only since 5.15. */
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u64 cg = bpf_get_current_cgroup_id();
	if (bpf_map_lookup_elem(&excl_uid, &uid) || bpf_map_lookup_elem(&excl_cgroup, &cg))
		return true;
	return excluded_file(BPF_CORE_READ(t, mm, exe_file));
}

#endif
