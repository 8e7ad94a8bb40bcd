/* procmon.h - the process monitor (eBPF exec, fork and exit tracepoints):
 * feeds the process table and writes exec (and, per policy, fork and exit)
 * events.  The policy's process exclusions are applied in the kernel: an
 * exec by the excluded program itself, a fork or exit of an excluded
 * process; an exec is judged by the program it starts, never by its parent.
 * Fault 22 is the caller's (monitors.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/monitor_counts.h"

struct picketd;
struct json_object;
struct procmon_bpf;
struct ring_buffer;

struct procmon {
	struct procmon_bpf *skel;
	struct ring_buffer *rb;
	struct io_source src;
	bool running;
	bool degraded;      /* only exec events (fault 18) */
	unsigned ring_kb;   /* the ring buffer's size in force */
	size_t exclusions;  /* entries in the kernel's exclusion maps */
	uint64_t events[4]; /* consumed, by enum procmon_type */
};

/* btf_path: NULL for the kernel's own BTF.  On failure returns -errno and
 * err says "ebpf: step: reason". */
int procmon_start(struct picketd *d, const char *btf_path, char *err, size_t errlen);
void procmon_stop(struct picketd *d);
/* The policy changed while running: the exclusions in the kernel. */
int procmon_apply_policy(struct picketd *d, char *err, size_t errlen);
/* Degraded mode: the kernel keeps only exec events. */
void procmon_set_degraded(struct picketd *d, bool on);
void procmon_counts(struct picketd *d, struct monitor_counts *ret);
/* Reads what the kernel has queued, so the process table knows a process
 * that has just started (before another monitor names it). */
void procmon_sync(struct picketd *d);
struct json_object *procmon_status(struct picketd *d);
