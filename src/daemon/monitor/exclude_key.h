/* exclude_key.h - the keys of the process exclusion maps, shared by the
 * eBPF programs (exclude.bpf.h) and the daemon (kexclude.c), which fills
 * them from the policy. */
#ifndef PICKET_EXCLUDE_KEY_H
#define PICKET_EXCLUDE_KEY_H

#define EXCLUDE_MAX 1024 /* entries of each map, as POLICY_MAX_EXCLUSIONS */

/* An executable: its device as the kernel writes it (major << 20 | minor)
 * and its inode number. */
struct exclude_exe_key {
	unsigned long long dev;
	unsigned long long ino;
};

#endif
