/* ebpf.h - the one style in which the eBPF monitors open, load and attach
 * their objects: every step is named, the first that fails ends the start,
 * and the monitor's error reads "ebpf: <step>: <reason>" (what faults 9
 * and 22 show).  libbpf's own messages go to the daemon log (monitors.c). */
#pragma once

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Returns r (a negative errno) after writing "ebpf: step: reason" to err. */
static inline int ebpf_fail(char *err, size_t errlen, const char *step, int r)
{
	snprintf(err, errlen, "ebpf: %s: %s", step, strerror(-r));
	return r;
}

/* libbpf's constructors return NULL with errno set. */
static inline int ebpf_errno(const void *obj)
{
	return obj ? 0 : -errno;
}
