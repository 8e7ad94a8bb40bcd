/* netmon.h - the network monitor ("device flow correlation", eBPF): TCP
 * connections established and closed, inbound and outbound, and UDP sends,
 * each a flow event with its process; flows to the policy's blocklist are
 * reported, and refused (EPERM) by cgroup connect/sendmsg programs in block
 * mode.  The policy's process exclusions are applied in the kernel, before
 * an event is reserved (a refusal is reported all the same); degraded mode
 * (fault 18) keeps outbound connections and the blocklist's events only.
 * Fault 9 is the caller's (monitors.c): start returns why it could not
 * start. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/monitor_counts.h"

struct picketd;
struct json_object;
struct netmon_bpf;
struct ring_buffer;

struct netmon {
	struct netmon_bpf *skel; /* its links detach every program on destroy */
	struct ring_buffer *rb;
	struct io_source src;
	bool running;
	bool block;               /* the mode in force in the kernel */
	bool degraded;            /* only the critical set; kept while stopped */
	unsigned ring_kb;         /* the ring buffer's size in force */
	size_t blocklist_entries; /* in the kernel's tries */
	size_t exclusions;        /* entries in the kernel's exclusion maps */
	char btf[PATH_MAX];       /* the BTF file it was loaded with, "" for the kernel's */
	char cgroup[PATH_MAX];    /* the cgroup2 root the programs are attached to */
	uint64_t events[6];       /* consumed, by enum netmon_kind (netmon_event.h) */
	uint64_t blocklisted;     /* of events[NETMON_BLOCK]: reported, not refused (audit) */
	uint64_t carried[6][3];   /* dropped, excluded, suppressed by kind, of the
				   * instances a ring buffer resize replaced */
};

/* Loads and attaches the programs (btf_path: NULL for the kernel's own BTF).
 * On failure returns -errno and err says "ebpf: step: reason". */
int netmon_start(struct picketd *d, const char *btf_path, char *err, size_t errlen);
void netmon_stop(struct picketd *d);
/* The policy changed while running: blocklist, mode, intervals,
 * exclusions; a new ring buffer size replaces the programs by new ones
 * (attached before the old ones go: nothing is missed, nothing unblocked). */
int netmon_apply_policy(struct picketd *d, char *err, size_t errlen);
/* Degraded mode on or off; while stopped, for the next start. */
void netmon_set_degraded(struct picketd *d, bool on);
/* Totals since the monitor started (a resize does not reset them). */
void netmon_counts(struct picketd *d, struct monitor_counts *ret);
struct json_object *netmon_status(struct picketd *d);
