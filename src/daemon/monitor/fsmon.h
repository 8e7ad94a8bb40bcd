/* fsmon.h - the real-time file monitor (fanotify): files written and closed,
 * moved or linked into place, and executions (on_execute), each checked
 * against the exclusions and scanned; the verdict and action become one event
 * naming the file, the process and the signature.  Permission events are
 * always answered within the policy's perm_timeout_ms.  Fault 8 is the
 * caller's (monitors.c): start returns why it could not start.
 *
 * Three fanotify groups, each with a filesystem mark on every filesystem
 * mounts.h selects:
 *   notif  FAN_CLOSE_WRITE, with a descriptor of the file
 *   fid    FAN_MOVED_TO | FAN_CREATE with FAN_REPORT_DFID_NAME (a group that
 *          reports file handles cannot take permission events)
 *   perm   FAN_OPEN_EXEC_PERM (on_execute audit or block), read and timed by
 *          a thread of its own: picketd's loop blocks at times (it waits for
 *          the scan service's exec and for the definitions test load), and
 *          an execution on the host must never wait for that.  The thread
 *          allows picketd's and its children's own executions at once and
 *          every other one at its deadline; the loop decides the rest.
 * /proc/self/mountinfo is watched too: filesystems mounted later are marked.
 *
 * Path exclusions on a watched filesystem become ignore marks in each group
 * (FAN_MARK_IGNORE, Linux 6.0; FAN_MARK_IGNORED_MASK before): a mount point
 * on its mount, a directory on its inode with FAN_EVENT_ON_CHILD (so are
 * mount points in the move group: the kernel takes no directory events on
 * mount marks).  The kernel then drops events on their direct children;
 * deeper ones are excluded in user space.  A reload or a mount change moves
 * the marks; the groups stay, so no event is lost.
 *
 * Degraded mode (fault 18): files written, moved or linked are scanned only
 * when they are executable or under critical_paths; the others are counted
 * as suppressed.  Executions (on_execute) are always checked. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/loop.h"

#define FSMON_READ_BUF 65536   /* bytes of events read at once */
#define FSMON_READ_ROUNDS 4    /* reads per wakeup, so no source starves the loop */
#define FSMON_PERM_MAX 1024    /* executions waiting for a verdict; past it, allowed */
#define FSMON_JOBS_MAX 4096    /* files of ours in the scan queue (each holds a descriptor) */

struct picketd;
struct json_object;
struct fsmon_perm;
struct fsmon_job;
struct fsmon_fs;
struct fsmon_ignore;

/* A bounded stream of events of one kind: at most burst a window. */
struct fsmon_ratelimit {
	time_t window_start;
	unsigned n;
	uint64_t suppressed;
};

struct fsmon_counters {
	uint64_t close_write, moved_to, create, open_exec; /* events seen */
	uint64_t scanned, clean, detected, scan_errors;
	uint64_t excluded, ignored_self, queue_full, vanished, overflow;
	uint64_t suppressed;          /* not scanned: degraded mode, not of the critical set */
	uint64_t queue_full_critical; /* of queue_full, executables and critical_paths */
	uint64_t perm_allowed, perm_denied, perm_timeouts, perm_overflow, perm_unscanned;
};

struct fsmon {
	bool running;
	struct io_source notif;     /* FAN_CLOSE_WRITE */
	struct io_source fid;       /* FAN_MOVED_TO, FAN_CREATE */
	struct io_source perm_note; /* eventfd: the permission thread has news */
	struct io_source mountinfo; /* /proc/self/mountinfo: EPOLLPRI on a mount change */
	struct fsmon_perm *perm;    /* NULL while on_execute is off */
	struct fsmon_fs *fs;        /* the marked filesystems */
	size_t n_fs;
	struct json_object *unmarked; /* [{mount, events, errno, error}] */
	struct fsmon_ignore *ign;     /* the path exclusions held as ignore marks */
	size_t n_ign;
	struct json_object *ign_skipped; /* [{path, reason}]: left to user space */
	unsigned ign_flags;           /* FAN_MARK_IGNORE_SURV, or the pre-6.0 flags */
	bool degraded;                /* fault 18: only the critical set; kept while stopped */
	char own_dirs[3][PATH_MAX]; /* state, log and run directories, resolved */
	struct fsmon_job *jobs;     /* files of ours in the scan queue */
	size_t n_jobs, jobs_max;
	struct fsmon_counters c;
	struct fsmon_ratelimit rl_queue, rl_error, rl_unscanned, rl_overflow;
	uint64_t unscanned_since; /* executions allowed unscanned since the last event */
};

/* Opens the fanotify groups and marks the filesystems the policy selects.
 * On failure returns -errno and err says "fanotify: step: reason". */
int fsmon_start(struct picketd *d, char *err, size_t errlen);
/* Answers every pending execution (allowed), closes the groups. */
void fsmon_stop(struct picketd *d);
/* The policy changed while running: marks, ignore marks, on_execute. */
int fsmon_apply_policy(struct picketd *d, char *err, size_t errlen);
/* {"state":..,"backend":..,"events":{..},...} for status. */
struct json_object *fsmon_status(struct picketd *d);
struct monitor_counts;
/* Totals for the overload check (monitor_counts.h): dropped is the kernel
 * queues' overflows, files not scanned (queue full) and executions allowed
 * unchecked (too many waiting).  critical_dropped counts every overflow (what
 * it lost is unknown), the critical set's files not scanned and those
 * executions. */
void fsmon_counts(struct picketd *d, struct monitor_counts *ret);
/* Fault 18: on, only the critical set is scanned on access (see above). */
void fsmon_set_degraded(struct picketd *d, bool on);
