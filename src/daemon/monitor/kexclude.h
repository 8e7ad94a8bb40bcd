/* kexclude.h - the policy's process exclusions as the kernel sees them:
 * executables as (device, inode), cgroup directories as cgroup ids, written
 * into an eBPF object's excl_exe, excl_uid and excl_cgroup maps
 * (exclude.bpf.h).  A path that does not exist (yet) is skipped with
 * a log line: it is looked up again at the next policy reload. */
#pragma once

#include <stddef.h>

struct bpf_map;
struct policy;

/* The mount point of the cgroup2 hierarchy's root, from mountinfo
 * ("/sys/fs/cgroup/unified" on a hybrid host, "/sys/fs/cgroup" on pure v2). */
int cgroup2_root(char *out, size_t len);

/* Replaces the contents of the three maps with the policy's exclusions;
 * ret_n (optional) gets the number of entries written. */
int kexclude_write(const struct policy *p, struct bpf_map *exe, struct bpf_map *uid,
		   struct bpf_map *cgroup, size_t *ret_n);
